// The replay's timeline: the background trace (streamed, filtered, looped)
// and the --inject sources, each yielding packets at an offset in ns after
// the background's first packet; nextSource() merges them in time order.
import { UserError } from '../errors';
import { compileCbpf, DEFAULT_SNAPLEN } from '../filter';
import { openCaptureStream, type CaptureStream } from '../output/capture-stream';
import { dltForLinktype } from '../output/linktypes';
import type { CaptureInterface, CapturedPacket } from '../output/packet';
import { createEngine, type EngineName, type FilterEngine } from '../read/engines';
import type { LinkAdapter } from './link-adapter';
import type { BuiltPacket } from './packet-spec';

/** One packet on the replay's timeline. */
export interface TimelinePacket {
  /** ns after the background's first packet (its loop's shift included). */
  offsetNs: number;
  /** The packet, its bytes already in the output's link type. */
  pkt: CapturedPacket;
  /** The --inject it came from ("probe.pcap@2.5s"); undefined for the background. */
  injected?: string;
}

export interface TimelineSource {
  /**
   * The offset of the next packet, or undefined when the source is done.
   * Throws what went wrong reading on after the packet take() gave last
   * (a damaged file): that packet is delivered first.
   */
  peek(): number | undefined;
  /** The next packet (peek() was not undefined). */
  take(): Promise<TimelinePacket>;
  close(): Promise<void>;
}

interface OpenedTrace {
  stream: CaptureStream;
  it: AsyncGenerator<CapturedPacket>;
  first: CapturedPacket;
}

/**
 * Opens a trace, reads its first packet and hands all three to `use`; an
 * empty trace is a UserError (`empty` names what it was for), and the trace
 * is closed again if anything throws.
 */
async function withFirstPacket<T>(file: string, empty: string, use: (t: OpenedTrace) => T | Promise<T>): Promise<T> {
  const stream = await openCaptureStream(file);
  try {
    const it = stream.packets();
    const r = await it.next();
    if (r.done) {
      if (stream.info.damage) throw damaged(file, stream.info.damage, 0);
      throw new UserError(`${empty}: ${file} holds no packet`, 'give a trace with packets');
    }
    return await use({ stream, it, first: r.value });
  } catch (e) {
    await stream.close();
    throw e;
  }
}

/**
 * A source streamed from a trace: it holds its next packet; take() reads
 * the one after, and what goes wrong doing so surfaces at the next peek(),
 * once the packet taken has been delivered.
 */
abstract class StreamedSource implements TimelineSource {
  protected nextPacket: TimelinePacket | undefined;
  private failure: unknown;

  /** Makes the packet after the one just taken nextPacket (or leaves it undefined at the end). */
  protected abstract readNext(): Promise<void>;
  abstract close(): Promise<void>;

  peek(): number | undefined {
    if (!this.nextPacket && this.failure) throw this.failure;
    return this.nextPacket?.offsetNs;
  }

  async take(): Promise<TimelinePacket> {
    const out = this.nextPacket!;
    this.nextPacket = undefined;
    await this.readNext().catch((e: unknown) => (this.failure = e));
    return out;
  }
}

function damaged(file: string, warning: string, kept: number): UserError {
  return new UserError(`${file} is damaged: ${warning}`, kept ? `the ${kept} packets before it were replayed` : 'no packet before it could be read');
}

function linktypeOf(stream: CaptureStream, pkt: CapturedPacket): number {
  return stream.info.interfaces[pkt.ifIndex]?.linktype ?? stream.info.interfaces[0].linktype;
}

export interface BackgroundOptions {
  file: string;
  expression: string;
  engine: EngineName;
  loops: number;
  /** The output's link adapter, given the trace's first link type (a file output takes the trace's). */
  linkFor: (linktype: number) => LinkAdapter;
}

/**
 * The background trace, `loops` times. Each pass streams the file again
 * (constant memory whatever its size); pass k is shifted by k times the
 * trace's span plus one mean gap, so the passes follow each other.
 */
export class BackgroundSource extends StreamedSource {
  /** Timestamp of the trace's first packet: offset 0 of the timeline. */
  readonly firstTsNs: bigint;
  /** The first packet's link type (the output's, for -w). */
  readonly linktype: number;
  /** The file's format and timestamp precision (for -w defaults). */
  readonly format: 'pcap' | 'pcapng';
  readonly nanosecond: boolean;
  readonly firstInterface: CaptureInterface;
  /** What every source's packets are converted with. */
  readonly link: LinkAdapter;
  read = 0;
  kept = 0;
  private readonly engines = new Map<string, FilterEngine>();
  private pass = 0;
  private shiftNs = 0;
  private lastOffsetNs = 0;
  private passRead = 0;

  private constructor(
    private readonly opts: BackgroundOptions,
    private stream: CaptureStream,
    private it: AsyncGenerator<CapturedPacket>,
    first: CapturedPacket,
  ) {
    super();
    this.firstTsNs = first.tsNs;
    this.firstInterface = stream.info.interfaces[first.ifIndex];
    this.linktype = this.firstInterface.linktype;
    this.format = stream.info.format;
    this.nanosecond = stream.info.nanosecond;
    this.link = opts.linkFor(this.linktype);
  }

  /** Opens the trace and reads its first packet; an empty or unreadable trace is a UserError. */
  static open(opts: BackgroundOptions): Promise<BackgroundSource> {
    return withFirstPacket(opts.file, '-r', async ({ stream, it, first }) => {
      const source = new BackgroundSource(opts, stream, it, first);
      // The filter compiles now: a bad expression fails before anything is sent.
      await source.advance(first);
      return source;
    });
  }

  protected readNext(): Promise<void> {
    return this.advance();
  }

  /** Reads on to the next kept packet (starting with `pending` when given), across passes. */
  private async advance(pending?: CapturedPacket): Promise<void> {
    for (;;) {
      let pkt = pending;
      pending = undefined;
      if (!pkt) {
        const r = await this.it.next();
        if (r.done) {
          const damage = this.stream.info.damage;
          if (damage) throw damaged(this.opts.file, damage, this.kept);
          if (!(await this.nextPass())) return;
          continue;
        }
        pkt = r.value;
      }
      this.read++;
      this.passRead++;
      const offset = this.shiftNs + Number(pkt.tsNs - this.firstTsNs);
      this.lastOffsetNs = Math.max(this.lastOffsetNs, offset - this.shiftNs);
      const linktype = linktypeOf(this.stream, pkt);
      if (this.opts.expression && this.engineFor(this.stream.info.interfaces[pkt.ifIndex] ?? this.firstInterface).run(pkt.data, pkt.wirelen) === 0) continue;
      const where = `${this.opts.file} (packet ${this.passRead})`;
      const data = this.link.adapt(pkt.data, linktype, where);
      this.kept++;
      this.nextPacket = { offsetNs: offset, pkt: data === pkt.data ? pkt : { ...pkt, data, wirelen: pkt.wirelen + data.length - pkt.data.length } };
      return;
    }
  }

  private async nextPass(): Promise<boolean> {
    await this.stream.close();
    this.pass++;
    if (this.pass >= this.opts.loops || this.passRead === 0) return false;
    const meanGap = this.passRead > 1 ? this.lastOffsetNs / (this.passRead - 1) : 0;
    this.shiftNs += this.lastOffsetNs + meanGap;
    this.lastOffsetNs = 0;
    this.passRead = 0;
    this.stream = await openCaptureStream(this.opts.file);
    this.it = this.stream.packets();
    return true;
  }

  private engineFor(iface: CaptureInterface): FilterEngine {
    // One program per link type and snap length, as netcap read does.
    const snaplen = iface.snaplen || DEFAULT_SNAPLEN;
    const key = `${iface.linktype}/${snaplen}`;
    let engine = this.engines.get(key);
    if (!engine) {
      engine = createEngine(this.opts.engine, compileCbpf(this.opts.expression, { linktype: dltForLinktype(iface.linktype), snaplen }));
      this.engines.set(key, engine);
    }
    return engine;
  }

  async close(): Promise<void> {
    await this.stream.close();
    for (const e of this.engines.values()) e.close();
    this.engines.clear();
  }
}

/**
 * The span of a trace (last timestamp minus first), read through once
 * without keeping packets: what --inject @TIME is checked against before
 * anything is sent.
 */
export async function traceSpanNs(file: string): Promise<number> {
  const stream = await openCaptureStream(file);
  try {
    let first: bigint | undefined;
    let last = 0n;
    for await (const pkt of stream.packets()) {
      first ??= pkt.tsNs;
      if (pkt.tsNs > last) last = pkt.tsNs;
    }
    return first === undefined ? 0 : Number(last - first);
  } finally {
    await stream.close();
  }
}

/** An --inject trace: its packets from `atNs` on, keeping their own spacing. */
export class TraceInjection extends StreamedSource {
  private count = 0;

  private constructor(
    private readonly stream: CaptureStream,
    private readonly it: AsyncGenerator<CapturedPacket>,
    private readonly firstTsNs: bigint,
    private readonly atNs: number,
    private readonly label: string,
    private readonly file: string,
    private readonly link: LinkAdapter,
  ) {
    super();
  }

  /** Opens the trace and checks its first packet's link type against the output's. */
  static open(file: string, atNs: number, label: string, link: LinkAdapter): Promise<TraceInjection> {
    return withFirstPacket(file, `--inject ${label}`, ({ stream, it, first }) => {
      link.check(linktypeOf(stream, first), `--inject ${file}`);
      const source = new TraceInjection(stream, it, first.tsNs, atNs, label, file, link);
      source.hold(first);
      return source;
    });
  }

  protected async readNext(): Promise<void> {
    const r = await this.it.next();
    if (!r.done) this.hold(r.value);
    else if (this.stream.info.damage) throw damaged(this.file, this.stream.info.damage, this.count);
  }

  private hold(pkt: CapturedPacket): void {
    this.count++;
    const data = this.link.adapt(pkt.data, linktypeOf(this.stream, pkt), `--inject ${this.file} (packet ${this.count})`);
    this.nextPacket = { offsetNs: this.atNs + Number(pkt.tsNs - this.firstTsNs), pkt: { ...pkt, data, wirelen: pkt.wirelen + data.length - pkt.data.length }, injected: this.label };
  }

  close(): Promise<void> {
    return this.stream.close();
  }
}

/** Hand-built packets (a spec or a JSON file) at `atNs`. */
export class BuiltInjection implements TimelineSource {
  private i = 0;

  constructor(
    private readonly packets: BuiltPacket[],
    private readonly atNs: number,
    private readonly label: string,
  ) {}

  peek(): number | undefined {
    return this.i < this.packets.length ? this.atNs + this.packets[this.i].afterNs : undefined;
  }

  take(): Promise<TimelinePacket> {
    const p = this.packets[this.i++];
    return Promise.resolve({ offsetNs: this.atNs + p.afterNs, pkt: { ifIndex: 0, tsNs: 0n, data: p.data, wirelen: p.data.length }, injected: this.label });
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

/**
 * The source whose packet comes next on the timeline (undefined when all
 * are done); on a tie the earlier source (the background first, then the
 * --inject options in their order) goes first. A plain function, not an
 * async generator: at top speed every promise per packet shows.
 */
export function nextSource(sources: readonly TimelineSource[]): TimelineSource | undefined {
  let best: TimelineSource | undefined;
  let bestOffset = Infinity;
  for (const source of sources) {
    const o = source.peek();
    if (o !== undefined && o < bestOffset) {
      best = source;
      bestOffset = o;
    }
  }
  return best;
}
