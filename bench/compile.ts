// How long a tcpdump expression takes to become a kernel-loaded program, and
// how big the eBPF is next to libpcap's cBPF, over the whole filter corpus.
// Stages: libpcap pcap_compile (the anchor: every cBPF tool pays it), our
// cBPF -> eBPF translation, link + encode, and the kernel's BPF_PROG_LOAD
// (verifier + JIT) of the XDP program `netcap compile --emit ebpf` prints.
//
//   node dist/bench/compile.js          (prints markdown)
//   or as a section of `npm run bench` (id "compile")
import type { BenchContext, BenchResult, BenchSection } from './harness/section';
import { commandsBlock, num } from './harness/format';
import { quantile } from './harness/stats';
import { compileCbpf } from '../src/filter/libpcap';
import { xdpPacketProgram } from '../probes/filter-programs';
import { compileToEbpf } from '../src/filter/compiler';
import { encode, link, R0, R1, R2, R3, R4, R5 } from '../src/ebpf';
import { loadProgram } from '../src/bpf/program';
import { ProgType } from '../src/bpf/constants';
import { expressions } from '../test/filter/corpus';

interface Sample {
  expression: string;
  cbpf: number;
  /** eBPF slots of the fragment alone, and of the whole XDP program. */
  fragment: number;
  program: number;
  pcapMs: number;
  translateMs: number;
  linkMs: number;
  loadMs: number;
  totalMs: number;
}

const now = (): number => Number(process.hrtime.bigint()) / 1e6;

function measure(expression: string): Sample {
  const t0 = now();
  const prog = compileCbpf(expression);
  const t1 = now();
  const insns = xdpPacketProgram(prog.insns);
  const t2 = now();
  const linked = link(insns);
  encode(linked);
  const t3 = now();
  // loadProgram links and encodes again; time the kernel part as the rest.
  const p = loadProgram({ type: ProgType.XDP, insns, name: 'nc_bench_cmp' });
  const t4 = now();
  p.close();
  // A fragment jumps to its caller's labels, so it is counted, not linked.
  const fragment = compileToEbpf(prog.insns, {
    model: { kind: 'packet', data: R2, dataEnd: R3 },
    a: R0,
    x: R1,
    tmp: R5,
    wirelen: R4,
    result: R0,
    stackBase: -64,
    match: 'm',
    noMatch: 'n',
  }).reduce((n, insn) => n + insn.slots, 0);
  return {
    expression,
    cbpf: prog.insns.length,
    fragment,
    program: linked.slots,
    pcapMs: t1 - t0,
    translateMs: t2 - t1,
    linkMs: t3 - t2,
    loadMs: t4 - t3 - (t3 - t2),
    totalMs: t4 - t0,
  };
}

function percentiles(values: number[]): { p50: number; p99: number; max: number } {
  const s = [...values].sort((a, b) => a - b);
  return { p50: quantile(s, 0.5), p99: quantile(s, 0.99), max: s[s.length - 1] };
}

export async function runCompileBench(ctx?: Pick<BenchContext, 'repeats' | 'log' | 'remainingMs'>): Promise<BenchResult> {
  const repeats = ctx?.repeats ?? 3;
  const samples: Sample[] = [];
  for (let r = 0; r < repeats; r++) {
    if (ctx && ctx.remainingMs() < 5000) break;
    for (const e of expressions) samples.push(measure(e));
    ctx?.log(`round ${r + 1}/${repeats}: ${expressions.length} expressions`);
  }
  const col = (f: (s: Sample) => number) => percentiles(samples.map(f));
  const rows: [string, ReturnType<typeof percentiles>][] = [
    ['libpcap pcap_compile (anchor)', col((s) => s.pcapMs)],
    ['cBPF -> eBPF (TypeScript)', col((s) => s.translateMs)],
    ['link + encode', col((s) => s.linkMs)],
    ['BPF_PROG_LOAD (verifier + JIT)', col((s) => s.loadMs)],
    ['expression -> loaded program', col((s) => s.totalMs)],
  ];
  const once = samples.slice(0, expressions.length);
  const ratio = once.map((s) => s.fragment / s.cbpf);
  const ratios = percentiles(ratio);
  const biggest = [...once].sort((a, b) => b.cbpf - a.cbpf).slice(0, 5);
  const total = percentiles(samples.map((s) => s.totalMs));
  const pcap = percentiles(samples.map((s) => s.pcapMs));
  const markdown = [
    `${expressions.length} corpus expressions (test/filter/corpus.ts) for EN10MB, optimized, ${repeats} rounds (${samples.length} samples); ` +
      'each compiled by libpcap, translated, linked and loaded as an XDP program (packet model), then closed.',
    '',
    commandsBlock(['node dist/bench/compile.js']),
    '',
    '| stage | p50 (ms) | p99 (ms) | max (ms) |',
    '|---|---|---|---|',
    ...rows.map(([label, p]) => `| ${label} | ${num(p.p50)} | ${num(p.p99)} | ${num(p.max)} |`),
    '',
    `Instruction counts: eBPF fragment / cBPF = ${num(ratios.p50)}x at p50, ${num(ratios.p99)}x at p99 ` +
      `(fragment includes zeroing A, X and the M[] slots read; loads carry a bounds check and a byte swap). Largest programs:`,
    '',
    '| expression | cBPF | eBPF fragment | whole XDP program |',
    '|---|---|---|---|',
    ...biggest.map((s) => `| \`${s.expression.replace(/\|/g, '\\|')}\` | ${s.cbpf} | ${s.fragment} | ${s.program} |`),
  ].join('\n');
  return {
    markdown,
    figures: {
      'compile.total_ms.p50': total.p50,
      'compile.total_ms.p99': total.p99,
      'compile.pcap_compile_ms.p50': pcap.p50,
      'compile.ebpf_per_cbpf.p50': ratios.p50,
      'compile.ebpf_per_cbpf.p99': ratios.p99,
    },
  };
}

export const section: BenchSection = {
  id: 'compile',
  title: 'Filter compilation: expression to loaded program',
  budgetMs: 120_000,
  run: (ctx) => runCompileBench(ctx),
};

if (require.main === module) {
  runCompileBench().then(
    (r) => process.stdout.write(r.markdown + '\n'),
    (e: unknown) => {
      process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
      process.exitCode = 1;
    },
  );
}
