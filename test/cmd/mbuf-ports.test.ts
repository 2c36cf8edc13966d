// netcap mbuf's port points on DPDK's own l2fwd (af_packet PMD, two ports on
// veth pairs in a namespace this test makes, no hugepages): the probes go
// where the process's rte_eth_fp_ops says (the PMD library is stripped:
// no symbol is used), and what netcap writes equals, packet for packet and
// in order, the frames injected on a1 (port 0 rx) or that came out of b1
// (port 1 tx), filtered by libpcap; the per-port counters say the same.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { World } from '../../lab/netns';
import { startL2fwd, type DpdkApp } from '../../lab/dpdk';
import { compileCbpf, libpcapFilter } from '../../src/filter/libpcap';
import { openElf } from '../../src/elf/elf-file';
import { mappedObjects } from '../../src/proc/process';
import { mixedFrames, runScenario, type ScenarioResult } from '../capture/scenario';
import { runNetcap } from '../capture/netcap-child';

const hex = (bs: Buffer[]) => bs.map((b) => b.toString('hex'));

/** The pcapng statistics of interface `i` (netcap writes its counters there): seen, matched, lost, written. */
function counts(r: ScenarioResult, i: number): { seen: number; matched: number; lost: number; captured: number } {
  const st = r.file.statistics.find((x) => x.ifIndex === i)?.stats;
  return { seen: Number(st?.received), matched: Number(st?.filterAccepted), lost: Number(st?.osDropped), captured: Number(st?.delivered) };
}

async function netcapOutput(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const run = runNetcap(args);
  const exit = await run.exited;
  return { code: exit.code, stdout: run.stdout().toString(), stderr: run.stderr() };
}

describe('netcap mbuf -f port:... on l2fwd', { timeout: 300_000 }, () => {
  const world = new World('mbuf-ports');
  let app: DpdkApp;

  before(async () => {
    app = await startL2fwd(world);
  });
  after(async () => {
    await world.destroy();
  });

  it('port:0:rx: exactly the injected frames libpcap selects, as inbound packets of "port0 rx (net_af_packet0)"', async () => {
    const frames = mixedFrames(30);
    const r = await runScenario(world, app, { point: 'port:0:rx', expression: 'tcp port 80', frames, file: 'out.pcapng' });
    assert.equal(r.exit.code, 0, r.stderr);
    assert.match(r.stderr, /netcap: listening on port0 rx \(net_af_packet0\) \(pid \d+\), snaplen 262144, filter "tcp port 80"/);
    assert.ok(r.expected.length > 0 && r.expected.length < frames.length);
    assert.deepEqual(hex(r.file.packets.map((p) => p.data)), hex(r.expected));
    assert.deepEqual(r.file.packets.map((p) => p.wirelen), r.expectedWirelen);
    assert.deepEqual(r.file.interfaces.map((i) => i.name), ['port0 rx (net_af_packet0)']);
    assert.ok(r.file.packets.every((p) => p.direction === 'in'));
    for (const p of r.file.packets) assert.match(p.comment ?? '', new RegExp(`^pid=${app.pid} tid=\\d+ comm=\\S+ cpu=\\d+ point=port0 rx \\(net_af_packet0\\) mbuf=0x[0-9a-f]+ port=0$`));
    // Every frame injected on a1 went through port 0's rx burst: seen counts them all, matched the selection.
    assert.deepEqual(counts(r, 0), { captured: r.expected.length, seen: frames.length, matched: r.expected.length, lost: 0 });
    assert.match(r.stderr, new RegExp(`^${frames.length} packets seen by probes$`, 'm'));
    assert.equal(r.forwarded.length, frames.length, 'l2fwd forwards every frame while traced');
    assert.deepEqual(r.leftover, { programs: [], links: [] }, 'nothing stays loaded or attached');
  });

  it('port:1:tx: exactly the frames that came out of b1, filtered by libpcap, as outbound packets', async () => {
    const frames = mixedFrames(24);
    const r = await runScenario(world, app, { point: 'port:1:tx', expression: 'udp', frames, file: 'out.pcapng' });
    assert.equal(r.exit.code, 0, r.stderr);
    const cbpf = compileCbpf('udp', { linktype: 'EN10MB', snaplen: 262144 });
    const emerged = r.forwarded.filter((f) => libpcapFilter(cbpf, f, f.length) > 0);
    assert.ok(emerged.length > 0);
    assert.deepEqual(hex(r.file.packets.map((p) => p.data)), hex(emerged));
    assert.ok(r.file.packets.every((p) => p.direction === 'out'));
    assert.deepEqual(counts(r, 0), { captured: emerged.length, seen: r.forwarded.length, matched: emerged.length, lost: 0 });
  });

  it('port:0 -Q inout: one interface per direction; rx = frames in from a1, tx = frames out to a1', async () => {
    const frames = mixedFrames(12);
    const reverse = mixedFrames(10, { minLength: 8 });
    const r = await runScenario(world, app, { point: 'port:0', expression: '', frames, reverse, file: 'out.pcapng', extraArgs: ['-Q', 'inout'] });
    assert.equal(r.exit.code, 0, r.stderr);
    assert.deepEqual(r.file.interfaces.map((i) => i.name), ['port0 rx (net_af_packet0)', 'port0 tx (net_af_packet0)']);
    const on = (i: number) => r.file.packets.filter((p) => p.ifIndex === i);
    assert.deepEqual(hex(on(0).map((p) => p.data)), hex(frames));
    assert.equal(r.reverseForwarded.length, reverse.length);
    assert.deepEqual(hex(on(1).map((p) => p.data)), hex(r.reverseForwarded));
    assert.ok(on(0).every((p) => p.direction === 'in') && on(1).every((p) => p.direction === 'out'));
    assert.match(r.stderr, /^ {2}port0 rx \(net_af_packet0\): 12 captured, 12 seen, 12 matched, 0 lost, 0 read errors$/m);
    assert.deepEqual(counts(r, 0), { captured: frames.length, seen: frames.length, matched: frames.length, lost: 0 });
    assert.deepEqual(counts(r, 1), { captured: reverse.length, seen: reverse.length, matched: reverse.length, lost: 0 });
  });

  it('a port point next to a function point sees the same packets (the function point is the independent path)', async () => {
    const frames = mixedFrames(9);
    const r = await runScenario(world, app, { point: 'l2fwd_simple_forward@1,port:0:rx', expression: '', frames, file: 'out.pcapng' });
    assert.equal(r.exit.code, 0, r.stderr);
    const on = (i: number) => hex(r.file.packets.filter((p) => p.ifIndex === i).map((p) => p.data));
    assert.deepEqual(on(0), hex(frames));
    assert.deepEqual(on(1), on(0));
  });

  it('--list: ports, driver, queues, and burst functions in the stripped PMD library (no symbols needed)', async () => {
    const r = await netcapOutput(['mbuf', '--pid', String(app.pid), '--list']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^port 0 {2}net_af_packet0 {2}driver net_af_packet {2}started$/m);
    assert.match(r.stdout, /^port 1 {2}net_af_packet1 {2}driver net_af_packet {2}started$/m);
    assert.match(r.stdout, /^ {2}rx: 1 queue, burst function librte_net_af_packet\.so\.[\d.]+\+0x[0-9a-f]+ \(0x[0-9a-f]+\)$/m);
    assert.match(r.stdout, /points: port:1:tx/);
    const pmd = mappedObjects(app.pid).find((o) => /librte_net_af_packet\.so/.test(o.path));
    assert.ok(pmd, 'l2fwd maps the af_packet PMD');
    assert.equal(openElf(pmd.openPath).isStripped, true, 'Debian\'s PMD library has no .symtab');
    assert.equal(openElf(pmd.openPath).findFunction('eth_af_packet_rx'), undefined, 'and no symbol for its burst function');
  });

  it('bad port points: exit 2, one clear message, the ports that exist, nothing attached', async () => {
    const cases: [string[], RegExp][] = [
      [['-f', 'port:7'], /process \d+ has no port 7 \(in -f 'port:7'\)\n {2}its ports: 0 \(net_af_packet0\), 1 \(net_af_packet1\)/],
      [['-f', 'port:net_foo0:rx'], /has no port named 'net_foo0' \(in -f 'port:net_foo0:rx'\)\n {2}its ports: 0 \(net_af_packet0\)/],
      [['-f', 'port:0:rx/q1'], /port 0 \(net_af_packet0\) has 1 rx queue: there is no queue 1/],
      [['-f', 'port:0:in'], /'in' is not a direction of a port point\n.*:rx or :tx/],
      [['-f', 'port:0/x'], /'\/x' is not a queue/],
      [['-f', 'l2fwd_simple_forward@1', '-Q', 'in'], /-Q applies to port points only/],
      [['-f', 'port:0,port:0:rx'], /port0 rx \(net_af_packet0\) is selected twice/],
    ];
    for (const [args, message] of cases) {
      const r = await netcapOutput(['mbuf', ...args, '--pid', String(app.pid)]);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message, args.join(' '));
      assert.doesNotMatch(r.stderr, /^\s+at /m);
      assert.doesNotMatch(r.stderr, /listening on/);
    }
    const noPid = await netcapOutput(['mbuf', '-f', 'port:0']);
    assert.equal(noPid.code, 2);
    assert.match(noPid.stderr, /needs the process to trace/);
  });
});
