// A replay into a capture file (-w FILE, or - for stdout): the transcriber
// of the libpcap tutorial. Packets are written when they are due (Node's
// timers: millisecond-grained, which a file does not notice), stamped with
// the background's own timeline (an injected packet with the moment it was
// woven in) or, with --stamp now, with the wall clock.
import type { Writable } from 'node:stream';
import { captureFileOn, openFileStream, type CaptureFileWriter } from '../output/file-writer';
import type { CapturedPacket } from '../output/packet';
import { LatenessStats } from './lateness';
import type { OutputReport, ReplayOutput } from './output';
import type { TimelinePacket } from './sources';

export interface FileOutputOptions {
  /** A path, or '-' for stdout. */
  path: string;
  format: 'pcap' | 'pcapng';
  linktype: number;
  snaplen: number;
  /** pcap: nanosecond timestamps. */
  nanosecond: boolean;
  /** pcapng: the interface's name, and the section comment (the command line). */
  interfaceName?: string;
  comment: string;
  stamp: 'trace' | 'now';
  /** The background's first timestamp: timeline offset 0. */
  timelineBaseNs: bigint;
  signal: AbortSignal;
}

interface Written {
  offsetNs: number;
  dueNs: number;
}

const monotonicNs = (): bigint => process.hrtime.bigint();

/** Resolves after `ns` (to the millisecond), or at once when `signal` aborts. */
function sleep(ns: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, Math.round(ns / 1e6));
    signal.addEventListener('abort', done);
  });
}

export class FileOutput implements ReplayOutput {
  readonly label: string;
  private readonly file: CaptureFileWriter;
  private anchorNs = 0n;
  /** Wall-clock ns at the anchor, for --stamp now. */
  private epochAtAnchorNs = 0n;
  private chain: Promise<void> = Promise.resolve();
  private failure: unknown;
  private prev: Written | undefined;
  private next: Written | undefined;
  private readonly lateness = new LatenessStats();
  private written = 0;
  private stopped = 0;

  constructor(private readonly opts: FileOutputOptions) {
    this.label = opts.path === '-' ? 'stdout' : opts.path;
    const stream: Writable = opts.path === '-' ? process.stdout : openFileStream(opts.path);
    const iface = { linktype: opts.linktype, snaplen: opts.snaplen, ...(opts.interfaceName ? { name: opts.interfaceName } : {}) };
    this.file = captureFileOn(stream, this.label, { format: opts.format, interfaces: [iface], nanosecond: opts.nanosecond, comment: opts.comment }, opts.path !== '-');
  }

  start(anchorNs: bigint): void {
    this.anchorNs = anchorNs;
    this.epochAtAnchorNs = BigInt(Math.round((performance.timeOrigin + performance.now()) * 1e6)) - (monotonicNs() - anchorNs);
  }

  async schedule(item: TimelinePacket, dueNs: number): Promise<void> {
    this.next = { offsetNs: item.offsetNs, dueNs };
    const wait = dueNs - Number(monotonicNs() - this.anchorNs);
    if (wait > 500_000) await sleep(wait, this.opts.signal);
    if (this.opts.signal.aborted) {
      this.stopped++;
      return;
    }
    this.lateness.add(Math.max(0, Number(monotonicNs() - this.anchorNs) - dueNs));
    this.prev = this.next;
    this.next = undefined;
    await this.write(item.pkt, item.offsetNs, item.injected);
  }

  injectNow(pkt: CapturedPacket, label: string): void {
    this.write(pkt, this.position(), label).catch(() => undefined);
  }

  async finish(): Promise<void> {
    await this.chain;
    if (this.failure) throw this.failure;
  }

  abort(): void {
    // Nothing is queued: a packet waiting for its moment sees the signal.
  }

  async close(): Promise<void> {
    await this.chain;
    await this.file.close();
  }

  report(): OutputReport {
    return { done: this.written, notDone: this.stopped ? { 'stopped before their time': this.stopped } : {}, retried: 0, lateness: this.lateness.summary(), clock: "Node's timers, to the millisecond" };
  }

  /** Writes in the order of the calls (a streamed packet may come while a scheduled one is being written). */
  private write(pkt: CapturedPacket, offsetNs: number, injected: string | undefined): Promise<void> {
    const tsNs = this.opts.stamp === 'now' ? this.epochAtAnchorNs + (monotonicNs() - this.anchorNs) : this.opts.timelineBaseNs + BigInt(Math.round(offsetNs));
    // Restamped: the trace's own timestamp fields (pcapTime) no longer apply.
    const { pcapTime: _fields, ...rest } = pkt;
    const out: CapturedPacket = { ...rest, ifIndex: 0, tsNs, ...(injected ? { comment: `injected: ${injected}` } : {}) };
    this.chain = this.chain
      .then(async () => {
        if (this.failure) return;
        await this.file.writePacket(out);
        this.written++;
      })
      .catch((e: unknown) => {
        this.failure ??= e;
      });
    return this.chain.then(() => {
      if (this.failure) throw this.failure;
    });
  }

  /**
   * The transcription time now, on the timeline: between the last packet
   * written and the one waiting for its moment, in proportion to the time
   * passed between their deadlines (at top speed: the last one written).
   */
  private position(): number {
    const { prev, next } = this;
    if (!prev) return next?.offsetNs ?? 0;
    if (!next || next.dueNs <= prev.dueNs) return prev.offsetNs;
    const elapsed = Number(monotonicNs() - this.anchorNs) - prev.dueNs;
    const f = Math.min(1, Math.max(0, elapsed / (next.dueNs - prev.dueNs)));
    return prev.offsetNs + f * (next.offsetNs - prev.offsetNs);
  }
}
