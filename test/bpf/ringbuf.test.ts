// RingReader against a real ring: a program run through BPF_PROG_TEST_RUN
// writes sequence-numbered records; the reader must deliver each exactly
// once, in order, from the event loop or from drain(), and losses in a full
// ring must be counted, not silent.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createMap } from '../../src/bpf/map';
import { RingReader, RecordBatch } from '../../src/bpf/ringbuf';
import { closeAll, openCount } from '../../src/bpf/registry';
import { skipReason } from '../../src/bpf/features';
import { loadSequenceProducer } from './programs';

const skip = skipReason('ringbuf');
after(() => closeAll());

const PACKET = Buffer.alloc(64);

function seqs(records: Buffer[]): bigint[] {
  return records.map((r) => r.readBigUInt64LE(0));
}

void test('drain() delivers every committed record once, in order, as copies', (t) => {
  if (skip) return t.skip(skip);
  const ring = createMap({ type: 'ringbuf', name: 'nc_t_rb1', keySize: 0, valueSize: 0, maxEntries: 1 << 16 });
  const producer = loadSequenceProducer(ring.fd, 'nc_t_rb1');
  const got: Buffer[] = [];
  const batches: RecordBatch[] = [];
  const reader = new RingReader(ring, (b) => {
    batches.push(b);
    got.push(...b);
  });
  producer.prog.testRun(PACKET, { repeat: 100 });
  assert.equal(reader.drain(), 100);
  assert.deepEqual(seqs(got), Array.from({ length: 100 }, (_, i) => BigInt(i + 1)));
  assert.ok(got.every((r) => r.length === 64));
  assert.equal(reader.records, 100);
  // record(i), iteration and forEachRecord agree.
  const b = batches[0];
  const viaRecord = Array.from({ length: b.count }, (_, i) => b.record(i).readBigUInt64LE(0));
  assert.deepEqual([...b].map((r) => r.readBigUInt64LE(0)), viaRecord);
  const viaOffsets: bigint[] = [];
  b.forEachRecord((data, start, end, i) => {
    assert.equal(end - start, 64);
    assert.equal(i, viaOffsets.length);
    viaOffsets.push(data.readBigUInt64LE(start));
  });
  assert.deepEqual(viaOffsets, viaRecord);
  // Records are copies: producing more doesn't change what we hold.
  producer.prog.testRun(PACKET, { repeat: 10 });
  assert.equal(got[0].readBigUInt64LE(0), 1n);
  assert.equal(reader.drain(), 10);
  assert.equal(reader.drain(), 0);
  assert.equal(producer.loss.total(), 0n);
  reader.close();
  reader.close();
  assert.throws(() => reader.drain(), /closed/);
  producer.close();
  ring.close();
});

void test('small batches split the ring without losing or repeating a record', (t) => {
  if (skip) return t.skip(skip);
  const ring = createMap({ type: 'ringbuf', name: 'nc_t_rb6', keySize: 0, valueSize: 0, maxEntries: 1 << 16 });
  const producer = loadSequenceProducer(ring.fd, 'nc_t_rb6');
  const got: Buffer[] = [];
  const sizes: number[] = [];
  // 500 bytes: the batch ends at the record that crosses it (7 x 64 = 448, 8 x 64 = 512).
  const reader = new RingReader(ring, (b) => {
    sizes.push(b.count);
    got.push(...b);
  }, { maxBatchBytes: 500 });
  producer.prog.testRun(PACKET, { repeat: 100 });
  assert.equal(reader.drain(), 100);
  assert.deepEqual(seqs(got), Array.from({ length: 100 }, (_, i) => BigInt(i + 1)));
  assert.deepEqual(sizes, [...Array(12).fill(8), 4]);
  reader.close();
  producer.close();
  ring.close();
});

void test('reuseBatch: batches are views of the ring, more records than the offsets start with, every record in order; no drain from inside onBatch', (t) => {
  if (skip) return t.skip(skip);
  const ring = createMap({ type: 'ringbuf', name: 'nc_t_rb7', keySize: 0, valueSize: 0, maxEntries: 1 << 22 });
  const small = loadSequenceProducer(ring.fd, 'nc_t_rb7');
  const seen: bigint[] = [];
  const buffers = new Set<ArrayBufferLike>();
  let nested = -1;
  const reader = new RingReader(
    ring,
    (b) => {
      buffers.add(b.data.buffer);
      b.forEachRecord((data, start) => seen.push(data.readBigUInt64LE(start)));
      nested = reader.drain(); // would overwrite this batch: refused
    },
    { reuseBatch: true },
  );
  // 20,000 records: two batches (1 MiB each at most), more records than the offset arrays start with (4096).
  small.prog.testRun(PACKET, { repeat: 20_000 });
  assert.equal(reader.drain(), 20_000);
  assert.equal(reader.batches, 2);
  assert.equal(nested, 0);
  assert.deepEqual(seen, Array.from({ length: 20_000 }, (_, i) => BigInt(i + 1)));
  // Views of one buffer, the ring's (a copying reader's batches are their own).
  assert.equal(buffers.size, 1);
  reader.close();
  small.close();
  ring.close();
});

for (const { ringBytes, maxRecordBytes, mapped } of [
  { ringBytes: 4096, maxRecordBytes: undefined, mapped: 2 * 4096 },
  { ringBytes: 1 << 16, maxRecordBytes: 64, mapped: (1 << 16) + 4096 },
]) {
  void test(`records read in place across the ring's end are whole and in order, at increasing offsets (${ringBytes} bytes, ${mapped} mapped)`, (t) => {
    if (skip) return t.skip(skip);
    const ring = createMap({ type: 'ringbuf', name: 'nc_t_rb10', keySize: 0, valueSize: 0, maxEntries: ringBytes });
    const producer = loadSequenceProducer(ring.fd, 'nc_t_rb10');
    const perLap = Math.floor(ringBytes / 72);
    // Records of 8 + 64 bytes, a ring's worth at a time: after 57 rounds the records have crossed the end at every position the stride reaches.
    const rounds = 57 * 2;
    let expected = 1n;
    let across = 0;
    let bad = 0;
    const reader = new RingReader(
      ring,
      (b) => {
        assert.equal(b.data.length, mapped);
        for (let i = 0; i < b.count; i++) {
          if (i > 0 && b.starts[i] < b.ends[i - 1]) bad++;
          if (b.starts[i] - 8 < ringBytes && b.ends[i] > ringBytes) across++;
          const r = b.record(i);
          if (r.length !== 64 || r.readBigUInt64LE(0) !== expected++ || r.subarray(8).some((x) => x !== 0)) bad++;
        }
        // A batch ends with the record that reaches past the ring's end.
        if (b.starts[b.count - 1] - 8 >= ringBytes) bad++;
      },
      { reuseBatch: true, ...(maxRecordBytes ? { maxRecordBytes } : {}) },
    );
    for (let round = 0; round < rounds; round++) {
      producer.prog.testRun(PACKET, { repeat: perLap });
      assert.equal(reader.drain(), perLap);
    }
    assert.equal(bad, 0, 'every record whole, in order, offsets increasing, no batch beyond the end');
    assert.equal(expected, BigInt(rounds * perLap + 1));
    assert.ok(across > 0, 'some records lay across the end of the ring');
    assert.equal(producer.loss.total(), 0n);
    reader.close();
    producer.close();
    ring.close();
  });
}

void test('close() detaches the ring\'s memory: a view kept past it reads as empty', (t) => {
  if (skip) return t.skip(skip);
  const ring = createMap({ type: 'ringbuf', name: 'nc_t_rb11', keySize: 0, valueSize: 0, maxEntries: 1 << 16 });
  const producer = loadSequenceProducer(ring.fd, 'nc_t_rb11');
  let kept: RecordBatch | undefined;
  const reader = new RingReader(ring, (b) => (kept = b), { reuseBatch: true });
  producer.prog.testRun(PACKET, { repeat: 3 });
  assert.equal(reader.drain(), 3);
  assert.ok(kept);
  assert.equal(kept.data.length, 2 << 16, 'a view of the ring mapped twice');
  assert.equal(kept.record(0).readBigUInt64LE(0), 1n);
  reader.close();
  assert.equal(kept.data.length, 0);
  assert.equal(kept.data[kept.starts[0]], undefined);
  assert.throws(() => kept!.view.getUint32(kept!.starts[0], true), /detached/);
  producer.close();
  ring.close();
});

void test('drainBatch() delivers one batch at most and says whether more records wait', (t) => {
  if (skip) return t.skip(skip);
  const ring = createMap({ type: 'ringbuf', name: 'nc_t_rb8', keySize: 0, valueSize: 0, maxEntries: 1 << 22 });
  const producer = loadSequenceProducer(ring.fd, 'nc_t_rb8');
  const sizes: number[] = [];
  const seen: bigint[] = [];
  const reader = new RingReader(ring, (b) => {
    sizes.push(b.count);
    b.forEachRecord((data, start) => seen.push(data.readBigUInt64LE(start)));
  });
  // 20,000 records: more than one batch (1 MiB at most).
  producer.prog.testRun(PACKET, { repeat: 20_000 });
  const answers: boolean[] = [];
  for (let i = 0; i < 4; i++) answers.push(reader.drainBatch());
  assert.deepEqual(answers, [true, false, false, false], `batches of ${sizes.join(', ')} records`);
  assert.equal(sizes.length, 2, 'two batches, then nothing: an empty ring delivers no batch');
  assert.deepEqual(seen, Array.from({ length: 20_000 }, (_, i) => BigInt(i + 1)));
  // A paused reader reads nothing and says nothing waits for it.
  producer.prog.testRun(PACKET, { repeat: 10 });
  reader.pause();
  assert.equal(reader.drainBatch(), false);
  assert.equal(sizes.length, 2);
  reader.resume();
  assert.equal(reader.drainBatch(), false);
  assert.equal(seen.length, 20_010);
  reader.close();
  assert.throws(() => reader.drainBatch(), /closed/);
  producer.close();
  ring.close();
});

void test('the event loop delivers records without drain()', async (t) => {
  if (skip) return t.skip(skip);
  const ring = createMap({ type: 'ringbuf', name: 'nc_t_rb2', keySize: 0, valueSize: 0, maxEntries: 1 << 16 });
  const producer = loadSequenceProducer(ring.fd, 'nc_t_rb2');
  const got: Buffer[] = [];
  let done: () => void = () => undefined;
  const all = new Promise<void>((resolve) => (done = resolve));
  const reader = new RingReader(ring, (b) => {
    got.push(...b);
    if (got.length >= 50) done();
  });
  producer.prog.testRun(PACKET, { repeat: 50 });
  const timeout = setTimeout(() => done(), 3000);
  await all;
  clearTimeout(timeout);
  assert.deepEqual(seqs(got), Array.from({ length: 50 }, (_, i) => BigInt(i + 1)));
  assert.ok(reader.batches >= 1);
  reader.close();
  producer.close();
  ring.close();
});

void test('pause() stops the event loop delivering and drain() reading; resume() starts both again', async (t) => {
  if (skip) return t.skip(skip);
  const ring = createMap({ type: 'ringbuf', name: 'nc_t_rb8', keySize: 0, valueSize: 0, maxEntries: 1 << 16 });
  const producer = loadSequenceProducer(ring.fd, 'nc_t_rb8');
  const got: bigint[] = [];
  const reader = new RingReader(ring, (b) => b.forEachRecord((data, start) => got.push(data.readBigUInt64LE(start))));
  reader.pause();
  reader.pause(); // idempotent
  assert.equal(reader.paused, true);
  producer.prog.testRun(PACKET, { repeat: 20 });
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(got.length, 0, 'nothing delivered while paused');
  assert.equal(reader.drain(), 0, 'a paused reader drains nothing');
  producer.prog.testRun(PACKET, { repeat: 5 });
  reader.resume();
  assert.equal(reader.paused, false);
  const deadline = Date.now() + 3000;
  while (got.length < 25 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(got, Array.from({ length: 25 }, (_, i) => BigInt(i + 1)), 'the records waited in the ring, none lost');
  reader.pause();
  producer.prog.testRun(PACKET, { repeat: 3 });
  reader.resume();
  assert.equal(reader.drain(), 3);
  reader.close();
  producer.close();
  ring.close();
});

void test('a drain stops after the batch whose consumer paused the reader; the rest waits in the ring', (t) => {
  if (skip) return t.skip(skip);
  const ring = createMap({ type: 'ringbuf', name: 'nc_t_rb9', keySize: 0, valueSize: 0, maxEntries: 1 << 16 });
  const producer = loadSequenceProducer(ring.fd, 'nc_t_rb9');
  const batches: number[] = [];
  let pauseAt = 2;
  // 64-byte records, batches of at most 10 (640 bytes).
  const reader = new RingReader(
    ring,
    (b) => {
      batches.push(b.count);
      if (batches.length === pauseAt) reader.pause();
    },
    { maxBatchBytes: 640 },
  );
  producer.prog.testRun(PACKET, { repeat: 100 });
  assert.equal(reader.drain(), 20, 'two batches of ten, then the pause');
  assert.deepEqual(batches, [10, 10]);
  assert.equal(reader.drain(), 0);
  pauseAt = Infinity;
  reader.resume();
  assert.equal(reader.drain(), 80, 'the rest was in the ring');
  assert.equal(producer.loss.total(), 0n);
  reader.close();
  producer.close();
  ring.close();
});

void test('a full ring counts every record it could not take', (t) => {
  if (skip) return t.skip(skip);
  // 4096 bytes of ring hold 4096 / (8-byte header + 64) = 56 records.
  const ring = createMap({ type: 'ringbuf', name: 'nc_t_rb3', keySize: 0, valueSize: 0, maxEntries: 4096 });
  const producer = loadSequenceProducer(ring.fd, 'nc_t_rb3');
  const got: Buffer[] = [];
  const reader = new RingReader(ring, (b) => got.push(...b));
  producer.prog.testRun(PACKET, { repeat: 1000 });
  reader.drain();
  assert.equal(got.length, Math.floor(4096 / 72));
  assert.equal(producer.loss.total(), BigInt(1000 - got.length));
  // The records kept are the first ones, in order.
  assert.deepEqual(seqs(got), Array.from({ length: got.length }, (_, i) => BigInt(i + 1)));
  reader.close();
  producer.close();
  ring.close();
});

void test('an exception in onBatch goes to onError and the reader keeps working', (t) => {
  if (skip) return t.skip(skip);
  const ring = createMap({ type: 'ringbuf', name: 'nc_t_rb4', keySize: 0, valueSize: 0, maxEntries: 1 << 14 });
  const producer = loadSequenceProducer(ring.fd, 'nc_t_rb4');
  const errors: unknown[] = [];
  let calls = 0;
  const reader = new RingReader(
    ring,
    () => {
      calls++;
      if (calls === 1) throw new Error('consumer failed');
    },
    { onError: (e) => errors.push(e) },
  );
  producer.prog.testRun(PACKET, { repeat: 3 });
  reader.drain();
  producer.prog.testRun(PACKET, { repeat: 3 });
  reader.drain();
  assert.equal(calls, 2);
  assert.equal(errors.length, 1);
  assert.match(String(errors[0]), /consumer failed/);
  reader.close();
  producer.close();
  ring.close();
});

void test('a reader on a non-ring map is refused; close() unregisters', (t) => {
  if (skip) return t.skip(skip);
  const before = openCount();
  const arr = createMap({ type: 'array', name: 'nc_t_rb5', keySize: 4, valueSize: 4, maxEntries: 1 });
  assert.throws(() => new RingReader(arr, () => undefined), /not a ring buffer/);
  arr.close();
  assert.equal(openCount(), before);
});
