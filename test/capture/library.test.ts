// The capture library as a program uses it: two captures in one process at
// once (skb on two veth pairs, different filters), one stopped while the
// other goes on, and filter and snap-length changes while numbered frames
// flow. What must hold for a change: some frame K splits the stream, every
// frame before K is judged by the old settings and every frame from K on by
// the new ones (none by both, none by neither), and the counters show no
// frame lost; a filter libpcap refuses leaves the old one running.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { openCapture, openOutputs, UserError, type Capture, type CapturedPacket } from '../../src/index';
import { World, type Namespace } from '../../lab/netns';
import { inject } from '../../lab/inject';
import { frameNumber, numberedFrames, RECEIVER_MAC, SENDER_MAC, sleep, splitPoint, waitFor } from './numbered-frames';
import { tempDir } from './netcap-child';

const world = new World('lib');
let ns: Namespace;
const running: Capture[] = [];

before(() => {
  ns = world.addNamespace();
  ns.addVeth('v0', 'v1', { local: { mac: SENDER_MAC }, peer: { mac: RECEIVER_MAC, address: '192.0.2.2/24' } });
  ns.addVeth('w0', 'w1', { local: { mac: SENDER_MAC }, peer: { mac: RECEIVER_MAC, address: '198.51.100.2/24' } });
});

const dir = tempDir('library');

after(async () => {
  for (const c of running) await c.stop();
  await world.destroy();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** A capture at netif_receive_skb of `iface`, collecting what it writes. */
async function skbCapture(iface: string, filter: string, snaplen = 262144): Promise<{ capture: Capture; packets: CapturedPacket[] }> {
  const capture = openCapture({ mode: 'skb', points: 'tracepoint:net:netif_receive_skb', iface, netns: ns.name, filter, snaplen });
  running.push(capture);
  const packets: CapturedPacket[] = [];
  capture.on('packets', (batch) => packets.push(...batch));
  await capture.start();
  return { capture, packets };
}

/** Frames 0..n-1 in turn to ports 1000, 2000 and 3000 (frame i goes to port 1000 + 1000 * (i % 3)). */
function mixedNumbered(n: number, size = 300): Buffer[] {
  return Array.from({ length: n }, (_, i) => numberedFrames(1, 1000 + 1000 * (i % 3), size, i)[0]);
}

const portOf = (i: number) => 1000 + 1000 * (i % 3);

void test('two captures in one process: each its own filter and counters; stopping one leaves the other running', async () => {
  const a = await skbCapture('v1', 'udp port 1000');
  const b = await skbCapture('w1', 'udp port 2000');
  await inject(ns, 'v0', mixedNumbered(30));
  await inject(ns, 'w0', mixedNumbered(30));
  await waitFor(() => a.packets.length === 10 && b.packets.length === 10, 5000, 'ten frames at each capture');
  assert.deepEqual(a.packets.map((p) => frameNumber(p.data)), Array.from({ length: 10 }, (_, i) => 3 * i));
  assert.deepEqual(b.packets.map((p) => frameNumber(p.data)), Array.from({ length: 10 }, (_, i) => 3 * i + 1));
  assert.deepEqual(b.capture.stats().map((s) => [s.seen, s.matched, s.lost, s.captured]), [[30n, 10n, 0n, 10n]]);
  const result = await b.capture.stop('test');
  assert.equal(result.reason, 'test');
  assert.equal(b.capture.state, 'ended');
  await inject(ns, 'v0', mixedNumbered(30).slice(0, 3));
  await waitFor(() => a.packets.length === 11, 5000, 'a frame after the other capture stopped');
  assert.equal(b.packets.length, 10, 'the stopped capture takes nothing more');
  await a.capture.stop();
});

void test('setFilter while frames flow: every frame judged by the old filter before the switch, by the new one after, none lost', async () => {
  const sent = 3000;
  const c = await skbCapture('v1', 'udp port 1000');
  const frames = mixedNumbered(sent, 120);
  const sending = inject(ns, 'v0', frames, { rate: 3000 });
  await waitFor(() => c.packets.length >= 200, 10_000, 'the first frames of the old filter');
  await c.capture.setFilter('udp port 2000');
  assert.equal(c.capture.settings.expression, 'udp port 2000');
  assert.equal(await sending, sent);
  await sleep(200);
  const result = await c.capture.stop();
  const numbers = c.packets.map((p) => frameNumber(p.data));
  const k = splitPoint(numbers, sent, { before: (i) => portOf(i) === 1000, after: (i) => portOf(i) === 2000 });
  assert.ok(k > 0 && k < sent, `the switch happened while frames flowed (frame ${k})`);
  const [stats] = result.perPoint;
  assert.equal(stats.seen, BigInt(sent), 'every frame seen once');
  assert.equal(stats.lost, 0n);
  assert.equal(stats.matched, BigInt(numbers.length), 'every match written');
});

void test('a filter libpcap refuses is refused with its message; the old filter keeps running', async () => {
  const c = await skbCapture('v1', 'udp port 1000');
  await assert.rejects(c.capture.setFilter('udp port'), (e: unknown) => e instanceof UserError && /syntax error/.test(e.message));
  assert.equal(c.capture.settings.expression, 'udp port 1000');
  await inject(ns, 'v0', mixedNumbered(9));
  await waitFor(() => c.packets.length === 3, 5000, 'three frames by the old filter');
  assert.deepEqual(c.packets.map((p) => frameNumber(p.data)), [0, 3, 6]);
  await c.capture.stop();
});

void test('setSnaplen while frames flow: whole frames before the switch, cut to the new snap length after', async () => {
  const sent = 2000;
  const size = 300;
  const c = await skbCapture('v1', 'udp', 262144);
  const sending = inject(ns, 'v0', numberedFrames(sent, 5000, size), { rate: 3000 });
  await waitFor(() => c.packets.length >= 200, 10_000, 'the first whole frames');
  await c.capture.setSnaplen(64);
  await sending;
  await sleep(200);
  const result = await c.capture.stop();
  assert.equal(c.packets.length, sent, 'every frame captured');
  const lengths = c.packets.map((p) => p.data.length);
  const k = lengths.indexOf(64);
  assert.ok(k > 0, 'the cut starts after some whole frames');
  assert.ok(lengths.slice(0, k).every((l) => l === size) && lengths.slice(k).every((l) => l === 64), `whole, then cut: ${[...new Set(lengths)].join(',')}`);
  assert.ok(c.packets.every((p) => p.wirelen === size), 'the wire length stays');
  assert.deepEqual(c.packets.map((p) => frameNumber(p.data)), Array.from({ length: sent }, (_, i) => i), 'in order, none twice');
  assert.equal(result.perPoint[0].lost, 0n);
  await assert.rejects(c.capture.setSnaplen(10), (e: unknown) => e instanceof UserError && /the capture has ended/.test(e.message));
});

void test('outputs slower than the packets: the reader pauses and the ring fills, the losses are counted, memory does not pile up', async () => {
  const sent = 40_000;
  const capture = openCapture({ mode: 'skb', points: 'tracepoint:net:netif_receive_skb', iface: 'v1', netns: ns.name, filter: 'udp', ringBytes: 1 << 20 });
  running.push(capture);
  const written: number[] = [];
  let writing = 0;
  let mostBehind = 0;
  // An output that takes 0.2 ms per packet: 5000 packets/s, an eighth of the rate they come at.
  capture.addOutput({
    write: async (batch) => {
      writing++;
      await sleep(batch.length / 5);
      for (const p of batch) written.push(frameNumber(p.data));
      writing--;
    },
    addInterface: () => undefined,
    flush: () => Promise.resolve(),
    close: () => Promise.resolve(),
  });
  let queued = 0;
  capture.on('packets', (batch) => {
    queued += batch.length;
    mostBehind = Math.max(mostBehind, queued - written.length);
  });
  await capture.start();
  assert.equal(await inject(ns, 'v0', numberedFrames(sent, 5000, 1000), { rate: 40_000 }), sent);
  await sleep(300);
  const result = await capture.stop();
  const [p] = result.perPoint;
  assert.equal(p.seen, BigInt(sent));
  assert.ok(p.lost > 0n, 'the full ring refused packets, and they are counted');
  assert.equal(p.captured + p.lost, p.matched, 'every match was written or counted lost');
  assert.equal(written.length, Number(p.captured));
  assert.ok(written.every((n, i) => i === 0 || n > written[i - 1]), 'what was written is in order');
  // 4 MiB of ~1100-byte records is about 4k packets behind, plus what a drain had read when it paused.
  assert.ok(mostBehind < 8_000, `the outputs were at most ${mostBehind} packets behind (lost ${p.lost})`);
  assert.equal(writing, 0);
});

void test('-U into a file: a lone frame is in the file within a fraction of a second (the ring is read 10 times a second)', async (t) => {
  const file = path.join(dir, 'lone.pcap');
  const fileSize = () => (fs.existsSync(file) ? fs.statSync(file).size : 0);
  const capture = openCapture({ mode: 'skb', points: 'tracepoint:net:netif_receive_skb', iface: 'v1', netns: ns.name, filter: 'udp port 4000', flushEachBatch: true });
  running.push(capture);
  for (const sink of openOutputs({ writeFile: file }, capture.interfaces)) capture.addOutput(sink);
  await capture.start();
  await sleep(150); // the file's header flushed by the first reads
  const empty = fileSize();
  const sent = Date.now();
  await inject(ns, 'v0', numberedFrames(1, 4000, 100, 7));
  // FLUSHED_DRAIN_INTERVAL_MS is 100; the rest is slack for a busy machine (tcpdump -w -U takes up to its 1 s buffer timeout).
  await waitFor(() => fileSize() > empty, 1000, 'the frame in the file');
  t.diagnostic(`in the file ${Date.now() - sent} ms after it was sent`);
  await capture.stop();
  assert.equal(fileSize(), 24 + 16 + 100, 'the file header, then the one frame after its record header');
});
