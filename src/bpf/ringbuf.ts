// Reading a BPF ring buffer map from Node's event loop (cilium/ebpf's
// ringbuf.Reader, but push-style): libbpf's ring_buffer does the memory
// ordering and libuv polls its epoll fd; every wakeup delivers one batch of
// copied records (at most maxBatchBytes; the rest comes on the next turn of
// the event loop). Nothing in a batch points into the ring, so records may
// be kept after the callback returns — unless the reader was made with
// `reuseBatch`: then a batch is a view of the reader's staging buffer, which
// the next batch overwrites, and costs no copy or allocation (the capture
// library takes what it keeps before returning).
import { native, type NativeRingBuffer } from '../native';
import type { BpfMap } from './map';
import { track, untrack } from './registry';

/** Records from one drain of the ring, in the order the kernel committed them. */
export class RecordBatch implements Iterable<Buffer> {
  #view: DataView | undefined;

  constructor(
    /** Every record back to back. */
    readonly data: Buffer,
    /** End offset of each record in `data`. */
    readonly ends: Uint32Array,
  ) {}

  /** `data` as a DataView: fields read with getUint32(offset, true) cost less than Buffer's readUInt32LE. */
  get view(): DataView {
    return (this.#view ??= new DataView(this.data.buffer, this.data.byteOffset, this.data.byteLength));
  }

  get count(): number {
    return this.ends.length;
  }

  /** Record `i` as a view into `data` (no copy). */
  record(i: number): Buffer {
    return this.data.subarray(i === 0 ? 0 : this.ends[i - 1], this.ends[i]);
  }

  /**
   * The fast path: calls fn with the shared `data` and each record's
   * [start, end) without making a Buffer per record (a subarray costs about
   * as much as reading the whole record's header). Decoders that read
   * fields by offset should use this.
   */
  forEachRecord(fn: (data: Buffer, start: number, end: number, index: number) => void): void {
    const { data, ends } = this;
    let start = 0;
    for (let i = 0; i < ends.length; i++) {
      const end = ends[i];
      fn(data, start, end, i);
      start = end;
    }
  }

  /** Records as Buffer views into `data` (one subarray each). */
  *[Symbol.iterator](): Iterator<Buffer> {
    let start = 0;
    for (let i = 0; i < this.ends.length; i++) {
      const end = this.ends[i];
      yield this.data.subarray(start, end);
      start = end;
    }
  }
}

export interface RingReaderOptions {
  /**
   * Called when onBatch throws. Without it the error is rethrown from the
   * poll callback, where Node reports it as uncaught.
   */
  onError?: (error: unknown) => void;
  /** Keep the process alive while the reader is open (default true). */
  ref?: boolean;
  /**
   * Upper bound of one batch in bytes (default 1 MiB): a batch stays in
   * cache, and a busy ring yields to other I/O between batches.
   */
  maxBatchBytes?: number;
  /** Batches are views that the next batch overwrites: onBatch copies what it keeps (default false: each batch is its own copy). */
  reuseBatch?: boolean;
}

export class RingReader {
  #ring: NativeRingBuffer | undefined;
  #records = 0;
  #batches = 0;
  #delivering = false;
  #paused = false;

  constructor(
    readonly map: BpfMap,
    onBatch: (batch: RecordBatch) => void,
    options: RingReaderOptions = {},
  ) {
    if (map.spec.type !== 'ringbuf') throw new Error(`map ${map.name} is a ${map.spec.type} map, not a ring buffer`);
    const reuse = options.reuseBatch === true;
    const deliver = (data: ArrayBuffer, bytes: number, ends: ArrayBuffer, count: number): void => {
      this.#records += count;
      this.#batches++;
      const batch = reuse
        ? new RecordBatch(Buffer.from(data, 0, bytes), new Uint32Array(ends, 0, count))
        : new RecordBatch(Buffer.from(new Uint8Array(data, 0, bytes)), new Uint32Array(ends.slice(0, count * 4)));
      try {
        this.#delivering = true;
        onBatch(batch);
      } catch (e) {
        if (!options.onError) throw e;
        options.onError(e);
      } finally {
        this.#delivering = false;
      }
    };
    this.#ring = new (native().RingBuffer)(map.fd, deliver, options.maxBatchBytes);
    if (options.ref === false) this.#ring.unref();
    track(this);
  }

  /** Records delivered so far. */
  get records(): number {
    return this.#records;
  }

  /** Batches (drains that found records) delivered so far. */
  get batches(): number {
    return this.#batches;
  }

  get closed(): boolean {
    return this.#ring === undefined;
  }

  /**
   * Drains the ring now, delivering what it holds through onBatch before
   * returning: the last read before close(), so records already committed
   * are not lost (resume() first: a paused reader reads nothing). Returns
   * the number of records delivered.
   */
  drain(): number {
    if (!this.#ring) throw new Error(`ring reader on map ${this.map.name} is closed`);
    // From inside onBatch, a drain would overwrite the staging buffer the batch is in.
    if (this.#delivering) return 0;
    return this.#ring.consume();
  }

  /**
   * Reads one batch at most, as a wakeup does, and says whether more
   * records wait: a periodic read that finds the ring far behind leaves
   * the rest to the next turns of the event loop, so the sockets and files
   * the batches go to get their turn in between.
   */
  drainBatch(): boolean {
    if (!this.#ring) throw new Error(`ring reader on map ${this.map.name} is closed`);
    if (this.#delivering) return false;
    return this.#ring.consumeBatch();
  }

  /**
   * Stops reading until resume(): no wakeups, and drain() reads nothing (a
   * drain under way, whose onBatch paused, stops after that batch). While
   * the consumer of the batches is behind, the ring fills and the producer
   * counts what does not fit, instead of batches piling up in memory.
   * Idempotent. The last drain before close() resumes first.
   */
  pause(): void {
    if (!this.#ring || this.#paused) return;
    this.#ring.pause();
    this.#paused = true;
  }

  resume(): void {
    if (!this.#ring || !this.#paused) return;
    this.#ring.resume();
    this.#paused = false;
  }

  get paused(): boolean {
    return this.#paused;
  }

  /** Lets the process exit while the reader is open. */
  unref(): void {
    this.#ring?.unref();
  }

  ref(): void {
    this.#ring?.ref();
  }

  /** Idempotent. Stops polling; records still in the ring are dropped (drain() first). The map stays open. */
  close(): void {
    if (!this.#ring) return;
    this.#ring.close();
    this.#ring = undefined;
    untrack(this);
  }
}
