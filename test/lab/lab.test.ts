// The lab itself: namespaces come and go without leftovers, the
// injector's frames arrive byte for byte, DPDK's l2fwd and netcap's test app
// forward every injected frame, and the test app's probe points are real
// symbols (checked with binutils' nm, not our ELF reader).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import { after, describe, it } from 'node:test';
import { buildL2fwd, buildTestApp, inject, injectPcap, isProbeFrame, listTestNamespaces, randomTag, receive, uniqueLinkName, startL2fwd, startTestApp, tcpFrame, TEST_APP_FUNCTIONS, udpFrame, World } from '../../lab';
import { bpftraceInstalled, startBpftrace } from '../../lab/bpftrace';

const isRoot = process.getuid?.() === 0;
const dpdkInstalled = fs.existsSync('/usr/share/dpdk/examples/l2fwd/main.c') && hasPkgConfig('libdpdk');

function hasPkgConfig(name: string): boolean {
  try {
    execFileSync('pkg-config', ['--exists', name]);
    return true;
  } catch {
    return false;
  }
}

/** Distinct UDP frames of assorted sizes (60 to 400 bytes), numbered by source port. */
function assortedFrames(n: number): Buffer[] {
  return Array.from({ length: n }, (_, i) => udpFrame({ srcPort: 10000 + i, payload: Buffer.alloc((i * 37) % 360, i & 0xff) }));
}

function sortedHex(frames: readonly Buffer[]): string[] {
  return frames.map((f) => f.toString('hex')).sort();
}

void describe('network namespaces', { timeout: 60_000, skip: !isRoot && 'needs root' }, () => {
  const world = new World('world');
  after(() => world.destroy());

  void it('creates namespaces with veths (IPv6 off, MACs, addresses) and removes them on destroy', async () => {
    const local = new World('world-ns');
    try {
      const ns = local.addNamespace();
      const other = local.addNamespace();
      assert.match(ns.name, /^nc-world-ns-[0-9a-f]{6}$/);
      ns.addVeth('x0', 'x1', { peerIn: other, local: { mac: '02:00:00:00:00:10', address: '198.51.100.1/24' }, peer: { address: '198.51.100.2/24' } });
      assert.ok(ns.links().includes('x0') && !ns.links().includes('x1'));
      assert.ok(other.links().includes('x1'));
      assert.equal(ns.mac('x0'), '02:00:00:00:00:10');
      assert.equal(ns.run(['sysctl', '-n', 'net.ipv6.conf.x0.disable_ipv6']).trim(), '1');
      assert.equal(other.run(['sysctl', '-n', 'net.ipv6.conf.x1.disable_ipv6']).trim(), '1');
      const addrs = JSON.parse(other.ip(['-j', 'addr', 'show', 'dev', 'x1'])) as { addr_info: { family: string; local: string; prefixlen: number }[] }[];
      assert.deepEqual(addrs[0].addr_info.map((a) => `${a.family} ${a.local}/${a.prefixlen}`), ['inet 198.51.100.2/24']);
      // A frame crosses from one namespace to the other.
      const rx = await receive(other, 'x1', { max: 1 });
      await inject(ns, 'x0', [udpFrame({ dstIp: '198.51.100.2' })]);
      assert.equal((await rx.done).count, 1);
      const sleeper = ns.spawn(['sleep', '60']);
      // `ip netns exec` enters the namespace a moment after the spawn returns.
      for (let i = 0; i < 100 && !(sleeper.pid !== undefined && ns.pids().includes(sleeper.pid)); i++) await new Promise((r) => setTimeout(r, 20));
      assert.ok(sleeper.pid !== undefined && ns.pids().includes(sleeper.pid), 'the spawned process is not in the namespace');
      const names = [ns.name, other.name];
      await local.destroy();
      const left = listTestNamespaces();
      for (const n of names) assert.ok(!left.includes(n), `${n} still exists`);
      assert.ok(sleeper.exitCode !== null || sleeper.signalCode !== null, 'process inside was not stopped');
    } finally {
      await local.destroy();
    }
  });

  void it('veths send nothing of their own (no IPv6 router solicitations or DAD), unlike a pair with IPv6 on', async () => {
    const ns = world.addNamespace();
    // Created by hand so the receivers are bound before the links come up.
    ns.ip(['link', 'add', 'q0', 'type', 'veth', 'peer', 'name', 'q1']);
    ns.ip(['link', 'add', 'r0', 'type', 'veth', 'peer', 'name', 'r1']);
    const quiet = await receive(ns, 'q1', { durationMs: 2500 });
    const control = await receive(ns, 'r1', { durationMs: 2500 });
    ns.configure('q0', {});
    ns.configure('q1', {});
    ns.run(['sysctl', '-q', '-w', 'net.ipv6.conf.r0.disable_ipv6=0']);
    ns.up('r0');
    ns.up('r1');
    assert.equal((await quiet.done).count, 0);
    // The control pair proves the receiver would have seen them: IPv6 (0x86dd) from r0.
    assert.ok((await control.done).frames.some((f) => f.readUInt16BE(12) === 0x86dd), 'no IPv6 frame from the control pair');
  });

  void it('puts one veth end in the root namespace and deletes it afterwards', async () => {
    const local = new World('world-root');
    const rootEnd = uniqueLinkName('ncr');
    try {
      const ns = local.addNamespace();
      ns.addVeth('in0', rootEnd, { peerIn: 'root' });
      const rootLinks = execFileSync('ip', ['-j', 'link', 'show', 'dev', rootEnd]).toString();
      assert.match(rootLinks, /"operstate"/);
      assert.equal(fs.readFileSync(`/proc/sys/net/ipv6/conf/${rootEnd}/disable_ipv6`, 'utf8').trim(), '1');
    } finally {
      await local.destroy();
    }
    assert.throws(() => execFileSync('ip', ['link', 'show', 'dev', rootEnd], { stdio: 'pipe' }));
  });

  void it('injects frames that arrive unchanged and in order on the peer', async () => {
    const ns = world.addNamespace();
    ns.addVeth('v0', 'v1');
    const frames = assortedFrames(200);
    const rx = await receive(ns, 'v1', { max: frames.length, durationMs: 10_000 });
    assert.equal(await inject(ns, 'v0', frames), frames.length);
    const got = await rx.done;
    assert.equal(got.count, frames.length);
    assert.deepEqual(got.frames.map((f) => f.toString('hex')), frames.map((f) => f.toString('hex')));
    // The kernel's own counters agree.
    assert.equal(ns.stats('v1').rxPackets, frames.length);
  });

  void it('paces injection at a fixed rate and repeats the list', async () => {
    const ns = world.addNamespace();
    ns.addVeth('v0', 'v1');
    const rx = await receive(ns, 'v1', { keepFrames: false, durationMs: 10_000, max: 300 });
    const t0 = process.hrtime.bigint();
    assert.equal(await inject(ns, 'v0', assortedFrames(3), { repeat: 100, rate: 1000 }), 300);
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    // 300 frames at 1000/s take at least 0.299 s (the last is due at 299 ms).
    assert.ok(seconds >= 0.29, `300 frames at 1000/s took only ${seconds} s`);
    assert.equal((await rx.done).count, 300);
  });

  void it('writes what it receives to a pcap file that tcpdump reads, and replays pcap files', async () => {
    const ns = world.addNamespace();
    ns.addVeth('v0', 'v1');
    const file = `/tmp/nc-world-${randomTag()}.pcap`;
    try {
      const frames = [tcpFrame({ dstPort: 80 }), udpFrame({ dstPort: 53 }), tcpFrame({ dstPort: 443 })];
      const rx = await receive(ns, 'v1', { max: 3, pcapFile: file });
      await inject(ns, 'v0', frames);
      await rx.done;
      const text = execFileSync('tcpdump', ['-nn', '-r', file, 'tcp'], { stdio: ['ignore', 'pipe', 'ignore'] }).toString();
      assert.equal(text.trim().split('\n').length, 2);
      assert.match(text, /192\.0\.2\.2\.80:/);
      assert.match(text, /192\.0\.2\.2\.443:/);
      // tcpdump also accepts the checksums we computed.
      const verbose = execFileSync('tcpdump', ['-nn', '-vv', '-r', file], { stdio: ['ignore', 'pipe', 'ignore'] }).toString();
      assert.equal(verbose.match(/cksum 0x[0-9a-f]+ \(correct\)/g)?.length, 2, verbose);
      assert.match(verbose, /\[udp sum ok\]/);
      // Replaying the file sends the same bytes again.
      const again = await receive(ns, 'v1', { max: 6 });
      assert.equal(await injectPcap(ns, 'v0', file, { repeat: 2 }), 6);
      assert.deepEqual((await again.done).frames.map((f) => f.toString('hex')), [...frames, ...frames].map((f) => f.toString('hex')));
    } finally {
      fs.rmSync(file, { force: true });
    }
  });

  void it('reports a missing interface as an error', async () => {
    const ns = world.addNamespace();
    await assert.rejects(inject(ns, 'nosuchif0', [udpFrame()]), /nosuchif0/);
    await assert.rejects(receive(ns, 'nosuchif0').then((r) => r.done), /nosuchif0/);
  });
});

void describe('DPDK programs', { timeout: 120_000, skip: (!isRoot && 'needs root') || (!dpdkInstalled && 'needs dpdk-doc and libdpdk-dev') }, () => {
  const world = new World('world-dpdk');
  after(() => world.destroy());

  void it('l2fwd forwards every injected frame, both ways', async (t) => {
    buildL2fwd();
    const app = await startL2fwd(world);
    t.diagnostic(`l2fwd start (spawn -> first forwarded frame): ${app.startMs} ms`);
    const frames = assortedFrames(100);
    const rx = await receive(app.ns, 'b1', { durationMs: 10_000, max: frames.length });
    await inject(app.ns, 'a1', frames, { rate: 2000 });
    const got = (await rx.done).frames.filter((f) => !isProbeFrame(f));
    assert.deepEqual(sortedHex(got), sortedHex(frames));
    const back = await receive(app.ns, 'a1', { durationMs: 10_000, max: 10 });
    await inject(app.ns, 'b1', frames.slice(0, 10));
    assert.deepEqual(sortedHex((await back.done).frames.filter((f) => !isProbeFrame(f))), sortedHex(frames.slice(0, 10)));
    const out = await app.stop();
    assert.match(out, /Bye/);
  });

  void it('the test app has its probe points in the symbol table (nm)', () => {
    const binary = buildTestApp();
    const nm = execFileSync('nm', ['--defined-only', binary]).toString();
    for (const fn of TEST_APP_FUNCTIONS) assert.match(nm, new RegExp(`^[0-9a-f]+ T ${fn}$`, 'm'), `${fn} missing`);
    // l2fwd's patched function survived -O3 as a function of its own.
    assert.match(execFileSync('nm', [buildL2fwd()]).toString(), /^[0-9a-f]+ t l2fwd_simple_forward$/m);
  });

  void it('the test app forwards every frame and passes long ones through the chain path', async (t) => {
    const app = await startTestApp(world);
    t.diagnostic(`test app start (spawn -> first forwarded frame): ${app.startMs} ms`);
    // app.pid is the DPDK process itself (what `netcap mbuf --pid` needs), not a wrapper.
    assert.equal(fs.readlinkSync(`/proc/${app.pid}/exe`), fs.realpathSync(app.binary));
    const frames = assortedFrames(100);
    const long = frames.filter((f) => f.length > 100);
    // Each long frame becomes ceil(length / 64) segments of at most 64 bytes.
    const segments = long.reduce((sum, f) => sum + Math.ceil(f.length / 64), 0);
    const rx = await receive(app.ns, 'b1', { durationMs: 10_000, max: frames.length });
    await inject(app.ns, 'a1', frames, { rate: 2000 });
    const got = (await rx.done).frames.filter((f) => !isProbeFrame(f));
    assert.deepEqual(sortedHex(got), sortedHex(frames));
    const out = await app.stop();
    const chains = /chains=(\d+)/.exec(out);
    assert.ok(chains, `no counters line in:\n${out}`);
    // Probe frames are 60 bytes (no chain), so every chain came from a long test frame.
    assert.equal(Number(chains[1]), long.length);
    assert.equal(Number(/chain_segs=(\d+)/.exec(out)?.[1]), segments);
    const rxCount = Number(/rx=(\d+)/.exec(out)?.[1]);
    const txCount = Number(/tx=(\d+)/.exec(out)?.[1]);
    assert.equal(rxCount, txCount);
    assert.ok(rxCount >= frames.length);
  });

  // The DPDK_MBUF offsets (pkt_len 36, nb_segs 20) are the brief's 22.11 facts;
  // the sums they give must match the frames we sent.
  void it('probe points see every packet with the documented rte_mbuf layout (bpftrace)', { skip: !bpftraceInstalled && 'needs bpftrace' }, async () => {
    const app = await startTestApp(world);
    const bin = app.binary;
    const bt = await startBpftrace(
      world,
      `uprobe:${bin}:app_process_one { @one = count(); @one_len = sum(*(uint32 *)(arg0 + 36)); }
       uprobe:${bin}:app_raw { @raw_len = sum(arg1); }
       uprobe:${bin}:app_process_burst { @burst_pkts = sum(arg1); }
       uretprobe:${bin}:app_rx_burst { @rx = sum(retval); }
       uprobe:${bin}:app_process_chain { @chains = count(); @segs = sum(*(uint16 *)(arg0 + 20)); @chain_len = sum(*(uint32 *)(arg0 + 36)); }`,
      { pid: app.pid },
    );
    const frames = assortedFrames(60);
    const rx = await receive(app.ns, 'b1', { durationMs: 10_000, max: frames.length });
    await inject(app.ns, 'a1', frames, { rate: 1000 });
    assert.equal((await rx.done).count, frames.length);
    const maps = await bt.stop();
    const total = frames.reduce((s, f) => s + f.length, 0);
    const long = frames.filter((f) => f.length > 100);
    assert.equal(maps.get('one'), frames.length, bt.output());
    assert.equal(maps.get('one_len'), total);
    assert.equal(maps.get('raw_len'), total);
    assert.equal(maps.get('burst_pkts'), frames.length);
    assert.equal(maps.get('rx'), frames.length);
    assert.equal(maps.get('chains'), long.length);
    assert.equal(maps.get('segs'), long.reduce((s, f) => s + Math.ceil(f.length / 64), 0));
    assert.equal(maps.get('chain_len'), long.reduce((s, f) => s + f.length, 0));
    await app.stop();
  });

  void it('l2fwd_simple_forward is called once per forwarded frame (bpftrace)', { skip: !bpftraceInstalled && 'needs bpftrace' }, async () => {
    const app = await startL2fwd(world);
    const bt = await startBpftrace(world, `uprobe:${app.binary}:l2fwd_simple_forward { @n = count(); @len = sum(*(uint32 *)(arg0 + 36)); }`, { pid: app.pid });
    const frames = assortedFrames(40);
    const rx = await receive(app.ns, 'b1', { durationMs: 10_000, max: frames.length });
    await inject(app.ns, 'a1', frames, { rate: 1000 });
    assert.equal((await rx.done).count, frames.length);
    const maps = await bt.stop();
    assert.equal(maps.get('n'), frames.length, bt.output());
    assert.equal(maps.get('len'), frames.reduce((s, f) => s + f.length, 0));
    await app.stop();
  });

  void it('leaves no namespace and no DPDK runtime directory behind', async () => {
    const names = world.namespaces.map((n) => n.name);
    await world.destroy();
    const left = listTestNamespaces();
    for (const n of names) {
      assert.ok(!left.includes(n), `${n} still exists`);
      assert.ok(!fs.existsSync(`/var/run/dpdk/${n}`), `/var/run/dpdk/${n} still exists`);
    }
  });
});
