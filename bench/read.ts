// How fast `netcap read` filters a capture file, and what each filter engine
// costs per packet. Anchors nobody here wrote: libpcap's bpf_filter (per
// verdict) and `tcpdump -r IN -w OUT EXPR` (per file).
//
//   node dist/bench/read.js           (prints markdown)
//   or as a section of `npm run bench` (id "read")
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { BenchContext, BenchResult, BenchSection } from './harness/section';
import { commandsBlock, figureTable, num, type FigureRow } from './harness/format';
import { pairedRatios, summarize } from './harness/stats';
import { compileCbpf, libpcapFilter } from '../src/filter/libpcap';
import { interpret } from '../src/filter/interpreter';
import { compileCbpfToJs } from '../src/filter/cbpf-js';
import { KernelEngine } from '../src/read/kernel-engine';
import { PcapWriter } from '../src/output/pcap-writer';
import { expressions } from '../test/filter/corpus';
import { generatePackets } from '../test/filter/packets';

const now = (): number => Number(process.hrtime.bigint()) / 1e6;

/** Verdicts per second of one engine over every (expression, packet) pair. */
function verdictRate(run: (exprIndex: number, data: Buffer, wirelen: number) => number, exprCount: number, packets: { data: Buffer; wirelen: number }[]): number {
  const t0 = now();
  let sink = 0;
  for (let e = 0; e < exprCount; e++) for (const p of packets) sink += run(e, p.data, p.wirelen) & 1;
  const ms = now() - t0;
  if (sink < 0) throw new Error('unreachable'); // keeps the loop from being optimised away
  return (exprCount * packets.length) / (ms / 1000);
}

const FILE_EXPRESSIONS = ['tcp port 80', 'udp and port 53', 'vlan and ip', 'ip[6:2] & 0x1fff != 0', 'ip6 and (tcp or udp)'];

export async function runReadBench(ctx: Pick<BenchContext, 'repeats' | 'quick' | 'log' | 'workDir' | 'repoRoot'>): Promise<BenchResult> {
  const repeats = ctx.repeats;
  const packets = generatePackets(ctx.quick ? 300 : 1000, 0xbe9c);
  const exprs = expressions.slice(0, ctx.quick ? 60 : expressions.length);
  const progs = exprs.map((e) => compileCbpf(e));
  const kernel: KernelEngine[] = [];
  const figures: Record<string, number> = {};
  const rows: FigureRow[] = [];
  try {
    ctx.log('engines: loading one kernel program per expression');
    for (const p of progs) kernel.push(new KernelEngine(p));
    const pcapRates: number[] = [];
    const interpRates: number[] = [];
    const jsRates: number[] = [];
    const kernelRates: number[] = [];
    const compiled = progs.map((p) => compileCbpfToJs(p.insns)!);
    for (let r = 0; r < repeats; r++) {
      pcapRates.push(verdictRate((e, d, w) => libpcapFilter(progs[e], d, w), progs.length, packets));
      interpRates.push(verdictRate((e, d, w) => interpret(progs[e].insns, d, w), progs.length, packets));
      jsRates.push(verdictRate((e, d, w) => compiled[e](d, 0, d.length, w), progs.length, packets));
      kernelRates.push(verdictRate((e, d, w) => kernel[e].run(d, w), progs.length, packets.slice(0, Math.ceil(packets.length / 4))));
    }
    rows.push({ label: 'libpcap bpf_filter (through N-API, one call per verdict)', samples: pcapRates.map((x) => x / 1e6), unit: 'M verdicts/s' });
    rows.push({ label: 'netcap interpreter (the reference in src/filter/interpreter.ts)', samples: interpRates.map((x) => x / 1e6), unit: 'M verdicts/s', ratios: pairedRatios(interpRates, pcapRates), anchor: 'libpcap bpf_filter' });
    // Each expression's function runs only this many verdicts here, mostly before V8 optimises it;
    // netcap read runs one function over a whole file (see the whole-file figures).
    rows.push({ label: `cBPF compiled to a JavaScript function (--engine interp): one function per expression, ${packets.length} verdicts each`, samples: jsRates.map((x) => x / 1e6), unit: 'M verdicts/s', ratios: pairedRatios(jsRates, pcapRates), anchor: 'libpcap bpf_filter' });
    rows.push({ label: 'kernel eBPF via BPF_PROG_TEST_RUN (--engine kernel; one syscall program run per verdict)', samples: kernelRates.map((x) => x / 1e6), unit: 'M verdicts/s', ratios: pairedRatios(kernelRates, pcapRates), anchor: 'libpcap bpf_filter' });
    figures['read.interp.verdicts_per_s'] = summarize(interpRates).median;
    figures['read.js.verdicts_per_s'] = summarize(jsRates).median;
    figures['read.kernel.verdicts_per_s'] = summarize(kernelRates).median;
    figures['read.libpcap.verdicts_per_s'] = summarize(pcapRates).median;
  } finally {
    for (const k of kernel) k.close();
  }

  // End to end on a file: netcap read vs tcpdump -r -w, same expressions.
  const count = ctx.quick ? 20_000 : 100_000;
  const input = path.join(ctx.workDir, 'read-bench.pcap');
  const w = new PcapWriter(fs.createWriteStream(input), { linktype: 1, snaplen: 262144 });
  let ts = 1_700_000_000_000_000_000n;
  for (const p of generatePackets(count, 0xf11e)) await w.writePacket({ ifIndex: 0, tsNs: (ts += 1000n), data: p.data, wirelen: p.wirelen });
  await w.close();
  const netcap = path.join(ctx.repoRoot, 'bin', 'netcap');
  const timeRun = (argv: string[]): number => {
    const t0 = now();
    const r = spawnSync(argv[0], argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'], timeout: 300_000 });
    if (r.status !== 0) throw new Error(`${argv.join(' ')}: ${r.stderr.toString()}`);
    return now() - t0;
  };
  const tcpdumpMs: number[] = [];
  const interpMs: number[] = [];
  const kernelMs: number[] = [];
  const nodeMs: number[] = [];
  for (let r = 0; r < repeats; r++) {
    ctx.log(`file: repetition ${r + 1}/${repeats}`);
    let t = 0;
    let i = 0;
    let k = 0;
    let n = 0;
    for (const e of FILE_EXPRESSIONS) {
      n += timeRun([process.execPath, '-e', '0']);
      t += timeRun(['tcpdump', '-r', input, '-w', path.join(ctx.workDir, 'ref.pcap'), e]);
      i += timeRun([process.execPath, netcap, 'read', '-r', input, '-e', e, '-w', path.join(ctx.workDir, 'out.pcap')]);
      k += timeRun([process.execPath, netcap, 'read', '-r', input, '-e', e, '-w', path.join(ctx.workDir, 'out.pcap'), '--engine', 'kernel']);
    }
    tcpdumpMs.push(t / FILE_EXPRESSIONS.length);
    interpMs.push(i / FILE_EXPRESSIONS.length);
    kernelMs.push(k / FILE_EXPRESSIONS.length);
    nodeMs.push(n / FILE_EXPRESSIONS.length);
  }
  // Goal (issue 18): at most 1.2x tcpdump once Node's own start is taken away, measured in the same repetition.
  const beyondNode = interpMs.map((x, r) => x - nodeMs[r]);
  const fileRows: FigureRow[] = [
    { label: `tcpdump -r IN -w OUT EXPR (${num(count)} packets)`, samples: tcpdumpMs, unit: 'ms' },
    { label: 'netcap read -r IN -e EXPR -w OUT', samples: interpMs, unit: 'ms', ratios: pairedRatios(interpMs, tcpdumpMs), anchor: 'tcpdump' },
    { label: 'netcap read ... --engine kernel', samples: kernelMs, unit: 'ms', ratios: pairedRatios(kernelMs, tcpdumpMs), anchor: 'tcpdump' },
    { label: 'node -e 0 (Node\'s own start)', samples: nodeMs, unit: 'ms' },
    { label: 'netcap read -r IN -e EXPR -w OUT, less Node\'s own start', samples: beyondNode, unit: 'ms', ratios: pairedRatios(beyondNode, tcpdumpMs), anchor: 'tcpdump' },
  ];
  // One real capture nobody here wrote: the largest one the machine has
  // ($NETCAP_BENCH_CAPTURE, the corpus beside the repository, the packaged ones).
  const real = largestRealCapture(ctx.repoRoot);
  let realMarkdown = 'No real capture file found (install the packages of scripts/setup.sh, or set NETCAP_BENCH_CAPTURE).';
  if (real) {
    const realTcpdump: number[] = [];
    const realInterp: number[] = [];
    const realKernel: number[] = [];
    for (let r = 0; r < repeats; r++) {
      ctx.log(`real capture ${path.basename(real)}: repetition ${r + 1}/${repeats}`);
      let t = 0;
      let i = 0;
      let k = 0;
      for (const e of FILE_EXPRESSIONS) {
        t += timeRun(['tcpdump', '-r', real, '-w', path.join(ctx.workDir, 'ref.pcap'), e]);
        i += timeRun([process.execPath, netcap, 'read', '-r', real, '-e', e, '-w', path.join(ctx.workDir, 'out.pcap'), '--format', 'pcap']);
        k += timeRun([process.execPath, netcap, 'read', '-r', real, '-e', e, '-w', path.join(ctx.workDir, 'out.pcap'), '--format', 'pcap', '--engine', 'kernel']);
      }
      realTcpdump.push(t / FILE_EXPRESSIONS.length);
      realInterp.push(i / FILE_EXPRESSIONS.length);
      realKernel.push(k / FILE_EXPRESSIONS.length);
    }
    figures['read.real.tcpdump_ms'] = summarize(realTcpdump).median;
    figures['read.real.netcap_ms'] = summarize(realInterp).median;
    figures['read.real.kernel_ms'] = summarize(realKernel).median;
    realMarkdown = [
      `A real capture, \`${real}\` (${num(fs.statSync(real).size)} bytes), same expressions, wall time including process start:`,
      '',
      figureTable([
        { label: 'tcpdump -r IN -w OUT EXPR', samples: realTcpdump, unit: 'ms' },
        { label: 'netcap read -r IN -e EXPR -w OUT', samples: realInterp, unit: 'ms', ratios: pairedRatios(realInterp, realTcpdump), anchor: 'tcpdump' },
        { label: 'netcap read ... --engine kernel', samples: realKernel, unit: 'ms', ratios: pairedRatios(realKernel, realTcpdump), anchor: 'tcpdump' },
      ]),
    ].join('\n');
  }
  figures['read.file.netcap_ms'] = summarize(interpMs).median;
  figures['read.file.tcpdump_ms'] = summarize(tcpdumpMs).median;
  figures['read.file.ratio_vs_tcpdump'] = summarize(pairedRatios(interpMs, tcpdumpMs)).median;
  figures['read.file.node_start_ms'] = summarize(nodeMs).median;
  figures['read.file.beyond_node_ratio_vs_tcpdump'] = summarize(pairedRatios(beyondNode, tcpdumpMs)).median;
  const markdown = [
    `Filter verdicts over ${progs.length} corpus expressions x ${packets.length} generated packets (kernel: a quarter of the packets), ${repeats} repetitions:`,
    '',
    figureTable(rows),
    '',
    `Whole files: ${num(count)} generated packets, mean over ${FILE_EXPRESSIONS.length} expressions (${FILE_EXPRESSIONS.map((e) => `\`${e}\``).join(', ')}), wall time including process start (Node's own, node -e 0, measured beside them):`,
    '',
    figureTable(fileRows),
    '',
    realMarkdown,
    '',
    commandsBlock([`tcpdump -r IN -w OUT EXPR`, `netcap read -r IN -e EXPR -w OUT [--engine kernel]`]),
  ].join('\n');
  return { markdown, figures };
}

/** The largest pcap/pcapng file of $NETCAP_BENCH_CAPTURE, ../shared/corpus and the packaged captures. */
function largestRealCapture(repoRoot: string): string | undefined {
  const env = process.env.NETCAP_BENCH_CAPTURE;
  if (env && fs.existsSync(env)) return env;
  const dirs = [path.join(repoRoot, '..', 'shared', 'corpus'), '/usr/share/gocode/src/github.com/gopacket/gopacket', '/usr/share/doc/python3-dpkt/examples/data'];
  let best: { file: string; size: number } | undefined;
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (/\.(pcap|pcapng)$/.test(e.name) && spawnSync('tcpdump', ['-r', p, '-w', '/dev/null'], { stdio: 'ignore' }).status === 0) {
        const size = fs.statSync(p).size;
        if (!best || size > best.size) best = { file: p, size };
      }
    }
  };
  for (const d of dirs) if (fs.existsSync(d)) walk(d);
  return best?.file;
}

export const section: BenchSection = {
  id: 'read',
  title: 'netcap read: filter engines and whole files',
  budgetMs: 300_000,
  run: (ctx) => runReadBench(ctx),
};

if (require.main === module) {
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nc-read-bench-'));
  runReadBench({ repeats: 3, quick: process.argv.includes('--quick'), log: (m) => process.stderr.write(`read: ${m}\n`), workDir, repoRoot: path.resolve(__dirname, '..', '..') })
    .then((r) => process.stdout.write(r.markdown + '\n'))
    .finally(() => fs.rmSync(workDir, { recursive: true, force: true }))
    .catch((e: unknown) => {
      process.stderr.write(`${String(e)}\n`);
      process.exitCode = 1;
    });
}
