// netcap iface through the capture library, changed while numbered frames
// flow both ways through v0 (in from its veth peer, out of it): a filter
// change, a snap-length change and direction changes (off included) are
// each a new generation swapped into the slots atomically, as for skb
// (test/capture/library.test.ts): for each direction's stream of frames,
// every frame is judged by exactly one of the successive settings, each
// settings' share is one run of frames in order, none lost, none judged
// twice, and every frame is counted as seen (an off point still counts)
// and still delivered to the peer. A direction the capture has no hooks
// for is refused and the old settings go on.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { inject, receive } from '../../../lab/inject';
import { openCapture, UserError, type Capture, type CaptureDirection, type CapturedPacket, type PointStats } from '../../../src/index';
import { udpFrame } from '../../../lab/frames';
import { frameNumber, numberedFrames, phaseStarts, sleep, waitFor } from '../../capture/numbered-frames';
import { CAP_IP, CAP_MAC, PEER_IP, PEER_MAC, makeIfaceLab, udpCounter, type IfaceLab } from './iface-lab';

let lab: IfaceLab;
const running: Capture[] = [];

before(() => {
  lab = makeIfaceLab('iflib');
});

after(async () => {
  for (const c of running) await c.stop();
  await lab?.world.destroy();
});

const IN_PORT = 1000;
const OUT_PORT = 2000;

async function ifaceCapture(spec: { filter: string; direction?: CaptureDirection; directionChanges?: boolean; snaplen?: number }): Promise<{ capture: Capture; packets: CapturedPacket[] }> {
  const capture = openCapture({ mode: 'iface', interfaces: 'v0', netns: lab.cap.name, ringBytes: 4 << 20, ...spec });
  running.push(capture);
  const packets: CapturedPacket[] = [];
  capture.on('packets', (batch) => packets.push(...batch));
  await capture.start();
  return { capture, packets };
}

const numbers = (packets: CapturedPacket[], direction: 'in' | 'out') => packets.filter((p) => p.direction === direction).map((p) => frameNumber(p.data));
const seenOf = (c: Capture, point: number) => c.stats()[point].seen;

/** Waits until every point's seen counter has grown by `n` since `from`. */
async function seenGrows(c: Capture, from: PointStats[], n: number): Promise<void> {
  await waitFor(() => c.stats().every((s, i) => s.seen >= from[i].seen + BigInt(n)), 15_000, `${n} more frames seen at every point`);
}

/** Frames 0..count-1 from the peer to v0's own address (IN_PORT), numbered like numberedFrames (frameNumber reads them), `size` bytes each. */
function numberedToCap(count: number, size = 120): Buffer[] {
  return Array.from({ length: count }, (_, i) => {
    const payload = Buffer.alloc(size - 42, i & 0xff);
    payload.writeUInt32BE(i, 0);
    return udpFrame({ srcMac: PEER_MAC, dstMac: CAP_MAC, srcIp: PEER_IP, dstIp: CAP_IP, dstPort: IN_PORT, payload });
  });
}

/**
 * Numbered frames both ways at `rate` per second each: `count` from the peer
 * to a UDP socket on v0's address (what passed TC ingress reaches it) and
 * `count` out of v0 (what passed TC egress reaches the peer).
 */
async function bothWays(count: number, rate: number): Promise<{ sentIn: number; sentOut: number; atSocket: number; atPeer: number }> {
  const socket = await udpCounter(lab.cap, CAP_IP, IN_PORT);
  const atPeer = await receive(lab.peer, 'v1', { max: count, durationMs: 60_000, keepFrames: false });
  const [sentIn, sentOut] = await Promise.all([
    inject(lab.peer, 'v1', numberedToCap(count), { rate, timeoutMs: 60_000 }),
    inject(lab.cap, 'v0', numberedFrames(count, OUT_PORT, 120), { rate, timeoutMs: 60_000 }),
  ]);
  return { sentIn, sentOut, atSocket: await socket.count(), atPeer: (await atPeer.done).count };
}

void test('setFilter while frames flow in: every frame judged by the old filter before the switch, by the new one after, none lost', async (t) => {
  const sent = 3000;
  const c = await ifaceCapture({ filter: `udp port ${IN_PORT} and udp[8:4] & 1 = 0`, direction: 'in' });
  const sending = inject(lab.peer, 'v1', numberedFrames(sent, IN_PORT, 120), { rate: 3000 });
  await waitFor(() => c.packets.length >= 200, 15_000, 'the first frames of the old filter');
  await c.capture.setFilter(`udp port ${IN_PORT} and udp[8:4] & 1 = 1`);
  assert.equal(await sending, sent);
  await sleep(300);
  const result = await c.capture.stop();
  const got = numbers(c.packets, 'in');
  const starts = phaseStarts(got, sent, [(i) => i % 2 === 0, (i) => i % 2 === 1]);
  t.diagnostic(`the new filter took over at frame ${starts?.[1]} of ${sent}`);
  assert.ok(starts, `one frame splits even (old) and odd (new) numbers: ${got.slice(0, 40).join(',')}...`);
  assert.deepEqual(result.perPoint.map((p) => [p.seen, p.lost, p.matched === BigInt(got.length)]), [[BigInt(sent), 0n, true]], 'every frame seen once, every match written');
});

void test('setSnaplen while frames flow in: whole frames before the switch, cut after, none lost or repeated', async () => {
  const sent = 2000;
  const size = 300;
  const c = await ifaceCapture({ filter: 'udp', direction: 'in' });
  const sending = inject(lab.peer, 'v1', numberedFrames(sent, IN_PORT, size), { rate: 3000 });
  await waitFor(() => c.packets.length >= 200, 15_000, 'the first whole frames');
  await c.capture.setSnaplen(64);
  await sending;
  await sleep(300);
  const result = await c.capture.stop();
  assert.deepEqual(numbers(c.packets, 'in'), Array.from({ length: sent }, (_, i) => i), 'every frame, in order, once');
  const lengths = c.packets.map((p) => p.data.length);
  const k = lengths.indexOf(64);
  assert.ok(k > 0 && lengths.slice(0, k).every((l) => l === size) && lengths.slice(k).every((l) => l === 64), `whole, then cut: ${[...new Set(lengths)].join(',')}`);
  assert.ok(c.packets.every((p) => p.wirelen === size));
  assert.equal(result.perPoint[0].lost, 0n);
});

void test('setDirection while frames flow both ways (inout, in, off, out, inout): each stream judged by one direction at a time, off counts and captures nothing, switching back resumes', async (t) => {
  const sent = 6000;
  const c = await ifaceCapture({ filter: 'udp', directionChanges: true });
  assert.deepEqual(c.capture.mode.points.map((p) => p.name), ['v0 ingress', 'v0 egress']);
  const sequence: CaptureDirection[] = ['inout', 'in', 'off', 'out', 'inout'];
  const flowing = bothWays(sent, 1500);
  await seenGrows(c.capture, c.capture.stats().map((s) => ({ ...s, seen: 0n })), 150);
  const whileOff: PointStats[] = [];
  for (const direction of sequence.slice(1)) {
    await c.capture.setDirection(direction);
    assert.equal(c.capture.settings.direction, direction);
    // A run that tail-called the old program just before the swap may still be counting on another CPU.
    await sleep(20);
    const at = c.capture.stats();
    await seenGrows(c.capture, at, 300);
    if (direction === 'off') whileOff.push(...c.capture.stats().map((now, i) => ({ ...now, seen: now.seen - at[i].seen, matched: now.matched - at[i].matched })));
  }
  const flow = await flowing;
  assert.deepEqual([flow.sentIn, flow.sentOut], [sent, sent]);
  assert.deepEqual([flow.atSocket, flow.atPeer], [sent, sent], 'every frame went on through the hooks, whatever judged it');
  await sleep(300);
  const result = await c.capture.stop();
  const phasesOf = (d: 'in' | 'out') => sequence.map((s) => () => s === 'inout' || s === d);
  const inStarts = phaseStarts(numbers(c.packets, 'in'), sent, phasesOf('in'));
  const outStarts = phaseStarts(numbers(c.packets, 'out'), sent, phasesOf('out'));
  assert.ok(inStarts, `the inbound frames split into the five directions' runs: ${numbers(c.packets, 'in').length} captured`);
  assert.ok(outStarts, `the outbound frames split into the five directions' runs: ${numbers(c.packets, 'out').length} captured`);
  t.diagnostic(`phases start at inbound frames ${inStarts?.join(', ')}, outbound frames ${outStarts?.join(', ')}; captured ${numbers(c.packets, 'in').length} in, ${numbers(c.packets, 'out').length} out of ${sent} each`);
  const [ingress, egress] = result.perPoint;
  assert.deepEqual([ingress.seen, egress.seen], [BigInt(sent), BigInt(sent)], 'every frame seen once at its hook, off or not');
  assert.deepEqual([ingress.lost, egress.lost], [0n, 0n]);
  assert.deepEqual([ingress.matched, egress.matched], [BigInt(numbers(c.packets, 'in').length), BigInt(numbers(c.packets, 'out').length)], 'every match written');
  assert.deepEqual(whileOff.map((s) => [s.seen >= 300n, s.matched]), [[true, 0n], [true, 0n]], 'off: the hooks\' frames counted as seen, none matched');
  assert.ok(numbers(c.packets, 'in').length < sent && numbers(c.packets, 'in').length > 0);
});

void test('a direction the capture attached no hooks for is refused and the old direction goes on; a mode without directions refuses one', async () => {
  const c = await ifaceCapture({ filter: `udp port ${IN_PORT}`, direction: 'in' });
  assert.deepEqual(c.capture.mode.points.map((p) => p.name), ['v0 ingress']);
  for (const direction of ['out', 'inout'] as const) {
    await assert.rejects(c.capture.setDirection(direction), (e: unknown) => e instanceof UserError && /no egress hooks/.test(e.message));
  }
  await assert.rejects(c.capture.setDirection('sideways' as CaptureDirection), (e: unknown) => e instanceof UserError && /not a direction/.test(e.message));
  assert.equal(c.capture.settings.direction, 'in');
  await c.capture.setDirection('off');
  await inject(lab.peer, 'v1', numberedFrames(5, IN_PORT));
  await waitFor(() => seenOf(c.capture, 0) >= 5n, 5000, 'five frames seen while off');
  assert.equal(c.packets.length, 0, 'off captures nothing');
  await c.capture.setDirection('ingress' as CaptureDirection);
  await inject(lab.peer, 'v1', numberedFrames(3, IN_PORT, 200, 5));
  await waitFor(() => c.packets.length === 3, 5000, 'three frames after switching back');
  assert.deepEqual(numbers(c.packets, 'in'), [5, 6, 7]);
  const [stats] = (await c.capture.stop()).perPoint;
  assert.deepEqual([stats.seen, stats.matched, stats.captured], [8n, 3n, 3n], 'off kept the counters and counted what the hook saw');

  assert.throws(() => openCapture({ mode: 'iface', interfaces: 'v0', netns: lab.cap.name, direction: 'off' }), /"off" is a state of a running capture/);
  // With both hooks attached a capture may start off (netcap serve's default: nothing captured until asked).
  const off = await ifaceCapture({ filter: `udp port ${IN_PORT}`, direction: 'off', directionChanges: true });
  await inject(lab.peer, 'v1', numberedFrames(4, IN_PORT));
  await waitFor(() => seenOf(off.capture, 0) >= 4n, 5000, 'four frames seen by an off capture');
  await off.capture.setDirection('bidirectional' as CaptureDirection);
  await inject(lab.peer, 'v1', numberedFrames(2, IN_PORT, 200, 4));
  await waitFor(() => off.packets.length === 2, 5000, 'two frames once it is on');
  assert.deepEqual(numbers(off.packets, 'in'), [4, 5]);
  assert.deepEqual((await off.capture.stop()).perPoint.map((p) => [p.seen, p.matched]), [[6n, 2n], [0n, 0n]]);
  const skb = openCapture({ mode: 'skb', points: 'tracepoint:net:netif_receive_skb' });
  running.push(skb);
  await assert.rejects(skb.setDirection('in'), (e: unknown) => e instanceof UserError && /no direction to choose/.test(e.message));
  assert.throws(() => openCapture({ mode: 'skb', points: 'tracepoint:net:netif_receive_skb', direction: 'in' }), /no direction to choose/);
});
