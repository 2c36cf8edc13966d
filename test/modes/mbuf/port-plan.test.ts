// From port points to (port, direction, queue) selections, checked against
// the ports a process has: tables made here, no process needed.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { planPorts } from '../../../src/modes/mbuf/port-plan';
import { parsePortPoint } from '../../../src/targets/port-point';
import type { DpdkPort, EthdevTables } from '../../../src/dpdk/ports';
import { ethdevLayout } from '../../../src/dpdk/ethdev-layout';
import { UserError } from '../../../src/errors';

const port = (id: number, name: string, rx: number, tx: number): DpdkPort => ({
  id, name, driver: 'net_af_packet', state: 'attached', started: true,
  rxQueues: Array.from({ length: rx }, (_, q) => BigInt(0x1000 * (id + 1) + q * 0x100)),
  txQueues: Array.from({ length: tx }, (_, q) => BigInt(0x8000 * (id + 1) + q * 0x100)),
  rxBurst: 0x7f0000001000n, txBurst: 0x7f0000002000n, dummy: false,
});
const tables: EthdevTables = {
  release: '22.11', layout: ethdevLayout('22.11'), source: 'rte_eth_fp_ops', objects: { rte_eth_devices: '/x/librte_ethdev.so.23.0' },
  maxPorts: 32, queuesPerPort: 1024, ports: [port(0, 'net_af_packet0', 2, 2), port(1, 'net_af_packet1', 1, 1)],
};
const plan = (list: string[], dir?: 'in' | 'out' | 'inout') => planPorts(list.map(parsePortPoint), tables, 42, dir);

void test('-Q gives the directions of points without :rx/:tx; names, queues and -f order kept', () => {
  assert.deepEqual(plan(['port:0']).map((s) => s.name), ['port0 rx (net_af_packet0)', 'port0 tx (net_af_packet0)']);
  assert.deepEqual(plan(['port:0'], 'in').map((s) => s.name), ['port0 rx (net_af_packet0)']);
  assert.deepEqual(plan(['port:net_af_packet1', 'port:0:tx/q1'], 'out').map((s) => [s.portId, s.direction, s.queue, s.name]), [
    [1, 'tx', undefined, 'port1 tx (net_af_packet1)'],
    [0, 'tx', 1, 'port0 tx q1 (net_af_packet0)'],
  ]);
  assert.equal(plan(['port:0:rx/q1', 'port:0:rx']).length, 2, 'a queue and the whole port are two points');
});

void test('missing ports, queues beyond the count and duplicates are refused with the ports that exist', () => {
  const refuses = (list: string[], message: RegExp, hint?: RegExp) =>
    assert.throws(() => plan(list), (e: unknown) => e instanceof UserError && message.test(e.message) && (!hint || hint.test(e.hint ?? '')), list.join(','));
  refuses(['port:2'], /process 42 has no port 2/, /its ports: 0 \(net_af_packet0\), 1 \(net_af_packet1\); see netcap mbuf --pid 42 --list/);
  refuses(['port:eth0'], /has no port named 'eth0'/);
  refuses(['port:1:rx/q1'], /port 1 \(net_af_packet1\) has 1 rx queue: there is no queue 1/, /give \/q0, or leave/);
  refuses(['port:0:tx/q2'], /has 2 tx queues: there is no queue 2/, /\/q0 to \/q1/);
  refuses(['port:0', 'port:0:tx'], /port0 tx \(net_af_packet0\) is selected twice in -f \(by 'port:0' and 'port:0:tx'\)/);
});

void test('a port without queues yet (not configured) is planned; its queue is checked when it has some', () => {
  const empty: EthdevTables = { ...tables, ports: [{ ...port(0, 'net_null0', 0, 0), started: false, dummy: true }] };
  assert.deepEqual(planPorts([parsePortPoint('port:0:rx/q3')], empty, 42).map((s) => s.name), ['port0 rx q3 (net_null0)']);
});
