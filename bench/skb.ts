// netcap skb against tcpdump on the same interface in the same run (issue 5):
// UDP frames paced at a fixed rate through a veth pair in a private
// namespace; `netcap skb -f tracepoint:net:netif_receive_skb -i v1` and
// `tcpdump -i v1` run side by side, both writing pcap files of the frames
// their filters select (all of them). Per run: what each captured and lost
// (netcap: its ring loss counter; tcpdump: "dropped by kernel"), and the
// CPU time each process used. Figures are reported, never asserted.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { udpFrame, World, inject, type Namespace } from '../lab';
import { bpfObjectsOf } from '../test/capture/netcap-child';
import { commandsBlock, num } from './harness/format';
import { netcapSubcommandMissing, startNetcap } from './harness/netcap-cli';
import { countPackets } from './harness/pcap-count';
import type { BenchContext, BenchResult, BenchSection } from './harness/section';
import { summarize } from './harness/stats';
import { startTool } from './harness/tool-process';

const RATES = [20_000, 100_000];
const FILTER = 'udp port 9';
const RECEIVER_MAC = '02:00:00:00:7c:02';

interface Run {
  sent: number;
  seenByProbe: number;
  netcapCaptured: number;
  netcapLost: number;
  netcapCpu: number;
  /** CPU seconds netcap used before it was capturing (Node start-up, BTF, compile, load). */
  netcapStartCpu: number;
  /** Kernel time per run of netcap's program (BPF stats: run_time_ns / run_cnt), every skb of the machine counted. */
  probeNsPerHit: number;
  tcpdumpCaptured: number;
  tcpdumpDropped: number;
  tcpdumpCpu: number;
}

/** utime + stime of a live process, in seconds (USER_HZ = 100). */
function cpuSecondsOf(pid: number): number {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return NaN;
  }
}

const BPF_STATS = '/proc/sys/kernel/bpf_stats_enabled';

/** The kernel's run-time statistics of the BPF programs process `pid` holds (ids from its fdinfo). */
function programStats(pid: number): { runTimeNs: number; runCount: number } {
  let runTimeNs = 0;
  let runCount = 0;
  for (const id of bpfObjectsOf(pid).programs) {
    const info = JSON.parse(execFileSync('bpftool', ['-j', 'prog', 'show', 'id', String(id)]).toString()) as { name?: string; run_time_ns?: number; run_cnt?: number };
    if (!info.name?.startsWith('ncskb_')) continue;
    runTimeNs += info.run_time_ns ?? 0;
    runCount += info.run_cnt ?? 0;
  }
  return { runTimeNs, runCount };
}

function summaryNumber(output: string, pattern: RegExp): number {
  const m = pattern.exec(output);
  return m ? Number(m[1]) : NaN;
}

async function oneRun(ctx: BenchContext, world: World, ns: Namespace, rate: number, durationMs: number, tag: string): Promise<Run> {
  const ncFile = path.join(ctx.workDir, `netcap-${tag}.pcap`);
  const tdFile = path.join(ctx.workDir, `tcpdump-${tag}.pcap`);
  const nc = await startNetcap(ctx.repoRoot, ['skb', '-f', 'tracepoint:net:netif_receive_skb', '-i', 'v1', '--netns', ns.name, '-e', FILTER, '-w', ncFile], { world });
  const netcapStartCpu = cpuSecondsOf(nc.tool.pid);
  const td = startTool(['tcpdump', '-i', 'v1', '-n', '-U', '-w', tdFile, FILTER], { world, ns });
  try {
    await td.waitFor(/listening on/, 20_000);
    const frame = udpFrame({ dstMac: RECEIVER_MAC, dstIp: '192.0.2.2', dstPort: 9 });
    const sent = await inject(ns, 'v0', [frame], { rate, count: Math.round((rate * durationMs) / 1000), durationMs, timeoutMs: durationMs + 30_000 });
    // tcpdump reads the kernel's TPACKET_V3 blocks when they fill or time out (1 s): give the last one time.
    await new Promise((r) => setTimeout(r, 1500));
    const stats = programStats(nc.tool.pid);
    const [ncExit, tdExit] = await Promise.all([nc.tool.stop('SIGINT'), td.stop('SIGINT')]);
    return {
      sent,
      seenByProbe: summaryNumber(ncExit.output, /(\d+) packets seen by probes/),
      netcapCaptured: countPackets(ncFile),
      netcapLost: summaryNumber(ncExit.output, /(\d+) packets lost in ring/),
      netcapCpu: ncExit.usage.cpuSeconds,
      netcapStartCpu,
      probeNsPerHit: stats.runCount > 0 ? stats.runTimeNs / stats.runCount : NaN,
      tcpdumpCaptured: countPackets(tdFile),
      tcpdumpDropped: summaryNumber(tdExit.output, /(\d+) packets dropped by kernel/),
      tcpdumpCpu: tdExit.usage.cpuSeconds,
    };
  } finally {
    await Promise.all([nc.tool.stop('SIGKILL'), td.stop('SIGKILL')]);
  }
}

export const section: BenchSection = {
  id: 'skb',
  title: 'netcap skb vs tcpdump on a veth at a fixed rate',
  budgetMs: 240_000,
  async run(ctx): Promise<BenchResult> {
    const missing = netcapSubcommandMissing(ctx.repoRoot, 'skb');
    if (missing) return { markdown: `Not measured: ${missing}.`, figures: {}, skipped: [missing] };
    const world = new World('bench-skb');
    ctx.onCleanup(() => world.destroy());
    const ns = world.addNamespace();
    ns.addVeth('v0', 'v1', { local: { mac: '02:00:00:00:7c:01' }, peer: { mac: RECEIVER_MAC, address: '192.0.2.2/24' } });
    // Run-time statistics of BPF programs (kernel.bpf_stats_enabled, off by default: it costs two clock reads per run).
    const statsBefore = fs.readFileSync(BPF_STATS, 'utf8').trim();
    if (statsBefore === '0') {
      fs.writeFileSync(BPF_STATS, '1');
      ctx.onCleanup(() => fs.writeFileSync(BPF_STATS, statsBefore));
    }
    const durationMs = ctx.quick ? 2000 : 4000;
    const repeats = Math.min(ctx.repeats, 3);
    const runs = new Map<number, Run[]>();
    const failures: string[] = [];
    for (let rep = 0; rep < repeats; rep++) {
      for (const rate of RATES) {
        if (ctx.remainingMs() < durationMs + 20_000) {
          failures.push(`stopped early: the time budget ran out after ${rep} repetitions`);
          break;
        }
        ctx.log(`rep ${rep + 1}/${repeats} at ${rate} pps`);
        try {
          const r = await oneRun(ctx, world, ns, rate, durationMs, `${rate}-${rep}`);
          runs.set(rate, [...(runs.get(rate) ?? []), r]);
        } catch (e) {
          failures.push(`${rate} pps, repetition ${rep + 1}: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`);
        }
      }
    }
    return report(runs, failures, ns, durationMs, repeats);
  },
};

function report(runs: Map<number, Run[]>, failures: string[], ns: Namespace, durationMs: number, repeats: number): BenchResult {
  const figures: Record<string, number> = {};
  const md: string[] = [
    `60-byte UDP frames to port 9 injected through AF_PACKET into v0 of a veth pair in a private namespace, paced at each rate`,
    `for ${durationMs / 1000} s; netcap skb (tracepoint net:netif_receive_skb, -i v1 matched by ifindex and namespace in the kernel)`,
    `and tcpdump -i v1 capture at the same time, both with the filter \`${FILTER}\` and writing pcap files.`,
    `Medians of ${repeats} repetitions (min..max). "captured" counts the packets in each file; "lost" is what the tool reports`,
    '(netcap: matched packets that found its ring full; tcpdump: "packets dropped by kernel"); CPU is user+system time of the process,',
    'for netcap split into start-up (Node, BTF, filter compile, program load: before its readiness line) and capturing (after it).',
    '"ns per probe run" is the kernel\'s own measure of netcap\'s program (kernel.bpf_stats_enabled: run_time_ns / run_cnt) over every',
    'skb the tracepoint saw, on any interface (other skbs are rejected early by the ifindex + namespace check).',
    '',
    '| offered pps | sent | netcap probe hits | netcap captured | netcap lost | ns per probe run | netcap CPU s start-up + capturing | tcpdump captured | tcpdump dropped | tcpdump CPU s |',
    '|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const rate of RATES) {
    const rs = runs.get(rate) ?? [];
    if (rs.length === 0) continue;
    const s = (f: (r: Run) => number) => summarize(rs.map(f));
    const cell = (f: (r: Run) => number) => {
      const x = s(f);
      return x.n ? `${num(x.median)} (${num(x.min)}..${num(x.max)})` : '—';
    };
    md.push(
      `| ${num(rate)} | ${cell((r) => r.sent)} | ${cell((r) => r.seenByProbe)} | ${cell((r) => r.netcapCaptured)} | ${cell((r) => r.netcapLost)} | ${cell((r) => r.probeNsPerHit)} | ${cell((r) => r.netcapStartCpu)} + ${cell((r) => r.netcapCpu - r.netcapStartCpu)} | ` +
        `${cell((r) => r.tcpdumpCaptured)} | ${cell((r) => r.tcpdumpDropped)} | ${cell((r) => r.tcpdumpCpu)} |`,
    );
    const k = `skb.${Math.round(rate / 1000)}k`;
    figures[`${k}.netcap_captured_ratio`] = s((r) => r.netcapCaptured / r.sent).median;
    figures[`${k}.tcpdump_captured_ratio`] = s((r) => r.tcpdumpCaptured / r.sent).median;
    figures[`${k}.netcap_cpu_s`] = s((r) => r.netcapCpu - r.netcapStartCpu).median;
    figures[`${k}.netcap_startup_cpu_s`] = s((r) => r.netcapStartCpu).median;
    figures[`${k}.tcpdump_cpu_s`] = s((r) => r.tcpdumpCpu).median;
    figures[`${k}.netcap_lost`] = s((r) => r.netcapLost).median;
    figures[`${k}.probe_ns_per_run`] = s((r) => r.probeNsPerHit).median;
  }
  md.push('', 'Commands:', '');
  md.push(
    commandsBlock([
      `netcap skb -f tracepoint:net:netif_receive_skb -i v1 --netns ${ns.name.replace(/-[0-9a-f]+$/, '-<random>')} -e '${FILTER}' -w netcap.pcap`,
      `ip netns exec <ns> tcpdump -i v1 -n -U -w tcpdump.pcap '${FILTER}'`,
      `ip netns exec <ns> inject send -i v0 -R <rate> -d ${durationMs}   # lab/inject.c`,
    ]),
  );
  if (failures.length) md.push('', ...failures.map((f) => `Note: ${f}.`));
  return { markdown: md.join('\n'), figures, skipped: failures };
}
