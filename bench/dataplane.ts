// Dataplane cost in DPDK (issue 7, item 1): DPDK's l2fwd forwarding a fixed
// offered rate between veth pairs in a private namespace, without capture
// and with each capture tool attached, on the same l2fwd instance:
//
//   none           no capture (the anchor)
//   bpftrace       bpftrace's empty counting uprobe on l2fwd_simple_forward (the cost of the hit alone)
//   netcap_all     netcap mbuf -f l2fwd_simple_forward@1, filter matching every frame sent
//   netcap_none    the same with a filter of the same shape matching none of them
//   netcap_burst   netcap mbuf -f l2fwd_forward_burst@1@2 (one hit per burst), matching every frame
//   netcap_port0_rx     netcap mbuf -f port:0:rx: port 0's rx burst function from rte_eth_fp_ops (entry + return
//                       probe on every poll, idle ones included), matching every frame
//   netcap_port1_tx     netcap mbuf -f port:1:tx: port 1's tx burst function (one hit per burst sent)
//   netcap_port0_inout  netcap mbuf -f port:0 (-Q inout, the default): both of port 0's burst functions
//   dumpcap        dpdk-dumpcap on port 0 (l2fwd calls rte_pdump_init; see bench/dumpcap.ts)
//
// Each run: tool started and ready, then UDP frames paced at the rate for a
// fixed time into a1, counted out of b1; the tool stopped, its capture file
// counted. Ratios are paired with the `none` run of the same repetition.
import * as path from 'node:path';
import { buildL2fwdPdump, L2FWD_BENCH_POINTS } from '../examples/l2fwd-pdump/build';
import { udpFrame, World } from '../lab';
import { dumpcapAvailable, startDumpcap } from './dumpcap';
import { commandsBlock, displayCommand, num } from './harness/format';
import { reserveHugepages } from './harness/hugepages';
import { startL2fwdPrimary, type L2fwdPrimary } from './harness/l2fwd-primary';
import { netcapSubcommandMissing, parseNetcapLost, startNetcap } from './harness/netcap-cli';
import { countPackets } from './harness/pcap-count';
import type { Usage } from './harness/process-usage';
import type { BenchContext, BenchResult, BenchSection } from './harness/section';
import { pairedRatios, summarize } from './harness/stats';
import { startTool } from './harness/tool-process';
import { runTraffic, type TrafficResult } from './harness/traffic';

/** Offered rates: 20k pps is forwarded without loss here; 100k pps is beyond what l2fwd on af_packet keeps on 2 cores. */
const RATES = [20_000, 100_000];
/** Every frame sent is UDP to port 9; the filters differ only in the port, so they cost the same to run. */
const FILTER_ALL = 'udp port 9';
const FILTER_NONE = 'udp port 7';

interface Capture {
  argv: string[];
  stop(): Promise<{ captured: number; usage: Usage; lost?: number }>;
}

interface Variant {
  id: string;
  label: string;
  start(env: Env, run: string): Promise<Capture | undefined>;
}

interface Env {
  ctx: BenchContext;
  world: World;
  l2: L2fwdPrimary;
}

interface RunRecord {
  /** The repetition it belongs to: ratios pair it with the no-capture run of the same one. */
  rep: number;
  traffic: TrafficResult;
  captured?: number;
  lost?: number;
  usage?: Usage;
}

function netcapVariant(id: string, label: string, point: string, filter: string): Variant {
  return {
    id,
    label,
    async start({ ctx, world, l2 }, run) {
      const out = path.join(ctx.workDir, `${id}-${run}.pcap`);
      const nc = await startNetcap(ctx.repoRoot, ['mbuf', '-f', point, '-e', filter, '--pid', String(l2.pid), '-w', out], { world });
      return {
        argv: [...nc.argv.slice(0, -4), '--pid', '<l2fwd>', '-w', 'out.pcap'],
        async stop() {
          const exit = await nc.tool.stop('SIGINT');
          const lost = parseNetcapLost(exit.output);
          return { captured: countPackets(out), usage: exit.usage, ...(Number.isNaN(lost) ? {} : { lost }) };
        },
      };
    },
  };
}

const VARIANTS: Variant[] = [
  { id: 'none', label: 'no capture', start: async () => undefined },
  {
    id: 'bpftrace',
    label: 'bpftrace empty counting uprobe on l2fwd_simple_forward',
    async start({ world, l2 }) {
      const marker = 'nc-bench-attached';
      const program = `BEGIN { printf("${marker}\\n"); } uprobe:${l2.binary}:l2fwd_simple_forward { @hits = count(); }`;
      const tool = startTool(['bpftrace', '-p', String(l2.pid), '-e', program], { world });
      await tool.waitFor(new RegExp(marker), 30_000);
      return {
        argv: ['bpftrace', '-p', '<l2fwd>', '-e', 'uprobe:<l2fwd>:l2fwd_simple_forward { @hits = count(); }'],
        async stop() {
          const exit = await tool.stop('SIGINT');
          const m = /^@hits: (\d+)$/m.exec(exit.output);
          // An empty count map prints nothing: the probe never fired although l2fwd forwarded.
          if (!m) throw new Error(`bpftrace counted no hits (exit ${exit.signal ?? exit.code}): ${exit.output.trim().slice(-300)}`);
          return { captured: Number(m[1]), usage: exit.usage };
        },
      };
    },
  },
  netcapVariant('netcap_all', `netcap mbuf on ${L2FWD_BENCH_POINTS.single}, filter matches all`, L2FWD_BENCH_POINTS.single, FILTER_ALL),
  netcapVariant('netcap_none', `netcap mbuf on ${L2FWD_BENCH_POINTS.single}, filter matches none`, L2FWD_BENCH_POINTS.single, FILTER_NONE),
  netcapVariant('netcap_burst', `netcap mbuf on ${L2FWD_BENCH_POINTS.burst} (burst), filter matches all`, L2FWD_BENCH_POINTS.burst, FILTER_ALL),
  netcapVariant('netcap_port0_rx', 'netcap mbuf -f port:0:rx (rx burst return), filter matches all', 'port:0:rx', FILTER_ALL),
  netcapVariant('netcap_port1_tx', 'netcap mbuf -f port:1:tx (tx burst entry), filter matches all', 'port:1:tx', FILTER_ALL),
  netcapVariant('netcap_port0_inout', 'netcap mbuf -f port:0 -Q inout (the traffic is one way: rx only has packets)', 'port:0', FILTER_ALL),
  {
    id: 'dumpcap',
    label: 'dpdk-dumpcap on port 0 (pdump)',
    async start({ ctx, world, l2 }, run) {
      const out = path.join(ctx.workDir, `dumpcap-${run}.pcapng`);
      const d = await startDumpcap(world, l2.ns, l2.filePrefix, out);
      return {
        argv: d.argv.map((a) => a.replace(out, 'out.pcapng').replace(l2.filePrefix, '<prefix>')),
        async stop() {
          const r = await d.stop();
          return { captured: countPackets(out), usage: r.usage, lost: r.dropped };
        },
      };
    },
  },
];

function availability(ctx: BenchContext): Map<string, string> {
  const skip = new Map<string, string>();
  const netcapMissing = netcapSubcommandMissing(ctx.repoRoot, 'mbuf');
  if (netcapMissing) for (const v of VARIANTS.filter((x) => x.id.startsWith('netcap_'))) skip.set(v.id, netcapMissing);
  if (!dumpcapAvailable()) skip.set('dumpcap', 'dpdk-dumpcap is not installed (Debian package dpdk-dev)');
  return skip;
}

function rateKey(rate: number): string {
  return `${Math.round(rate / 1000)}k`;
}

function pct(x: number): string {
  return Number.isFinite(x) ? `${num(x * 100)} %` : 'n/a';
}

export const section: BenchSection = {
  id: 'dataplane',
  title: 'Dataplane cost in DPDK: l2fwd forwarding with and without capture',
  budgetMs: 480_000,
  async run(ctx): Promise<BenchResult> {
    const skip = availability(ctx);
    const world = new World('bench-dataplane');
    ctx.onCleanup(() => world.destroy());
    const huge = reserveHugepages(192);
    ctx.onCleanup(() => huge.release());
    const binary = buildL2fwdPdump(path.join(ctx.repoRoot, 'examples', 'build'));
    const l2 = await startL2fwdPrimary(world, { binary, hugeDir: huge.dir });
    const env: Env = { ctx, world, l2 };
    const durationMs = ctx.quick ? 2000 : 5000;
    // Up to 3 repetitions, fewer when the budget the harness gave us would not hold them
    // (a run costs its traffic time plus ~3.5 s of tool start and stop).
    const perRepeatMs = RATES.length * VARIANTS.length * (durationMs + 3500);
    const repeats = Math.max(1, Math.min(ctx.repeats, 3, Math.floor(ctx.remainingMs() / perRepeatMs)));
    const frame = udpFrame({ dstPort: 9 });
    const records = new Map<string, RunRecord[]>();
    const commands = new Map<string, string>();
    const failures = new Map<string, string>();
    const failureCounts = new Map<string, number>();
    const runsLeft = (): number => RATES.length * repeats * VARIANTS.length;
    let done = 0;
    for (let rep = 0; rep < repeats; rep++) {
      for (const rate of RATES) {
        for (const v of VARIANTS) {
          done++;
          // Two failed runs of a variant end it (one may be a transient: a rebuild under way, a busy machine).
          if (skip.has(v.id) || (failureCounts.get(v.id) ?? 0) >= 2) continue;
          // Each run needs ~duration + a few seconds; stop early rather than overrun the budget.
          if (ctx.remainingMs() < durationMs + 15_000) {
            failures.set('budget', `stopped after ${done - 1} of ${runsLeft()} runs: the section's time budget ran out`);
            break;
          }
          const key = `${rateKey(rate)}.${v.id}`;
          ctx.log(`rep ${rep + 1}/${repeats} ${key}`);
          let capture: Capture | undefined;
          try {
            capture = await v.start(env, `${rateKey(rate)}-${rep}`);
            if (capture) commands.set(v.id, displayCommand(capture.argv));
            const traffic = await runTraffic({ ns: l2.ns, inIf: 'a1', outIf: 'b1', txCounterIf: 'b0', frames: [frame], rate, durationMs });
            const rec: RunRecord = { rep, traffic };
            if (capture) {
              const r = await capture.stop();
              Object.assign(rec, { captured: r.captured, usage: r.usage }, r.lost !== undefined ? { lost: r.lost } : {});
            }
            const list = records.get(key) ?? [];
            list.push(rec);
            records.set(key, list);
          } catch (e) {
            const msg = e instanceof Error ? e.message.split('\n').slice(0, 4).join(' ') : String(e);
            failures.set(v.id, msg);
            failureCounts.set(v.id, (failureCounts.get(v.id) ?? 0) + 1);
            ctx.log(`${key} failed: ${msg}`);
            await capture?.stop().catch(() => undefined);
          }
        }
      }
    }
    await l2.stop();
    return report(records, commands, failures, skip, { l2, durationMs, repeats, repoRoot: ctx.repoRoot });
  },
};

function report(
  records: Map<string, RunRecord[]>,
  commands: Map<string, string>,
  failures: Map<string, string>,
  skip: Map<string, string>,
  info: { l2: L2fwdPrimary; durationMs: number; repeats: number; repoRoot: string },
): BenchResult {
  const figures: Record<string, number> = {};
  const md: string[] = [];
  md.push(
    `DPDK's l2fwd (examples/l2fwd-pdump: DPDK 22.11's example plus \`rte_pdump_init()\` and two out-of-line functions) on`,
    `lcore 1 with the af_packet PMD on two veth pairs in a private namespace; 60-byte UDP frames to port 9 paced into a1 for`,
    `${info.durationMs / 1000} s per run; forwarded = what l2fwd transmitted on b0 (the kernel's counter; a receiver on b1 saw the same).`,
    `Every variant runs on the same l2fwd instance; ${info.repeats} repetitions,`,
    'each ratio paired with the no-capture run of its repetition. "captured / forwarded" is what the tool wrote',
    '(bpftrace: its hit count) against what l2fwd forwarded; "tool lost" is what the tool itself reported as lost or dropped.',
    'Peak RSS and CPU are the capture tool\'s own process tree (the uprobe work runs in l2fwd\'s thread and shows as lost',
    'forwarding, not here). l2fwd busy-polls CPU 1; the injector, the receiver and the capture tool share CPU 0.',
    '',
  );
  for (const rate of RATES) {
    const rk = rateKey(rate);
    const anchor = records.get(`${rk}.none`) ?? [];
    if (anchor.length === 0) continue;
    md.push(`### ${num(rate)} pps offered`, '');
    md.push('| variant | offered pps | forwarded pps (median, min..max) | ratio to no capture | loss | captured / forwarded | tool lost | peak RSS MiB | CPU s |');
    md.push('|---|---|---|---|---|---|---|---|---|');
    for (const v of VARIANTS) {
      const recs = records.get(`${rk}.${v.id}`) ?? [];
      if (recs.length === 0) {
        const why = skip.get(v.id) ?? failures.get(v.id);
        if (why) md.push(`| ${v.label} | — | not measured: ${why.replace(/\|/g, '\\|')} | | | | | | |`);
        continue;
      }
      const fwd = summarize(recs.map((r) => r.traffic.forwardedPps));
      // Paired by repetition (a variant whose run failed has no entry for it).
      const anchorOf = (r: RunRecord): number => anchor.find((a) => a.rep === r.rep)?.traffic.forwardedPps ?? NaN;
      const ratios = summarize(pairedRatios(recs.map((r) => r.traffic.forwardedPps), recs.map(anchorOf)));
      const loss = summarize(recs.map((r) => r.traffic.lossRatio));
      const capRatio = summarize(recs.map((r) => (r.captured !== undefined && r.traffic.transmitted > 0 ? r.captured / r.traffic.transmitted : NaN)));
      const lost = summarize(recs.map((r) => r.lost ?? NaN));
      const rss = summarize(recs.map((r) => (r.usage ? r.usage.treePeakRssKiB / 1024 : NaN)));
      const cpu = summarize(recs.map((r) => r.usage?.cpuSeconds ?? NaN));
      const offered = summarize(recs.map((r) => r.traffic.offeredPps));
      md.push(
        `| ${v.label} | ${num(offered.median)} | ${num(fwd.median)} (${num(fwd.min)}..${num(fwd.max)}) | ` +
          `${v.id === 'none' ? 'anchor' : `${num(ratios.median)}x (${num(ratios.min)}..${num(ratios.max)})`} | ${pct(loss.median)} | ` +
          `${capRatio.n ? pct(capRatio.median) : '—'} | ${lost.n ? num(lost.median) : '—'} | ${rss.n ? num(rss.median) : '—'} | ${cpu.n ? num(cpu.median) : '—'} |`,
      );
      const k = `dataplane.${rk}.${v.id}`;
      figures[`${k}.forwarded_pps`] = fwd.median;
      figures[`${k}.loss`] = loss.median;
      if (v.id !== 'none') figures[`${k}.forwarded_ratio`] = ratios.median;
      if (capRatio.n) figures[`${k}.captured_ratio`] = capRatio.median;
      if (rss.n) figures[`${k}.peak_rss_mib`] = rss.median;
      if (cpu.n) figures[`${k}.cpu_s`] = cpu.median;
    }
    md.push('');
  }
  const budget = failures.get('budget');
  if (budget) md.push(`Note: ${budget}.`, '');
  md.push('Commands (`<l2fwd>` is its pid or binary, `<prefix>` its EAL file prefix):', '');
  md.push(
    commandsBlock([
      info.l2.argv
        .join(' ')
        .replace(info.repoRoot + path.sep, '')
        .replace(/--huge-dir \S+/, '--huge-dir <hugetlbfs>')
        .replace(/--file-prefix \S+/, '--file-prefix <prefix>'),
      `inject send -i a1 -R <rate> -d ${info.durationMs}   # lab/inject.c, AF_PACKET, paced with clock_nanosleep`,
      'inject recv -i b1                                   # counts what l2fwd forwarded',
      ...[...commands.values()],
    ]),
  );
  const skipped = [...skip.entries()].map(([v, why]) => `${v}: ${why}`);
  for (const [v, why] of failures) if (v !== 'budget' && !skip.has(v)) skipped.push(`${v}: a run failed (last error): ${why}`);
  return { markdown: md.join('\n'), figures, skipped };
}
