// A netcap mode against tcpdump on the same veth in the same run: UDP frames
// paced at fixed rates into v0 of a veth pair in a private namespace, netcap
// and tcpdump capturing on v1 at the same time with the same filter, like
// for like: both writing the same kind of file name (tcpdump writes pcap
// whatever the name; netcap writes pcapng, with each packet's metadata as a
// comment, for .pcapng), both buffered or both with -U. Per run: what each
// captured and lost (netcap: its ring loss counter; tcpdump: "dropped by
// kernel"), the CPU time of each process while capturing, their peak RSS,
// and the kernel's own measure of netcap's program per run. Then a rate
// ladder (buffered pcap) up to the first rate tcpdump loses at, with both
// tools' losses at every step. A section says which mode (its netcap and
// tcpdump arguments, its program names, its words); figures are reported,
// never asserted.
import * as path from 'node:path';
import { loadavg } from 'node:os';
import { udpFrame, World, inject, type Namespace } from '../../lab';
import { cpuSecondsOf, enableBpfStats, programStats, runTimeOf } from './bpf-stats';
import { commandsBlock, num } from './format';
import { netcapSubcommandMissing, startNetcap } from './netcap-cli';
import { countPackets } from './pcap-count';
import type { BenchContext, BenchResult } from './section';
import { pairedRatios, summarize } from './stats';
import { startTool } from './tool-process';

export const VS_TCPDUMP_FILTER = 'udp port 9';
const RECEIVER_MAC = '02:00:00:00:7c:02';

/** What both tools write and how: a file name's format and whether each packet is flushed (-U). */
interface Variant {
  format: 'pcap' | 'pcapng';
  unbuffered: boolean;
}

/** The runs of every repetition, in order: at 100k pps every format and buffering, at 20k pps pcap. */
const MATRIX: { rate: number; variant: Variant }[] = [
  { rate: 100_000, variant: { format: 'pcap', unbuffered: false } },
  { rate: 100_000, variant: { format: 'pcap', unbuffered: true } },
  { rate: 100_000, variant: { format: 'pcapng', unbuffered: false } },
  { rate: 100_000, variant: { format: 'pcapng', unbuffered: true } },
  { rate: 20_000, variant: { format: 'pcap', unbuffered: false } },
  { rate: 20_000, variant: { format: 'pcap', unbuffered: true } },
];

/** The ladder's rates (buffered pcap), climbed until tcpdump loses or the injector cannot keep the pace. */
const LADDER = [50_000, 100_000, 200_000, 300_000, 400_000, 600_000, 800_000, 1_000_000];

export interface VsTcpdumpSpec {
  /** The netcap subcommand ("skb", "iface"), also the prefix of the figure keys. */
  subcommand: string;
  /** netcap's arguments after the subcommand, capturing on v1 of namespace `ns` into `file`. */
  netcapArgs(ns: string, file: string): string[];
  /** tcpdump's arguments between `-i v1` and the filter. */
  tcpdumpArgs: string[];
  /** netcap's programs whose run time counts. */
  programs: RegExp;
  /** What the run measures, in markdown lines (after the common first sentence). */
  describe: string[];
  /** The heading of the "ns per program run" column. */
  nsColumn: string;
}

interface Run {
  sent: number;
  seen: number;
  netcapCaptured: number;
  netcapLost: number;
  /** CPU seconds netcap used while capturing: from just before the frames to just before the stop (both tools alike). */
  netcapCpu: number;
  /** The same for the second half of the frames and after: the packet path once V8 has compiled it (both tools alike). */
  netcapCpuLate: number;
  tcpdumpCpuLate: number;
  /** CPU seconds netcap used before it was capturing (Node start-up, compile, load). */
  netcapStartCpu: number;
  netcapRssMiB: number;
  programNsPerRun: number;
  tcpdumpCaptured: number;
  tcpdumpDropped: number;
  tcpdumpCpu: number;
  tcpdumpRssMiB: number;
}

function summaryNumber(output: string, pattern: RegExp): number {
  const m = pattern.exec(output);
  return m ? Number(m[1]) : NaN;
}

const variantKey = (v: Variant): string => `${v.format}${v.unbuffered ? '_U' : ''}`;
const variantText = (v: Variant): string => `-w FILE.${v.format}${v.unbuffered ? ' -U' : ''}`;
const rateKey = (rate: number): string => `${Math.round(rate / 1000)}k`;

async function oneRun(ctx: BenchContext, spec: VsTcpdumpSpec, world: World, ns: Namespace, rate: number, durationMs: number, variant: Variant, tag: string): Promise<Run> {
  const ncFile = path.join(ctx.workDir, `netcap-${tag}.${variant.format}`);
  const tdFile = path.join(ctx.workDir, `tcpdump-${tag}.${variant.format}`);
  const flush = variant.unbuffered ? ['-U'] : [];
  const nc = await startNetcap(ctx.repoRoot, [spec.subcommand, ...spec.netcapArgs(ns.name, ncFile), ...flush], { world });
  const netcapStartCpu = cpuSecondsOf(nc.tool.pid);
  const td = startTool(['tcpdump', '-i', 'v1', ...spec.tcpdumpArgs, '-n', ...flush, '-w', tdFile, VS_TCPDUMP_FILTER], { world, ns });
  try {
    await td.waitFor(/listening on/, 20_000);
    const frame = udpFrame({ dstMac: RECEIVER_MAC, dstIp: '192.0.2.2', dstPort: 9 });
    // Both tools' CPU over the same window: from just before the frames to just before the stop.
    const ncBefore = runTimeOf(nc.tool.pid);
    const tdBefore = runTimeOf(td.pid);
    // And from half way: V8 compiles netcap's packet path in its first tens of thousands of packets, once per capture.
    let ncHalf = NaN;
    let tdHalf = NaN;
    const half = setTimeout(() => {
      ncHalf = runTimeOf(nc.tool.pid);
      tdHalf = runTimeOf(td.pid);
    }, durationMs / 2);
    const sent = await inject(ns, 'v0', [frame], { rate, count: Math.round((rate * durationMs) / 1000), durationMs, timeoutMs: durationMs + 30_000 });
    // tcpdump reads the kernel's TPACKET_V3 blocks when they fill or time out (1 s): give the last one time.
    await new Promise((r) => setTimeout(r, 1500));
    clearTimeout(half);
    const ncEnd = runTimeOf(nc.tool.pid);
    const tdEnd = runTimeOf(td.pid);
    const netcapCpu = ncEnd - ncBefore;
    const tcpdumpCpu = tdEnd - tdBefore;
    const stats = programStats(nc.tool.pid, spec.programs);
    const [ncExit, tdExit] = await Promise.all([nc.tool.stop('SIGINT'), td.stop('SIGINT')]);
    const netcapCaptured = countPackets(ncFile);
    const tcpdumpCaptured = countPackets(tdFile);
    // Seen once on this shared machine: frames sent, but neither tool saw one (nor spent CPU): the veth, not a tool, failed.
    if (sent > 0 && netcapCaptured === 0 && tcpdumpCaptured === 0) throw new Error(`the injector sent ${sent} frames but neither tool saw one: the run is void`);
    return {
      sent,
      seen: summaryNumber(ncExit.output, /(\d+) packets seen by probes/),
      netcapCaptured,
      netcapLost: summaryNumber(ncExit.output, /(\d+) packets lost in ring/),
      netcapCpu,
      netcapCpuLate: ncEnd - ncHalf,
      tcpdumpCpuLate: tdEnd - tdHalf,
      netcapStartCpu,
      netcapRssMiB: ncExit.usage.peakRssKiB / 1024,
      programNsPerRun: stats.runCount > 0 ? stats.runTimeNs / stats.runCount : NaN,
      tcpdumpCaptured,
      tcpdumpDropped: summaryNumber(tdExit.output, /(\d+) packets dropped by kernel/),
      tcpdumpCpu,
      tcpdumpRssMiB: tdExit.usage.peakRssKiB / 1024,
    };
  } finally {
    await Promise.all([nc.tool.stop('SIGKILL'), td.stop('SIGKILL')]);
  }
}

interface LadderStep {
  rate: number;
  run: Run;
}

/** The whole section: a namespace, the matrix repeated, the ladder, the report. */
export async function runVsTcpdump(ctx: BenchContext, spec: VsTcpdumpSpec): Promise<BenchResult> {
  const missing = netcapSubcommandMissing(ctx.repoRoot, spec.subcommand);
  if (missing) return { markdown: `Not measured: ${missing}.`, figures: {}, skipped: [missing] };
  const load = loadavg()[0];
  const world = new World(`bench-${spec.subcommand}`);
  ctx.onCleanup(() => world.destroy());
  const ns = world.addNamespace();
  ns.addVeth('v0', 'v1', { local: { mac: '02:00:00:00:7c:01' }, peer: { mac: RECEIVER_MAC, address: '192.0.2.2/24' } });
  ctx.onCleanup(enableBpfStats());
  const durationMs = ctx.quick ? 2000 : 4000;
  const repeats = Math.min(ctx.repeats, 3);
  const runs = new Map<string, Run[]>();
  const failures: string[] = [];
  const attempt = async (what: string, fn: () => Promise<void>): Promise<boolean> => {
    try {
      await fn();
      return true;
    } catch (e) {
      failures.push(`${what}: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`);
      return false;
    }
  };
  for (let rep = 0; rep < repeats; rep++) {
    for (const { rate, variant } of MATRIX) {
      if (ctx.remainingMs() < durationMs + 40_000) {
        failures.push(`stopped early: the time budget ran out in repetition ${rep + 1}`);
        break;
      }
      const key = `${rate}/${variantKey(variant)}`;
      ctx.log(`rep ${rep + 1}/${repeats}: ${num(rate)} pps, ${variantText(variant)}`);
      await attempt(`${num(rate)} pps ${variantText(variant)}, repetition ${rep + 1}`, async () => {
        const r = await oneRun(ctx, spec, world, ns, rate, durationMs, variant, `${rate}-${variantKey(variant)}-${rep}`);
        runs.set(key, [...(runs.get(key) ?? []), r]);
      });
    }
  }
  const ladder: LadderStep[] = [];
  const ladderMs = ctx.quick ? 1000 : 2000;
  const pcap: Variant = { format: 'pcap', unbuffered: false };
  for (const rate of LADDER) {
    if (ctx.remainingMs() < ladderMs + 20_000) {
      failures.push(`the ladder stopped at ${num(rate)} pps: the time budget ran out`);
      break;
    }
    ctx.log(`ladder: ${num(rate)} pps`);
    let step: Run | undefined;
    if (!(await attempt(`ladder at ${num(rate)} pps`, async () => void (step = await oneRun(ctx, spec, world, ns, rate, ladderMs, pcap, `ladder-${rate}`))))) break;
    ladder.push({ rate, run: step! });
    if (step!.tcpdumpDropped > 0 || step!.tcpdumpCaptured < step!.sent || step!.sent < 0.9 * rate * (ladderMs / 1000)) break;
  }
  return report(spec, runs, ladder, failures, durationMs, ladderMs, repeats, load);
}

function report(spec: VsTcpdumpSpec, runs: Map<string, Run[]>, ladder: LadderStep[], failures: string[], durationMs: number, ladderMs: number, repeats: number, load: number): BenchResult {
  const figures: Record<string, number> = {};
  const md: string[] = [
    `60-byte UDP frames to port 9 injected through AF_PACKET into v0 of a veth pair in a private namespace, paced at each rate`,
    `for ${durationMs / 1000} s. ${spec.describe.join('\n')}`,
    `Both use the filter \`${VS_TCPDUMP_FILTER}\` and write the same file name, like for like: both buffered, or both with \`-U\`. tcpdump`,
    'writes pcap whatever the name; netcap writes pcapng for `.pcapng`, with each packet\'s metadata as its comment (about twice the',
    `bytes of the packet here). Medians of ${repeats} repetitions (min..max). "captured" counts the packets in each file; "lost" is what`,
    'the tool reports (netcap: matched packets that found its ring full; tcpdump: "packets dropped by kernel"). CPU is the run time',
    'of the process\'s threads while capturing (schedstat, in ns: from just before the first frame to just before the stop, the same',
    'window for both; netcap\'s start-up, Node and loading, in its own column), and "ratio" the paired ratio netcap / tcpdump of each',
    'repetition. "ratio, 2nd half" is the same ratio from half way through the frames to the stop: netcap\'s packet path once V8 has',
    'compiled it (it does so in the first tens of thousands of packets, once per capture; the whole window counts that). Peak RSS',
    'is VmHWM of each process.',
    '',
    `| offered pps | written | sent | netcap captured | netcap lost | tcpdump captured | tcpdump dropped | netcap CPU s capturing | tcpdump CPU s | CPU ratio | CPU ratio, 2nd half | netcap start-up CPU s | netcap peak RSS MiB | tcpdump peak RSS MiB | ${spec.nsColumn} |`,
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const { rate, variant } of MATRIX) {
    const rs = runs.get(`${rate}/${variantKey(variant)}`) ?? [];
    if (rs.length === 0) continue;
    const s = (f: (r: Run) => number) => summarize(rs.map(f));
    const cell = (f: (r: Run) => number) => {
      const x = s(f);
      return x.n ? `${num(x.median)} (${num(x.min)}..${num(x.max)})` : '—';
    };
    const ratios = summarize(pairedRatios(rs.map((r) => r.netcapCpu), rs.map((r) => r.tcpdumpCpu)));
    const lateRatios = summarize(pairedRatios(rs.map((r) => r.netcapCpuLate), rs.map((r) => r.tcpdumpCpuLate)));
    const ratioCell = (x: ReturnType<typeof summarize>) => (x.n ? `${num(x.median)}x (${num(x.min)}..${num(x.max)})` : '—');
    md.push(
      `| ${num(rate)} | ${variantText(variant)} | ${cell((r) => r.sent)} | ${cell((r) => r.netcapCaptured)} | ${cell((r) => r.netcapLost)} | ${cell((r) => r.tcpdumpCaptured)} | ${cell((r) => r.tcpdumpDropped)} | ` +
        `${cell((r) => r.netcapCpu)} | ${cell((r) => r.tcpdumpCpu)} | ${ratioCell(ratios)} | ${ratioCell(lateRatios)} | ${cell((r) => r.netcapStartCpu)} | ` +
        `${cell((r) => r.netcapRssMiB)} | ${cell((r) => r.tcpdumpRssMiB)} | ${cell((r) => r.programNsPerRun)} |`,
    );
    const k = `${spec.subcommand}.${rateKey(rate)}.${variantKey(variant)}`;
    figures[`${k}.netcap_captured_ratio`] = s((r) => r.netcapCaptured / r.sent).median;
    figures[`${k}.tcpdump_captured_ratio`] = s((r) => r.tcpdumpCaptured / r.sent).median;
    figures[`${k}.netcap_cpu_s`] = s((r) => r.netcapCpu).median;
    figures[`${k}.tcpdump_cpu_s`] = s((r) => r.tcpdumpCpu).median;
    figures[`${k}.cpu_ratio_vs_tcpdump`] = ratios.median;
    figures[`${k}.cpu_ratio_vs_tcpdump_2nd_half`] = lateRatios.median;
    figures[`${k}.netcap_startup_cpu_s`] = s((r) => r.netcapStartCpu).median;
    figures[`${k}.netcap_lost`] = s((r) => r.netcapLost).median;
    figures[`${k}.tcpdump_dropped`] = s((r) => r.tcpdumpDropped).median;
    figures[`${k}.netcap_peak_rss_mib`] = s((r) => r.netcapRssMiB).median;
    figures[`${k}.tcpdump_peak_rss_mib`] = s((r) => r.tcpdumpRssMiB).median;
    figures[`${k}.program_ns_per_run`] = s((r) => r.programNsPerRun).median;
  }
  if (ladder.length) {
    md.push(
      '',
      `**Rate ladder** (\`-w FILE.pcap\`, both buffered, ${ladderMs / 1000} s per step, once), climbed until tcpdump loses a packet or the injector cannot keep the pace:`,
      '',
      '| offered pps | sent | netcap captured | netcap lost | tcpdump captured | tcpdump dropped | netcap CPU s | tcpdump CPU s |',
      '|---|---|---|---|---|---|---|---|',
      ...ladder.map(({ rate, run: r }) => `| ${num(rate)} | ${num(r.sent)} | ${num(r.netcapCaptured)} | ${num(r.netcapLost)} | ${num(r.tcpdumpCaptured)} | ${num(r.tcpdumpDropped)} | ${num(r.netcapCpu)} | ${num(r.tcpdumpCpu)} |`),
    );
    // A step counts when the injector kept the pace and the tool has every frame sent, with no loss reported.
    const paced = (step: LadderStep) => step.run.sent >= 0.9 * step.rate * (ladderMs / 1000);
    const held = (got: (r: Run) => boolean) => Math.max(0, ...ladder.filter((step) => paced(step) && got(step.run)).map((step) => step.rate));
    const tdHeld = held((r) => r.tcpdumpDropped === 0 && r.tcpdumpCaptured >= r.sent);
    const ncHeld = held((r) => r.netcapLost === 0 && r.netcapCaptured >= r.sent);
    const last = ladder[ladder.length - 1];
    md.push(
      '',
      `Highest paced step without loss: tcpdump ${tdHeld ? `${num(tdHeld)} pps` : 'none'}, netcap ${ncHeld ? `${num(ncHeld)} pps` : 'none'}` +
        (paced(last) ? '.' : ` (at ${num(last.rate)} pps the injector sent ${num(last.run.sent)} frames in ${ladderMs / 1000} s, short of the pace: that is this machine's limit, not the tools').`),
    );
    figures[`${spec.subcommand}.ladder.tcpdump_lossless_pps`] = tdHeld;
    figures[`${spec.subcommand}.ladder.netcap_lossless_pps`] = ncHeld;
  }
  md.push('', `Load average (1 min) when the section started: ${num(load)}.`, '', 'Commands:', '');
  md.push(
    commandsBlock([
      [...['netcap', spec.subcommand, ...spec.netcapArgs('<ns>', 'netcap.pcap')].map((a) => (/\s/.test(a) ? `'${a}'` : a)), '[-U]'].join(' ') + '   # and netcap.pcapng',
      `ip netns exec <ns> tcpdump -i v1 ${spec.tcpdumpArgs.join(' ')} -n [-U] -w tcpdump.pcap '${VS_TCPDUMP_FILTER}'   # and tcpdump.pcapng`.replace(/ {2,}/g, ' '),
      `ip netns exec <ns> inject send -i v0 -R <rate> -d ${durationMs}   # lab/inject.c`,
    ]),
  );
  if (failures.length) md.push('', ...failures.map((f) => `Note: ${f}.`));
  return { markdown: md.join('\n'), figures, skipped: failures };
}
