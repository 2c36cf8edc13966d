// netcap mbuf's port points on Debian's dpdk-testpmd, unmodified (io
// forwarding between two af_packet ports, forwarding on a thread of its own):
// the captures equal the injected and emerging frames filtered by libpcap;
// with two queues per port, each queue's capture holds what testpmd's own
// per-queue counters (xstats) say it received, and together exactly the
// injected frames; a port stopped and started again at testpmd's prompt
// during a capture is captured again afterwards, and the gap is reported;
// dpdk-dumpcap attached at the same time (testpmd calls rte_pdump_init)
// writes the same packets.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import * as fs from 'node:fs';
import { World } from '../../lab/netns';
import { startTestpmd, TESTPMD, type Testpmd } from '../../lab/testpmd';
import { inject, receive } from '../../lab/inject';
import { udpFrame } from '../../lab/frames';
import { compileCbpf, libpcapFilter } from '../../src/filter/libpcap';
import { readCaptureFile } from '../../src/output/read-capture';
import { mixedFrames, runScenario } from '../capture/scenario';
import { runNetcap, tempDir } from '../capture/netcap-child';
import { dumpcapAvailable, linkedDpdkSonames, startDumpcap } from '../../bench/dumpcap';
import { reserveHugepages, type Hugepages } from '../../bench/harness/hugepages';

const hex = (bs: Buffer[]) => bs.map((b) => b.toString('hex'));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const noTestpmd = !fs.existsSync(`/usr/bin/${TESTPMD}`) && `${TESTPMD} is not installed (Debian package dpdk)`;

/** UDP frames of distinct flows (the af_packet PMD spreads queues by flow hash), numbered in the payload. */
function flows(n: number, base = 0): Buffer[] {
  return Array.from({ length: n }, (_, i) => {
    const payload = Buffer.alloc(16);
    payload.writeUInt32BE(base + i, 0);
    return udpFrame({ srcPort: 20000 + base + i, dstPort: 9, payload, srcMac: '02:00:00:00:0a:01', dstMac: '02:00:00:00:0b:01' });
  });
}

/** Waits until `text()` matches, or fails after `ms`. */
async function until(text: () => string, pattern: RegExp, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!pattern.test(text())) {
    if (Date.now() > end) throw new Error(`${what} did not happen within ${ms} ms:\n${text()}`);
    await sleep(50);
  }
}

describe('netcap mbuf -f port:... on dpdk-testpmd', { skip: noTestpmd, timeout: 300_000 }, () => {
  const world = new World('mbuf-testpmd');
  let pmd: Testpmd;

  before(async () => {
    pmd = await startTestpmd(world);
  });
  after(async () => {
    await world.destroy();
  });

  it('port:0:rx, port:1:tx and port:0 -Q inout capture exactly what libpcap selects', async () => {
    const frames = mixedFrames(24);
    const rx = await runScenario(world, pmd, { point: 'port:0:rx', expression: 'tcp', frames, file: 'out.pcapng' });
    assert.equal(rx.exit.code, 0, rx.stderr);
    assert.ok(rx.expected.length > 0 && rx.expected.length < frames.length);
    assert.deepEqual(hex(rx.file.packets.map((p) => p.data)), hex(rx.expected));
    assert.equal(rx.file.statistics[0]?.stats.received, BigInt(frames.length), 'port 0 received every injected frame');

    const tx = await runScenario(world, pmd, { point: 'port:1:tx', expression: 'udp', frames, file: 'out.pcapng' });
    assert.equal(tx.exit.code, 0, tx.stderr);
    const cbpf = compileCbpf('udp', { linktype: 'EN10MB', snaplen: 262144 });
    assert.equal(tx.forwarded.length, frames.length);
    assert.deepEqual(hex(tx.file.packets.map((p) => p.data)), hex(tx.forwarded.filter((f) => libpcapFilter(cbpf, f, f.length) > 0)));
    assert.ok(tx.file.packets.every((p) => p.direction === 'out'));

    const reverse = mixedFrames(10, { minLength: 8 });
    const both = await runScenario(world, pmd, { point: 'port:0', expression: '', frames, reverse, file: 'out.pcapng', extraArgs: ['-Q', 'inout'] });
    assert.equal(both.exit.code, 0, both.stderr);
    assert.deepEqual(both.file.interfaces.map((i) => i.name), ['port0 rx (net_af_packet0)', 'port0 tx (net_af_packet0)']);
    assert.deepEqual(hex(both.file.packets.filter((p) => p.ifIndex === 0).map((p) => p.data)), hex(frames));
    assert.deepEqual(hex(both.file.packets.filter((p) => p.ifIndex === 1).map((p) => p.data)), hex(both.reverseForwarded));
    assert.equal(both.reverseForwarded.length, reverse.length);
  });

  it('port stop 0 / port start 0 at testpmd\'s prompt mid-capture: captured again after the restart, the gap reported; a capture started on the stopped port waits for it', async () => {
    const dir = tempDir('testpmd-restart');
    try {
      const out = path.join(dir, 'out.pcapng');
      const run = runNetcap(['mbuf', '-f', 'port:0:rx', '--pid', String(pmd.pid), '-w', out], world);
      await run.ready();
      const before = flows(8, 0);
      const afterwards = flows(8, 100);
      await inject(pmd.ns, 'a1', before, { rate: 1000 });
      await sleep(300);
      await pmd.command('stop');
      await pmd.command('port stop 0');
      await until(run.stderr, /port0 rx \(net_af_packet0\) is not started.*not capturing until it starts again/, 5000, 'netcap noticing the stop');
      const late = path.join(dir, 'late.pcapng');
      const waiting = runNetcap(['mbuf', '-f', 'port:0:rx', '--pid', String(pmd.pid), '-w', late], world);
      await waiting.ready();
      assert.match(waiting.stderr(), /port0 rx \(net_af_packet0\) is not started \(its burst functions are DPDK's placeholders until rte_eth_dev_start\(\)\): waiting for it to start/);
      await pmd.command('port start 0');
      await pmd.command('start');
      await until(run.stderr, /port0 rx \(net_af_packet0\) started again after \d+\.\d+ s: capturing at librte_net_af_packet/, 5000, 'netcap noticing the start');
      await until(waiting.stderr, /port0 rx \(net_af_packet0\) started again/, 5000, 'the waiting netcap noticing the start');
      const rx = await receive(pmd.ns, 'b1', { durationMs: 10_000 });
      await inject(pmd.ns, 'a1', afterwards, { rate: 1000 });
      await sleep(500);
      const came = await rx.stop();
      const exit = await run.stop('SIGINT');
      assert.equal(exit.code, 0, run.stderr());
      assert.equal((await waiting.stop('SIGINT')).code, 0, waiting.stderr());
      assert.deepEqual(hex((await readCaptureFile(late)).packets.map((p) => p.data)), hex(afterwards));
      assert.ok(afterwards.every((f) => came.frames.some((g) => g.equals(f))), 'testpmd forwards again after the restart');
      const file = await readCaptureFile(out);
      assert.deepEqual(hex(file.packets.map((p) => p.data)), hex([...before, ...afterwards]));
      // The mode's report at the end (stdout: the packets went to -w).
      assert.match(run.stderr(), /port0 rx \(net_af_packet0\): not captured for \d+\.\d+ s in 1 gap \(the port was not started\)/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('netcap mbuf port:0:rx/qN on testpmd with two queues per port', { skip: noTestpmd, timeout: 300_000 }, () => {
  const world = new World('mbuf-queues');
  let pmd: Testpmd;

  before(async () => {
    pmd = await startTestpmd(world, { queues: 2 });
  });
  after(async () => {
    await world.destroy();
  });

  it('each queue\'s capture is what testpmd counted on that queue; together the injected frames, each once', async () => {
    const frames = flows(64);
    const before = await pmd.xstats(0);
    const r = await runScenario(world, pmd, { point: 'port:0:rx/q0,port:0:rx/q1', expression: '', frames, file: 'out.pcapng' });
    const after = await pmd.xstats(0);
    assert.equal(r.exit.code, 0, r.stderr);
    assert.deepEqual(r.file.interfaces.map((i) => i.name), ['port0 rx q0 (net_af_packet0)', 'port0 rx q1 (net_af_packet0)']);
    const q = [0, 1].map((i) => r.file.packets.filter((p) => p.ifIndex === i));
    for (const i of [0, 1]) {
      const counted = after[`rx_q${i}_packets`] - before[`rx_q${i}_packets`];
      assert.equal(q[i].length, counted, `queue ${i}: netcap ${q[i].length}, testpmd's rx_q${i}_packets +${counted}`);
      assert.ok(q[i].length > 0, `the flows reach queue ${i} too`);
      assert.ok(q[i].every((p) => /queue=\d/.test(p.comment ?? '') && p.comment!.endsWith(`queue=${i}`)));
      // Each queue keeps the order of injection.
      const order = q[i].map((p) => frames.findIndex((f) => f.equals(p.data)));
      assert.deepEqual(order, [...order].sort((a, b) => a - b));
    }
    assert.deepEqual(hex([...q[0], ...q[1]].map((p) => p.data)).sort(), hex(frames).sort());
  });
});

describe('netcap and dpdk-dumpcap on the same testpmd at the same time', { skip: noTestpmd || (!dumpcapAvailable() && 'dpdk-dumpcap is not installed'), timeout: 300_000 }, () => {
  const world = new World('mbuf-dumpcap');
  let huge: Hugepages;
  let pmd: Testpmd;

  before(async () => {
    // Multi-process needs the primary's memory in hugetlbfs files; given back in after().
    huge = reserveHugepages(192);
    pmd = await startTestpmd(world, { hugeDir: huge.dir });
  });
  after(async () => {
    await world.destroy();
    huge?.release();
  });

  it('port:0 -Q inout and dumpcap -i 0 write the same packets, direction by direction', async () => {
    const dir = tempDir('dumpcap');
    try {
      const ours = path.join(dir, 'netcap.pcapng');
      const theirs = path.join(dir, 'dumpcap.pcapng');
      // bench/dumpcap.ts: dumpcap registers mempool drivers in another order than testpmd, which links
      // some directly, and every copy then fails; preloading those drivers gives it testpmd's order.
      const preload = linkedDpdkSonames(`/usr/bin/${TESTPMD}`).filter((l) => l.startsWith('librte_mempool_'));
      const dump = await startDumpcap(world, pmd.ns, pmd.filePrefix, theirs, '0', { ...process.env, LD_PRELOAD: preload.join(' ') });
      const run = runNetcap(['mbuf', '-f', 'port:0', '-Q', 'inout', '--pid', String(pmd.pid), '-w', ours], world);
      await run.ready();
      const frames = flows(20, 0);
      const reverse = flows(15, 500).map((f) => Buffer.concat([f, Buffer.alloc(8, 0xee)]));
      await inject(pmd.ns, 'a1', frames, { rate: 1000 });
      await inject(pmd.ns, 'b1', reverse, { rate: 1000 });
      await sleep(700);
      const exit = await run.stop('SIGINT');
      const d = await dump.stop();
      assert.equal(exit.code, 0, run.stderr());
      assert.equal(d.dropped, 0, `dumpcap dropped packets: ${d.output.slice(-500)}`);
      const a = await readCaptureFile(ours);
      const b = await readCaptureFile(theirs);
      const dirOf = (f: typeof a, want: 'in' | 'out') => hex(f.packets.filter((p) => p.direction === want).map((p) => p.data));
      assert.deepEqual(dirOf(a, 'in'), hex(frames));
      assert.deepEqual(dirOf(a, 'out'), hex(reverse));
      assert.deepEqual(dirOf(b, 'in'), dirOf(a, 'in'), 'dumpcap\'s rx packets');
      assert.deepEqual(dirOf(b, 'out'), dirOf(a, 'out'), 'dumpcap\'s tx packets');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
