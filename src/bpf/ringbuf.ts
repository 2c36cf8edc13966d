// Reading a BPF ring buffer map from Node's event loop (cilium/ebpf's
// ringbuf.Reader, but push-style and in place): the addon maps the ring,
// libuv polls it, and every wakeup delivers one batch (at most
// maxBatchBytes of records; the rest comes on the next turn of the event
// loop) as offsets into the mapped ring; the kernel may reuse a batch's
// bytes once onBatch returns. So by default a batch is copied out first (one
// copy of its run of bytes) and may be kept — unless the reader was made
// with `reuseBatch`: then a batch is a view of the ring itself, read-only
// memory valid only until onBatch returns, which costs no copy or
// allocation (the capture library takes what it keeps before returning).
import { native, type NativeRingBuffer } from '../native';
import type { BpfMap } from './map';
import { track, untrack } from './registry';

/** Records from one drain of the ring, in the order the kernel committed them. */
export class RecordBatch implements Iterable<Buffer> {
  #view: DataView | undefined;

  constructor(
    /** The bytes the records are in (record i is data[starts[i], ends[i])). */
    readonly data: Buffer,
    /** Start offset of each record in `data`, increasing. */
    readonly starts: Uint32Array,
    /** End offset of each record in `data`. */
    readonly ends: Uint32Array,
    view?: DataView,
  ) {
    this.#view = view;
  }

  /** `data` as a DataView: fields read with getUint32(offset, true) cost less than Buffer's readUInt32LE. */
  get view(): DataView {
    return (this.#view ??= new DataView(this.data.buffer, this.data.byteOffset, this.data.byteLength));
  }

  get count(): number {
    return this.ends.length;
  }

  /** The bytes from the first record's start to the `count`th record's end: what holding them takes. */
  span(count = this.count): number {
    return count === 0 ? 0 : this.ends[count - 1] - this.starts[0];
  }

  /** Record `i` as a view into `data` (no copy). */
  record(i: number): Buffer {
    return this.data.subarray(this.starts[i], this.ends[i]);
  }

  /** The batch in memory of its own (one copy of the run of bytes its records are in), kept valid after the reader moves on. */
  copy(): RecordBatch {
    const { starts, ends } = this;
    const origin = starts.length ? starts[0] : 0;
    const data = Buffer.from(this.data.subarray(origin, origin + this.span()));
    const s = new Uint32Array(starts.length);
    const e = new Uint32Array(ends.length);
    for (let i = 0; i < starts.length; i++) {
      s[i] = starts[i] - origin;
      e[i] = ends[i] - origin;
    }
    return new RecordBatch(data, s, e);
  }

  /**
   * The fast path: calls fn with the shared `data` and each record's
   * [start, end) without making a Buffer per record (a subarray costs about
   * as much as reading the whole record's header). Decoders that read
   * fields by offset should use this.
   */
  forEachRecord(fn: (data: Buffer, start: number, end: number, index: number) => void): void {
    const { data, starts, ends } = this;
    for (let i = 0; i < ends.length; i++) fn(data, starts[i], ends[i], i);
  }

  /** Records as Buffer views into `data` (one subarray each). */
  *[Symbol.iterator](): Iterator<Buffer> {
    for (let i = 0; i < this.ends.length; i++) yield this.record(i);
  }
}

export interface RingReaderOptions {
  /**
   * Called when onBatch throws. Without it the error is rethrown from the
   * poll callback, where Node reports it as uncaught. Either way the batch
   * counts as read.
   */
  onError?: (error: unknown) => void;
  /** Keep the process alive while the reader is open (default true). */
  ref?: boolean;
  /**
   * Upper bound of one batch in bytes (default 1 MiB): a batch stays in
   * cache, and a busy ring yields to other I/O between batches.
   */
  maxBatchBytes?: number;
  /** Batches are views of the ring, valid until onBatch returns: onBatch copies what it keeps (default false: each batch is its own copy). */
  reuseBatch?: boolean;
  /**
   * The longest record the producer writes, in bytes (its ring header
   * apart): the ring's start is mapped again after its end only that far,
   * for the record that crosses the end, instead of the whole ring a second
   * time (default: the whole ring). A longer record stops the reader with
   * an error (EMSGSIZE).
   */
  maxRecordBytes?: number;
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
    // The ring's data is one ArrayBuffer for the reader's life: one Buffer and one DataView of it.
    let ring: { data: ArrayBuffer; bytes: Buffer; view: DataView } | undefined;
    const deliver = (data: ArrayBuffer, starts: ArrayBuffer, ends: ArrayBuffer, count: number): void => {
      this.#records += count;
      this.#batches++;
      if (ring?.data !== data) ring = { data, bytes: Buffer.from(data), view: new DataView(data) };
      const inRing = new RecordBatch(ring.bytes, new Uint32Array(starts, 0, count), new Uint32Array(ends, 0, count), ring.view);
      const batch = reuse ? inRing : inRing.copy();
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
    this.#ring = new (native().RingBuffer)(map.fd, deliver, options.maxBatchBytes, options.maxRecordBytes);
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
    // From inside onBatch, a drain would consume the records the batch is reading.
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
