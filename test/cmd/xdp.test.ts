// `netcap xdp` as a user runs it (bin/netcap as a child process) on the
// example firewall (examples/xdp-firewall), attached in generic mode to a
// veth of a namespace made here, its hook pinned under bpffs. A known mix
// of frames gets every verdict (pass, drop, tx, aborted, redirect; two of
// them 9000-byte multi-buffer frames). For a corpus of expressions the
// capture holds exactly the frames libpcap's filter selects, as the hook
// saw them, each with its verdict (our pcapng reader, tshark), the counters
// per action equal the mix and the firewall's own counts, and what the
// peers receive is the same with and without netcap. SIGINT, SIGTERM and
// SIGKILL leave every slot empty with the firewall still working; a slot
// someone else filled is refused, and --force gives it back afterwards.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ProgType, XdpAction } from '../../src/bpf/constants';
import { BPF_F_XDP_HAS_FRAGS, loadProgram } from '../../src/bpf/program';
import { AttachType } from '../../src/bpf/constants';
import { Exit, Mov, R0 } from '../../src/ebpf';
import { compileCbpf, libpcapFilter } from '../../src/filter/libpcap';
import { readPcapng } from '../../src/output/pcapng-reader';
import { openHook } from '../../src/modes/xdp/hook';
import { World, type Namespace } from '../../lab/netns';
import { inject, receive, type Receiver } from '../../lab/inject';
import { newProbeTag, probeFrame, tcpFrame, udpFrame } from '../../lab/frames';
import { attachXdpFirewall, hookSlots, processesOnHook, type AttachedFirewall } from '../../lab/xdp';
import { bpfObjectsOf, runNetcap, tempDir, type NetcapRun } from '../capture/netcap-child';
import { asHookSees, firewallVerdict } from '../probes/xdp-frames';

const world = new World('xdpcli');
const dir = tempDir('xdp');
let ns: Namespace;
let fw: AttachedFirewall;
const MAC0 = '02:00:00:00:78:01';
const MAC1 = '02:00:00:00:78:02';
const RULES = { drop: [53], bounce: [7], abort: [9], redirect: [{ port: 8, iface: 'v2' }] };
const ACTIONS = ['aborted', 'drop', 'pass', 'tx', 'redirect'];

before(() => {
  ns = world.addNamespace();
  ns.addVeth('v0', 'v1', { local: { mac: MAC0 }, peer: { mac: MAC1 } });
  ns.addVeth('v2', 'v3');
  // Room for 9000-byte frames: the injector's skb is then paged, and generic XDP hands the program several buffers.
  for (const dev of ['v0', 'v1', 'v2', 'v3']) ns.ip(['link', 'set', 'dev', dev, 'mtu', '9100']);
  fw = attachXdpFirewall(ns, 'v1', RULES);
});

after(async () => {
  await world.destroy();
  fs.rmSync(dir, { recursive: true, force: true });
});

const hookName = () => path.basename(fw.dir);
const tag = newProbeTag();
const frame = (port: number, i: number, tcp = false, size = 0) => {
  const payload = Buffer.alloc(Math.max(size, 32), 7);
  payload.write(`netcap xdp test ${port} ${i}`);
  const f = { srcMac: MAC0, dstMac: MAC1, srcIp: '192.0.2.1', dstIp: '192.0.2.2', srcPort: 40000 + i, dstPort: port, payload };
  return tcp ? tcpFrame({ ...f, flags: 0x18 }) : udpFrame(f);
};
/** Every verdict, several times; two multi-buffer frames; a frame that is not IP. */
const mix: Buffer[] = [
  frame(53, 1), frame(53, 2), frame(53, 3, true), frame(7, 4), frame(7, 5), frame(9, 6, true), frame(8, 7), frame(8, 8),
  frame(80, 9), frame(80, 10), frame(80, 11, true), frame(443, 12, true), probeFrame(tag, 13),
  frame(80, 14, false, 9000), frame(53, 15, false, 9000),
];
const verdicts = mix.map((f) => firewallVerdict(RULES, f));
const perAction = (want: readonly number[]) => ACTIONS.map((_, a) => want.filter((v) => v === a).length);

const hex = (frames: readonly Buffer[]) => frames.map((f) => f.toString('hex')).sort();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(check: () => boolean, ms = 5000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!check() && Date.now() < deadline) await sleep(25);
  return check();
}

/** What the peers received of the mix: passed frames on v1, bounced on v0, redirected on v3. */
interface PeerFrames {
  passed: string[];
  bounced: string[];
  redirected: string[];
}

async function sendMix(): Promise<{ peers: PeerFrames; counted: bigint[] }> {
  const receivers: Receiver[] = await Promise.all(['v1', 'v0', 'v3'].map((dev) => receive(ns, dev, { durationMs: 15_000 })));
  const before = fw.counts();
  assert.equal(await inject(ns, 'v0', mix), mix.length);
  // The firewall's own counters tell when it has judged every frame.
  assert.ok(await until(() => fw.counts().reduce((s, n) => s + n, 0n) - before.reduce((s, n) => s + n, 0n) >= BigInt(mix.length)), 'the firewall judged every frame');
  await sleep(300);
  const [passed, bounced, redirected] = await Promise.all(receivers.map((r) => r.stop()));
  const counted = fw.counts().map((n, i) => n - before[i]);
  return { peers: { passed: hex(passed.frames), bounced: hex(bounced.frames), redirected: hex(redirected.frames) }, counted };
}

const expectedPeers: PeerFrames = {
  passed: hex(mix.filter((_, i) => verdicts[i] === XdpAction.PASS)),
  bounced: hex(mix.filter((_, i) => verdicts[i] === XdpAction.TX).map((f) => asHookSees(f, XdpAction.TX))),
  redirected: hex(mix.filter((_, i) => verdicts[i] === XdpAction.REDIRECT)),
};
let baseline: { peers: PeerFrames; counted: bigint[] };

void test('without netcap: the firewall gives the mix its verdicts, and the peers receive what it passes, bounces and redirects', async () => {
  assert.deepEqual(hookSlots(fw.hookPath), [undefined, undefined, undefined, undefined, undefined], 'the hook starts empty');
  baseline = await sendMix();
  assert.deepEqual(baseline.counted, perAction(verdicts).map(BigInt));
  assert.deepEqual(baseline.peers, expectedPeers);
});

async function startNetcap(args: string[]): Promise<NetcapRun> {
  const run = runNetcap(['xdp', '--hook', fw.hookPath, ...args], world);
  await run.ready();
  return run;
}

const corpus = ['', 'udp', 'udp port 53', 'tcp', 'not ip', 'ether src 02:00:00:00:78:02', 'udp[5000] = 7', 'len > 1000', 'ip[8] = 64 and udp dst port 7'];

void test(`${corpus.length} expressions: the pcapng holds what libpcap selects with each verdict; counters and the datapath as without netcap`, async () => {
  for (const expression of corpus) {
    const file = path.join(dir, 'corpus.pcapng');
    const run = await startNetcap(['-e', expression, '-w', file]);
    const slots = hookSlots(fw.hookPath);
    assert.ok(slots.every((id) => id !== undefined && bpfObjectsOf(run.child.pid!).programs.includes(id)), `"${expression}": every slot holds one of netcap's programs`);
    const sent = await sendMix();
    const exit = await run.stop('SIGINT');
    assert.equal(exit.code, 0, run.stderr());
    assert.deepEqual(sent.counted, baseline.counted, `"${expression}": the firewall's verdicts`);
    assert.deepEqual(sent.peers, baseline.peers, `"${expression}": what the peers receive`);

    const cbpf = compileCbpf(expression, { linktype: 'EN10MB', snaplen: 262144 });
    const expected = mix
      .map((f, i) => ({ action: verdicts[i], frame: asHookSees(f, verdicts[i]) }))
      .filter((e) => libpcapFilter(cbpf, e.frame, e.frame.length) > 0);
    const capture = readPcapng(fs.readFileSync(file));
    const got = capture.packets.map((p) => `${capture.interfaces[p.ifIndex].name}|${p.verdict?.type}:${p.verdict?.value}|${p.wirelen}|${p.data.toString('hex')}`).sort();
    const want = expected.map((e) => `xdp:${hookName()} ${ACTIONS[e.action]}|xdp:${e.action}|${e.frame.length}|${e.frame.toString('hex')}`).sort();
    assert.deepEqual(got, want, `"${expression}"`);
    // The mode's report, xdpcap-shaped: received/matched per action (on stdout, as every mode's report when -w is a file).
    const matched = perAction(expected.map((e) => e.action));
    const line = ACTIONS.map((a, i) => `${a}: ${perAction(verdicts)[i]}/${matched[i]}`).join('  ');
    assert.ok(run.stderr().includes(`xdp:${hookName()} received/matched: ${line}\n`), `"${expression}": ${run.stderr()}`);
    assert.deepEqual(hookSlots(fw.hookPath), [undefined, undefined, undefined, undefined, undefined], `"${expression}": the slots are empty again`);
  }
});

void test('tshark shows an interface per action and the XDP verdict of each packet; --json carries it too', async () => {
  const file = path.join(dir, 'tshark.pcapng');
  const run = await startNetcap(['-e', 'udp', '-w', file]);
  await sendMix();
  assert.equal((await run.stop()).code, 0, run.stderr());
  const rows = execFileSync('tshark', ['-r', file, '-T', 'fields', '-E', 'separator=|', '-e', 'frame.interface_name', '-e', 'frame.verdict.ebpf_xdp', '-e', 'udp.dstport'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
    .trim()
    .split('\n');
  const udpMix = mix.filter((f) => f.readUInt16BE(12) === 0x0800 && f[23] === 17);
  assert.equal(rows.length, udpMix.length);
  for (const row of rows) {
    const [ifname, verdict, port] = row.split('|');
    const action = firewallVerdict(RULES, udpFrame({ dstPort: Number(port) }));
    assert.equal(ifname, `xdp:${hookName()} ${ACTIONS[action]}`);
    assert.equal(Number(verdict), action);
  }
  // statistics per interface: capinfos reads one block per action
  const info = execFileSync('capinfos', [file], { encoding: 'utf8' });
  assert.equal((info.match(/Number of stat entries = 1/g) ?? []).length, 5);

  const json = await startNetcap(['-e', 'udp port 7', '--json', '-c', '1']);
  await inject(ns, 'v0', [frame(7, 99)]);
  assert.equal((await json.exited).code, 0, json.stderr());
  const line = JSON.parse(json.stdout().toString().trim().split('\n')[0]) as { verdict: unknown; ifName: string };
  assert.deepEqual(line.verdict, { type: 'xdp', value: XdpAction.TX, name: 'XDP_TX' });
  assert.equal(line.ifName, `xdp:${hookName()} tx`);
});

void test('--actions drop,tx fills only those slots and captures only their packets', async () => {
  const file = path.join(dir, 'actions.pcapng');
  const run = await startNetcap(['--actions', 'drop,tx', '-w', file]);
  assert.match(run.stderr(), /\(drop, tx\)/);
  const slots = hookSlots(fw.hookPath);
  assert.deepEqual(slots.map((id) => id !== undefined), [false, true, false, true, false]);
  await sendMix();
  assert.equal((await run.stop()).code, 0, run.stderr());
  const capture = readPcapng(fs.readFileSync(file));
  assert.deepEqual(capture.packets.map((p) => p.verdict?.value).sort(), verdicts.filter((v) => v === XdpAction.DROP || v === XdpAction.TX).sort());
});

for (const signal of ['SIGINT', 'SIGTERM', 'SIGKILL'] as const) {
  void test(`${signal}: every slot is empty afterwards, no process is left, and the firewall still runs`, async () => {
    const run = await startNetcap(['-w', '/dev/null']);
    assert.ok(hookSlots(fw.hookPath).every((id) => id !== undefined), 'filled');
    const exit = await run.stop(signal);
    if (signal === 'SIGKILL') assert.equal(exit.signal, 'SIGKILL');
    else assert.equal(exit.code, 0, run.stderr());
    // After SIGKILL the watchdog does it: within a moment.
    assert.ok(await until(() => hookSlots(fw.hookPath).every((id) => id === undefined)), `slots after ${signal}: ${JSON.stringify(hookSlots(fw.hookPath))}`);
    assert.ok(await until(() => processesOnHook(fw.hookPath).length === 0), 'the watchdog has exited');
    const again = await sendMix();
    assert.deepEqual(again.counted, baseline.counted);
    assert.deepEqual(again.peers, baseline.peers);
  });
}

void test('a slot someone else filled is refused (exit 2, nothing changed); --force borrows it and gives it back, after SIGINT and SIGKILL', async () => {
  // "Someone else": a program of our own that drops, in the drop slot, loaded the way the firewall's hook wants.
  const hook = openHook(fw.hookPath);
  const other = loadProgram({ type: ProgType.XDP, name: 'nc_t_other', insns: [Mov.imm(R0, XdpAction.DROP), Exit()], expectedAttachType: AttachType.XDP, progFlags: BPF_F_XDP_HAS_FRAGS });
  try {
    hook.slots.set(XdpAction.DROP, other.fd);
    const refused = runNetcap(['xdp', '--hook', fw.hookPath, '-w', '/dev/null'], world);
    const r = await refused.exited;
    assert.equal(r.code, 2);
    assert.match(refused.stderr(), new RegExp(`^netcap: ${fw.hookPath}: the drop slot is in use \\(program ${other.id}\\)`, 'm'));
    assert.match(refused.stderr(), /--force/);
    assert.doesNotMatch(refused.stderr(), /at .*\.js:\d+/, 'no stack trace');
    assert.deepEqual(hookSlots(fw.hookPath), [undefined, other.id, undefined, undefined, undefined], 'nothing changed');

    for (const signal of ['SIGINT', 'SIGKILL'] as const) {
      const file = path.join(dir, 'force.pcapng');
      const run = await startNetcap(['--force', '-e', 'udp port 53', '-w', file]);
      const slots = hookSlots(fw.hookPath);
      assert.ok(slots[XdpAction.DROP] !== undefined && slots[XdpAction.DROP] !== other.id, "netcap's program is in the drop slot");
      await sendMix();
      await sleep(200);
      await run.stop(signal);
      assert.ok(await until(() => hookSlots(fw.hookPath)[XdpAction.DROP] === other.id), `after ${signal} the other program is back`);
      assert.deepEqual(hookSlots(fw.hookPath), [undefined, other.id, undefined, undefined, undefined]);
      if (signal === 'SIGINT') {
        const capture = readPcapng(fs.readFileSync(file));
        assert.equal(capture.packets.length, mix.filter((f, i) => verdicts[i] === XdpAction.DROP && f[23] === 17).length, 'the borrowed slot captured');
      }
    }
  } finally {
    hook.slots.clear(XdpAction.DROP);
    other.close();
    hook.map.close();
  }
});

void test('two hooks at once: each its own points, in one pcapng', async () => {
  ns.addVeth('v4', 'v5', { local: { mac: MAC0 }, peer: { mac: MAC1 } });
  const fw2 = attachXdpFirewall(ns, 'v5', { drop: [54] });
  const file = path.join(dir, 'two.pcapng');
  const run = runNetcap(['xdp', '--hook', fw.hookPath, '--hook', fw2.hookPath, '-e', 'udp', '-w', file], world);
  await run.ready();
  assert.match(run.stderr(), new RegExp(`listening on xdp hook ${fw.hookPath} \\(aborted, drop, pass, tx, redirect\\); xdp hook ${fw2.hookPath} \\(aborted, drop, pass, tx, redirect\\)`));
  await inject(ns, 'v0', [frame(53, 1), frame(80, 2)]);
  await inject(ns, 'v4', [frame(54, 3), frame(53, 4)]);
  await until(() => fw2.counts().reduce((s, n) => s + n, 0n) >= 2n);
  await sleep(300);
  assert.equal((await run.stop()).code, 0, run.stderr());
  const capture = readPcapng(fs.readFileSync(file));
  const got = capture.packets.map((p) => `${capture.interfaces[p.ifIndex].name} ${p.data.readUInt16BE(36)}`).sort();
  const name2 = path.basename(fw2.dir);
  assert.deepEqual(got, [`xdp:${hookName()} drop 53`, `xdp:${hookName()} pass 80`, `xdp:${name2} drop 54`, `xdp:${name2} pass 53`].sort());
  assert.equal(capture.interfaces.length, 10);
  fw2.detach();
});

void test('--dry-run lists the hook, its slots and the programs as the verifier accepted them, and changes nothing', async () => {
  const run = runNetcap(['xdp', '--hook', fw.hookPath, '-e', 'udp port 53', '--dry-run'], world);
  const exit = await run.exited;
  assert.equal(exit.code, 0, run.stderr());
  const out = run.stdout().toString();
  assert.match(out, new RegExp(`^hook ${fw.hookPath} \\(${hookName()}\\): map id \\d+ "xdpcap_hook", BPF_MAP_TYPE_PROG_ARRAY, key 4, value 4, 5 entries$`, 'm'));
  assert.match(out, /^ {2}slot 1 \(drop\): empty$/m);
  assert.match(out, new RegExp(`^point 4: xdp:${hookName()} redirect: program nc_xdp_redirect, \\d+ instructions, accepted by the verifier$`, 'm'));
  assert.match(out, /call bpf_xdp_load_bytes#189/);
  assert.match(out, /r0 = 4 +; the verdict the XDP program chose, always/);
  assert.deepEqual(hookSlots(fw.hookPath), [undefined, undefined, undefined, undefined, undefined]);
  assert.deepEqual(processesOnHook(fw.hookPath), [], 'no watchdog');
});

void test('a slot someone else changes while netcap runs is left as they made it, and netcap says so', async () => {
  const hook = openHook(fw.hookPath);
  const other = loadProgram({ type: ProgType.XDP, name: 'nc_t_other', insns: [Mov.imm(R0, XdpAction.DROP), Exit()], expectedAttachType: AttachType.XDP, progFlags: BPF_F_XDP_HAS_FRAGS });
  try {
    const run = await startNetcap(['-w', '/dev/null']);
    hook.slots.set(XdpAction.DROP, other.fd);
    assert.equal((await run.stop()).code, 0, run.stderr());
    assert.match(run.stderr(), new RegExp(`^note: ${fw.hookPath}: the drop slot was changed by someone else while netcap ran; left as it is$`, 'm'));
    assert.ok(await until(() => processesOnHook(fw.hookPath).length === 0));
    assert.deepEqual(hookSlots(fw.hookPath), [undefined, other.id, undefined, undefined, undefined]);
  } finally {
    hook.slots.clear(XdpAction.DROP);
    other.close();
    hook.map.close();
  }
});
