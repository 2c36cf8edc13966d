// WriteProgress: where the packets of a file end, so a write that fails
// part way cuts the file back to its last whole packet. Its ends are a
// circular list that grows while they all lie inside its 16 MiB window and
// forgets the oldest past it; both must answer like a full list would.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WriteProgress } from '../../src/output/file-writer';

const HEADER = 24;

/** Ends of `count` packets of `size` bytes after the header, reported to a WriteProgress. */
function written(count: number, size: number): WriteProgress {
  const p = new WriteProgress();
  for (let i = 1; i <= count; i++) p.packetEnds(HEADER + i * size);
  return p;
}

void test('inside the window every end is kept, across the growth of the list', () => {
  const p = written(10_000, 100); // 1 MB: more ends than the list starts with
  assert.deepEqual(p.wholePackets(HEADER + 10_000 * 100, HEADER), { packets: 10_000, end: HEADER + 10_000 * 100 });
  assert.deepEqual(p.wholePackets(HEADER + 5000 * 100 + 99, HEADER), { packets: 5000, end: HEADER + 5000 * 100 });
  assert.deepEqual(p.wholePackets(HEADER + 99, HEADER), { packets: 0, end: HEADER }, 'inside the first packet: the header alone');
  assert.deepEqual(p.wholePackets(10, HEADER), { packets: 0, end: 0 }, 'inside the header: nothing');
});

void test('past the window the oldest ends are forgotten, the recent ones and the count stay right', () => {
  const size = 10 * 1024;
  const count = 8000; // 80 MiB: the list fills, then turns over
  const p = written(count, size);
  const last = HEADER + count * size;
  assert.deepEqual(p.wholePackets(last, HEADER), { packets: count, end: last });
  assert.deepEqual(p.wholePackets(last - 1, HEADER), { packets: count - 1, end: last - size });
  const back = last - (16 << 20); // the window's start: still known
  const k = Math.ceil((back - HEADER) / size);
  assert.deepEqual(p.wholePackets(HEADER + k * size, HEADER), { packets: k, end: HEADER + k * size });
  assert.equal(p.wholePackets(HEADER + 10 * size, HEADER), undefined, 'long forgotten: not known, not guessed');
});
