// An xdp capture through the library (openCapture({ mode: 'xdp', ... })) on
// the example firewall (examples/xdp-firewall) attached to a veth of a
// namespace made here: the hook's slots are where a filter change swaps
// programs. While numbered frames flow (ports 1000, 2000, 3000 in turn, to
// which the firewall says pass, drop and tx), the filter changes: some
// frame K splits the capture, every frame before K judged by the old filter
// and every frame from K on by the new (none by both, none by neither),
// each packet with the firewall's verdict, the counters per action equal to
// what was sent (none lost, none counted twice) and the firewall's own
// counts as without netcap. A slot someone else changes while the capture
// runs is left to them by the next change, and the report says so. Then a
// process running such a capture is SIGKILLed after a filter change: its
// watchdog, told the new programs before they went in, empties every slot.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { AttachType, ProgType, XdpAction } from '../../src/bpf/constants';
import { BPF_F_XDP_HAS_FRAGS, loadProgram } from '../../src/bpf/program';
import { Exit, Mov, R0 } from '../../src/ebpf';
import { openHook } from '../../src/modes/xdp/hook';
import { openCapture, type Capture, type CapturedPacket } from '../../src/index';
import { World, type Namespace } from '../../lab/netns';
import { inject } from '../../lab/inject';
import { repoRoot } from '../../lab/paths';
import { attachXdpFirewall, hookSlots, processesOnHook, type AttachedFirewall } from '../../lab/xdp';
import { frameNumber, numberedFrames, RECEIVER_MAC, SENDER_MAC, sleep, splitPoint, waitFor } from './numbered-frames';
import { bpfObjectsOf } from './netcap-child';

const world = new World('xdplib');
let ns: Namespace;
let fw: AttachedFirewall;
const running: Capture[] = [];
const ACTIONS = ['aborted', 'drop', 'pass', 'tx', 'redirect'];
const EMPTY = [undefined, undefined, undefined, undefined, undefined];

before(() => {
  ns = world.addNamespace();
  ns.addVeth('v0', 'v1', { local: { mac: SENDER_MAC }, peer: { mac: RECEIVER_MAC } });
  fw = attachXdpFirewall(ns, 'v1', { drop: [2000], bounce: [3000] });
});

after(async () => {
  for (const c of running) await c.stop();
  await world.destroy();
});

const portOf = (i: number) => 1000 + 1000 * (i % 3);
const verdictOf = (i: number) => [XdpAction.PASS, XdpAction.DROP, XdpAction.TX][i % 3];
/** Frames 0..n-1 in turn to ports 1000, 2000 and 3000. */
const mixedNumbered = (n: number, size: number) => Array.from({ length: n }, (_, i) => numberedFrames(1, portOf(i), size, i)[0]);

void test('setFilter on a running xdp capture while frames flow: one frame splits old and new filter, none lost or judged twice, every verdict unchanged', async () => {
  const sent = 3000;
  const capture = openCapture({ mode: 'xdp', hooks: [fw.hookPath], filter: 'udp port 1000 or udp port 3000' });
  running.push(capture);
  const packets: CapturedPacket[] = [];
  capture.on('packets', (batch) => packets.push(...batch));
  await capture.start();
  const first = hookSlots(fw.hookPath);
  assert.ok(first.every((id) => id !== undefined && bpfObjectsOf(process.pid).programs.includes(id)), 'every slot holds one of our programs');
  const firewallBefore = fw.counts();

  const sending = inject(ns, 'v0', mixedNumbered(sent, 120), { rate: 3000 });
  await waitFor(() => packets.length >= 200, 10_000, 'the first frames of the old filter');
  await capture.setFilter('udp port 2000 or udp port 3000');
  assert.equal(capture.settings.expression, 'udp port 2000 or udp port 3000');
  const second = hookSlots(fw.hookPath);
  assert.ok(second.every((id, a) => id !== undefined && id !== first[a] && bpfObjectsOf(process.pid).programs.includes(id)), `the new generation is in every slot: ${JSON.stringify([first, second])}`);
  assert.equal(await sending, sent);
  await waitFor(() => fw.counts().reduce((s, n) => s + n, 0n) - firewallBefore.reduce((s, n) => s + n, 0n) >= BigInt(sent), 5000, 'the firewall judged every frame');
  await sleep(200);
  const result = await capture.stop();
  assert.deepEqual(hookSlots(fw.hookPath), EMPTY, 'the slots are empty again');

  const numbers = packets.map((p) => frameNumber(p.data));
  const k = splitPoint(numbers, sent, { before: (i) => portOf(i) !== 2000, after: (i) => portOf(i) !== 1000 });
  assert.ok(k > 0 && k < sent, `the switch happened while frames flowed (frame ${k})`);
  for (const p of packets) {
    const v = verdictOf(frameNumber(p.data));
    assert.deepEqual(p.verdict, { type: 'xdp', value: v }, `frame ${frameNumber(p.data)}`);
    assert.equal(capture.interfaces[p.ifIndex].name, `xdp:${path.basename(fw.dir)} ${ACTIONS[v]}`);
  }
  // Per action: every frame seen exactly once, by the old program or the new one.
  const sentPer = ACTIONS.map((_, a) => BigInt(Array.from({ length: sent }, (__, i) => verdictOf(i)).filter((v) => v === a).length));
  assert.deepEqual(result.perPoint.map((s) => s.seen), sentPer, 'seen per action = sent per verdict');
  assert.deepEqual(fw.counts().map((n, a) => n - firewallBefore[a]), sentPer, "the firewall's own counts: its verdicts unchanged");
  assert.equal(result.perPoint.reduce((s, p) => s + p.lost, 0n), 0n);
  assert.equal(result.perPoint.reduce((s, p) => s + p.matched, 0n), BigInt(numbers.length), 'every match written');
});

void test('a filter change leaves a slot someone else changed meanwhile as they made it; the report says so', async () => {
  const capture = openCapture({ mode: 'xdp', hooks: [fw.hookPath], filter: 'udp' });
  running.push(capture);
  await capture.start();
  const first = hookSlots(fw.hookPath);
  // "Someone else": a program of our own that drops, loaded the way the firewall's hook wants.
  const hook = openHook(fw.hookPath);
  const other = loadProgram({ type: ProgType.XDP, name: 'nc_t_other', insns: [Mov.imm(R0, XdpAction.DROP), Exit()], expectedAttachType: AttachType.XDP, progFlags: BPF_F_XDP_HAS_FRAGS });
  try {
    hook.slots.set(XdpAction.DROP, other.fd);
    await capture.setFilter('tcp');
    const second = hookSlots(fw.hookPath);
    assert.equal(second[XdpAction.DROP], other.id, 'left as they made it');
    assert.ok(second.every((id, a) => a === XdpAction.DROP || (id !== undefined && id !== first[a])), 'the other slots hold the new generation');
    const result = await capture.stop();
    assert.deepEqual(hookSlots(fw.hookPath), [undefined, other.id, undefined, undefined, undefined]);
    assert.ok(capture.mode.report?.(result.perPoint).includes(`note: ${fw.hookPath}: the drop slot was changed by someone else while netcap ran; left as it is`));
  } finally {
    hook.slots.clear(XdpAction.DROP);
    other.close();
    hook.map.close();
  }
});

void test('SIGKILL of a process running an xdp capture after a filter change: every slot is empty again, and the watchdog is gone', async () => {
  const child = world.track(spawn(process.execPath, [path.join(repoRoot, 'dist', 'test', 'capture', 'xdp-library-child.js'), fw.hookPath, 'udp', 'tcp'], { stdio: ['pipe', 'pipe', 'inherit'] }));
  let out = '';
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  await waitFor(() => out.includes('started\n') || out.includes('failed'), 20_000, 'the capture to start');
  assert.doesNotMatch(out, /failed/);
  const first = hookSlots(fw.hookPath);
  assert.ok(first.every((id) => id !== undefined && bpfObjectsOf(child.pid!).programs.includes(id)), 'filled by the child');
  child.stdin!.write('\n');
  await waitFor(() => out.includes('changed\n') || out.includes('failed'), 20_000, 'the filter change');
  assert.doesNotMatch(out, /failed/);
  const second = hookSlots(fw.hookPath);
  assert.ok(second.every((id, a) => id !== undefined && id !== first[a] && bpfObjectsOf(child.pid!).programs.includes(id)), 'the second generation is in the slots');
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await exited;
  await waitFor(() => hookSlots(fw.hookPath).every((id) => id === undefined), 5000, `every slot empty after SIGKILL (${JSON.stringify(hookSlots(fw.hookPath))})`);
  await waitFor(() => processesOnHook(fw.hookPath).length === 0, 5000, 'the watchdog to exit');
  // The firewall goes on judging.
  const before = fw.counts();
  await inject(ns, 'v0', numberedFrames(3, 2000, 120));
  await waitFor(() => fw.counts()[XdpAction.DROP] - before[XdpAction.DROP] === 3n, 5000, 'three drops');
});
