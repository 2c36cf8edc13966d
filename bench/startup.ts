// Start-up (issue 7, item 4): from the command's start to the first captured
// packet, with packets arriving steadily on a veth in a private namespace.
// tcpdump -i on that interface is the anchor; netcap skb at the tracepoint
// every received frame passes (net:netif_receive_skb, same interface) and
// bpftrace at the same tracepoint are measured against it, each with its
// peak RSS. (netcap mbuf against bpftrace's uprobe is in the mbuf section.)
//
// Frames arrive every millisecond, so "first packet" is at most ~1 ms after
// the tool is really capturing; the start-up of each tool dominates. Tools
// keep running until we stop them right after their first packet (no -c 1),
// so their memory and CPU are sampled while they live (process-usage.ts).
import * as path from 'node:path';
import { injectorPath, randomTag, udpFrame, World, type Namespace } from '../lab';
import { commandsBlock, displayCommand, num } from './harness/format';
import { netcapBin, netcapSubcommandMissing } from './harness/netcap-cli';
import { writePcap } from './harness/pcap-write';
import type { BenchContext, BenchResult, BenchSection } from './harness/section';
import { pairedRatios, summarize } from './harness/stats';
import { startTool, type ToolProcess } from './harness/tool-process';

const RATE_PPS = 1000;
/** A tcpdump-style packet line: it starts with the time of day. */
const PACKET_LINE = /^\d\d:\d\d:\d\d\.\d+ /;
const FIRST_PACKET_TIMEOUT_MS = 20_000;

interface Tool {
  id: string;
  label: string;
  argv(env: Env): string[];
  /** The line that says the first packet was captured. */
  firstPacket: RegExp;
  /** Run inside the namespace (tcpdump -i needs to); otherwise from the root namespace. */
  inNamespace: boolean;
}

interface Env {
  ctx: BenchContext;
  ns: Namespace;
  ifname: string;
}

const TOOLS: Tool[] = [
  {
    id: 'tcpdump',
    label: 'tcpdump -i (anchor)',
    argv: ({ ifname }) => ['tcpdump', '-i', ifname, '-nn', '-l', 'udp'],
    firstPacket: PACKET_LINE,
    inNamespace: true,
  },
  {
    id: 'netcap_skb',
    label: 'netcap skb at tracepoint:net:netif_receive_skb -i',
    argv: ({ ctx, ns, ifname }) => [
      process.execPath, netcapBin(ctx.repoRoot), 'skb', '-f', 'tracepoint:net:netif_receive_skb', '-i', ifname, '--netns', ns.name, '-e', 'udp', '-U',
    ],
    firstPacket: PACKET_LINE,
    inNamespace: false,
  },
  {
    id: 'bpftrace_tp',
    label: 'bpftrace at tracepoint:net:netif_receive_skb (first hit on the interface)',
    argv: ({ ifname }) => ['bpftrace', '-e', `tracepoint:net:netif_receive_skb /str(args->name) == "${ifname}"/ { printf("hit\\n"); }`],
    firstPacket: /^hit$/,
    inNamespace: false,
  },
];

interface Sample {
  /** The repetition: ratios pair it with tcpdump's run of the same one. */
  rep: number;
  firstPacketMs: number;
  peakRssMiB: number;
  cpuSeconds: number;
}

async function measureOnce(world: World, env: Env, tool: Tool, injector: string[], rep: number): Promise<Sample> {
  const sender = startTool(injector, { ns: env.ns, world });
  let t: ToolProcess | undefined;
  try {
    t = startTool(tool.argv(env), { world, ...(tool.inNamespace ? { ns: env.ns } : {}) });
    const firstPacketMs = await t.waitFor(tool.firstPacket, FIRST_PACKET_TIMEOUT_MS);
    const exit = await t.stop('SIGINT', 5000);
    return { rep, firstPacketMs, peakRssMiB: exit.usage.treePeakRssKiB / 1024, cpuSeconds: exit.usage.cpuSeconds };
  } finally {
    await t?.stop('SIGKILL');
    await sender.stop('SIGTERM', 2000);
  }
}

export const section: BenchSection = {
  id: 'startup',
  title: 'Start-up: command start to first captured packet',
  budgetMs: 60_000,
  async run(ctx): Promise<BenchResult> {
    const world = new World('bench-startup');
    ctx.onCleanup(() => world.destroy());
    const ns = world.addNamespace('bench-su');
    // A name unique on the machine: bpftrace matches the device by name, in any namespace.
    const ifname = `ncsu${randomTag(3)}`;
    ns.addVeth(ifname, `${ifname}p`, { local: { mac: '02:00:00:00:5a:01' }, peer: { mac: '02:00:00:00:5a:02' } });
    const env: Env = { ctx, ns, ifname };
    const pcap = path.join(ctx.workDir, 'startup-frame.pcap');
    writePcap(pcap, [udpFrame({ dstPort: 9, dstMac: '02:00:00:00:5a:01' })]);
    // Bounded: at most 30 s of 1000 pps per measurement, stopped as soon as the tool saw a packet.
    const injector = [injectorPath(), 'send', '-i', `${ifname}p`, '-f', pcap, '-c', String(RATE_PPS * 30), '-R', String(RATE_PPS), '-d', '30000'];
    const skipped: string[] = [];
    const tools = TOOLS.filter((t) => {
      if (t.id !== 'netcap_skb') return true;
      const missing = netcapSubcommandMissing(ctx.repoRoot, 'skb');
      if (missing) skipped.push(missing);
      return !missing;
    });
    const samples = new Map<string, Sample[]>(tools.map((t) => [t.id, []]));
    const failures = new Map<string, string>();
    const failureCounts = new Map<string, number>();
    for (let rep = 0; rep < ctx.repeats; rep++) {
      for (const tool of tools) {
        // Two failed runs end a tool (one may be a transient: a rebuild under way, a busy machine).
        if ((failureCounts.get(tool.id) ?? 0) >= 2) continue;
        if (ctx.remainingMs() < 30_000) break;
        ctx.log(`rep ${rep + 1}/${ctx.repeats} ${tool.id}`);
        try {
          samples.get(tool.id)?.push(await measureOnce(world, env, tool, injector, rep));
        } catch (e) {
          failures.set(tool.id, e instanceof Error ? e.message.split('\n').slice(0, 3).join(' ') : String(e));
          failureCounts.set(tool.id, (failureCounts.get(tool.id) ?? 0) + 1);
        }
      }
    }
    const tcpdumpRuns = samples.get('tcpdump') ?? [];
    // Paired by repetition (a tool whose run failed has no entry for it).
    const anchorOf = (s: Sample): Sample | undefined => tcpdumpRuns.find((t) => t.rep === s.rep);
    const figures: Record<string, number> = {};
    const md: string[] = [
      `UDP frames at ${RATE_PPS} pps into a veth in a private namespace; each tool is started while they arrive and timed`,
      'from spawn to the line that shows its first packet (tcpdump -l; netcap prints through `tcpdump -r -`; bpftrace',
      `prints a line per hit). ${ctx.repeats} repetitions, tools interleaved; ratios paired with the tcpdump run of the same repetition.`,
      '',
      '| tool | first packet, ms (median, min..max, n) | ratio to tcpdump | peak RSS MiB (median, min..max) | RSS ratio to tcpdump | CPU s |',
      '|---|---|---|---|---|---|',
    ];
    for (const tool of tools) {
      const list = samples.get(tool.id) ?? [];
      if (list.length === 0) {
        md.push(`| ${tool.label} | not measured: ${(failures.get(tool.id) ?? 'no run').replace(/\|/g, '\\|')} | | | | |`);
        continue;
      }
      const first = summarize(list.map((s) => s.firstPacketMs));
      const ratio = summarize(pairedRatios(list.map((s) => s.firstPacketMs), list.map((s) => anchorOf(s)?.firstPacketMs ?? NaN)));
      const rss = summarize(list.map((s) => s.peakRssMiB));
      const rssRatio = summarize(pairedRatios(list.map((s) => s.peakRssMiB), list.map((s) => anchorOf(s)?.peakRssMiB ?? NaN)));
      const cpu = summarize(list.map((s) => s.cpuSeconds));
      md.push(
        `| ${tool.label} | ${num(first.median)} (${num(first.min)}..${num(first.max)}, n=${first.n}) | ` +
          `${tool.id === 'tcpdump' ? 'anchor' : `${num(ratio.median)}x (${num(ratio.min)}..${num(ratio.max)})`} | ` +
          `${num(rss.median)} (${num(rss.min)}..${num(rss.max)}) | ${tool.id === 'tcpdump' ? 'anchor' : `${num(rssRatio.median)}x`} | ${num(cpu.median)} |`,
      );
      figures[`startup.${tool.id}.first_packet_ms`] = first.median;
      figures[`startup.${tool.id}.peak_rss_mib`] = rss.median;
      if (tool.id !== 'tcpdump') figures[`startup.${tool.id}.ratio_vs_tcpdump`] = ratio.median;
      if (tool.id !== 'tcpdump') figures[`startup.${tool.id}.rss_ratio_vs_tcpdump`] = rssRatio.median;
      if (failures.has(tool.id)) skipped.push(`${tool.id}: ${failureCounts.get(tool.id)} run(s) failed (last error): ${failures.get(tool.id)}`);
    }
    md.push('', 'Commands:', '');
    md.push(
      commandsBlock([
        `inject send -i <if>p -R ${RATE_PPS}   # lab/inject.c, into the namespace's veth <if>p -> <if>`,
        ...tools.map((t) =>
          displayCommand(t.argv(env).map((a) => (a === process.execPath ? 'node' : a === netcapBin(ctx.repoRoot) ? 'bin/netcap' : a === ns.name ? '<ns>' : a.replaceAll(ifname, '<if>')))),
        ),
      ]),
    );
    return { markdown: md.join('\n'), figures, skipped };
  },
};
