// Promise-based writing to a Node Writable (a file, a pipe to tcpdump,
// stdout): honours back-pressure, and `flush()` resolves only once every
// chunk written so far has been handed to the OS (for files: the fs.write
// calls have completed), so "flushed" means the bytes survive our exit —
// like tcpdump -U's fflush, cheap enough per packet. `close()` of a file
// also fsyncs, so a closed capture file survives a power cut too.
//
// Small chunks written in one turn of the event loop (a ring-buffer batch,
// a file's packets) are coalesced into one write of up to COALESCE_BYTES,
// handed over on the next turn (setImmediate) or at once when that much is
// pending: one syscall per batch instead of one per packet, while a live
// display still sees each batch as soon as it was written.
import * as fs from 'node:fs';
import type { Writable } from 'node:stream';

const COALESCE_BYTES = 256 * 1024;

export class StreamWriter {
  private lastWrite: Promise<void> = Promise.resolve();
  private failure: Error | undefined;
  private closed = false;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private scheduled = false;
  /** The wait for 'drain' while the sink is full, and the chunks written meanwhile, in order. */
  private draining: Promise<void> | undefined;
  private waiting: Buffer[] = [];

  constructor(readonly sink: Writable) {
    sink.on('error', (e: Error) => {
      this.failure ??= e;
    });
  }

  /**
   * Queues a chunk (which must not be modified afterwards); resolves when
   * the stream is ready for more, not necessarily flushed. Chunks go out in
   * the order of the calls, also when callers do not wait for each write.
   */
  async write(chunk: Buffer): Promise<void> {
    if (this.closed) throw new Error('write after close');
    if (this.failure) throw this.failure;
    // Back-pressure: a slow reader (tcpdump, a pipe) holds the producer here.
    // A chunk written while the sink is full joins the waiting ones, and
    // 'drain' queues them all at once, in order: a write made just after it
    // (from a stream it resumed, or any promise continuation) cannot
    // overtake them.
    if (this.draining || this.sink.writableNeedDrain) {
      this.waiting.push(chunk);
      this.draining ??= waitForDrain(this.sink).then(() => {
        this.draining = undefined;
        const waiting = this.waiting;
        this.waiting = [];
        for (const c of waiting) this.queue(c);
      });
      await this.draining;
    } else this.queue(chunk);
    if (this.failure) throw this.failure;
  }

  /** Resolves when everything written so far has been handed to the OS. */
  async flush(): Promise<void> {
    await this.draining;
    this.handOver();
    await this.lastWrite;
    if (this.failure) throw this.failure;
  }

  /** Adds a chunk to what is pending, handed over on the next turn of the event loop or at once when that much is pending. */
  private queue(chunk: Buffer): void {
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    if (this.pendingBytes >= COALESCE_BYTES) this.handOver();
    else if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => {
        this.scheduled = false;
        this.handOver();
      });
    }
  }

  /** Writes what is pending as one chunk. */
  private handOver(): void {
    if (this.pending.length === 0 || this.sink.writableEnded || this.sink.destroyed) return;
    const chunk = this.pending.length === 1 ? this.pending[0] : Buffer.concat(this.pending, this.pendingBytes);
    this.pending = [];
    this.pendingBytes = 0;
    this.lastWrite = new Promise<void>((resolve, reject) => {
      this.sink.write(chunk, (e) => (e ? reject(e) : resolve()));
    });
    // Keep a handler so a failed write is reported by flush() or the next
    // write, not as an unhandled rejection that ends the process.
    this.lastWrite.catch((e: Error) => {
      this.failure ??= e;
    });
  }

  /**
   * Flushes and ends the stream; resolves once it has finished (for file
   * streams: closed). Idempotent. Streams that must stay open (stdout) are
   * flushed but not ended when `endSink` is false.
   */
  async close(endSink = true): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.draining;
    this.handOver();
    await this.lastWrite.catch(() => undefined);
    // fs.WriteStream keeps its descriptor in .fd (documented, absent from the typings).
    const fd = this.sink instanceof fs.WriteStream ? (this.sink as fs.WriteStream & { fd?: number | null }).fd : undefined;
    if (endSink && typeof fd === 'number' && !this.failure) {
      await new Promise<void>((resolve) => fs.fsync(fd, (e) => {
        if (e && e.code !== 'EINVAL') this.failure ??= e; // EINVAL: a FIFO or device, nothing to sync
        resolve();
      }));
    }
    // A destroyed stream (a pipe whose reader died: EPIPE) takes no end():
    // its callback would never come.
    if (endSink && !this.sink.writableEnded && !this.sink.destroyed) {
      // A file stream closes its descriptor just after 'finish': wait for
      // 'close' so no descriptor outlives close().
      const waitForClose = this.sink instanceof fs.WriteStream && !this.sink.closed;
      await new Promise<void>((resolve) => {
        this.sink.once('error', () => resolve());
        this.sink.once('close', () => resolve());
        this.sink.end(() => {
          if (!waitForClose) resolve();
        });
      });
    }
    if (this.failure) throw this.failure;
  }
}

function waitForDrain(sink: Writable): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = () => {
      sink.off('drain', done);
      sink.off('error', done);
      sink.off('close', done);
      resolve();
    };
    sink.on('drain', done);
    sink.on('error', done);
    sink.on('close', done);
  });
}
