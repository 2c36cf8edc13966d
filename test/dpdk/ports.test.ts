// The ports netcap reads from a DPDK process's memory (src/dpdk/ports.ts)
// against what DPDK's own API says in the same process: a program linked to
// the installed DPDK configures two null-PMD ports (2 rx + 3 tx queues, and
// 1 + 1), starts port 0 only, and prints rte_eth_dev_get_name_by_port(),
// rte_eth_dev_info_get()'s driver name and queue counts, and the burst
// functions and queue pointers of rte_eth_fp_ops[] (public in
// rte_ethdev_core.h); then it stops and starts ports on command. Also: the
// rte_eth_fp_ops layout against gcc offsetof() on the installed headers
// (the driver-side structs, rte_eth_dev and rte_eth_dev_data, are not
// installed by Debian; their offsets are checked by the live comparison).
import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { ethdevLayout } from '../../src/dpdk/ethdev-layout';
import { EthdevReader, type EthdevTables } from '../../src/dpdk/ports';
import { UserError } from '../../src/errors';
import { cProgramDir, type BuiltProgram } from '../elf/c-program';
import { installedRelease, noDpdk, pkgConfig } from './installed';

const installed = installedRelease;

const PORTS_PROGRAM = `
#include <stdio.h>
#include <string.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
static const unsigned queues[2][2] = { { 2, 3 }, { 1, 1 } };
static void show(void) {
  for (uint16_t p = 0; p < 2; p++) {
    struct rte_eth_dev_info info;
    char name[RTE_ETH_NAME_MAX_LEN];
    rte_eth_dev_info_get(p, &info);
    rte_eth_dev_get_name_by_port(p, name);
    printf("port %u %s %s %u %u %p %p\\n", p, name, info.driver_name, info.nb_rx_queues, info.nb_tx_queues,
           (void *)rte_eth_fp_ops[p].rx_pkt_burst, (void *)rte_eth_fp_ops[p].tx_pkt_burst);
    for (unsigned q = 0; q < info.nb_rx_queues; q++) printf("rxq %u %u %p\\n", p, q, rte_eth_fp_ops[p].rxq.data[q]);
    for (unsigned q = 0; q < info.nb_tx_queues; q++) printf("txq %u %u %p\\n", p, q, rte_eth_fp_ops[p].txq.data[q]);
  }
  printf("unused %p\\n", (void *)rte_eth_fp_ops[RTE_MAX_ETHPORTS - 1].rx_pkt_burst);
  printf("done\\n");
  fflush(stdout);
}
int main(int argc, char **argv) {
  if (rte_eal_init(argc, argv) < 0) return 1;
  struct rte_mempool *mp = rte_pktmbuf_pool_create("nc_pool", 1023, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
  for (uint16_t p = 0; p < 2; p++) {
    struct rte_eth_conf conf;
    memset(&conf, 0, sizeof conf);
    if (rte_eth_dev_configure(p, queues[p][0], queues[p][1], &conf) < 0) return 2;
    for (unsigned q = 0; q < queues[p][0]; q++) if (rte_eth_rx_queue_setup(p, q, 64, SOCKET_ID_ANY, NULL, mp) < 0) return 3;
    for (unsigned q = 0; q < queues[p][1]; q++) if (rte_eth_tx_queue_setup(p, q, 64, SOCKET_ID_ANY, NULL) < 0) return 4;
  }
  if (rte_eth_dev_start(0) < 0) return 5;
  show();
  char line[64];
  unsigned port;
  while (fgets(line, sizeof line, stdin)) {
    if (sscanf(line, "stop %u", &port) == 1) rte_eth_dev_stop(port);
    else if (sscanf(line, "start %u", &port) == 1) rte_eth_dev_start(port);
    show();
  }
  return 0;
}
`;

interface Reference {
  ports: { id: number; name: string; driver: string; rx: number; tx: number; rxBurst: bigint; txBurst: bigint; rxQueues: bigint[]; txQueues: bigint[] }[];
  unused: bigint;
}

const ptr = (s: string): bigint => (s === '(nil)' ? 0n : BigInt(s));

function parseReference(text: string): Reference {
  const ref: Reference = { ports: [], unused: 0n };
  for (const line of text.trim().split('\n')) {
    const w = line.split(' ');
    if (w[0] === 'port') ref.ports.push({ id: +w[1], name: w[2], driver: w[3], rx: +w[4], tx: +w[5], rxBurst: ptr(w[6]), txBurst: ptr(w[7]), rxQueues: [], txQueues: [] });
    else if (w[0] === 'rxq') ref.ports[+w[1]].rxQueues.push(ptr(w[3]));
    else if (w[0] === 'txq') ref.ports[+w[1]].txQueues.push(ptr(w[3]));
    else if (w[0] === 'unused') ref.unused = ptr(w[1]);
  }
  return ref;
}

let programs: BuiltProgram;
let child: ChildProcess | undefined;
let prefix = '';
let output = '';

/** The next block the program prints (up to "done"). */
function nextBlock(send?: string): Promise<Reference> {
  const start = output.length;
  if (send) child!.stdin!.write(`${send}\n`);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no answer from the ports program:\n${output}`)), 20_000);
    const check = () => {
      const block = output.slice(start);
      const end = block.indexOf('done\n');
      if (end < 0) return;
      child!.stdout!.off('data', check);
      clearTimeout(timer);
      resolve(parseReference(block.slice(0, end)));
    };
    child!.stdout!.on('data', check);
    check();
  });
}

before(async () => {
  if (noDpdk) return;
  programs = cProgramDir('ports');
  const exe = programs.build('ports', PORTS_PROGRAM, ['-O2', '-w', ...pkgConfig('--cflags')], pkgConfig('--libs'));
  prefix = `nc-ports-${randomBytes(3).toString('hex')}`;
  child = spawn(exe, ['-l', '0', '--no-huge', '-m', '64', '--no-pci', '--no-shconf', '--no-telemetry', '--file-prefix', prefix, '--vdev=net_null0', '--vdev=net_null1', '--log-level=lib.eal:error'], { stdio: ['pipe', 'pipe', 'pipe'] });
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (s: string) => (output += s));
  child.stderr!.on('data', (s: Buffer) => (output += s.toString()));
});
after(() => {
  if (child && child.exitCode === null) child.kill('SIGKILL');
  fs.rmSync(`/var/run/dpdk/${prefix}`, { recursive: true, force: true });
  programs?.remove();
});

function compare(t: EthdevTables, ref: Reference, started: boolean[]): void {
  assert.deepEqual(
    t.ports.map((p) => ({ id: p.id, name: p.name, driver: p.driver, rx: p.rxQueues.length, tx: p.txQueues.length, started: p.started })),
    ref.ports.map((p, i) => ({ id: p.id, name: p.name, driver: p.driver, rx: p.rx, tx: p.tx, started: started[i] })),
  );
  for (const [i, p] of ref.ports.entries()) {
    const ours = t.ports[i];
    // What rte_eth_rx_burst() would call now: the PMD's functions, or ethdev's placeholders.
    assert.equal(ours.rxBurst, p.rxBurst, `port ${i} rx burst`);
    assert.equal(ours.txBurst, p.txBurst, `port ${i} tx burst`);
    assert.equal(ours.dummy, !started[i], `port ${i} placeholders`);
    assert.equal(ours.dummy, p.rxBurst === ref.unused, 'a stopped port has the unused entries\' placeholder');
    if (started[i]) {
      assert.deepEqual(ours.rxQueues, p.rxQueues, `port ${i} rx queue pointers`);
      assert.deepEqual(ours.txQueues, p.txQueues, `port ${i} tx queue pointers`);
    }
  }
}

void test('the rte_eth_fp_ops layout equals gcc offsetof() on the installed rte_ethdev_core.h', { skip: noDpdk }, () => {
  const src = `#include <stdio.h>\n#include <stddef.h>\n#include <rte_ethdev.h>\nint main(void) { printf("%zu %zu %zu %zu %zu\\n", offsetof(struct rte_eth_fp_ops, rx_pkt_burst), offsetof(struct rte_eth_fp_ops, rxq.data), offsetof(struct rte_eth_fp_ops, tx_pkt_burst), offsetof(struct rte_eth_fp_ops, txq.data), sizeof(struct rte_eth_fp_ops)); return 0; }\n`;
  const exe = programs.build('fpops', src, ['-w', ...pkgConfig('--cflags')]);
  const [rx, rxq, tx, txq, size] = execFileSync(exe).toString().trim().split(' ').map(Number);
  assert.deepEqual(ethdevLayout(installed).fpOps, { rxPktBurst: rx, rxqData: rxq, txPktBurst: tx, txqData: txq, size });
});

void test('ports read from the process equal DPDK\'s own API, through stop and start', { skip: noDpdk }, async () => {
  const ref = await nextBlock();
  const reader = EthdevReader.open(child!.pid!, installed);
  try {
    const first = reader.read();
    assert.equal(first.source, 'rte_eth_fp_ops');
    assert.equal(first.maxPorts, 32, 'RTE_MAX_ETHPORTS of Debian\'s build, from the size of rte_eth_fp_ops');
    assert.equal(first.queuesPerPort, 1024);
    compare(first, ref, [true, false]);
    for (const [command, started] of [['start 1', [true, true]], ['stop 0', [false, true]], ['start 0', [true, true]]] as const) {
      const said = await nextBlock(command);
      compare(reader.read(), said, [...started]);
    }
  } finally {
    reader.close();
  }
});

void test('the same ports read the way releases before 21.11 are (rte_eth_devices[] only, RTE_MAX_QUEUES_PER_PORT from its size)', { skip: noDpdk }, async () => {
  const ref = await nextBlock('stop 1');
  const reader = EthdevReader.open(child!.pid!, { ...ethdevLayout(installed), fpOps: undefined });
  try {
    const t = reader.read();
    assert.equal(t.source, 'rte_eth_devices');
    assert.equal(t.maxPorts, 32);
    assert.equal(t.queuesPerPort, 1024);
    assert.deepEqual(t.ports.map((p) => [p.name, p.driver, p.started, p.dummy]), [['net_null0', 'net_null', true, false], ['net_null1', 'net_null', false, false]]);
    // rte_eth_devices[] holds the PMD's functions whether the port is started or not; rte_eth_fp_ops copies them at start.
    assert.equal(t.ports[0].rxBurst, ref.ports[0].rxBurst);
    assert.equal(t.ports[0].txBurst, ref.ports[0].txBurst);
    assert.equal(t.ports[1].rxBurst, ref.ports[0].rxBurst, 'both null ports run the same PMD function');
    assert.deepEqual(t.ports[0].rxQueues, ref.ports[0].rxQueues);
    assert.deepEqual(t.ports[0].txQueues, ref.ports[0].txQueues);
  } finally {
    reader.close();
  }
});

void test('a process without DPDK, a release outside the tables: one-line UserErrors', { skip: noDpdk }, () => {
  assert.throws(() => EthdevReader.open(process.pid, installed), (e: unknown) => e instanceof UserError && /has no rte_eth_devices and rte_eth_fp_ops/.test(e.message));
  assert.throws(() => EthdevReader.open(child!.pid!, '16.01'), (e: unknown) => e instanceof UserError && /older than netcap's port tables/.test(e.message));
  assert.throws(() => EthdevReader.open(child!.pid!, '27.03'), (e: unknown) => e instanceof UserError && /newer than/.test(e.message) && /--dpdk-version/.test(e.hint ?? ''));
  // The 21.11 layout on a 22.11 process: rte_eth_dev_data moved, and the check of port ids says so.
  assert.throws(() => EthdevReader.open(child!.pid!, '21.11').read(), (e: unknown) => e instanceof UserError && /do not match DPDK 21.11's layout/.test(e.message));
});

void test('no permission to read the process\'s memory: a UserError that says so (netcap run as nobody)', (t) => {
  const setpriv = ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => fs.existsSync(p));
  if (!setpriv) return t.skip('setpriv (util-linux) is not installed');
  const target = spawn('sleep', ['30'], { stdio: 'ignore' });
  try {
    const probe = `const { ProcessMemory } = require(${JSON.stringify(require.resolve('../../src/proc/memory'))});
try { ProcessMemory.open(${target.pid}); console.log('opened'); } catch (e) { console.log(JSON.stringify({ name: e.name, message: e.message, hint: e.hint })); }`;
    const out = execFileSync(setpriv, ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '-e', probe]).toString();
    const e = JSON.parse(out) as { name: string; message: string; hint: string };
    assert.equal(e.name, 'UserError');
    assert.match(e.message, new RegExp(`no permission to read the memory of process ${target.pid} \\(/proc/${target.pid}/mem: EACCES\\)`));
    assert.match(e.hint, /nothing is ever written/);
  } finally {
    target.kill('SIGKILL');
  }
});
