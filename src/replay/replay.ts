// netcap replay: transcribe a background trace with its timing into a file
// or onto an interface, weaving in injected packets (other traces at a
// moment of the timeline, hand-built packets, a live stream). Everything is
// checked before the first packet goes out (the files, the filter, the
// injection times and link types, the interface); the schedule is anchored
// to the first packet; every stop (the end, -c, --duration, a signal, a
// damaged trace) closes the output and reports what went out and how late.
import * as fs from 'node:fs';
import { UserError } from '../errors';
import { DEFAULT_SNAPLEN } from '../filter';
import { resolveInterface, resolveNetns } from '../kernel/interfaces';
import { PacketSender } from '../net/packet-sender';
import { LINKTYPE_ETHERNET, LINKTYPE_RAW } from '../output/linktypes';
import { formatNs } from './durations';
import { FileOutput } from './file-output';
import { macBytes } from './headers';
import { InterfaceOutput, SENDER_LOW_WATER } from './interface-output';
import { LinkAdapter } from './link-adapter';
import { describePace, type InjectionRequest, type ReplayOptions } from './options';
import type { OutputReport, ReplayOutput } from './output';
import { packetsFromJson, packetsFromSpec } from './packet-spec';
import { Schedule } from './schedule';
import { BackgroundSource, BuiltInjection, nextSource, traceSpanNs, TraceInjection, type TimelineSource } from './sources';
import { readStreamInjections, type StreamInjections } from './stream-injections';

/** Source MAC of Ethernet headers added to raw IP packets written to a file. */
const FILE_SOURCE_MAC = '02:00:00:00:00:01';

export interface ReplayResult {
  /** 0, or 3 when packets could not be sent (not counting those a stop left out). */
  exitCode: number;
  /** The report, one line each (without the "netcap: " prefix). */
  report: string[];
  /** Bad input found after packets went out (a damaged trace, a bad stream): exit 2 once reported. */
  failure?: UserError;
}

interface Prepared {
  background: BackgroundSource;
  injections: TimelineSource[];
  output: ReplayOutput;
  link: LinkAdapter;
}

/** Runs the replay; `signal` stops it (Ctrl-C); `log` prints one line on stderr. */
export async function runReplay(opts: ReplayOptions, signal: AbortSignal, log: (line: string) => void): Promise<ReplayResult> {
  const { background, injections, output, link } = await prepare(opts, signal);
  const schedule = new Schedule(opts.pace);
  const counts = new Map<string, number>();
  let truncated = 0;
  let scheduled = 0;
  let anchor: bigint | undefined;
  let stream: StreamInjections | undefined;
  let failure: unknown;
  let stoppedBy = '';
  // A stop drops at once what is queued but not out yet, even while finish() waits for it.
  const onAbort = (): void => output.abort();
  signal.addEventListener('abort', onAbort);
  try {
    const sources = [background, ...injections];
    for (let source = nextSource(sources); source && !signal.aborted; source = nextSource(sources)) {
      const item = await source.take();
      const due = schedule.next(item.offsetNs, item.pkt.data.length);
      if (anchor === undefined) {
        anchor = process.hrtime.bigint();
        output.start(anchor);
        log(`replaying ${opts.file} ${opts.target.kind === 'file' ? 'to' : 'onto'} ${output.label} at ${describePace(opts.pace)}`);
        if (opts.injectStream !== undefined) stream = readStreamInjections(opts.injectStream, link, (pkt) => output.injectNow(pkt, `stream ${opts.injectStream === '-' ? 'stdin' : opts.injectStream}`));
      }
      if (opts.durationNs !== undefined && (due > opts.durationNs || Number(process.hrtime.bigint() - anchor) > opts.durationNs)) {
        stoppedBy = '--duration';
        break;
      }
      const wait = output.schedule(item, due);
      if (wait) await wait;
      const from = item.injected ?? '';
      counts.set(from, (counts.get(from) ?? 0) + 1);
      if (item.pkt.data.length < item.pkt.wirelen) truncated++;
      scheduled++;
      if (opts.limit !== undefined && scheduled >= opts.limit) {
        stoppedBy = `-c ${opts.limit}`;
        break;
      }
    }
  } catch (e) {
    failure = e;
  }
  const endedNs = (): number => (anchor === undefined ? 0 : Math.max(0, Number(process.hrtime.bigint() - anchor)));
  try {
    // A damaged trace keeps what came before the damage: that goes out.
    if (signal.aborted || (failure && !(failure instanceof UserError))) output.abort();
    else await output.finish();
    await stream?.stop();
    if (!signal.aborted && !failure) await output.finish();
  } catch (e) {
    failure ??= e;
    output.abort();
  } finally {
    signal.removeEventListener('abort', onAbort);
    await output.close();
    await background.close();
    for (const s of injections) await s.close();
  }
  if (failure && !(failure instanceof UserError)) throw failure;
  const elapsed = endedNs();
  const report = output.report();
  const lines = reportLines(opts, output, report, { counts, background, stream, elapsed, truncated, stoppedBy: signal.aborted ? 'a signal' : stoppedBy });
  const failed = Object.entries(report.notDone).filter(([why]) => why !== 'stopped before their time');
  return { exitCode: failed.length ? 3 : 0, report: lines, failure: (failure as UserError | undefined) ?? stream?.failure };
}

/** Opens and checks everything before the first packet: any problem is a UserError with nothing sent. */
async function prepare(opts: ReplayOptions, signal: AbortSignal): Promise<Prepared> {
  let sender: PacketSender | undefined;
  /** An interface's link type; a file takes the background's. */
  let outputLinktype: number | undefined;
  let sourceMac = FILE_SOURCE_MAC;
  if (opts.target.kind === 'interface') {
    const netns = resolveNetns(opts.target.netns);
    resolveInterface(opts.target.name, netns);
    sender = PacketSender.open(opts.target.name, netns, { spinNs: opts.spinNs, lowWater: SENDER_LOW_WATER });
    try {
      const iface = sender.iface;
      const where = netns.label === 'current' ? iface.name : `${iface.name} in network namespace ${netns.label}`;
      if (!iface.up) throw new UserError(`${where} is down`, `bring it up first: ip${netns.label === 'current' ? '' : ` -n ${netns.label}`} link set ${iface.name} up`);
      if (!iface.running) throw new UserError(`${where} has no carrier (a veth whose peer is down?)`, 'bring the link\'s other end up first');
      if (typeof iface.link === 'object') throw new UserError(`${where} is neither Ethernet nor raw IP (ARPHRD ${iface.link.arphrd})`, 'netcap replay sends onto Ethernet, loopback and raw-IP (tun) interfaces');
      outputLinktype = iface.link === 'ethernet' ? LINKTYPE_ETHERNET : LINKTYPE_RAW;
      sourceMac = iface.mac;
    } catch (e) {
      sender.close();
      throw e;
    }
  }
  const ethernet = opts.addEthernet === undefined ? undefined : { dst: macBytes(opts.addEthernet)!, src: macBytes(sourceMac)! };
  const linkFor = (bgLinktype: number): LinkAdapter =>
    new LinkAdapter(outputLinktype ?? (ethernet && bgLinktype === LINKTYPE_RAW ? LINKTYPE_ETHERNET : bgLinktype), ethernet);
  let background: BackgroundSource | undefined;
  const injections: TimelineSource[] = [];
  try {
    background = await BackgroundSource.open({ file: opts.file, expression: opts.expression, engine: opts.engine, loops: opts.loops, linkFor });
    const link = background.link;
    if (opts.injections.length) {
      const span = await traceSpanNs(opts.file);
      for (const inj of opts.injections) {
        if (inj.atNs > span) throw new UserError(`--inject ${inj.label}: ${formatNs(inj.atNs)} is after the end of ${opts.file} (it spans ${formatNs(span)})`, 'give a moment between 0 and the trace\'s span (capinfos shows it)');
        injections.push(await openInjection(inj, link));
      }
    }
    const target = opts.target;
    const output: ReplayOutput =
      target.kind === 'interface'
        ? new InterfaceOutput(sender!)
        : new FileOutput({
            path: target.path,
            format: target.format,
            linktype: link.linktype,
            snaplen: DEFAULT_SNAPLEN, // injected packets may be longer than the background's snap length
            nanosecond: background.format === 'pcapng' || background.nanosecond || target.stamp === 'now',
            interfaceName: background.firstInterface.name,
            comment: commandComment(opts),
            stamp: target.stamp,
            timelineBaseNs: background.firstTsNs,
            signal,
          });
    return { background, injections, output, link };
  } catch (e) {
    sender?.close();
    await background?.close();
    for (const s of injections) await s.close();
    throw e;
  }
}

async function openInjection(inj: InjectionRequest, link: LinkAdapter): Promise<TimelineSource> {
  if (inj.kind === 'trace') return TraceInjection.open(inj.what, inj.atNs, inj.label, link);
  if (inj.kind === 'spec') return new BuiltInjection(packetsFromSpec(inj.what, link.linktype), inj.atNs, inj.label);
  let json: unknown;
  try {
    json = JSON.parse(fs.readFileSync(inj.what, 'utf8'));
  } catch (e) {
    throw new UserError(`--inject ${inj.label}: ${inj.what} is not readable JSON: ${(e as Error).message}`, 'a packet spec file holds {"kind": "udp", ...} or an array of such objects');
  }
  return new BuiltInjection(packetsFromJson(json, inj.what, link.linktype), inj.atNs, inj.label);
}

function commandComment(opts: ReplayOptions): string {
  const parts = ['netcap replay -r', opts.file];
  if (opts.expression) parts.push('-e', JSON.stringify(opts.expression));
  for (const i of opts.injections) parts.push('--inject', i.label);
  if (opts.injectStream !== undefined) parts.push('--inject-stream', opts.injectStream);
  return parts.join(' ');
}

interface Tally {
  counts: Map<string, number>;
  background: BackgroundSource;
  stream: StreamInjections | undefined;
  elapsed: number;
  truncated: number;
  stoppedBy: string;
}

function reportLines(opts: ReplayOptions, output: ReplayOutput, r: OutputReport, t: Tally): string[] {
  const verb = opts.target.kind === 'file' ? 'wrote' : 'sent';
  const sources = [`${t.counts.get('') ?? 0} of ${t.background.read} read from ${opts.file}${opts.expression ? ` (filter "${opts.expression}")` : ''}${opts.loops > 1 ? ` over ${opts.loops} loops` : ''}`];
  for (const [from, n] of t.counts) if (from) sources.push(`${n} from ${from}`);
  if (t.stream) sources.push(`${t.stream.count} streamed from ${opts.injectStream === '-' ? 'stdin' : opts.injectStream}`);
  const lines = [`${verb} ${r.done} packets ${opts.target.kind === 'file' ? 'to' : 'onto'} ${output.label} in ${formatNs(t.elapsed)}${t.stoppedBy ? ` (stopped by ${t.stoppedBy})` : ''}: ${sources.join(', ')}`];
  const l = r.lateness;
  if (opts.pace.kind !== 'topspeed' && l.count > 0) {
    lines.push(`lateness against the schedule: p50 ${formatNs(l.p50Ns)}, p99 ${formatNs(l.p99Ns)}, max ${formatNs(l.maxNs)}; total drift ${formatNs(l.driftNs)} (${r.clock})`);
  } else if (opts.pace.kind === 'topspeed' && t.elapsed > 0) {
    lines.push(`rate ${Math.round(r.done / (t.elapsed / 1e9))} packets/s`);
  }
  const notDone = Object.entries(r.notDone).map(([why, n]) => `${n} ${why}`);
  if (opts.target.kind === 'interface') lines.push(`${r.done} sent, ${r.retried} ENOBUFS retries${notDone.length ? `, not sent: ${notDone.join(', ')}` : ', none failed'}`);
  else if (notDone.length) lines.push(`not written: ${notDone.join(', ')}`);
  if (t.truncated && opts.target.kind === 'interface') lines.push(`${t.truncated} packets were cut short in the trace (captured length < wire length) and went out as captured`);
  return lines;
}
