// Promise-based writing to a Node Writable (a file, a pipe to tcpdump,
// stdout): honours back-pressure, and `flush()` resolves only once every
// chunk written so far has been handed to the OS (for files: written), so
// "flushed" means the bytes survive our exit — like tcpdump -U's fflush,
// cheap enough per packet. `close()` of a file also fsyncs, so a closed
// capture file survives a power cut too.
//
// What is written in one turn of the event loop (a ring-buffer batch, a
// file's packets) collects in one pending buffer, handed over as one write
// of up to COALESCE_BYTES on the next turn (setImmediate) or at once when
// that much is pending: one syscall per batch instead of one per packet,
// while a live display still sees each batch as soon as it was written.
// Writers of many small records fill the pending buffer in place
// (`appendSlices`), so a batch costs no Buffer per record. A stream that is
// full gets nothing more until 'drain': what is written meanwhile waits in
// the pending buffer, in the order of the calls, and goes out then.
//
// A regular file is written with write(2) from the event loop itself, as
// tcpdump writes its file: handing each batch to libuv's thread pool cost
// two thread switches per write, more than the write (bench/RESULTS.md,
// "User space"); a write to the page cache does not wait for the disk.
// Other streams (pipes, stdout, sockets) are written through the stream.
import * as fs from 'node:fs';
import type { Writable } from 'node:stream';

/** Pending bytes at which they are handed over at once; appendSlices fills the buffer in slices of about this much. */
const COALESCE_BYTES = 256 * 1024;
/** A file's pending buffer's first size; it grows to what a turn writes, and is kept. */
const INITIAL_BYTES = 64 * 1024;

export class StreamWriter {
  private lastWrite: Promise<void> = Promise.resolve();
  private failure: Error | undefined;
  private closed = false;
  /** Bytes written but not handed over yet: pending[0, pendingBytes). */
  private pending: Buffer = Buffer.alloc(0);
  private pendingBytes = 0;
  private scheduled = false;
  /** The wait for 'drain' while the sink is full. */
  private draining: Promise<void> | undefined;
  /** The descriptor of a regular file written with write(2) directly (see the top). */
  private readonly fd: number | undefined;

  constructor(readonly sink: Writable) {
    sink.on('error', (e: Error) => {
      this.failure ??= e;
    });
    this.fd = regularFileFd(sink);
  }

  /**
   * Queues a chunk (copied: the caller may reuse it); resolves when the
   * stream is ready for more, not necessarily flushed. The chunk joins what
   * is pending at the call, before the wait: chunks go out in the order of
   * the calls, also when callers do not wait for each write (a write made
   * just after 'drain', from a stream it resumed, cannot overtake one that
   * was waiting for it).
   */
  async write(chunk: Buffer): Promise<void> {
    if (this.failure) throw this.failure;
    this.append(chunk);
    await this.ready();
    if (this.failure) throw this.failure;
  }

  /** Queues a chunk (copied) now, whatever the back-pressure. */
  append(chunk: Buffer): void {
    const at = this.reserve(chunk.length);
    chunk.copy(this.pending, at);
    this.commit(chunk.length);
  }

  /** Resolves when the stream can take more (back-pressure: a slow reader such as tcpdump or a pipe holds the producer here). */
  async ready(): Promise<void> {
    if (this.closed) throw new Error('write after close');
    if (this.failure) throw this.failure;
    if (this.fd !== undefined) return;
    if (this.sink.writableNeedDrain) this.holdUntilDrain();
    await this.draining;
  }

  /** One wait for 'drain' however many producers it holds; what is pending goes out when it ends, in order. */
  private holdUntilDrain(): void {
    this.draining ??= waitForDrain(this.sink).then(() => {
      this.draining = undefined;
      this.handOver();
    });
  }

  /** Room for `bytes` more at the end of what is pending: the offset in `pending` to fill them from (then commit them). */
  private reserve(bytes: number): number {
    if (this.closed) throw new Error('write after close');
    const needed = this.pendingBytes + bytes;
    if (needed > this.pending.length) {
      // A file's buffer is kept from turn to turn; a stream keeps each chunk handed over, so the next starts small.
      const grown = Buffer.allocUnsafe(Math.max(needed, 2 * this.pending.length, this.fd !== undefined ? INITIAL_BYTES : 4096));
      this.pending.copy(grown, 0, 0, this.pendingBytes);
      this.pending = grown;
    }
    return this.pendingBytes;
  }

  /**
   * Appends `count` records of `sizes[i]` bytes in slices of about
   * COALESCE_BYTES, so a batch of megabytes never needs a pending buffer
   * its size: for each slice, `fill(first, end, buffer, at)` writes records
   * first..end-1 from `at` on. Returns the bytes appended.
   */
  appendSlices(sizes: Uint32Array, count: number, fill: (first: number, end: number, buffer: Buffer, at: number) => void): number {
    let total = 0;
    for (let first = 0; first < count; ) {
      let bytes = 0;
      let end = first;
      while (end < count && bytes < COALESCE_BYTES) bytes += sizes[end++];
      const at = this.reserve(bytes);
      fill(first, end, this.pending, at);
      this.commit(bytes);
      total += bytes;
      first = end;
    }
    return total;
  }

  /** Queues the `bytes` filled in after reserve(). */
  private commit(bytes: number): void {
    this.pendingBytes += bytes;
    if (this.pendingBytes >= COALESCE_BYTES) this.handOver();
    else if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => {
        this.scheduled = false;
        this.handOver();
      });
    }
  }

  /** Resolves when everything written so far has been handed to the OS. */
  async flush(): Promise<void> {
    await this.handOverAll();
    await this.lastWrite;
    if (this.failure) throw this.failure;
  }

  /** Hands over everything pending, waiting for 'drain' as often as the stream needs it. */
  private async handOverAll(): Promise<void> {
    for (;;) {
      await this.draining;
      this.handOver();
      if (!this.draining) return;
    }
  }

  /** Writes what is pending as one chunk. */
  private handOver(): void {
    if (this.pendingBytes === 0) return;
    if (this.fd !== undefined) return this.writeFile(this.fd);
    if (this.sink.writableEnded || this.sink.destroyed) return;
    // A full stream gets nothing more until 'drain': the bytes wait here, where later ones join them in order.
    if (this.draining || this.sink.writableNeedDrain) return this.holdUntilDrain();
    // The stream keeps the chunk until it is written: the next turn's bytes go to a new buffer.
    const chunk = this.pending.subarray(0, this.pendingBytes);
    this.pending = Buffer.alloc(0);
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

  private writeFile(fd: number): void {
    const bytes = this.pendingBytes;
    this.pendingBytes = 0;
    if (this.failure) return;
    try {
      for (let done = 0; done < bytes; ) done += fs.writeSync(fd, this.pending, done, bytes - done);
    } catch (e) {
      this.failure ??= e as Error;
    }
  }

  /**
   * Flushes and ends the stream; resolves once it has finished (for file
   * streams: closed). Idempotent. Streams that must stay open (stdout) are
   * flushed but not ended when `endSink` is false.
   */
  async close(endSink = true): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.handOverAll();
    await this.lastWrite.catch(() => undefined);
    const fd = this.fd ?? writeStreamFd(this.sink);
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

/** fs.WriteStream keeps its descriptor in .fd (documented, absent from the typings). */
function writeStreamFd(sink: Writable): number | undefined {
  const fd = sink instanceof fs.WriteStream ? (sink as fs.WriteStream & { fd?: number | null }).fd : undefined;
  return typeof fd === 'number' ? fd : undefined;
}

/** The descriptor of a file stream on a regular file (not a FIFO, device or socket), open and not yet written through the stream. */
function regularFileFd(sink: Writable): number | undefined {
  const fd = writeStreamFd(sink);
  if (fd === undefined || sink.writableLength > 0 || sink.writableEnded) return undefined;
  try {
    return fs.fstatSync(fd).isFile() ? fd : undefined;
  } catch {
    return undefined;
  }
}
