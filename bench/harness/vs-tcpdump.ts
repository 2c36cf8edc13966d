// A netcap mode against tcpdump on the same veth in the same run: UDP frames
// paced at fixed rates into v0 of a veth pair in a private namespace, netcap
// and tcpdump capturing on v1 at the same time with the same filter, both
// writing pcap files. Per rate: what each captured and lost (netcap: its
// ring loss counter; tcpdump: "dropped by kernel"), the CPU time of each
// process, and the kernel's own measure of netcap's program per run.
// A section says which mode (its netcap and tcpdump arguments, its
// program names, its words); figures are reported, never asserted.
import * as path from 'node:path';
import { udpFrame, World, inject, type Namespace } from '../../lab';
import { cpuSecondsOf, enableBpfStats, programStats } from './bpf-stats';
import { commandsBlock, num } from './format';
import { netcapSubcommandMissing, startNetcap } from './netcap-cli';
import { countPackets } from './pcap-count';
import type { BenchContext, BenchResult } from './section';
import { summarize } from './stats';
import { startTool } from './tool-process';

export const VS_TCPDUMP_RATES = [20_000, 100_000];
export const VS_TCPDUMP_FILTER = 'udp port 9';
const RECEIVER_MAC = '02:00:00:00:7c:02';

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
  netcapCpu: number;
  /** CPU seconds netcap used before it was capturing (Node start-up, compile, load). */
  netcapStartCpu: number;
  programNsPerRun: number;
  tcpdumpCaptured: number;
  tcpdumpDropped: number;
  tcpdumpCpu: number;
}

function summaryNumber(output: string, pattern: RegExp): number {
  const m = pattern.exec(output);
  return m ? Number(m[1]) : NaN;
}

async function oneRun(ctx: BenchContext, spec: VsTcpdumpSpec, world: World, ns: Namespace, rate: number, durationMs: number, tag: string): Promise<Run> {
  const ncFile = path.join(ctx.workDir, `netcap-${tag}.pcap`);
  const tdFile = path.join(ctx.workDir, `tcpdump-${tag}.pcap`);
  const nc = await startNetcap(ctx.repoRoot, [spec.subcommand, ...spec.netcapArgs(ns.name, ncFile)], { world });
  const netcapStartCpu = cpuSecondsOf(nc.tool.pid);
  const td = startTool(['tcpdump', '-i', 'v1', ...spec.tcpdumpArgs, '-n', '-U', '-w', tdFile, VS_TCPDUMP_FILTER], { world, ns });
  try {
    await td.waitFor(/listening on/, 20_000);
    const frame = udpFrame({ dstMac: RECEIVER_MAC, dstIp: '192.0.2.2', dstPort: 9 });
    const sent = await inject(ns, 'v0', [frame], { rate, count: Math.round((rate * durationMs) / 1000), durationMs, timeoutMs: durationMs + 30_000 });
    // tcpdump reads the kernel's TPACKET_V3 blocks when they fill or time out (1 s): give the last one time.
    await new Promise((r) => setTimeout(r, 1500));
    const stats = programStats(nc.tool.pid, spec.programs);
    const [ncExit, tdExit] = await Promise.all([nc.tool.stop('SIGINT'), td.stop('SIGINT')]);
    return {
      sent,
      seen: summaryNumber(ncExit.output, /(\d+) packets seen by probes/),
      netcapCaptured: countPackets(ncFile),
      netcapLost: summaryNumber(ncExit.output, /(\d+) packets lost in ring/),
      netcapCpu: ncExit.usage.cpuSeconds,
      netcapStartCpu,
      programNsPerRun: stats.runCount > 0 ? stats.runTimeNs / stats.runCount : NaN,
      tcpdumpCaptured: countPackets(tdFile),
      tcpdumpDropped: summaryNumber(tdExit.output, /(\d+) packets dropped by kernel/),
      tcpdumpCpu: tdExit.usage.cpuSeconds,
    };
  } finally {
    await Promise.all([nc.tool.stop('SIGKILL'), td.stop('SIGKILL')]);
  }
}

/** The whole section: a namespace, the rates repeated, the report. */
export async function runVsTcpdump(ctx: BenchContext, spec: VsTcpdumpSpec): Promise<BenchResult> {
  const missing = netcapSubcommandMissing(ctx.repoRoot, spec.subcommand);
  if (missing) return { markdown: `Not measured: ${missing}.`, figures: {}, skipped: [missing] };
  const world = new World(`bench-${spec.subcommand}`);
  ctx.onCleanup(() => world.destroy());
  const ns = world.addNamespace();
  ns.addVeth('v0', 'v1', { local: { mac: '02:00:00:00:7c:01' }, peer: { mac: RECEIVER_MAC, address: '192.0.2.2/24' } });
  ctx.onCleanup(enableBpfStats());
  const durationMs = ctx.quick ? 2000 : 4000;
  const repeats = Math.min(ctx.repeats, 3);
  const runs = new Map<number, Run[]>();
  const failures: string[] = [];
  for (let rep = 0; rep < repeats; rep++) {
    for (const rate of VS_TCPDUMP_RATES) {
      if (ctx.remainingMs() < durationMs + 20_000) {
        failures.push(`stopped early: the time budget ran out after ${rep} repetitions`);
        break;
      }
      ctx.log(`rep ${rep + 1}/${repeats} at ${rate} pps`);
      try {
        const r = await oneRun(ctx, spec, world, ns, rate, durationMs, `${rate}-${rep}`);
        runs.set(rate, [...(runs.get(rate) ?? []), r]);
      } catch (e) {
        failures.push(`${rate} pps, repetition ${rep + 1}: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`);
      }
    }
  }
  return report(spec, runs, failures, durationMs, repeats);
}

function report(spec: VsTcpdumpSpec, runs: Map<number, Run[]>, failures: string[], durationMs: number, repeats: number): BenchResult {
  const figures: Record<string, number> = {};
  const md: string[] = [
    `60-byte UDP frames to port 9 injected through AF_PACKET into v0 of a veth pair in a private namespace, paced at each rate`,
    `for ${durationMs / 1000} s. ${spec.describe.join('\n')}`,
    `Both use the filter \`${VS_TCPDUMP_FILTER}\` and write pcap files. Medians of ${repeats} repetitions (min..max). "captured" counts`,
    'the packets in each file; "lost" is what the tool reports (netcap: matched packets that found its ring full; tcpdump: "packets',
    'dropped by kernel"); CPU is user+system time of the process, for netcap split into start-up (before its readiness line) and',
    'capturing (after it).',
    '',
    `| offered pps | sent | netcap seen | netcap captured | netcap lost | ${spec.nsColumn} | netcap CPU s start-up + capturing | tcpdump captured | tcpdump dropped | tcpdump CPU s |`,
    '|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const rate of VS_TCPDUMP_RATES) {
    const rs = runs.get(rate) ?? [];
    if (rs.length === 0) continue;
    const s = (f: (r: Run) => number) => summarize(rs.map(f));
    const cell = (f: (r: Run) => number) => {
      const x = s(f);
      return x.n ? `${num(x.median)} (${num(x.min)}..${num(x.max)})` : '—';
    };
    md.push(
      `| ${num(rate)} | ${cell((r) => r.sent)} | ${cell((r) => r.seen)} | ${cell((r) => r.netcapCaptured)} | ${cell((r) => r.netcapLost)} | ${cell((r) => r.programNsPerRun)} | ${cell((r) => r.netcapStartCpu)} + ${cell((r) => r.netcapCpu - r.netcapStartCpu)} | ` +
        `${cell((r) => r.tcpdumpCaptured)} | ${cell((r) => r.tcpdumpDropped)} | ${cell((r) => r.tcpdumpCpu)} |`,
    );
    const k = `${spec.subcommand}.${Math.round(rate / 1000)}k`;
    figures[`${k}.netcap_captured_ratio`] = s((r) => r.netcapCaptured / r.sent).median;
    figures[`${k}.tcpdump_captured_ratio`] = s((r) => r.tcpdumpCaptured / r.sent).median;
    figures[`${k}.netcap_cpu_s`] = s((r) => r.netcapCpu - r.netcapStartCpu).median;
    figures[`${k}.netcap_startup_cpu_s`] = s((r) => r.netcapStartCpu).median;
    figures[`${k}.tcpdump_cpu_s`] = s((r) => r.tcpdumpCpu).median;
    figures[`${k}.netcap_lost`] = s((r) => r.netcapLost).median;
    figures[`${k}.program_ns_per_run`] = s((r) => r.programNsPerRun).median;
  }
  md.push('', 'Commands:', '');
  md.push(
    commandsBlock([
      ['netcap', spec.subcommand, ...spec.netcapArgs('<ns>', 'netcap.pcap')].map((a) => (/\s/.test(a) ? `'${a}'` : a)).join(' '),
      `ip netns exec <ns> tcpdump -i v1 ${spec.tcpdumpArgs.join(' ')} -n -U -w tcpdump.pcap '${VS_TCPDUMP_FILTER}'`.replace(/ {2,}/g, ' '),
      `ip netns exec <ns> inject send -i v0 -R <rate> -d ${durationMs}   # lab/inject.c`,
    ]),
  );
  if (failures.length) md.push('', ...failures.map((f) => `Note: ${f}.`));
  return { markdown: md.join('\n'), figures, skipped: failures };
}
