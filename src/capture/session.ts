// The capture session every mode shares (mbuf, raw, skb), shaped like a
// libbpf-bootstrap tool: the caller has built and loaded its programs; the
// session opens the outputs, attaches every probe, says "listening on ..."
// once on stderr, reads the ring into the outputs, and ends on -c N, a
// signal (SIGINT/SIGTERM/SIGHUP), --duration, the traced process exiting,
// or an error. Every exit path goes the same way: detach every probe,
// drain what the ring still holds, flush and close the outputs (pcapng gets
// its statistics), close programs and maps, print the summary.
//
// Exit status: 0; EXIT_PACKETS_LOST (3) when the ring was full for some
// matched packets (so scripts notice), unless lossOk; 1 on an internal
// error; UserErrors (2) are thrown before anything is attached.
import type { BpfMap } from '../bpf/map';
import { u32 } from '../bpf/map';
import { RingReader, type RecordBatch } from '../bpf/ringbuf';
import type { Link } from '../bpf/link/link';
import type { Closer } from '../bpf/registry';
import type { CaptureInterface, CaptureStatistics, CapturedPacket } from '../output/packet';
import { WallClock } from './clock';
import { COUNTER, COUNTERS_PER_POINT, decodeRecord, type PacketRecord } from './record';
import { openSinks, type SinkOptions } from './sinks';
import { formatSummary, type PointCounts } from './summary';
import { StatusLine } from './status-line';
import { startupMark } from './startup-trace';

export const EXIT_PACKETS_LOST = 3;
/** How often the ring is read without a wake-up: the longest a lone packet waits. */
export const DRAIN_INTERVAL_MS = 10;

export interface SessionPoint {
  /** "mbuf:l2fwd_simple_forward@1": pcapng interface name, summary line. */
  name: string;
  /** Output link type (LINKTYPE_ETHERNET = 1, LINKTYPE_RAW = 101). */
  linktype: number;
}

export interface SessionOptions extends SinkOptions {
  /** -c N: stop after writing N packets. */
  count?: number;
  /** --duration: stop after this many milliseconds of capture. */
  durationMs?: number;
  /** -U: flush the outputs after every batch of packets. */
  flushEachPacket?: boolean;
  /** Exit 0 even when packets were lost in the ring. */
  lossOk?: boolean;
  /** Status line on stderr once a second (only when stderr is a terminal). */
  status?: boolean;
}

export interface CaptureSpec {
  /** Capture points in the order the probes number them (record.point). */
  points: SessionPoint[];
  ring: BpfMap;
  counters: BpfMap;
  /** Attaches every probe. Called once, after the outputs are open; may throw (nothing stays attached). */
  attach(): Link[];
  /** Loaded programs and maps, closed after the links (reverse order). */
  resources: Closer[];
  /** What follows "listening on " in the readiness line. */
  readiness: string;
  snaplen: number;
  /** The filter expression (pcapng if_filter), '' when none. */
  filter: string;
  /** End when this process exits (mbuf/raw --pid). */
  watchPid?: number;
  /** Text for the packet's pcapng comment (default: pid, tid, comm, cpu, point, addr, port). */
  describe?(rec: PacketRecord, point: SessionPoint): string;
  /**
   * Output-only interfaces listed after the points (pcapng IDBs), for
   * packets a point writes in another link type (skb mode: packets that
   * start at the IP header, LINKTYPE_RAW); toPacket picks them by ifIndex.
   * They have no counters (no statistics block) and no summary line.
   */
  extraInterfaces?: SessionPoint[];
  /** Turns a record into the packet written (default: the bytes as captured). */
  toPacket?(rec: PacketRecord, tsNs: bigint, comment: string): CapturedPacket;
  /** Where the readiness line, messages and the summary go (default process.stderr). */
  stderr?: NodeJS.WritableStream;
}

export interface SessionResult {
  exitCode: number;
  /** Packets written to the outputs. */
  captured: number;
  perPoint: PointCounts[];
  /** Why it ended: 'count', 'signal', 'duration', 'process-exit', 'error'. */
  reason: string;
}

/** The metadata text netcap puts in a pcapng comment. */
export function defaultDescribe(rec: PacketRecord, point: SessionPoint): string {
  const addrName = point.name.startsWith('skb:') ? 'skb' : point.name.startsWith('raw:') ? 'data' : 'mbuf';
  const where = point.name.startsWith('skb:') ? `ifindex=${rec.ifindex}` : `port=${rec.ifindex}`;
  const parts = [`pid=${rec.pid}`, `tid=${rec.tid}`, `comm=${rec.comm}`, `cpu=${rec.cpu}`, `point=${point.name}`, `${addrName}=0x${rec.addr.toString(16)}`, where];
  if (rec.readFailed) parts.push('truncated=read-error');
  return parts.join(' ');
}

/** Sums the per-CPU counters of every point. */
export function readCounters(counters: BpfMap, points: number): PointCounts[] {
  const out: PointCounts[] = [];
  for (let p = 0; p < points; p++) {
    const get = (k: number) => counters.sumU64(u32(p * COUNTERS_PER_POINT + k));
    out.push({ seen: get(COUNTER.seen), matched: get(COUNTER.matched), lost: get(COUNTER.lost), readErrors: get(COUNTER.readErrors), captured: 0n });
  }
  return out;
}

/** Runs a capture to its end; resolves with the exit status (never throws after attaching). */
export async function runCapture(spec: CaptureSpec, opts: SessionOptions): Promise<SessionResult> {
  const stderr = spec.stderr ?? process.stderr;
  const interfaces: CaptureInterface[] = [...spec.points, ...(spec.extraInterfaces ?? [])].map((p) => ({
    linktype: p.linktype,
    snaplen: spec.snaplen,
    name: p.name,
    description: spec.filter ? `netcap ${p.name} filter "${spec.filter}"` : `netcap ${p.name}`,
    filter: spec.filter || undefined,
  }));
  // Outputs first: a bad -w path or -t flag fails before anything is attached.
  const sinks = openSinks(opts, interfaces);
  startupMark('outputs open');
  const clock = new WallClock();
  const captured = spec.points.map(() => 0n);
  let written = 0;
  let writing: Promise<void> = Promise.resolve();
  let failure: unknown;
  let finish!: (reason: string) => void;
  const ended = new Promise<string>((resolve) => (finish = resolve));
  for (const s of sinks) void s.ended?.then((r) => finish(r));
  let stopping = false;

  let firstBatch = true;
  const deliver = (batch: RecordBatch) => {
    if (firstBatch) startupMark('first records read from the ring');
    firstBatch = false;
    const packets: CapturedPacket[] = [];
    for (const raw of batch) {
      if (opts.count !== undefined && written >= opts.count) break;
      const rec = decodeRecord(raw);
      const point = spec.points[rec.point] ?? { name: `point${rec.point}`, linktype: 1 };
      const tsNs = clock.toRealtime(rec.tsNs);
      const comment = (spec.describe ?? defaultDescribe)(rec, point);
      packets.push(spec.toPacket ? spec.toPacket(rec, tsNs, comment) : { ifIndex: rec.point, tsNs, data: rec.data, wirelen: rec.wirelen, comment, direction: rec.direction });
      written++;
      if (rec.point < captured.length) captured[rec.point]++;
    }
    // One chained task per ring batch, not per packet: at 100k packets/s a
    // promise chain link per packet spent most of the time in GC and let
    // the ring overflow (bench/skb.ts). Order and back-pressure are kept.
    writing = writing.then(async () => {
      for (const pkt of packets) for (const s of sinks) await s.write(pkt);
      if (opts.flushEachPacket) for (const s of sinks) await s.flush();
    });
    writing.catch((e: unknown) => {
      failure ??= e;
      finish('error');
    });
    if (opts.count !== undefined && written >= opts.count) finish('count');
  };

  let reader: RingReader | undefined;
  let links: Link[] = [];
  const timers: NodeJS.Timeout[] = [];
  let status: StatusLine | undefined;
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  const onSignal = (sig: NodeJS.Signals) => {
    if (stopping) {
      // A second signal: stop waiting for slow outputs.
      for (const s of sinks) s.abort?.();
      return;
    }
    finish(`signal ${sig}`);
  };
  let reason = 'error';
  try {
    reader = new RingReader(spec.ring, deliver, {
      onError: (e) => {
        failure ??= e;
        finish('error');
      },
    });
    for (const sig of signals) process.on(sig, onSignal);
    links = spec.attach();
    startupMark('probes attached');
    const drainRing = () => {
      try {
        if (reader && !reader.closed) reader.drain();
      } catch (e) {
        failure ??= e;
        finish('error');
      }
    };
    // Probes may write without waking the reader until an eighth of the ring
    // waits (probes/common.ts emitRingOutput): read it on a short timer as
    // well, and once as soon as the event loop is free after attaching: in
    // a busy process the first packets are there within microseconds and
    // would otherwise wait a whole interval.
    timers.push(setInterval(drainRing, DRAIN_INTERVAL_MS));
    setImmediate(drainRing);
    stderr.write(`netcap: listening on ${spec.readiness}, snaplen ${spec.snaplen}${spec.filter ? `, filter "${spec.filter}"` : ''}\n`);
    if (opts.durationMs !== undefined) timers.push(setTimeout(() => finish('duration'), opts.durationMs));
    if (spec.watchPid !== undefined) {
      const pid = spec.watchPid;
      timers.push(
        setInterval(() => {
          if (!processAlive(pid)) finish('process-exit');
        }, 200),
      );
    }
    if (opts.status) status = new StatusLine(stderr, spec.points.map((p) => p.name), () => readCounters(spec.counters, spec.points.length), { captured: () => written }).start();
    reason = await ended;
  } catch (e) {
    failure ??= e;
    reason = 'error';
  }
  stopping = true;
  for (const t of timers) clearInterval(t);
  // What was already taken from the ring goes out before the probes are
  // detached: detaching a uprobe waits for an RCU grace period (tens to
  // hundreds of ms), and -c N means "after writing N packets".
  await writing.catch(() => undefined);
  for (const s of sinks) await s.flush().catch(() => undefined);
  status?.stop();

  // Detach first (no new records), then take what the ring still holds.
  for (const l of [...links].reverse()) {
    try {
      l.close();
    } catch (e) {
      failure ??= e;
    }
  }
  try {
    if (reader && !reader.closed) reader.drain();
  } catch (e) {
    failure ??= e;
  }
  reader?.close();
  let counts: PointCounts[] = spec.points.map(() => ({ seen: 0n, matched: 0n, lost: 0n, readErrors: 0n, captured: 0n }));
  try {
    counts = readCounters(spec.counters, spec.points.length);
  } catch (e) {
    failure ??= e;
  }
  counts.forEach((c, i) => (c.captured = captured[i]));
  await writing.catch(() => undefined);
  const now = clock.toRealtime(process.hrtime.bigint());
  const stats: CaptureStatistics[] = counts.map((c) => ({
    received: c.seen,
    filterAccepted: c.matched,
    osDropped: c.lost,
    delivered: c.captured,
    comment: `netcap: seen ${c.seen}, matched ${c.matched}, lost in ring ${c.lost}, read errors ${c.readErrors}`,
    tsNs: now,
  }));
  for (const s of sinks) {
    try {
      await s.close(stats);
    } catch (e) {
      failure ??= e;
    }
  }
  for (const sig of signals) process.off(sig, onSignal);
  for (const r of [...spec.resources].reverse()) {
    try {
      r.close();
    } catch (e) {
      failure ??= e;
    }
  }
  if (reason === 'process-exit') stderr.write(`netcap: process ${spec.watchPid} exited; capture ended\n`);
  if (reason === 'file-limit') stderr.write('netcap: maximum file limit reached (-G with -W)\n');
  stderr.write(formatSummary(spec.points.map((p) => p.name), counts, written));
  const lost = counts.some((c) => c.lost > 0n);
  let exitCode = lost && !opts.lossOk ? EXIT_PACKETS_LOST : 0;
  if (failure !== undefined) {
    exitCode = reportFailure(failure, stderr);
    reason = 'error';
  }
  return { exitCode, captured: written, perPoint: counts, reason };
}

function reportFailure(e: unknown, stderr: NodeJS.WritableStream): number {
  const err = e as Error & { hint?: string; exitCode?: number };
  stderr.write(`netcap: ${err?.message ?? String(e)}\n`);
  if (err?.hint) stderr.write(`  ${err.hint}\n`);
  return err?.name === 'UserError' && typeof err.exitCode === 'number' ? err.exitCode : 1;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
