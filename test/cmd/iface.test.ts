// `netcap iface` as a user runs it (bin/netcap as a child process) on v0 of
// a veth pair in a lab namespace, with tcpdump -i v0 in that namespace as the
// reference on the same traffic at the same time: -Q in, out and inout
// capture what tcpdump -Q ... captures (same packets, bytes, order), pcapng
// names each point and flags each packet's direction (read back by tshark),
// a 10 MB TCP transfer gives tcpdump's packets (GSO packets far larger than
// a page), a filter reading past short frames never drops one, another TC
// program on the hook keeps working and stays, and after SIGINT, SIGTERM or
// SIGKILL the hook holds what it held before.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { inject, receive } from '../../lab/inject';
import { tcpFrame, udpFrame } from '../../lab/frames';
import { parseCapture } from '../../src/output/read-capture';
import { attachTc } from '../../src/bpf/link/tc';
import { closeAll } from '../../src/bpf/registry';
import { skipReason } from '../../src/bpf/features';
import { NETNS_RUN_DIR } from '../../src/kernel/interfaces';
import { bpfObjectsOf, runNetcap, stillLoaded, tempDir, type NetcapRun } from '../capture/netcap-child';
import { CAP_IP, CAP_MAC, PEER_IP, PEER_MAC, corpusFrames, makeIfaceLab, packetKeys, startTcpdump, tagged, udpCounter, type IfaceLab } from '../modes/iface/iface-lab';
import { markingProgram, OTHER_MARK } from '../modes/iface/other-program';

let lab: IfaceLab;
const dir = tempDir('iface');
let netnsPath: string;

before(() => {
  lab = makeIfaceLab('ifcli');
  netnsPath = path.join(NETNS_RUN_DIR, lab.cap.name);
});

after(async () => {
  closeAll();
  await lab?.world.destroy();
  fs.rmSync(dir, { recursive: true, force: true });
});

async function netcap(args: string[]): Promise<NetcapRun> {
  const run = runNetcap(['iface', '--netns', lab.cap.name, ...args], lab.world);
  await run.ready();
  return run;
}

const ingress = () => corpusFrames({ mac: PEER_MAC, ip: PEER_IP }, { mac: CAP_MAC });
const egress = () => corpusFrames({ mac: CAP_MAC, ip: CAP_IP }, { mac: PEER_MAC });
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function sendBothWays(): Promise<void> {
  await inject(lab.peer, 'v1', ingress(), { rate: 2000 });
  await pause(150);
  await inject(lab.cap, 'v0', egress(), { rate: 2000 });
  await pause(300);
}

/**
 * What is on v0's hooks: tcx links (bpftool 7.1 shows neither their device
 * nor tcx in `bpftool net`, so: every tcx link whose program is netcap's on
 * v0 or the test's own) and tc filters and qdiscs (tc show).
 */
function hookState(): { tcxProgs: number[]; filters: string; qdiscs: string } {
  const links = JSON.parse(execFileSync('bpftool', ['-j', 'link', 'list']).toString()) as { type: string | number; prog_id: number }[];
  const ours = links
    .filter((l) => l.type === 'tcx' || l.type === 11)
    .filter((l) => {
      const prog = JSON.parse(execFileSync('bpftool', ['-j', 'prog', 'show', 'id', String(l.prog_id)]).toString()) as { name?: string };
      return /^nc_(in|eg)_v0$|^nc_other_/.test(prog.name ?? '');
    });
  const tc = (args: string[]) => lab.cap.run(['tc', ...args]).trim();
  return {
    tcxProgs: ours.map((l) => l.prog_id).sort(),
    filters: `${tc(['filter', 'show', 'dev', 'v0', 'ingress'])}\n--\n${tc(['filter', 'show', 'dev', 'v0', 'egress'])}`,
    qdiscs: tc(['qdisc', 'show', 'dev', 'v0']),
  };
}

void test('-Q in, out and inout write what tcpdump -Q in, out and inout capture at the same time; pcapng names the points and flags directions', async () => {
  const expression = 'udp or vlan 100 or arp';
  const runs: { q: string; file: string; nc: NetcapRun }[] = [];
  for (const q of ['in', 'out', 'inout']) {
    const file = path.join(dir, `q-${q}.pcapng`);
    runs.push({ q, file, nc: await netcap(['-i', 'v0', '-Q', q, '-e', expression, '-w', file]) });
  }
  const dumps = await Promise.all(runs.map(({ q }) => startTcpdump(lab.cap, 'v0', ['-Q', q, expression], path.join(dir, `td-${q}.pcap`))));
  await sendBothWays();
  for (const [i, r] of runs.entries()) {
    const theirs = await dumps[i].stop();
    const exit = await r.nc.stop('SIGINT');
    assert.equal(exit.code, 0, r.nc.stderr());
    const file = parseCapture(fs.readFileSync(r.file));
    const want = r.q === 'inout' ? ['v0 ingress', 'v0 egress'] : [r.q === 'in' ? 'v0 ingress' : 'v0 egress'];
    assert.deepEqual(file.interfaces.map((f) => f.name), want);
    assert.deepEqual(packetKeys(file.packets), packetKeys(theirs), `-Q ${r.q}`);
    assert.ok(theirs.length > 10, `-Q ${r.q}: ${theirs.length} packets`);
    assert.ok(file.packets.every((p) => p.direction === (file.interfaces[p.ifIndex].name === 'v0 ingress' ? 'in' : 'out')), 'epb_flags say the direction of each point');
    assert.match(r.nc.stderr(), new RegExp(`listening on ${want.join(', ')} \\(netns ${lab.cap.name}, tcx\\)`));
  }
  // tshark, a reader nobody here wrote, sees the same directions and interface names.
  const fields = execFileSync('tshark', ['-r', runs[2].file, '-T', 'fields', '-e', 'frame.interface_name', '-e', 'frame.packet_flags_direction'], { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim().split('\n');
  const pairs = new Set(fields.map((l) => l.replace(/\s+/g, ' ')));
  assert.deepEqual([...pairs].sort(), ['v0 egress 0x00000002', 'v0 ingress 0x00000001']);
});

void test('a 10 MB TCP transfer through v0 (GSO, packets far larger than a page): the packets and lengths tcpdump captures', async (t) => {
  const port = 5017;
  const server = lab.cap.spawn([process.execPath, '-e', `require('net').createServer((s) => { s.resume(); s.on('end', () => s.end()); }).listen(${port}, '${CAP_IP}', () => console.log('ready'))`]);
  await new Promise<void>((resolve) => server.stdout!.on('data', (b: Buffer) => b.toString().includes('ready') && resolve()));
  const expression = `tcp port ${port}`;
  const files = { in: path.join(dir, 'bulk-in.pcapng'), out: path.join(dir, 'bulk-out.pcapng') };
  // Rings that hold the whole burst for both: the transfer takes milliseconds.
  const ncIn = await netcap(['-i', 'v0', '-Q', 'in', '-e', expression, '-w', files.in, '--ring-size', '64']);
  const ncOut = await netcap(['-i', 'v0', '-Q', 'out', '-e', expression, '-w', files.out, '--ring-size', '64']);
  const tdIn = await startTcpdump(lab.cap, 'v0', ['-Q', 'in', expression], path.join(dir, 'bulk-in.pcap'), 65536);
  const tdOut = await startTcpdump(lab.cap, 'v0', ['-Q', 'out', expression], path.join(dir, 'bulk-out.pcap'), 65536);
  lab.peer.run([process.execPath, '-e', `const s = require('net').connect(${port}, '${CAP_IP}', () => { s.end(Buffer.alloc(10 * 1024 * 1024, 0x42)); }); s.resume(); s.on('close', () => process.exit(0));`], { timeoutMs: 60_000 });
  await pause(300);
  const mine = { in: [] as ReturnType<typeof parseCapture>['packets'], out: [] as ReturnType<typeof parseCapture>['packets'] };
  for (const [q, nc] of [['in', ncIn], ['out', ncOut]] as const) {
    const exit = await nc.stop('SIGINT');
    assert.equal(exit.code, 0, nc.stderr());
    mine[q] = parseCapture(fs.readFileSync(files[q])).packets;
  }
  const theirs = { in: await tdIn.stop(mine.in.length), out: await tdOut.stop(mine.out.length) };
  server.kill('SIGTERM');
  const bytes = mine.in.reduce((n, p) => n + p.wirelen, 0);
  assert.ok(bytes > 10 * 1024 * 1024, `ingress carried ${bytes} bytes`);
  const largest = Math.max(...mine.in.map((p) => p.wirelen));
  assert.ok(largest > 4096, `GSO packets larger than a page arrive whole (largest ${largest})`);
  t.diagnostic(`ingress ${mine.in.length} packets, ${bytes} bytes, largest ${largest}; egress ${mine.out.length} packets; tcpdump ${theirs.in.length} + ${theirs.out.length}`);
  for (const q of ['in', 'out'] as const) {
    assert.equal(mine[q].length, theirs[q].length, `-Q ${q} packet count`);
    assert.deepEqual(mine[q].map((p) => p.wirelen), theirs[q].map((p) => p.wirelen), `-Q ${q} lengths`);
    assert.ok(mine[q].every((p, i) => p.data.equals(theirs[q][i].data)), `-Q ${q} bytes`);
  }
});

void test('tcp[100] = 1 or udp[100] = 1 on 60-byte frames: every frame is delivered both ways (counted by the peer, and by a socket behind v0\'s ingress hook), none matched', async () => {
  const short = (src: string, dst: string, i: number) => tcpFrame({ srcMac: src, dstMac: dst, srcIp: '203.0.113.9', dstIp: '203.0.113.10', dstPort: 80, seq: i });
  const shortUdp = (i: number) => udpFrame({ srcMac: PEER_MAC, dstMac: CAP_MAC, srcIp: PEER_IP, dstIp: CAP_IP, srcPort: 40000 + i, dstPort: 7300, payload: Buffer.from([i & 0xff]) });
  const count = 200;
  const nc = await netcap(['-i', 'v0', '-e', 'tcp[100] = 1 or udp[100] = 1', '-w', path.join(dir, 'short.pcap')]);
  const atPeer = await receive(lab.peer, 'v1', { max: count, durationMs: 10_000, keepFrames: false });
  const sentOut = await inject(lab.cap, 'v0', Array.from({ length: count }, (_, i) => short(CAP_MAC, PEER_MAC, i)), { rate: 5000 });
  const socket = await udpCounter(lab.cap, CAP_IP, 7300);
  const sentIn = await inject(lab.peer, 'v1', Array.from({ length: count }, (_, i) => shortUdp(i)), { rate: 5000 });
  assert.equal(short(CAP_MAC, PEER_MAC, 0).length, 60);
  assert.equal(shortUdp(0).length, 60);
  assert.equal((await atPeer.done).count, sentOut, 'every frame netcap saw leaving v0 reached v1');
  assert.equal(await socket.count(), sentIn, 'every frame netcap saw arriving at v0 reached the socket behind it');
  const exit = await nc.stop('SIGINT');
  assert.equal(exit.code, 0);
  assert.match(nc.stderr(), /v0 ingress: 0 captured, (\d+) seen, 0 matched/);
  assert.match(nc.stderr(), /v0 egress: 0 captured, (\d+) seen, 0 matched/);
  const seen = [...nc.stderr().matchAll(/v0 (?:in|e)gress: 0 captured, (\d+) seen/g)].map((m) => Number(m[1]));
  assert.ok(seen[0] >= count && seen[1] >= count, `seen ${seen.join(', ')}`);
});

for (const mechanism of ['tcx', 'cls_bpf'] as const) {
  void test(`${mechanism}: another program on the hook keeps seeing every packet and stays; --position first sees packets before it, last after it`, async (t) => {
    if (mechanism === 'tcx' && skipReason('tcx')) return t.skip(skipReason('tcx'));
    const other = markingProgram(`nc_other_${mechanism === 'tcx' ? 'x' : 'c'}`);
    const link = attachTc(other.prog, { ifindex: lab.ifindex, direction: 'ingress', netnsPath, mechanism });
    try {
      const before = hookState();
      const frames = Array.from({ length: 20 }, (_, i) => udpFrame({ srcMac: PEER_MAC, dstMac: CAP_MAC, dstIp: '203.0.113.7', dstPort: 7000 + i }));
      for (const position of ['first', 'last'] as const) {
        const file = path.join(dir, `other-${mechanism}-${position}.pcapng`);
        const hitsBefore = other.hits();
        const nc = await netcap(['-i', 'v0', '-Q', 'in', '--hook', mechanism, '--position', position, '-e', 'udp portrange 7000-7019', '-w', file]);
        const held = bpfObjectsOf(nc.child.pid!);
        await inject(lab.peer, 'v1', frames, { rate: 2000 });
        await pause(300);
        assert.equal((await nc.stop('SIGINT')).code, 0, nc.stderr());
        const packets = parseCapture(fs.readFileSync(file)).packets;
        assert.equal(packets.length, frames.length);
        const marks = new Set(packets.map((p) => /mark=0x([0-9a-f]+)/.exec(p.comment ?? '')?.[1]));
        assert.deepEqual([...marks], [position === 'first' ? '0' : OTHER_MARK.toString(16)], `${position}: the mark netcap saw`);
        assert.ok(other.hits() - hitsBefore >= BigInt(frames.length), 'the other program saw every frame');
        assert.deepEqual(hookState(), before, `${position}: the hook holds what it held before`);
        assert.deepEqual(stillLoaded(held), { programs: [], links: [] });
      }
      assert.ok(!link.closed, 'the other program is still attached');
    } finally {
      link.close();
      other.close();
    }
  });
}

for (const mechanism of ['tcx', 'cls_bpf'] as const) {
  void test(`${mechanism}: after SIGINT, SIGTERM and SIGKILL the hooks hold only what they held before${mechanism === 'cls_bpf' ? ' (SIGKILL: the filters stay, holding only the dispatchers)' : ''}`, async (t) => {
    if (mechanism === 'tcx' && skipReason('tcx')) return t.skip(skipReason('tcx'));
    const before = hookState();
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGKILL'] as const) {
      const nc = await netcap(['-i', 'v0', '--hook', mechanism, '-e', 'udp']);
      const during = hookState();
      if (mechanism === 'tcx') assert.equal(during.tcxProgs.length, before.tcxProgs.length + 2, 'two tcx links while capturing');
      else assert.notEqual(during.filters, before.filters, 'cls_bpf filters while capturing');
      const exit = await nc.stop(signal);
      assert.ok(signal === 'SIGKILL' ? exit.signal === 'SIGKILL' : exit.code === 0, `${signal}: ${JSON.stringify(exit)} ${nc.stderr()}`);
      if (mechanism === 'cls_bpf' && signal === 'SIGKILL') {
        // Nothing in the kernel removes a tc filter when its creator dies: they are still there, but
        // they hold only the dispatchers. The kernel empties a program array once no fd refers to it
        // (prog_array_map_clear, kernel/bpf/arraymap.c), so the capture programs are unloaded and the
        // dispatchers return TC_ACT_UNSPEC without capturing.
        const after = hookState();
        assert.match(after.filters, /nc_in_v0/);
        assert.match(after.filters, /nc_eg_v0/);
        const captureProgramsLeft = () => (JSON.parse(execFileSync('bpftool', ['-j', 'prog', 'list']).toString()) as { name?: string }[]).filter((p) => /^ncc_(in|eg)_v0$/.test(p.name ?? '')).length;
        const until = Date.now() + 5000;
        while (captureProgramsLeft() > 0 && Date.now() < until) await pause(50);
        assert.equal(captureProgramsLeft(), 0, 'the capture programs went with netcap; only the dispatchers stay on the hook');
        // With empty slots the dispatchers return TC_ACT_UNSPEC: cls_bpf goes on, and every frame passes both ways.
        const frames = (src: string, dst: string, srcIp: string, dstIp: string) => Array.from({ length: 20 }, (_, i) => udpFrame({ srcMac: src, dstMac: dst, srcIp, dstIp, srcPort: 41000 + i, dstPort: 7100 }));
        const socket = await udpCounter(lab.cap, CAP_IP, 7100);
        const atPeer = await receive(lab.peer, 'v1', { max: 20, durationMs: 5000, keepFrames: false });
        await inject(lab.peer, 'v1', frames(PEER_MAC, CAP_MAC, PEER_IP, CAP_IP));
        await inject(lab.cap, 'v0', frames(CAP_MAC, PEER_MAC, CAP_IP, '203.0.113.7'));
        assert.deepEqual([await socket.count(), (await atPeer.done).count], [20, 20], 'the leftover dispatchers let every frame through');
        lab.cap.run(['tc', 'qdisc', 'del', 'dev', 'v0', 'clsact']);
        continue;
      }
      await pause(100);
      assert.deepEqual(hookState(), before, `after ${signal}`);
    }
  });
}

void test('-i any: every interface, and the ones that appear while capturing, each with its own points and pcapng interfaces', async () => {
  const file = path.join(dir, 'any.pcapng');
  const nc = await netcap(['-i', 'any', '-Q', 'in', '-e', 'udp port 7777', '-w', file]);
  assert.match(nc.stderr(), /listening on lo ingress, v0 ingress \(netns [^,]+, tcx; -i any: and every interface that appears\)/);
  lab.cap.addVeth('v2', 'v3');
  const deadline = Date.now() + 5000;
  while (!(/capturing on v2 too/.test(nc.stderr()) && /capturing on v3 too/.test(nc.stderr())) && Date.now() < deadline) await pause(20);
  assert.match(nc.stderr(), /capturing on v2 too/);
  assert.match(nc.stderr(), /capturing on v3 too/);
  await inject(lab.peer, 'v1', [udpFrame({ srcMac: PEER_MAC, dstMac: CAP_MAC, dstPort: 7777 })]);
  await inject(lab.cap, 'v3', [udpFrame({ dstMac: 'ff:ff:ff:ff:ff:ff', dstPort: 7777 })]);
  await pause(300);
  assert.equal((await nc.stop('SIGINT')).code, 0, nc.stderr());
  const capture = parseCapture(fs.readFileSync(file));
  assert.deepEqual(capture.interfaces.map((i) => i.name).sort(), ['lo ingress', 'v0 ingress', 'v2 ingress', 'v3 ingress']);
  const where = capture.packets.map((p) => `${capture.interfaces[p.ifIndex].name} ${/ifindex=\d+ \((\w+)\)/.exec(p.comment ?? '')?.[1]}`).sort();
  assert.deepEqual(where, ['v0 ingress v0', 'v2 ingress v2']);
  assert.match(nc.stderr(), /v2 ingress: 1 captured, \d+ seen, 1 matched/, 'the summary has the new interface\'s counters');
});

void test('-i by ifindex, and --dry-run: the programs listed, nothing attached', async () => {
  const before = hookState();
  const out = execFileSync(process.execPath, [path.join(__dirname, '..', '..', '..', 'bin', 'netcap'), 'iface', '--netns', lab.cap.name, '-i', String(lab.ifindex), '-Q', 'inout', '-e', 'vlan 100', '--dry-run']).toString();
  assert.match(out, /interface v0: ifindex \d+, link type ether, up, IPv4 netmask 0xffffff00/);
  assert.match(out, /point 0 \(v0 ingress\): tcx ingress, first/);
  assert.match(out, /point 1 \(v0 egress\): tcx egress, last/);
  assert.match(out, /program nc_in_v0: \d+ instructions, accepted by the verifier/);
  assert.match(out, /call bpf_skb_load_bytes/);
  assert.deepEqual(hookState(), before);
});

void test('bad input: a clear one-line error, exit 2, nothing attached', async () => {
  const before = hookState();
  const cases: [string[], RegExp][] = [
    [['-i', 'v7'], /no interface v7 in network namespace .*\n.*interfaces there: lo, v0/],
    [['-i', 'v0', '-Q', 'sideways'], /-Q sideways: not a direction\n.*in, out or inout .*ingress, egress or bidirectional/],
    [['-i', 'v0', '-Q', 'off'], /"off" is a state of a running capture/],
    [['-i', 'v0,v0'], /names v0 twice/],
    [['-i', 'v0', '-e', 'tcp port'], /bad filter expression "tcp port"/],
  ];
  for (const [args, message] of cases) {
    const run = runNetcap(['iface', '--netns', lab.cap.name, ...args], lab.world);
    const exit = await run.exited;
    assert.equal(exit.code, 2, `${args.join(' ')}: ${run.stderr()}`);
    assert.match(run.stderr(), message);
    assert.doesNotMatch(run.stderr(), /\n\s+at /, 'no stack trace');
  }
  const noNetns = runNetcap(['iface', '--netns', 'nc-no-such-ns', '-i', 'v0'], lab.world);
  assert.equal((await noNetns.exited).code, 2);
  assert.match(noNetns.stderr(), /no network namespace nc-no-such-ns/);
  // No permission: the same command as an unprivileged user.
  for (const args of [['--netns', lab.cap.name, '-i', 'v0'], ['-i', 'lo']]) {
    const user = runNetcapAs(65534, ['iface', ...args]);
    assert.equal(user.status, 2, user.stderr);
    assert.match(user.stderr, /^netcap: run as root: netcap needs CAP_BPF and CAP_PERFMON/m);
  }
  assert.deepEqual(hookState(), before);
});

/** bin/netcap run synchronously with another uid (setpriv, no capabilities). */
function runNetcapAs(uid: number, args: string[]): { status: number | null; stderr: string } {
  try {
    execFileSync('setpriv', ['--reuid', String(uid), '--regid', String(uid), '--clear-groups', '--inh-caps=-all', process.execPath, path.join(__dirname, '..', '..', '..', 'bin', 'netcap'), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    return { status: 0, stderr: '' };
  } catch (e) {
    const err = e as { status: number | null; stderr: Buffer };
    return { status: err.status, stderr: err.stderr.toString() };
  }
}

void test('an ingress VLAN frame: tcpdump and netcap both write it with its tag back, and `tcp port 80` matches it as tcpdump -i does', async () => {
  const frame = tagged(tcpFrame({ srcMac: PEER_MAC, dstMac: CAP_MAC, dstIp: '203.0.113.7', dstPort: 80, flags: 0x18, payload: Buffer.from('GET / HTTP/1.0\r\n\r\n') }), 0x8100, 100);
  const file = path.join(dir, 'vlan.pcap');
  const nc = await netcap(['-i', 'v0', '-Q', 'in', '-e', 'tcp port 80', '-w', file, '-c', '1']);
  const td = await startTcpdump(lab.cap, 'v0', ['-Q', 'in', 'tcp port 80'], path.join(dir, 'vlan-td.pcap'));
  await inject(lab.peer, 'v1', [frame]);
  const exit = await nc.exited;
  assert.equal(exit.code, 0, nc.stderr());
  const theirs = await td.stop(1);
  assert.deepEqual(packetKeys(parseCapture(fs.readFileSync(file)).packets), packetKeys(theirs));
  assert.deepEqual(packetKeys(theirs), packetKeys([{ data: frame, wirelen: frame.length }]));
});
