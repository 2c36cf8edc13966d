// StreamWriter keeps the chunks in the order of the calls when callers do
// not wait for each write, also across a full sink's 'drain': writes made
// from timers, nextTicks and promise continuations right around it must
// not overtake the chunks waiting for it (netcap fleet writes its merged
// file that way).
import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { StreamWriter } from '../../src/output/stream-writer';

describe('StreamWriter', () => {
  it('writes chunks in call order whoever calls, while the sink fills and drains', async () => {
    const received: number[] = [];
    // A small, slow sink: full after every write, drained a millisecond later.
    const sink = new Writable({
      highWaterMark: 64,
      write(chunk: Buffer, _enc, done) {
        for (let at = 0; at < chunk.length; at += 4) received.push(chunk.readUInt32LE(at));
        setTimeout(done, 1);
      },
    });
    const w = new StreamWriter(sink);
    const called: number[] = [];
    let seq = 0;
    const write = () => {
      const b = Buffer.alloc(4);
      b.writeUInt32LE(seq);
      called.push(seq++);
      void w.write(b);
    };
    for (let round = 0; round < 300; round++) {
      write();
      process.nextTick(write);
      void Promise.resolve().then(write);
      setImmediate(write);
      // Listeners of 'drain' registered after the writer's own wait: their writes come right after it.
      sink.once('drain', () => void Promise.resolve().then(write));
      sink.once('drain', () => process.nextTick(write));
      await new Promise((r) => setImmediate(r));
    }
    await new Promise((r) => setTimeout(r, 20));
    await w.close();
    assert.ok(called.length >= 1200);
    assert.deepEqual(received, called);
  });
});
