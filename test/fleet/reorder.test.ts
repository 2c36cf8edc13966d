// The reordering window on its own, with the client's clock given by the
// test: when a packet is written (every stream past it, its window run
// out, the memory bound), that held packets go earliest first, and that a
// packet later than the window is written at once and counted late.
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
    w.open(0);
    w.open(1);
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

  it('holds a packet for the window at most when a stream is idle, and a closed stream holds nothing back', () => {
    const { w, written, push } = harness(100);
    w.open(0);
    w.open(1);
    push(0, 10 * MS, 0);
    push(0, 20 * MS, 50);
    w.release(99);
    assert.deepEqual(written, []);
    w.release(100);
    assert.deepEqual(written, [10 * MS], 'its window ran out; the next one has 50 ms left');
    w.close(1, 101);
    assert.deepEqual(written, [10 * MS], 'stream 0 itself may still bring packets before 20 ms - 1 ms');
    push(0, 30 * MS, 102);
    w.release(102);
    assert.deepEqual(written, [10 * MS, 20 * MS]);
    w.drain();
    assert.deepEqual(written, [10 * MS, 20 * MS, 30 * MS]);
    assert.equal(w.counters.late, 0);
  });

  it('writes a packet later than the window at once and counts it late', () => {
    const { w, written, push } = harness(100);
    w.open(0);
    w.open(1);
    push(0, 50 * MS, 0);
    w.release(100);
    assert.deepEqual(written, [50 * MS]);
    push(1, 40 * MS, 150); // stream 1 lagged by more than the window
    assert.deepEqual(written, [50 * MS, 40 * MS]);
    assert.equal(w.counters.late, 1);
    assert.equal(w.counters.written, 2);
  });

  it('writes the earliest packets early when the held bytes reach the bound', () => {
    const { w, written, push } = harness(10_000, 250);
    w.open(0);
    w.open(1);
    push(0, 3 * MS, 0);
    push(0, 1 * MS, 0);
    push(0, 2 * MS, 0);
    w.release(0);
    assert.deepEqual(written, [1 * MS], '300 bytes held, 250 allowed: the earliest goes');
    assert.equal(w.counters.forced, 1);
    assert.equal(w.held, 2);
    assert.equal(w.counters.peakHeld, 3);
  });

  it('merges many interleaved streams into one ordered sequence', () => {
    const { w, written, push } = harness(50);
    const streams = 8;
    for (let s = 0; s < streams; s++) w.open(s);
    let now = 0;
    // A round is 1 ms of the client's clock. Each stream is in order, about
    // 1 ms a packet; they arrive interleaved, some lagging the others by up
    // to 15 ms (within the 50 ms window).
    const next = new Array(streams).fill(0).map((_, s) => s * 1000);
    for (let round = 0; round < 500; round++) {
      for (let s = 0; s < streams; s++) {
        next[s] += MS + ((round * 7 + s * 13) % 5) * 1000;
        push(s, next[s] - ((s * 3) % 4) * 5 * MS, now);
      }
      now += 1;
      w.release(now);
    }
    w.drain();
    assert.equal(written.length, 500 * streams);
    for (let i = 1; i < written.length; i++) assert.ok(written[i - 1] <= written[i], `in order at ${i}`);
    assert.equal(w.counters.late, 0);
  });
});
