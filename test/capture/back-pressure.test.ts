// An output that cannot keep up holds a bounded number of batches: the
// capture stops reading the ring while eight batches wait for its outputs,
// the ring fills, and the kernel counts what it refused as lost, instead of
// the batches piling up in memory. A capture with an output that takes
// nothing while 3000 frames arrive: its output is asked to write at most
// one batch at a time, the reader pauses, losses are counted; once the
// output takes packets again, the reader resumes and everything read reaches
// it, in order.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { openCapture, type CapturedPacket } from '../../src/index';
import type { PacketSink } from '../../src/output/outputs';
import { World } from '../../lab/netns';
import { inject } from '../../lab/inject';
import { frameNumber, numberedFrames, RECEIVER_MAC, SENDER_MAC, sleep, waitFor } from './numbered-frames';

const world = new World('backpres');
after(() => world.destroy());

void test('an output that takes nothing pauses the ring reader; the ring counts the rest as lost; it resumes when the output takes packets again', async () => {
  const ns = world.addNamespace();
  ns.addVeth('v0', 'v1', { local: { mac: SENDER_MAC }, peer: { mac: RECEIVER_MAC, address: '192.0.2.2/24' } });
  // 64 KiB of ring: ~250 records of 200-byte frames.
  const capture = openCapture({ mode: 'skb', points: 'tracepoint:net:netif_receive_skb', iface: 'v1', netns: ns.name, filter: 'udp port 9', snaplen: 262144, ringBytes: 1 << 16 });
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
    for (let i = 0; i < 3000; i += 100) {
      await inject(ns, 'v0', numberedFrames(100, 9, 200, i));
      await sleep(15);
    }
    await waitFor(() => capture.stats()[0].matched >= 3000n, 10_000, 'every frame matched');
    const stuck = capture.stats()[0];
    assert.equal(writes, 1, 'the output is asked for one batch at a time');
    assert.equal(most, 1);
    assert.ok(stuck.lost > 0n, `the full ring counted its losses (${stuck.lost})`);
    assert.ok(Number(stuck.captured) < 3000, `the reader stopped taking records (${stuck.captured} read)`);
    release();
    await waitFor(() => written.length === Number(capture.stats()[0].captured), 10_000, 'the batches read so far written');
  } finally {
    release();
    const result = await capture.stop('test');
    const [point] = result.perPoint;
    assert.equal(point.matched, 3000n);
    assert.equal(point.captured + point.lost, point.matched, 'every matched frame captured or counted as lost');
    assert.equal(written.length, Number(point.captured));
    const numbers = written.map((p) => frameNumber(p.data));
    assert.ok(numbers.every((n, i) => i === 0 || n > numbers[i - 1]), 'in order, none twice');
  }
});
