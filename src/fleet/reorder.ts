// The merge of several packet streams into one in timestamp order, as the
// packets arrive, with a bounded reordering window.
//
// Each stream is in timestamp order, give or take the disorder of one
// agent's CPUs (STREAM_DISORDER_NS); the streams reach the client with
// different delays. A packet is held until no open stream can still bring
// an earlier one, that is until
//   - every open stream has delivered a packet stamped at least
//     STREAM_DISORDER_NS after it (the fast path when all streams flow), or
//   - it has been held for the window (an idle or slow stream holds the
//     others back this long at most), or
//   - the packets held reach the memory bound (the oldest go first).
// Held packets are written earliest first. A packet that arrives stamped
// before one already written (its stream lagged more than the window) is
// written at once and counted late: nothing is ever dropped, and a file
// with no late packet is in timestamp order.
//
// Times are numbers of ns relative to the first packet's time (exact for
// 104 days): the comparisons stay off BigInt.

/** How far one stream's packets may be out of order (an agent's ring is shared by its CPUs): 1 ms. */
export const STREAM_DISORDER_NS = 1_000_000;

export interface HeldPacket {
  /** ns relative to the merge's origin, on the client's clock. */
  key: number;
  /** The stream it came from. */
  source: number;
  /** Its bytes as they will be written. */
  block: Buffer;
  /** The merged file's interface of it (for the writer's counts). */
  ifIndex: number;
  /** When it arrived (ms, the client's monotonic clock). */
  arrivedMs: number;
}

export interface ReorderOptions {
  /** The longest a packet is held, in ms. */
  windowMs: number;
  /** The most bytes held before the oldest packets are written early. */
  maxHeldBytes: number;
}

export interface ReorderCounters {
  /** Packets written. */
  written: number;
  /** Written out of order: they arrived after a later packet had been written. */
  late: number;
  /** Written before their window ran out because the memory bound was reached. */
  forced: number;
  /** The most packets held at once. */
  peakHeld: number;
}

export class ReorderWindow {
  readonly counters: ReorderCounters = { written: 0, late: 0, forced: 0, peakHeld: 0 };
  private readonly heap: HeldPacket[] = [];
  private heldBytes = 0;
  /** Each open stream's newest key; a closed stream's entry is deleted. */
  private readonly newest = new Map<number, number>();
  /** Held packets' keys and arrival times in arrival order, for the window's deadline (two arrays of numbers: no object per packet). */
  private arrivalKeys: number[] = [];
  private arrivalTimes: number[] = [];
  private arrivalsHead = 0;
  /** The newest key any packet past its deadline had: everything up to it goes. */
  private dueKey = -Infinity;
  /** The last key written. */
  private writtenKey = -Infinity;

  constructor(
    private readonly options: ReorderOptions,
    private readonly write: (p: HeldPacket) => void,
  ) {}

  get held(): number {
    return this.heap.length;
  }

  /** A stream joins: until it delivers a packet it holds the others back (by the window at most). */
  open(source: number): void {
    if (!this.newest.has(source)) this.newest.set(source, -Infinity);
  }

  /** A stream ended: it holds nothing back any more. */
  close(source: number, nowMs: number): void {
    this.newest.delete(source);
    this.release(nowMs);
  }

  /** A packet arrives. */
  push(p: HeldPacket): void {
    const newest = this.newest.get(p.source);
    if (newest !== undefined && p.key > newest) this.newest.set(p.source, p.key);
    if (p.key < this.writtenKey) {
      this.counters.late++;
      this.emit(p);
      return;
    }
    this.heapPush(p);
    this.heldBytes += p.block.length;
    this.arrivalKeys.push(p.key);
    this.arrivalTimes.push(p.arrivedMs);
    if (this.heap.length > this.counters.peakHeld) this.counters.peakHeld = this.heap.length;
  }

  /** Writes every packet that can go now. */
  release(nowMs: number): void {
    const deadline = nowMs - this.options.windowMs;
    while (this.arrivalsHead < this.arrivalTimes.length && this.arrivalTimes[this.arrivalsHead] <= deadline) {
      const key = this.arrivalKeys[this.arrivalsHead++];
      if (key > this.dueKey) this.dueKey = key;
    }
    if (this.arrivalsHead > 4096 && this.arrivalsHead * 2 > this.arrivalTimes.length) {
      this.arrivalKeys = this.arrivalKeys.slice(this.arrivalsHead);
      this.arrivalTimes = this.arrivalTimes.slice(this.arrivalsHead);
      this.arrivalsHead = 0;
    }
    const safe = Math.max(this.dueKey, this.everyStreamPast());
    while (this.heap.length > 0 && this.heap[0].key <= safe) this.emit(this.heapPop());
    while (this.heldBytes > this.options.maxHeldBytes && this.heap.length > 0) {
      this.counters.forced++;
      this.emit(this.heapPop());
    }
  }

  /** Writes everything held (the end). */
  drain(): void {
    while (this.heap.length > 0) this.emit(this.heapPop());
    this.arrivalKeys = [];
    this.arrivalTimes = [];
    this.arrivalsHead = 0;
  }

  /** The key every open stream has passed (less its own disorder): no earlier packet can come. */
  private everyStreamPast(): number {
    let min = Infinity;
    for (const k of this.newest.values()) if (k < min) min = k;
    return min === Infinity ? Infinity : min - STREAM_DISORDER_NS;
  }

  private emit(p: HeldPacket): void {
    if (p.key > this.writtenKey) this.writtenKey = p.key;
    this.counters.written++;
    this.write(p);
  }

  private heapPush(p: HeldPacket): void {
    const h = this.heap;
    h.push(p);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (h[parent].key <= p.key) break;
      h[i] = h[parent];
      i = parent;
    }
    h[i] = p;
  }

  private heapPop(): HeldPacket {
    const h = this.heap;
    const top = h[0];
    const last = h.pop()!;
    this.heldBytes -= top.block.length;
    if (h.length > 0) {
      let i = 0;
      const n = h.length;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= n) break;
        const r = l + 1;
        const c = r < n && h[r].key < h[l].key ? r : l;
        if (h[c].key >= last.key) break;
        h[i] = h[c];
        i = c;
      }
      h[i] = last;
    }
    return top;
  }
}
