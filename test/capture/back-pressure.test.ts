// An output that cannot keep up holds a bounded backlog: the capture stops
// reading the ring once 4 MiB of records wait for its outputs, the ring
// fills, and the kernel counts what it refused as lost, instead of the
// records piling up in memory. A capture with an output that takes nothing
// while 9 MB of frames arrive: its output is asked to write one batch at a
// time, the reader pauses after about 4 MiB, losses are counted; once the
// output takes packets again, the reader resumes and everything read
// reaches it, in order.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { openCapture, type CapturedPacket } from '../../src/index';
import type { PacketSink } from '../../src/output/outputs';
import { World } from '../../lab/netns';
import { inject } from '../../lab/inject';
import { frameNumber, numberedFrames, RECEIVER_MAC, SENDER_MAC, sleep, waitFor } from './numbered-frames';

const world = new World('backpres');
const SENT = 6400;
const FRAME = 1400;
after(() => world.destroy());

void test('an output that takes nothing pauses the ring reader at 4 MiB of records; the ring counts the rest as lost; it resumes when the output takes packets again', async () => {
  const ns = world.addNamespace();
  ns.addVeth('v0', 'v1', { local: { mac: SENDER_MAC }, peer: { mac: RECEIVER_MAC, address: '192.0.2.2/24' } });
  // 1 MiB of ring: ~700 records of 1400-byte frames, several bursts of 100.
  const capture = openCapture({ mode: 'skb', points: 'tracepoint:net:netif_receive_skb', iface: 'v1', netns: ns.name, filter: 'udp port 9', snaplen: 262144, ringBytes: 1 << 20 });
  const written: CapturedPacket[] = [];
  let release: () => void = () => undefined;
  const blocked = new Promise<void>((r) => (release = r));
  let writes = 0;
  let concurrent = 0;
  let most = 0;
  const slow: PacketSink = {
    write: async (batch) => {
      writes++;
      most = Math.max(most, ++concurrent);
      await blocked;
      written.push(...batch);
      concurrent--;
    },
    addInterface: () => undefined,
    flush: () => Promise.resolve(),
    close: () => Promise.resolve(),
  };
  capture.addOutput(slow);
  try {
    await capture.start();
    // Frames in small bursts, so the reader delivers many small batches while the output is stuck.
    for (let i = 0; i < SENT; i += 100) {
      await inject(ns, 'v0', numberedFrames(100, 9, FRAME, i));
      await sleep(15);
    }
    await waitFor(() => capture.stats()[0].matched >= BigInt(SENT), 10_000, 'every frame matched');
    const stuck = capture.stats()[0];
    assert.equal(writes, 1, 'the output is asked for one batch at a time');
    assert.equal(most, 1);
    assert.ok(stuck.lost > 0n, `the full ring counted its losses (${stuck.lost})`);
    release();
    await waitFor(() => written.length === Number(capture.stats()[0].captured), 10_000, 'the batches read so far written');
    // Read while the output was stuck: the 4 MiB bound, crossed by at most one batch (1 MiB); records are their frame and a header of a few dozen bytes.
    const held = written.slice(0, Number(stuck.captured)).reduce((sum, p) => sum + p.data.length, 0);
    assert.ok(held > 3 << 20 && held < 5 << 20, `the reader stopped near the bound (${stuck.captured} records read, ${held} bytes of frames)`);
  } finally {
    release();
    const result = await capture.stop('test');
    const [point] = result.perPoint;
    assert.equal(point.matched, BigInt(SENT));
    assert.equal(point.captured + point.lost, point.matched, 'every matched frame captured or counted as lost');
    assert.equal(written.length, Number(point.captured));
    const numbers = written.map((p) => frameNumber(p.data));
    assert.ok(numbers.every((n, i) => i === 0 || n > numbers[i - 1]), 'in order, none twice');
  }
});

void test('at the stop, what the ring still holds is read a batch at a time with the event loop turning in between, as while running, and reaches the outputs', async () => {
  const ns = world.addNamespace();
  ns.addVeth('v0', 'v1', { local: { mac: SENDER_MAC }, peer: { mac: RECEIVER_MAC, address: '192.0.2.2/24' } });
  const capture = openCapture({ mode: 'skb', points: 'tracepoint:net:netif_receive_skb', iface: 'v1', netns: ns.name, filter: 'udp port 9', snaplen: 262144, ringBytes: 8 << 20 });
  const written: CapturedPacket[] = [];
  let release: () => void = () => undefined;
  const blocked = new Promise<void>((r) => (release = r));
  capture.addOutput({
    write: async (batch) => {
      await blocked;
      written.push(...batch);
    },
    addInterface: () => undefined,
    flush: () => Promise.resolve(),
    close: () => Promise.resolve(),
  });
  // Turns of the event loop, and the turn of each batch read once the stop began.
  let turn = 0;
  let ticking = true;
  const tick = () => {
    turn++;
    if (ticking) setImmediate(tick);
  };
  setImmediate(tick);
  let stopping = false;
  const turnsAtStop: number[] = [];
  capture.on('packets', () => {
    if (stopping) turnsAtStop.push(turn);
  });
  try {
    await capture.start();
    // The output is stuck: the reader pauses past 4 MiB of records, and the ring (8 MiB: eight batches) fills behind it.
    for (let i = 0; i < 10_000; i += 100) {
      await inject(ns, 'v0', numberedFrames(100, 9, FRAME, i));
      await sleep(10);
    }
    await waitFor(() => capture.stats()[0].matched >= 10_000n, 10_000, 'every frame matched');
    stopping = true;
    const stopped = capture.stop('test');
    release();
    const result = await stopped;
    const [point] = result.perPoint;
    assert.ok(turnsAtStop.length >= 6, `the ring held several batches at the stop (${turnsAtStop.length} read)`);
    // At most one batch from each phase of a turn: the poll's wake-up and the stop's own read (reading it all at once put every batch in one turn).
    const perTurn = Math.max(...[...new Set(turnsAtStop)].map((t) => turnsAtStop.filter((x) => x === t).length));
    assert.ok(perTurn <= 2, `at most two batches a turn: turns ${turnsAtStop.join(', ')}`);
    assert.equal(point.captured + point.lost, point.matched, 'every matched frame captured or counted as lost');
    assert.equal(written.length, Number(point.captured), 'every batch read reached the output');
    const numbers = written.map((p) => frameNumber(p.data));
    assert.ok(numbers.every((n, i) => i === 0 || n > numbers[i - 1]), 'in order, none twice');
  } finally {
    ticking = false;
    release();
    await capture.stop('test');
  }
});
