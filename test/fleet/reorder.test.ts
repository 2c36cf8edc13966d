// The reordering window on its own, with the client's clock given by the
// test: when a packet is written (every stream past it or silent for the
// window, the memory bound), that held packets go earliest first, and that
// a packet from a stream silent longer than the window is written at once
// and counted late.
import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { ReorderWindow, STREAM_DISORDER_NS, type HeldPacket } from '../../src/fleet/reorder';

function harness(windowMs = 100, maxHeldBytes = 1 << 20) {
  const written: number[] = [];
  const w = new ReorderWindow({ windowMs, maxHeldBytes }, (p) => written.push(p.key));
  const push = (source: number, key: number, arrivedMs: number, bytes = 100) => w.push({ source, key, arrivedMs, block: Buffer.alloc(bytes), ifIndex: source } satisfies HeldPacket);
  return { w, written, push };
}

const MS = 1_000_000;

describe('ReorderWindow', () => {
  it('writes a packet once every open stream has passed it (by their disorder), earliest first', () => {
    const { w, written, push } = harness();
    w.open(0, 0);
    w.open(1, 0);
    push(0, 5 * MS, 0);
    push(0, 1 * MS, 0);
    w.release(1);
    assert.deepEqual(written, [], 'stream 1 has said nothing: it may still bring an earlier packet');
    push(1, 3 * MS, 1);
    w.release(1);
    // Stream 1 is at 3 ms, stream 0 at 5 ms: everything up to 3 ms - 1 ms can go.
    assert.deepEqual(written, [1 * MS]);
    push(1, 7 * MS, 2);
    w.release(2);
    assert.deepEqual(written, [1 * MS, 3 * MS], 'up to min(5, 7) - 1 ms');
    assert.equal(STREAM_DISORDER_NS, MS);
  });

  it('lets a stream silent for the window hold nothing back, and a closed one', () => {
    const { w, written, push } = harness(100);
    w.open(0, 0);
    w.open(1, 0);
    push(0, 10 * MS, 0);
    push(0, 20 * MS, 50);
    w.release(99);
    assert.deepEqual(written, [], 'stream 1 opened 99 ms ago: it may still speak');
    w.release(100);
    assert.deepEqual(written, [10 * MS], 'stream 1 is silent: stream 0 alone decides, and it may still bring packets before 20 - 1 ms');
    w.release(150);
    assert.deepEqual(written, [10 * MS, 20 * MS], 'both silent for the window: everything goes');
    push(0, 30 * MS, 160);
    w.release(160);
    assert.deepEqual(written, [10 * MS, 20 * MS]);
    w.close(0, 161);
    assert.deepEqual(written, [10 * MS, 20 * MS, 30 * MS], 'no stream open: nothing can come before it');
    assert.equal(w.counters.late, 0);
  });

  it('does not take a stream the reader paused for a silent one: it holds the others back until it goes on', () => {
    const { w, written, push } = harness(100);
    w.open(0, 0);
    w.open(1, 0);
    push(0, 10 * MS, 0);
    push(1, 5 * MS, 0);
    w.setPaused(1, true, 10);
    w.release(1_000);
    assert.deepEqual(written, [], 'stream 1 was paused at 5 ms: what it has may be earlier than 10 ms');
    w.setPaused(1, false, 1_000);
    w.release(1_099);
    assert.deepEqual(written, [], 'going on again, its silence counts from then');
    w.release(1_100);
    assert.deepEqual(written, [5 * MS, 10 * MS], 'silent for the window after it went on: it holds nothing back');
    assert.equal(w.counters.late, 0);
  });

  it('waits for a stream that delivers, however far behind it is: time alone writes nothing', () => {
    const { w, written, push } = harness(100);
    w.open(0, 0);
    w.open(1, 0);
    for (let t = 0; t < 1000; t++) {
      push(0, 10_000 * MS + t * MS, t);
      push(1, t * MS, t); // 10 s behind, and on its way
      w.release(t);
    }
    assert.ok(written.every((k) => k < 1000 * MS), 'stream 0 waits for stream 1');
    assert.equal(written.length, 999, 'stream 1\'s packets go as it passes them');
    w.drain();
    assert.equal(w.counters.late, 0);
    assert.equal(w.counters.peakHeld, 1002, 'all of stream 0, and stream 1\'s last two (within its disorder)');
  });

  it('writes a packet from a stream that was silent longer than the window at once, and counts it late', () => {
    const { w, written, push } = harness(100);
    w.open(0, 0);
    w.open(1, 0);
    push(0, 50 * MS, 0);
    w.release(100);
    w.release(200);
    assert.deepEqual(written, [50 * MS]);
    push(1, 40 * MS, 250); // stream 1 said nothing for 250 ms, then an old packet
    assert.deepEqual(written, [50 * MS, 40 * MS]);
    assert.equal(w.counters.late, 1);
    assert.equal(w.counters.written, 2);
  });

  it('writes the earliest packets early when the held bytes reach the bound', () => {
    const { w, written, push } = harness(10_000, 250);
    w.open(0, 0);
    w.open(1, 0);
    push(0, 3 * MS, 0);
    push(0, 1 * MS, 0);
    push(0, 2 * MS, 0);
    w.release(0);
    assert.deepEqual(written, [1 * MS], '300 bytes held, 250 allowed: the earliest goes');
    assert.equal(w.counters.forced, 1);
    assert.equal(w.held, 2);
    assert.equal(w.counters.peakHeld, 3);
  });

  it('merges many interleaved streams, some far behind the others, into one ordered sequence', () => {
    const { w, written, push } = harness(50);
    const streams = 8;
    for (let s = 0; s < streams; s++) w.open(s, 0);
    let now = 0;
    // A round is 1 ms of the client's clock. Each stream is in order, about
    // 1 ms a packet; they arrive interleaved, some lagging the others by up
    // to 300 ms (more than the 50 ms window: they keep delivering).
    const next = new Array(streams).fill(0).map((_, s) => s * 1000);
    for (let round = 0; round < 2000; round++) {
      for (let s = 0; s < streams; s++) {
        next[s] += MS + ((round * 7 + s * 13) % 5) * 1000;
        push(s, next[s] - (s % 4) * 100 * MS, now);
      }
      now += 1;
      w.release(now);
    }
    w.drain();
    assert.equal(written.length, 2000 * streams);
    for (let i = 1; i < written.length; i++) assert.ok(written[i - 1] <= written[i], `in order at ${i}`);
    assert.equal(w.counters.late, 0);
  });
});
