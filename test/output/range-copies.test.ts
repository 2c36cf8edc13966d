// The addon's copy of packet bytes (src/output/range-copies.ts): each range
// lands where it was asked to, and a range outside its buffer copies nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RangeCopies } from '../../src/output/range-copies';

void test('RangeCopies copies each range to its place, across more ranges than its first room', () => {
  const source = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
  const out = Buffer.alloc(4 * 3000);
  const copies = new RangeCopies().start();
  for (let k = 0; k < 3000; k++) copies.add(k % 250, 4 * k, 3);
  copies.run(source, out);
  for (let k = 0; k < 3000; k++) assert.deepEqual([...out.subarray(4 * k, 4 * k + 4)], [k % 250, (k % 250) + 1, (k % 250) + 2, 0]);
});

void test('a range outside its buffer is refused before anything is copied; start() forgets copies not run', () => {
  const source = Buffer.alloc(16, 7);
  const out = Buffer.alloc(16);
  const copies = new RangeCopies().start();
  copies.add(0, 0, 4);
  copies.add(14, 0, 4); // past the source's end
  assert.throws(() => copies.run(source, out), (e: NodeJS.ErrnoException) => e.code === 'ERANGE' && /range 1 lies outside its buffer/.test(e.message));
  assert.deepEqual([...out], new Array<number>(16).fill(0));
  copies.add(0, 12, 5); // past the output's end
  assert.throws(() => copies.run(source, out), /outside its buffer/);
  copies.add(0, 0, 2);
  copies.start().add(0, 8, 2);
  copies.run(source, out);
  assert.deepEqual([...out], [0, 0, 0, 0, 0, 0, 0, 0, 7, 7, 0, 0, 0, 0, 0, 0]);
});
