// The capture library's object: one capture, from its programs being
// loaded to everything closed, with no process-wide side effects (no signal
// handlers, nothing printed, no exit codes): several can run in one process.
//
//   const c = openCapture({ mode: 'skb', points: 'tracepoint:net:netif_receive_skb', filter: 'udp' }); // src/index.ts
//   c.addOutput(sink);                  // src/output/outputs.ts, or your own PacketSink
//   c.on('packets', (batch) => ...);    // every batch as it is read, before the outputs
//   await c.start();                    // attaches; emits 'ready'
//   await c.setFilter('tcp port 80');   // atomic: no packet judged by half of each, none lost
//   c.stats();                          // per point: seen, matched, lost, read errors, captured
//   const result = await c.stop('done');
//
// Life cycle (libbpf-bootstrap's, as an object): the mode and the first
// generation of programs are loaded when the object is made (bad input
// throws UserError with nothing left open); start() attaches and reads the
// ring (on a short timer too: probes wake the reader only when an eighth of
// the ring waits); stop() — also reached by -c N, an output that ends, the
// traced point vanishing, or an error — writes what was read, detaches,
// drains the ring, closes the outputs with the final statistics, then the
// programs and maps, and resolves `ended` with the result.
import { EventEmitter } from 'node:events';
import { RingReader, type RecordBatch } from '../bpf/ringbuf';
import type { Link } from '../bpf/link/link';
import { UserError } from '../errors';
import type { CaptureInterface, CaptureStatistics, CapturedPacket } from '../output/packet';
import { LINKTYPE_ETHERNET, LINKTYPE_RAW } from '../output/linktypes';
import type { PacketSink } from '../output/outputs';
import { WallClock } from './clock';
import { CaptureMaps } from './maps';
import type { Generation, JudgeSettings, PrepareMode, PreparedMode } from './mode';
import { parseDirection, type CaptureDirection } from './direction';
import { readPointStats, type PointStats } from './stats';
import { decodeRecord, RECORD, type PacketRecord } from './record';
import { RecordPackets } from './record-packets';
import { startupMark } from './startup-trace';
import { MAX_SNAPLEN } from '../limits';

/** How often the ring is read without a wake-up while someone waits for the packets (printed, piped, -c, 'packets' listeners, --immediate-mode): the longest a lone packet waits. */
export const DRAIN_INTERVAL_MS = 10;
/**
 * The same when only files take the packets, flushed after every batch (-U,
 * no -c, no 'packets' listener; every PacketSink buffered): a packet is in
 * the file within 0.1 s. tcpdump -w -U leaves it in libpcap's buffer until
 * its 1 s timeout (measured: 24-700 ms for a lone packet), and every read
 * of the ring costs 0.1-0.5 ms of CPU whether it finds packets or not (at
 * 20k packets/s, 100 reads a second cost 2.9 times tcpdump -U's CPU).
 */
export const FLUSHED_DRAIN_INTERVAL_MS = 100;
/**
 * The same when only files take the packets and nobody waits for them (no
 * -U either): the probes wake the reader once an eighth of the ring waits,
 * so this bounds only how late the captured count is, and the event loop
 * wakes 5 times a second instead of 100 (at 100k packets/s the 10 ms timer
 * cost about as much CPU as tcpdump's whole capture).
 */
export const BUFFERED_DRAIN_INTERVAL_MS = 200;
/**
 * Record bytes read from the ring and not yet taken by every output above
 * which the reader pauses (it resumes once they are down to a quarter): an
 * output that cannot keep up (tcpdump decoding on a pipe, a slow disk, a
 * service's client) holds a bounded backlog, the ring fills, and what it
 * cannot take the probes count as lost (the summary, the pcapng statistics
 * and exit status 3 say so) instead of piling up in memory. Bytes, not
 * batches: a batch is anything from one record (a wake-up at a low rate,
 * -U) to maxBatchBytes (1 MiB), so a count of batches bounds nothing finer
 * than eight of the largest and pauses for eight of the smallest. The ring
 * is the buffer: with 16 MiB here, packets waited long enough to outlive
 * V8's young generation and netcap serve's RSS swung between 250 and 480
 * MiB at 100k packets/s; with 4 MiB (four full batches) it stays near 250
 * MiB, and nothing more is lost.
 */
const MAX_BACKLOG_BYTES = 4 << 20;
/** How often a mode is asked whether its points are still there (the traced process...). */
const VANISH_CHECK_MS = 200;

export interface CaptureOptions extends JudgeSettings {
  /** Ring size in bytes (a power of two). */
  ringBytes?: number;
  /** Stop after writing this many packets. */
  count?: number;
  /** Flush the outputs after every batch (tcpdump -U). */
  flushEachBatch?: boolean;
  /** Read the ring every DRAIN_INTERVAL_MS whatever the outputs (tcpdump --immediate-mode). */
  immediate?: boolean;
  /** The snap length output interfaces declare (default `snaplen`; a service whose snap length changes declares the most it allows). */
  interfaceSnaplen?: number;
}

export interface CaptureResult {
  /** Why it ended: 'count', 'vanished', 'file-limit', 'output-closed' (the reader of stdout went away), 'error', or the reason given to stop(). */
  reason: string;
  /** Said when reason is 'vanished': what went away. */
  message?: string;
  /** Packets written to the outputs. */
  captured: number;
  perPoint: PointStats[];
  /** What went wrong, when something did (the first failure). */
  failure?: unknown;
}

export type CaptureState = 'loaded' | 'starting' | 'running' | 'stopping' | 'ended';

interface CaptureEvents {
  ready: [];
  packets: [batch: CapturedPacket[]];
  interface: [iface: CaptureInterface, index: number];
  settings: [settings: JudgeSettings];
  /** What the mode tells the user while the capture runs (its notes before the start are mode.notes). */
  note: [message: string];
  error: [error: unknown];
  end: [result: CaptureResult];
}

export class Capture extends EventEmitter<CaptureEvents> {
  readonly mode: PreparedMode;
  readonly interfaces: CaptureInterface[] = [];
  /** Resolves once the capture has ended and every object is closed. */
  readonly ended: Promise<CaptureResult>;
  private resolveEnded!: (r: CaptureResult) => void;
  private readonly maps: CaptureMaps;
  private generation: Generation;
  private readonly sinks: PacketSink[] = [];
  /** Interface index of each (point, link type), made on first use. */
  private readonly interfaceIndex = new Map<string, number>();
  private readonly captured: number[];
  private written = 0;
  private writing: Promise<void> = Promise.resolve();
  /** Record bytes of the batches the outputs have not finished (MAX_BACKLOG_BYTES). */
  private backlogBytes = 0;
  private changing: Promise<void> = Promise.resolve();
  private failure: unknown;
  private reader: RingReader | undefined;
  private links: Link[] = [];
  private timers: NodeJS.Timeout[] = [];
  private drainTimer: NodeJS.Timeout | undefined;
  private finish: ((reason: string, message?: string) => void) | undefined;
  private readonly clock = new WallClock();
  private stateValue: CaptureState = 'loaded';
  private firstBatch = true;
  /** The fast path's columns, reused from batch to batch. */
  private columns: RecordPackets | undefined;

  /**
   * Prepares the mode and loads its first generation of programs; nothing
   * is attached yet. Throws (UserError on bad input) with nothing left open.
   */
  constructor(
    prepare: PrepareMode,
    private readonly options: CaptureOptions,
  ) {
    super();
    this.ended = new Promise((resolve) => (this.resolveEnded = resolve));
    checkSnaplen(options.snaplen);
    const settings: JudgeSettings = { expression: options.expression, snaplen: options.snaplen, ...(options.direction !== undefined ? { direction: parseDirection(options.direction) } : {}) };
    let maps: CaptureMaps | undefined;
    let mode: PreparedMode | undefined;
    try {
      mode = prepare({
        settings,
        maps: (points) => (maps ??= CaptureMaps.create({ points, ringBytes: options.ringBytes })),
        pointsAdded: () => this.pointsAdded(),
        note: (message) => this.emit('note', message),
      });
      checkDirection(mode, settings);
      mode.check(settings);
      maps ??= CaptureMaps.create({ points: mode.points.length, ringBytes: options.ringBytes });
      this.maps = maps;
      this.mode = mode;
      this.generation = mode.load(settings, this.generationMaps(options.snaplen));
    } catch (e) {
      mode?.close();
      maps?.close();
      throw e;
    }
    this.captured = mode.points.map(() => 0);
    mode.points.forEach((_, i) => this.interfaceFor(i, LINKTYPE_ETHERNET));
  }

  get state(): CaptureState {
    return this.stateValue;
  }

  /** The settings judging packets now. */
  get settings(): JudgeSettings {
    return this.generation.settings;
  }

  /** The programs judging packets now, and the attached ones (for listings). */
  describe(): string {
    return this.mode.describe(this.generation);
  }

  /** Adds an output; packets from the next batch on go to it too. Its interfaces so far are those it was opened with (`interfaces`). */
  addOutput(sink: PacketSink): void {
    this.sinks.push(sink);
    void sink.ended?.then((r) => this.finish?.(r));
  }

  /** Removes an output (it is not closed: the caller owns it now). */
  removeOutput(sink: PacketSink): void {
    const i = this.sinks.indexOf(sink);
    if (i >= 0) this.sinks.splice(i, 1);
  }

  /** Counters per point, summed over CPUs now. */
  stats(): PointStats[] {
    return readPointStats(this.maps.counters, this.mode.points.length, this.captured);
  }

  /**
   * The statistics of each output interface (pcapng ISB), from `perPoint`
   * (default: the counters now): a point's own interface has its counters,
   * raw-IP interfaces none. What the outputs are closed with; an output
   * removed while the capture runs is closed with these.
   */
  interfaceStatistics(perPoint: readonly PointStats[] = this.stats()): (CaptureStatistics | undefined)[] {
    const now = this.clock.toRealtime(process.hrtime.bigint());
    return this.interfaces.map((_, i) => {
      const point = this.mode.points.findIndex((_p, p) => this.interfaceIndex.get(`${p}/${LINKTYPE_ETHERNET}`) === i);
      const c = perPoint[point];
      if (!c) return undefined;
      return {
        received: c.seen,
        filterAccepted: c.matched,
        osDropped: c.lost,
        delivered: c.captured,
        comment: `netcap: seen ${c.seen}, matched ${c.matched}, lost in ring ${c.lost}, read errors ${c.readErrors}`,
        tsNs: now,
      };
    });
  }

  /** Attaches every point and starts reading; emits 'ready' once attached. Rejects (nothing attached) if an output is not ready or a point cannot attach. */
  async start(): Promise<void> {
    if (this.stateValue !== 'loaded') throw new Error(`start() on a capture that is ${this.stateValue}`);
    this.stateValue = 'starting';
    const finished = new Promise<{ reason: string; message?: string }>((resolve) => {
      this.finish = (reason, message) => resolve({ reason, message });
    });
    try {
      // The outputs must work before anything is attached (tcpdump has taken its flags).
      await Promise.all([this.generation.ready?.(), ...this.sinks.map((s) => s.ready)]);
      // Every batch is taken before deliver() returns (decoded copies, or written by the outputs): the kernel may reuse its bytes after.
      // The probes clamp a record to its header and snaplen (probes/common.ts emitRingOutput), snaplen at most MAX_SNAPLEN.
      this.reader = new RingReader(this.maps.ring, (batch) => this.deliver(batch), {
        onError: (e) => this.fail(e),
        reuseBatch: true,
        maxRecordBytes: RECORD.headerSize + MAX_SNAPLEN,
      });
      this.generation.install();
      this.links = this.mode.attach();
      startupMark('probes attached');
    } catch (e) {
      this.reader?.close();
      this.stateValue = 'ended';
      this.closeObjects();
      this.resolveEnded({ reason: 'error', captured: 0, perPoint: [], failure: e });
      throw e;
    }
    this.stateValue = 'running';
    for (const s of this.sinks) void s.ended?.then((r) => this.finish?.(r));
    // One read of the ring at a time; a read that finds it far behind
    // takes a batch per turn of the event loop (readRing).
    let reading = false;
    const drain = () => {
      if (reading) return;
      reading = true;
      this.readRing()
        .catch((e: unknown) => this.fail(e))
        .finally(() => (reading = false));
    };
    const tick = () => {
      drain();
      this.drainTimer = setTimeout(tick, this.drainInterval());
    };
    this.drainTimer = setTimeout(tick, this.drainInterval());
    // Once as soon as the event loop is free after attaching: in a busy
    // process the first packets are there within microseconds.
    setImmediate(drain);
    if (this.mode.vanished) {
      const vanished = this.mode.vanished.bind(this.mode);
      this.timers.push(
        setInterval(() => {
          const why = vanished();
          if (why !== undefined) this.finish?.('vanished', why);
        }, VANISH_CHECK_MS),
      );
    }
    void finished.then(({ reason, message }) => this.shutdown(reason, message));
    this.emit('ready');
  }

  /** Ends the capture (idempotent); resolves with the result once everything is closed. */
  stop(reason = 'stopped'): Promise<CaptureResult> {
    // While starting, the end waits until the points are attached.
    if (this.stateValue === 'loaded') {
      // Never started: nothing attached, no outputs written to.
      this.stateValue = 'stopping';
      void this.shutdown(reason);
    } else this.finish?.(reason);
    return this.ended;
  }

  /** Stops waiting for slow outputs (a second Ctrl-C). */
  abortOutputs(): void {
    for (const s of this.sinks) s.abort?.();
  }

  /**
   * Changes the filter while the capture runs: the new programs are built
   * and verified first (a refused expression or program throws and the old
   * filter goes on), then installed in one map update per point, so every
   * packet is judged by the old filter or the new one, and none is lost.
   */
  setFilter(expression: string): Promise<void> {
    return this.change({ expression: expression.trim() });
  }

  /** Changes the snap length while the capture runs, the same way as setFilter. */
  setSnaplen(snaplen: number): Promise<void> {
    return this.change({ snaplen });
  }

  /**
   * Changes several settings in one switch (filter, snap length, direction;
   * what is not given stays): no packet is judged by one new setting and
   * one old.
   */
  setSettings(patch: Partial<JudgeSettings>): Promise<void> {
    return this.change(patch.expression !== undefined ? { ...patch, expression: patch.expression.trim() } : patch);
  }

  /**
   * Changes the direction while the capture runs (a directional mode only),
   * the same way as setFilter: 'off' keeps the programs loaded and the
   * counters counting what the hooks see, and captures nothing until the
   * direction changes again. A direction whose hooks the capture did not
   * attach is refused by the mode.
   */
  setDirection(direction: CaptureDirection): Promise<void> {
    return this.change({ direction });
  }

  /**
   * One change after the other: each applies `patch` to the settings the
   * one before it left (two changes asked at once both take effect).
   */
  private change(patch: Partial<JudgeSettings>): Promise<void> {
    const next = this.changing.then(async () => {
      if (this.stateValue === 'stopping' || this.stateValue === 'ended') throw new UserError('the capture has ended', 'start a new capture');
      const settings: JudgeSettings = { ...this.generation.settings, ...patch };
      if (patch.direction !== undefined) settings.direction = parseDirection(patch.direction);
      checkSnaplen(settings.snaplen);
      checkDirection(this.mode, settings);
      this.mode.check(settings);
      const gen = this.mode.load(settings, this.generationMaps(settings.snaplen));
      const old = this.generation;
      try {
        await gen.ready?.();
      } catch (e) {
        gen.close();
        throw e;
      }
      if (this.stateValue === 'running') {
        try {
          gen.install();
        } catch (e) {
          old.install();
          gen.close();
          throw e;
        }
      }
      this.generation = gen;
      old.close();
      this.emit('settings', settings);
    });
    this.changing = next.catch(() => undefined);
    return next;
  }

  /** How long until the ring is read again without a wake-up (DRAIN_INTERVAL_MS, FLUSHED_DRAIN_INTERVAL_MS, BUFFERED_DRAIN_INTERVAL_MS). */
  private drainInterval(): number {
    const o = this.options;
    const waited = o.immediate === true || o.count !== undefined || this.listenerCount('packets') > 0 || this.sinks.length === 0 || !this.sinks.every((s) => s.buffered);
    if (waited) return DRAIN_INTERVAL_MS;
    return o.flushEachBatch === true ? FLUSHED_DRAIN_INTERVAL_MS : BUFFERED_DRAIN_INTERVAL_MS;
  }

  /** Points the mode appended while running: counters (within the room the maps have), an output interface each. */
  private pointsAdded(): void {
    const count = this.mode.points.length;
    if (count > this.maps.pointCapacity) throw new Error(`the mode has ${count} points; the counters have room for ${this.maps.pointCapacity}`);
    for (let point = this.captured.length; point < count; point++) {
      this.captured.push(0);
      this.interfaceFor(point, LINKTYPE_ETHERNET);
    }
  }

  private generationMaps(snaplen: number) {
    return { ring: this.maps.ring, counters: this.maps.counters, scratch: this.maps.scratchFor(snaplen), wakeupAt: this.maps.wakeupAt };
  }

  /** The output interface of a point's packets of one link type: the point's own, or a raw-IP one made on first use. */
  private interfaceFor(point: number, linktype: number): number {
    const key = `${point}/${linktype}`;
    let index = this.interfaceIndex.get(key);
    if (index !== undefined) return index;
    const name = this.mode.points[point]?.interfaceName ?? this.mode.points[point]?.name ?? `point${point}`;
    const expression = this.generation.settings.expression;
    const primary = linktype === LINKTYPE_ETHERNET;
    const iface: CaptureInterface = {
      linktype,
      snaplen: this.options.interfaceSnaplen ?? this.options.snaplen,
      name: primary ? name : `${name} (raw IP)`,
      description: expression ? `netcap ${name} filter "${expression}"` : `netcap ${name}`,
      ...(expression ? { filter: expression } : {}),
      ...(linktype === LINKTYPE_RAW ? { ethernetFallback: this.interfaceFor(point, LINKTYPE_ETHERNET) } : {}),
    };
    index = this.interfaces.push(iface) - 1;
    this.interfaceIndex.set(key, index);
    for (const s of this.sinks) s.addInterface(iface);
    this.emit('interface', iface, index);
    return index;
  }

  private deliver(batch: RecordBatch): void {
    if (this.firstBatch) startupMark('first records read from the ring');
    this.firstBatch = false;
    const limit = this.options.count;
    const count = limit === undefined ? batch.count : Math.min(batch.count, Math.max(0, limit - this.written));
    if (count === 0) return;
    if (this.mode.plainPackets) this.deliverColumns(batch, count);
    else {
      const packets: CapturedPacket[] = [];
      for (let i = 0; i < count; i++) {
        const rec = decodeRecord(batch.record(i));
        packets.push(this.packetOf(rec));
        if (rec.point < this.captured.length) this.captured[rec.point]++;
      }
      this.written += count;
      this.emit('packets', packets);
      this.writeOut(batch.span(count), this.sinks, packets, []);
    }
    if (limit !== undefined && this.written >= limit) this.finish?.('count');
  }

  /**
   * The fast path (PreparedMode plainPackets): outputs that take batches
   * write the records from the ring batch now; CapturedPackets are made
   * only for listeners and the other outputs.
   */
  private deliverColumns(batch: RecordBatch, count: number): void {
    this.columns ??= new RecordPackets(this.mode.plainPackets!, this.clock, (point, linktype) => this.interfaceFor(point, linktype), (rec) => this.packetOf(rec));
    const columns = this.columns.fill(batch, count);
    countByPoint(this.captured, columns.point, count);
    this.written += count;
    if (this.listenerCount('packets') > 0) this.emit('packets', columns.all());
    const ready: Promise<void>[] = [];
    const takers: PacketSink[] = [];
    for (const s of this.sinks) {
      if (!s.writeBatch) takers.push(s);
      else {
        try {
          ready.push(s.writeBatch(columns));
        } catch (e) {
          ready.push(Promise.reject(e));
        }
      }
    }
    this.writeOut(batch.span(count), takers, takers.length ? columns.all() : [], ready);
  }

  /** A record as the packet outputs write: the mode's packet on its output interface, with wall-clock time. */
  private packetOf(rec: PacketRecord): CapturedPacket {
    const p = this.mode.packet(rec);
    return {
      ifIndex: this.interfaceFor(rec.point, p.linktype),
      tsNs: this.clock.toRealtime(rec.tsNs),
      data: p.data,
      wirelen: p.wirelen,
      meta: p.meta,
      ...(p.direction ? { direction: p.direction } : {}),
      ...(p.verdict ? { verdict: p.verdict } : {}),
      ...(p.linktype === LINKTYPE_RAW && rec.protocol ? { etherType: rec.protocol } : {}),
    };
  }

  /**
   * Hands `packets` to `takers` and waits for `ready` (the outputs that
   * took the batch already). One chained task per ring batch: at 100k
   * packets/s a promise per packet spent most of the time in GC and let the
   * ring overflow. Order and back-pressure are kept.
   */
  private writeOut(bytes: number, takers: readonly PacketSink[], packets: readonly CapturedPacket[], ready: Promise<void>[]): void {
    const sinks = [...this.sinks];
    const writers = [...takers];
    for (const r of ready) r.catch(() => undefined); // failures are seen through the chain below
    this.backlogBytes += bytes;
    // Not while stopping: the last drain takes everything the ring still holds.
    if (this.backlogBytes > MAX_BACKLOG_BYTES && this.stateValue === 'running') this.reader?.pause();
    this.writing = this.writing.then(async () => {
      try {
        await Promise.all([...ready, ...writers.map((s) => s.write(packets))]);
        if (this.options.flushEachBatch) await Promise.all(sinks.map((s) => s.flush()));
      } finally {
        this.backlogBytes -= bytes;
        if (this.backlogBytes <= MAX_BACKLOG_BYTES / 4) this.reader?.resume();
      }
    });
    this.writing.catch((e: unknown) => this.fail(e));
  }

  private fail(e: unknown): void {
    this.failure ??= e;
    // An 'error' event nobody listens to would throw (EventEmitter): the
    // failure is in the result anyway.
    if (this.listenerCount('error') > 0) this.emit('error', e);
    this.finish?.('error');
  }

  private async shutdown(reason: string, message?: string): Promise<void> {
    this.stateValue = 'stopping';
    for (const t of this.timers) clearInterval(t);
    clearTimeout(this.drainTimer);
    // What was already taken from the ring goes out before the probes are
    // detached: detaching a uprobe waits for an RCU grace period (tens to
    // hundreds of ms), and -c N means "after writing N packets".
    await this.writing.catch(() => undefined);
    for (const s of this.sinks) await s.flush().catch(() => undefined);
    // Detach first (no new records), then take what the ring still holds.
    for (const l of [...this.links].reverse()) this.attempt(() => l.close());
    this.links = [];
    try {
      this.reader?.resume();
      await this.readRing();
    } catch (e) {
      this.failure ??= e;
    }
    this.reader?.close();
    await this.writing.catch(() => undefined);
    let perPoint = this.mode.points.map(() => ({ seen: 0n, matched: 0n, lost: 0n, readErrors: 0n, captured: 0n }));
    this.attempt(() => (perPoint = this.stats()));
    const stats = this.interfaceStatistics(perPoint);
    for (const s of this.sinks) {
      try {
        await s.close(stats);
      } catch (e) {
        this.failure ??= e;
      }
    }
    this.closeObjects();
    this.stateValue = 'ended';
    const result: CaptureResult = { reason: this.failure !== undefined ? 'error' : reason, captured: this.written, perPoint, ...(message !== undefined ? { message } : {}), ...(this.failure !== undefined ? { failure: this.failure } : {}) };
    this.emit('end', result);
    this.resolveEnded(result);
  }

  /** Programs and maps, newest first: the generation, the mode's own, the shared maps. */
  private closeObjects(): void {
    this.attempt(() => this.generation.close());
    this.attempt(() => this.mode.close());
    this.attempt(() => this.maps.close());
  }

  /**
   * Reads the ring a batch per turn of the event loop until no full batch
   * is left, as a wake-up delivers them: a read that finds the ring far
   * behind (after a pause of the reader, a long collection, at the stop)
   * leaves the rest to the next turns, so the sockets and files the
   * batches go to get their turn in between (netcap serve's stream clients
   * have a bounded queue, and megabytes handed over in one turn overflowed
   * it for a client reading at full speed).
   */
  private async readRing(): Promise<void> {
    while (this.reader && !this.reader.closed && this.reader.drainBatch()) await new Promise((r) => setImmediate(r));
  }

  private attempt(fn: () => void): void {
    try {
      fn();
    } catch (e) {
      this.failure ??= e;
    }
  }
}

function checkDirection(mode: PreparedMode, settings: JudgeSettings): void {
  if (settings.direction !== undefined && !mode.directional) {
    throw new UserError(`direction ${settings.direction}: this capture's points have no direction to choose`, 'only captures whose points have directions (netcap iface) take one; leave it out');
  }
}

function checkSnaplen(snaplen: number): void {
  if (!Number.isInteger(snaplen) || snaplen < 1 || snaplen > MAX_SNAPLEN) {
    throw new UserError(`snap length ${snaplen}: not a whole number between 1 and ${MAX_SNAPLEN}`, `e.g. -s 96 for headers only, or -s ${MAX_SNAPLEN}`);
  }
}

/** `captured[point]` counts the packets of each point (a loop of its own: DEVELOPERS.md, the fast path). */
function countByPoint(captured: number[], point: Uint32Array, count: number): void {
  for (let i = 0; i < count; i++) if (point[i] < captured.length) captured[point[i]]++;
}
