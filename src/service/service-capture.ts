// One capture of the service: its definition, and while it runs a capture
// of the library (src/index.ts openCapture) with two outputs: the local
// dump (mode local) and the stream hub that every stream client reads
// through. Run-time changes go to the library: filter, snap length and
// direction (interface captures, off included) in one atomic switch
// (setSettings), the mode by adding or removing the dump output.
//
// Operations on one capture run one after the other (`serial`): a change
// and a delete that cross never see half of each other.
import { MAX_SNAPLEN, openCapture, parseDirection, UserError, type Capture, type CaptureInterface, type CaptureResult, type PointStats } from '../index';
import { formatMeta } from '../output/packet';
import { KINDS } from './kinds';
import type { CaptureChange, CaptureDefinition } from './definition';
import type { DumpDirectory, DumpFileInfo } from './dump-dir';
import { LocalDump, type DumpCounters } from './local-dump';
import { blaming, Problem } from './problem';
import { RecentPackets, type DecodedPacket } from './recent-packets';
import { StreamHub, type StreamTotals } from './stream-hub';
import type { Writable } from 'node:stream';

/** starting: being attached; running; paused: direction off (attached, counting, capturing nothing); stopped: ended (by request, count, the point vanishing); failed: it could not run. */
export type CaptureStatus = 'starting' | 'running' | 'paused' | 'stopped' | 'failed';

/** What the user last asked for, kept in the state directory: a restart brings running and paused captures back as they were. */
export type DesiredState = 'running' | 'stopped';

const RECENT_PACKETS = 50;

export interface CaptureEnvironment {
  dumps: DumpDirectory;
  /** Each stream client's queue bound, in bytes. */
  queueBytes: number;
  /** The pcapng section comment of the dump and the streams. */
  sectionComment(def: CaptureDefinition): string;
  /** Called after anything the state directory keeps has changed. */
  changed(c: ServiceCapture): void;
}

export interface PointCounters {
  name: string;
  seen: number;
  matched: number;
  lost: number;
  readErrors: number;
  captured: number;
  bytes: number;
}

export interface CaptureView {
  name: string;
  definition: CaptureDefinition;
  status: CaptureStatus;
  /** Brought back from the state directory when the service started. */
  restored: boolean;
  message?: string;
  createdAt: string;
  startedAt?: string;
  counters: { points: PointCounters[]; captured: number; bytes: number };
  dump: (DumpCounters & { file: string; files: DumpFileInfo[] }) | { file: string; files: DumpFileInfo[] };
  stream: StreamTotals;
}

interface Run {
  capture: Capture;
  dump?: LocalDump;
  /** Bytes captured, by output interface. */
  bytes: number[];
  startedAtMs: number;
}

export class ServiceCapture {
  status: CaptureStatus = 'starting';
  message: string | undefined;
  private run: Run | undefined;
  private last: { perPoint: PointStats[]; names: string[]; bytes: number[]; interfaces: readonly CaptureInterface[] } | undefined;
  private readonly hub: StreamHub;
  private readonly recent = new RecentPackets(RECENT_PACKETS);
  private serial: Promise<unknown> = Promise.resolve();
  /** The dump file has been begun by this capture: later opens continue it. */
  private dumpBegun: boolean;
  private deleted = false;

  private constructor(
    public definition: CaptureDefinition,
    private readonly env: CaptureEnvironment,
    readonly restored: boolean,
    readonly createdAtMs = Date.now(),
  ) {
    this.hub = new StreamHub(env.queueBytes, () => env.sectionComment(this.definition));
    this.dumpBegun = restored;
  }

  /**
   * A new capture, running; throws a Problem (nothing left open) when it
   * cannot run: the definition is refused.
   */
  static async create(def: CaptureDefinition, env: CaptureEnvironment): Promise<ServiceCapture> {
    const c = new ServiceCapture(def, env, false);
    // The dump folder and name are checked before anything is loaded.
    env.dumps.file(def.name, def.dump);
    await c.begin(c.prepare(def));
    return c;
  }

  /** A capture brought back from the state directory: it says why when it cannot run again. */
  static async restore(def: CaptureDefinition, desired: DesiredState, createdAtMs: number, env: CaptureEnvironment): Promise<ServiceCapture> {
    const c = new ServiceCapture(def, env, true, createdAtMs);
    if (desired === 'stopped') {
      c.status = 'stopped';
      c.message = 'stopped before the service restarted';
    } else {
      try {
        env.dumps.file(def.name, def.dump);
        await c.begin(c.prepare(def));
      } catch (e) {
        c.status = 'failed';
        c.message = `not restored: ${(e as Error).message}`;
      }
    }
    return c;
  }

  get name(): string {
    return this.definition.name;
  }

  /** What the state directory keeps of the user's wish. */
  get desired(): DesiredState {
    return this.status === 'stopped' ? 'stopped' : 'running';
  }

  /** Applies a change while the capture runs (or is paused). */
  change(change: CaptureChange): Promise<void> {
    return this.serially(async () => {
      this.refuseEnded('change');
      const def: CaptureDefinition = { ...this.definition, ...change };
      const run = this.run;
      if (run) {
        // The new dump is opened first: a dump that cannot be opened changes nothing.
        const opening = def.mode === 'local' && !run.dump ? this.openDump(run.capture, def) : undefined;
        try {
          const settings = {
            ...(change.filter !== undefined ? { expression: change.filter } : {}),
            ...(change.snaplen !== undefined ? { snaplen: change.snaplen } : {}),
            ...(change.direction !== undefined ? { direction: parseDirection(change.direction) } : {}),
          };
          if (Object.keys(settings).length) await blaming(changedField(change, this.definition), () => run.capture.setSettings(settings));
        } catch (e) {
          await opening?.close([]);
          throw e;
        }
        if (opening) {
          run.capture.addOutput(opening);
          run.dump = opening;
        } else if (def.mode === 'network' && run.dump) {
          const dump = run.dump;
          run.dump = undefined;
          run.capture.removeOutput(dump);
          await dump.close(run.capture.interfaceStatistics());
        }
      }
      this.definition = def;
      if (run) this.status = runningStatus(def);
      this.env.changed(this);
    });
  }

  /** Ends the capture: its dump is closed with the statistics, its streams end; it stays to be shown and downloaded. */
  stop(reason = 'stopped'): Promise<void> {
    return this.serially(async () => {
      if (this.status === 'stopped' || this.status === 'failed') return;
      await this.endRun(reason);
      this.status = 'stopped';
      this.message = reason === 'stopped' ? 'stopped by request' : reason;
      await this.hub.end();
      this.env.changed(this);
    });
  }

  /** Stops it and lets go of everything (the dump files stay unless the caller removes them). */
  delete(): Promise<void> {
    return this.serially(async () => {
      this.deleted = true;
      await this.endRun('deleted');
      this.status = 'stopped';
      await this.hub.end();
    });
  }

  /** A new stream client on an HTTP response whose headers are sent. */
  addStreamClient(out: Writable, remote: string): void {
    this.hub.addClient(out, remote);
  }

  get streamClients(): number {
    return this.hub.clientCount;
  }

  /** The last packets, decoded, numbered above `after`. */
  recentPackets(after?: number): DecodedPacket[] {
    return this.recent.since(after);
  }

  /** Flushes the dump (so a download gets every packet written so far). */
  async flushDump(): Promise<void> {
    await this.run?.dump?.flush().catch(() => undefined);
  }

  view(): CaptureView {
    const run = this.run;
    const counters = run ? pointCounters(run.capture.stats(), run.capture.mode.points.map((p) => p.name), run.bytes, run.capture.interfaces) : this.last ? pointCounters(this.last.perPoint, this.last.names, this.last.bytes, this.last.interfaces) : [];
    const files = this.env.dumps.files(this.name);
    return {
      name: this.name,
      definition: this.definition,
      status: this.status,
      restored: this.restored,
      ...(this.message !== undefined ? { message: this.message } : {}),
      createdAt: new Date(this.createdAtMs).toISOString(),
      ...(run ? { startedAt: new Date(run.startedAtMs).toISOString() } : {}),
      counters: { points: counters, captured: sum(counters.map((c) => c.captured)), bytes: sum(counters.map((c) => c.bytes)) },
      dump: { file: this.definition.dump, files, ...(run?.dump ? run.dump.counters : {}) },
      stream: this.hub.totals(),
    };
  }

  private serially<T>(op: () => Promise<T>): Promise<T> {
    const next = this.serial.then(() => {
      if (this.deleted) throw new Problem(404, `capture '${this.name}' was deleted`, 'GET /captures lists the captures');
      return op();
    });
    this.serial = next.catch(() => undefined);
    return next;
  }

  private refuseEnded(what: string): void {
    if (this.status === 'stopped' || this.status === 'failed') {
      throw new Problem(409, `capture '${this.name}' has ${this.status === 'stopped' ? 'stopped' : 'failed'}: it cannot ${what}`, `download its dump, or delete it and create it again`);
    }
  }

  /** The library's capture for a definition: points resolved, programs loaded and verified, nothing attached. */
  private prepare(def: CaptureDefinition): Capture {
    const kind = KINDS[def.kind];
    try {
      return openCapture({
        ...kind.spec(def),
        filter: def.filter,
        snaplen: def.snaplen,
        ...(def.ringBytes !== undefined ? { ringBytes: def.ringBytes } : {}),
        ...(def.count !== undefined ? { count: def.count } : {}),
        flushEachBatch: def.flush === 'each',
        ...(def.direction !== undefined ? { direction: parseDirection(def.direction) } : {}),
        // The snap length can change while it runs: interfaces declare the most it can be.
        interfaceSnaplen: MAX_SNAPLEN,
      });
    } catch (e) {
      if (!(e instanceof UserError)) throw e;
      const field = /filter expression/.test(e.message) ? 'filter' : /snap length/.test(e.message) ? 'snaplen' : /ring/.test(e.message) ? 'ringBytes' : kind.blame(e.message);
      throw new Problem(400, e.message, e.hint, field);
    }
  }

  private openDump(capture: Capture, def: CaptureDefinition): LocalDump {
    const file = this.env.dumps.file(def.name, def.dump);
    const folder = this.env.dumps.folder(def.name);
    try {
      const dump = new LocalDump(folder, file, def, capture.interfaces, { comment: this.env.sectionComment(def), continued: this.dumpBegun });
      this.dumpBegun = true;
      return dump;
    } catch (e) {
      if (e instanceof UserError) throw new Problem(400, e.message, e.hint, 'dump');
      throw e;
    }
  }

  /** Starts a prepared capture with its outputs; on failure everything is closed and the failure thrown. */
  private async begin(capture: Capture): Promise<void> {
    let dump: LocalDump | undefined;
    const run: Run = { capture, bytes: [], startedAtMs: Date.now() };
    try {
      if (this.definition.mode === 'local') dump = run.dump = this.openDump(capture, this.definition);
      if (dump) capture.addOutput(dump);
      capture.addOutput(this.hub.runSink(capture.interfaces));
      capture.on('packets', (batch) => {
        for (const p of batch) {
          run.bytes[p.ifIndex] = (run.bytes[p.ifIndex] ?? 0) + p.data.length;
          // The pcapng comment, made once here instead of by each output (the
          // dump's writer measures it and writes it, the streams write it):
          // at 100k packets/s formatting it was a tenth of the service's time.
          if (p.meta && p.comment === undefined) p.comment = formatMeta(p.meta);
        }
        this.recent.add(batch, capture.interfaces);
      });
      await capture.start();
    } catch (e) {
      // A start that fails resolves `ended` with nothing attached; the outputs are ours to close.
      await capture.stop('error');
      await dump?.close([]);
      if (e instanceof UserError) throw new Problem(400, e.message, e.hint, KINDS[this.definition.kind].blame(e.message));
      throw e;
    }
    this.run = run;
    this.status = runningStatus(this.definition);
    this.message = undefined;
    void capture.ended.then((result) => this.ended(run, result));
  }

  /** The capture ended by itself (count, the traced process exiting, an error, the rotation's last file). */
  private ended(run: Run, result: CaptureResult): void {
    if (this.run !== run) return; // ended on purpose: the caller records it
    void this.serially(async () => {
      if (this.run !== run) return;
      this.keepLast(run, result);
      this.run = undefined;
      this.status = result.failure !== undefined ? 'failed' : 'stopped';
      this.message = describeEnd(result);
      await this.hub.end();
      this.env.changed(this);
    }).catch(() => undefined);
  }

  private async endRun(reason: string): Promise<void> {
    const run = this.run;
    if (!run) return;
    this.run = undefined;
    const result = await run.capture.stop(reason);
    this.keepLast(run, result);
  }

  private keepLast(run: Run, result: CaptureResult): void {
    this.last = { perPoint: result.perPoint, names: run.capture.mode.points.map((p) => p.name), bytes: run.bytes, interfaces: run.capture.interfaces };
  }
}

/** A running capture whose direction is off captures nothing: paused. */
function runningStatus(def: CaptureDefinition): CaptureStatus {
  return def.direction === 'off' ? 'paused' : 'running';
}

/** The field to blame when a change is refused: the one that changed (the filter first). */
function changedField(change: CaptureChange, before: CaptureDefinition): string {
  if (change.filter !== undefined && change.filter !== before.filter) return 'filter';
  if (change.direction !== undefined && change.direction !== before.direction) return 'direction';
  return change.snaplen !== undefined ? 'snaplen' : 'filter';
}

function describeEnd(result: CaptureResult): string {
  if (result.failure !== undefined) return `failed: ${(result.failure as Error)?.message ?? String(result.failure)}`;
  if (result.reason === 'count') return `stopped after ${result.captured} packets (count)`;
  if (result.reason === 'vanished') return `ended: ${result.message}`;
  if (result.reason === 'file-limit') return 'ended: the rotation wrote its last file';
  return `ended: ${result.reason}`;
}

/** Each point's counters, with the bytes of its interfaces (its own and its raw-IP one). */
function pointCounters(perPoint: readonly PointStats[], names: readonly string[], bytesByInterface: readonly number[], interfaces: readonly CaptureInterface[]): PointCounters[] {
  const bytes = names.map(() => 0);
  bytesByInterface.forEach((b, i) => {
    // A point's own interface is made first, in point order; a raw-IP one names it as its fallback.
    const point = i < names.length ? i : interfaces[i]?.ethernetFallback;
    if (point !== undefined && b) bytes[point] += b;
  });
  return perPoint.map((p, i) => ({
    name: names[i] ?? `point ${i}`,
    seen: Number(p.seen),
    matched: Number(p.matched),
    lost: Number(p.lost),
    readErrors: Number(p.readErrors),
    captured: Number(p.captured),
    bytes: bytes[i] ?? 0,
  }));
}

function sum(values: number[]): number {
  return values.reduce((a, b) => a + b, 0);
}
