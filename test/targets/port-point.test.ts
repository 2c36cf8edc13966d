// port:ID|NAME[:rx|tx][/qN] in mbuf mode's -f list: every form, names with
// colons (PCI addresses), and refusals that say what was wrong.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { parseMbufPoints, parsePoints } from '../../src/targets/spec';
import { parsePortPoint } from '../../src/targets/port-point';
import { UserError } from '../../src/errors';

void test('ids, names, directions and queues', () => {
  assert.deepEqual(parsePortPoint('port:0'), { kind: 'dpdk-port', text: 'port:0', port: 0 });
  assert.deepEqual(parsePortPoint('port:1:tx'), { kind: 'dpdk-port', text: 'port:1:tx', port: 1, direction: 'tx' });
  assert.deepEqual(parsePortPoint('port:net_af_packet0:rx/q1'), { kind: 'dpdk-port', text: 'port:net_af_packet0:rx/q1', port: 'net_af_packet0', direction: 'rx', queue: 1 });
  assert.deepEqual(parsePortPoint('port:2/q3'), { kind: 'dpdk-port', text: 'port:2/q3', port: 2, queue: 3 });
  // A PCI device's port name holds colons: only a trailing :rx/:tx is a direction.
  assert.deepEqual(parsePortPoint('port:0000:03:00.0:tx'), { kind: 'dpdk-port', text: 'port:0000:03:00.0:tx', port: '0000:03:00.0', direction: 'tx' });
  assert.deepEqual(parsePortPoint('port:0000:03:00.0'), { kind: 'dpdk-port', text: 'port:0000:03:00.0', port: '0000:03:00.0' });
});

void test('in the -f list next to function points; a function point in an object called "port" stays one', () => {
  const [a, b, c] = parseMbufPoints('port:0:rx,app_process_burst@1@2,port:f@1');
  assert.equal(a.kind, 'dpdk-port');
  assert.equal(b.kind, 'user-function');
  assert.deepEqual(c.kind === 'user-function' && [c.object, c.function], ['port', 'f']);
  // Only mbuf mode has port points: elsewhere it is a function point without its arguments.
  assert.throws(() => parsePoints('port:0', 'raw'), UserError);
});

void test('bad port points say what was wrong', () => {
  const refuses = (text: string, message: RegExp) => assert.throws(() => parsePortPoint(text), (e: unknown) => e instanceof UserError && message.test(e.message), text);
  refuses('port:', /no port given/);
  refuses('port::rx', /no port given/);
  refuses('port:0/q', /no queue number after \/q/);
  refuses('port:0/q70000', /queue 70000 is out of range/);
  refuses('port:0/1', /'\/1' is not a queue/);
  refuses('port:0:in', /'in' is not a direction of a port point/);
  refuses('port:70000', /port 70000 is out of range/);
});
