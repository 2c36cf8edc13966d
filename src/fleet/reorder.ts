// The merge of several packet streams into one in timestamp order, as the
// packets arrive, with a bounded reordering window.
//
// Each stream is in timestamp order, give or take the disorder of one
// agent's CPUs (STREAM_DISORDER_NS); the streams reach the client with
// different delays. A packet is held until no open stream can still bring
// an earlier one: until every open stream has either
//   - delivered a packet stamped at least STREAM_DISORDER_NS after it, or
//   - been silent for the window (an idle agent, or one that went quiet:
//     it holds the others back this long at most);
// or until the packets held reach the memory bound (the earliest go first).
// A stream that delivers, however far behind, is waited for: its packets
// are on their way (in its socket, its agent's queue), and the memory
// bound, not the clock, limits that wait. Held packets are written
// earliest first. A packet stamped before one already written (its stream
// was silent for longer than the window, or beyond the memory bound) is
// written at once and counted late: nothing is ever dropped, and a file
// with no late packet is in timestamp order. A stream the reader paused
// (its output is full, or it is a dump ahead of the others) is not silent:
// it holds the others back until it goes on.
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
  /** How long a silent stream holds the others back, in ms. */
  windowMs: number;
  /** The most bytes held before the oldest packets are written early. */
  maxHeldBytes: number;
}

export interface ReorderCounters {
  /** Packets written. */
  written: number;
  /** Written out of order: they arrived after a later packet had been written. */
  late: number;
  /** Written early because the memory bound was reached. */
  forced: number;
  /** The most packets held at once. */
  peakHeld: number;
}

export class ReorderWindow {
  readonly counters: ReorderCounters = { written: 0, late: 0, forced: 0, peakHeld: 0 };
  private readonly heap: HeldPacket[] = [];
  private heldBytes = 0;
  /** Each open stream's newest key, when it last delivered (ms), whether the reader paused it; a closed stream's entry is deleted. */
  private readonly streams = new Map<number, { newest: number; lastMs: number; paused: boolean }>();
  /** The last key written. */
  private writtenKey = -Infinity;

  constructor(
    private readonly options: ReorderOptions,
    private readonly write: (p: HeldPacket) => void,
  ) {}

  get held(): number {
    return this.heap.length;
  }

  /** The bytes of the packets held. */
  get bytesHeld(): number {
    return this.heldBytes;
  }

  /** The open stream furthest behind (the smallest newest key): the one the others wait for. */
  get laggard(): number | undefined {
    let min = Infinity;
    let source: number | undefined;
    for (const [s, v] of this.streams) if (v.newest < min) [min, source] = [v.newest, s];
    return source;
  }

  /** A stream joins: until it delivers a packet it holds the others back (by the window at most). */
  open(source: number, nowMs: number): void {
    if (!this.streams.has(source)) this.streams.set(source, { newest: -Infinity, lastMs: nowMs, paused: false });
  }

  /** The reader paused a stream (it is not silent: what it has waits), or let it go on (its silence counts from now). */
  setPaused(source: number, paused: boolean, nowMs: number): void {
    const stream = this.streams.get(source);
    if (!stream || stream.paused === paused) return;
    stream.paused = paused;
    stream.lastMs = nowMs;
  }

  /** A stream ended: it holds nothing back any more. */
  close(source: number, nowMs: number): void {
    this.streams.delete(source);
    this.release(nowMs);
  }

  /** A packet arrives. */
  push(p: HeldPacket): void {
    const stream = this.streams.get(p.source);
    if (stream) {
      if (p.key > stream.newest) stream.newest = p.key;
      stream.lastMs = p.arrivedMs;
    }
    if (p.key < this.writtenKey) {
      this.counters.late++;
      this.emit(p);
      return;
    }
    this.heapPush(p);
    this.heldBytes += p.block.length;
    if (this.heap.length > this.counters.peakHeld) this.counters.peakHeld = this.heap.length;
  }

  /** Writes every packet that can go now. */
  release(nowMs: number): void {
    const safe = this.everyStreamPast(nowMs);
    while (this.heap.length > 0 && this.heap[0].key <= safe) this.emit(this.heapPop());
    while (this.heldBytes > this.options.maxHeldBytes && this.heap.length > 0) {
      this.counters.forced++;
      this.emit(this.heapPop());
    }
  }

  /** Writes everything held (the end). */
  drain(): void {
    while (this.heap.length > 0) this.emit(this.heapPop());
  }

  /** The key every open stream has passed (less its own disorder), streams silent for the window aside (not those paused): no earlier packet can come. */
  private everyStreamPast(nowMs: number): number {
    const silentSince = nowMs - this.options.windowMs;
    let min = Infinity;
    for (const s of this.streams.values()) if ((s.paused || s.lastMs > silentSince) && s.newest < min) min = s.newest;
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
