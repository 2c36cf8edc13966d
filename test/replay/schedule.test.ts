// The replay's deadlines and its lateness report, without a network: every
// pace anchors each deadline to the first packet (no accumulation), a trace
// whose clock steps back keeps its order, and the report's percentiles are
// within the histogram's 1.6% of the exact ones computed by sorting.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LatenessStats } from '../../src/replay/lateness';
import { Schedule } from '../../src/replay/schedule';
import { random } from './traces';

test('deadlines: the trace timing scaled by -x, --pps and --mbps from the first packet, top speed at once', () => {
  const offsets = [5_000, 5_000 + 1_000_000, 5_000 + 1_000_333, 5_000 + 7_000_001];
  const timed = new Schedule({ kind: 'timed', factor: 4 });
  assert.deepEqual(offsets.map((o) => timed.next(o, 100)), [0, 250_000, 250_083.25, 1_750_000.25]);
  const pps = new Schedule({ kind: 'pps', pps: 1000 });
  assert.deepEqual(offsets.map((o) => pps.next(o, 100)), [0, 1e6, 2e6, 3e6]);
  // 10 Mbit/s: a 1250-byte packet takes 1 ms on the wire, a 125-byte one 100 us.
  const mbps = new Schedule({ kind: 'mbps', mbps: 10 });
  assert.deepEqual([1250, 125, 1250, 60].map((bytes, i) => mbps.next(offsets[i], bytes)), [0, 1e6, 1.1e6, 2.1e6]);
  const top = new Schedule({ kind: 'topspeed' });
  assert.deepEqual(offsets.map((o) => top.next(o, 100)), [0, 0, 0, 0]);
});

test('a trace whose clock steps back keeps its order: deadlines never decrease', () => {
  const s = new Schedule({ kind: 'timed', factor: 1 });
  assert.deepEqual([0, 2_000, 1_000, 3_000].map((o) => s.next(o, 60)), [0, 2_000, 2_000, 3_000]);
});

test('lateness percentiles within 1.6% of the exact ones; drift is the last minus the first', () => {
  const next = random(99);
  const values = Array.from({ length: 20_000 }, () => Math.floor(next() ** 4 * 5e6));
  const stats = new LatenessStats();
  stats.addAll(values);
  const sorted = [...values].sort((a, b) => a - b);
  for (const q of [0.5, 0.9, 0.99, 0.999]) {
    const exact = sorted[Math.ceil(q * sorted.length) - 1];
    const got = stats.quantile(q);
    assert.ok(got >= exact && got <= exact * 1.016 + 1, `q${q}: ${got} for exact ${exact}`);
  }
  const s = stats.summary();
  assert.equal(s.count, values.length);
  assert.equal(s.maxNs, sorted[sorted.length - 1]);
  assert.equal(s.driftNs, values[values.length - 1] - values[0]);
});
