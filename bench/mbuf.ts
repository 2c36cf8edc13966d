// What netcap mbuf costs the traced program, against a bare call and against
// bpftrace's empty counting uprobe on the same function in the same run:
//
// - per call of a traced function (one mbuf per call): bare, bpftrace
//   `uprobe:BIN:bench_one { @c = count(); }`, netcap with a filter that
//   matches every packet (each one copied and written to the ring), netcap
//   with a filter that matches none;
// - per packet in burst form (bench_burst@1@2, 32 mbufs per call);
// - the time from start to the first captured packet, against bpftrace's
//   time to its first hit (`printf` + `exit()` in the probe).
//
// The traced program (bench/mbuf-target.c, built here) loops over the call
// and prints ns per call for each round; every figure is the median of
// rounds taken after the tool is attached, next to the bare rounds just
// before. Added cost = traced - bare. Ratios are paired per repetition.
//
//   node dist/bench/mbuf.js          (prints markdown)
//   or as a section of `npm run bench` (id "mbuf")
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { BenchContext, BenchResult, BenchSection } from './harness/section';
import { commandsBlock, figureTable, num } from './harness/format';
import { pairedRatios, summarize } from './harness/stats';
import { DRAIN_INTERVAL_MS } from '../src/capture/capture';

const repoRoot = path.resolve(__dirname, '..', '..');
const NETCAP = path.join(repoRoot, 'bin', 'netcap');
const SOURCE = path.join(repoRoot, 'bench', 'mbuf-target.c');
const BURST = 32;

/** The traced loop: one process printing ns per call per round. */
class Target {
  readonly rounds: number[] = [];
  #waiters: (() => void)[] = [];
  readonly exited: Promise<void>;

  constructor(readonly child: ChildProcess) {
    let pending = '';
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (s: string) => {
      pending += s;
      let nl;
      while ((nl = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        const v = Number(line);
        if (line !== 'ready' && Number.isFinite(v)) this.rounds.push(v);
        for (const w of this.#waiters.splice(0)) w();
      }
    });
    this.exited = new Promise((r) => child.once('close', () => r()));
  }

  static start(binary: string, shape: 'single' | 'burst', kind: 'match' | 'nomatch'): Target {
    // Pinned to CPU 1: the tools (netcap's reader, bpftrace) run elsewhere.
    const cpus = os.cpus().length;
    const argv = cpus > 1 ? ['taskset', '-c', String(cpus - 1), binary, shape, kind] : [binary, shape, kind];
    return new Target(spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'inherit'] }));
  }

  get pid(): number {
    // taskset execs the target: same pid.
    return this.child.pid!;
  }

  /** Skips `skip` rounds from now, then returns the median of the next `take`. */
  async median(skip: number, take: number, timeoutMs = 60_000): Promise<number> {
    const from = this.rounds.length + skip;
    const until = Date.now() + timeoutMs;
    while (this.rounds.length < from + take) {
      if (Date.now() > until) throw new Error('the bench target stopped printing rounds');
      await new Promise<void>((r) => {
        this.#waiters.push(r);
        setTimeout(r, 500);
      });
    }
    return summarize(this.rounds.slice(from, from + take)).median;
  }

  async stop(): Promise<void> {
    this.child.kill('SIGKILL');
    await this.exited;
  }
}

interface Tool {
  child: ChildProcess;
  output(): string;
  stop(): Promise<string>;
}

/** The tools run on CPU 0, the target on the last CPU: what is measured is the probe's cost in the traced thread, not the tools' user-space work competing for its CPU. */
function onFirstCpu(argv: string[]): string[] {
  return os.cpus().length > 1 ? ['taskset', '-c', '0', ...argv] : argv;
}

function startTool(argv: string[]): Tool {
  argv = onFirstCpu(argv);
  const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.setEncoding('utf8');
  child.stderr!.setEncoding('utf8');
  child.stdout!.on('data', (s: string) => (out += s));
  child.stderr!.on('data', (s: string) => (out += s));
  const exited = new Promise<void>((r) => child.once('close', () => r()));
  return {
    child,
    output: () => out,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGINT');
        const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(t);
      }
      return out;
    },
  };
}

async function waitFor(tool: Tool, pattern: RegExp, timeoutMs = 30_000): Promise<number> {
  const started = Date.now();
  while (!pattern.test(tool.output())) {
    if (tool.child.exitCode !== null || tool.child.signalCode !== null) throw new Error(`${tool.child.spawnargs.join(' ')} exited:\n${tool.output()}`);
    if (Date.now() - started > timeoutMs) throw new Error(`no ${pattern} within ${timeoutMs} ms:\n${tool.output()}`);
    await new Promise((r) => setTimeout(r, 5));
  }
  return Date.now() - started;
}

const bpftraceCount = (bin: string, fn: string) => ['bpftrace', '-e', `uprobe:${bin}:${fn} { @c = count(); }`];
/** netcap mbuf on the bench target, writing to /dev/null unless told what to do with the packets. */
const netcapMbuf = (pid: number, point: string, expr: string, output = ['-w', '/dev/null', '--loss-ok']) => [
  process.execPath, NETCAP, 'mbuf', '-f', point, '--pid', String(pid), '--dpdk-version', '22.11', '-e', expr, ...output,
];

/** Median ns per call of `target` with `argv` attached (null: bare). */
async function tracedRound(target: Target, argv: string[] | null, ready: RegExp, take: number): Promise<{ ns: number; output: string }> {
  if (!argv) return { ns: await target.median(1, take), output: '' };
  const tool = startTool(argv);
  try {
    await waitFor(tool, ready);
    const ns = await target.median(2, take);
    return { ns, output: await tool.stop() };
  } finally {
    await tool.stop();
  }
}

/** ms from spawn until the first packet reaches netcap's stdout (-w - -c 1), or bpftrace's first hit; `stderr` gets the tool's stderr. */
async function timeToFirst(argv: string[], done: (out: Buffer) => boolean, env?: NodeJS.ProcessEnv, stderr?: (text: string) => void): Promise<number> {
  const started = process.hrtime.bigint();
  const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], env: env ? { ...process.env, ...env } : undefined });
  const chunks: Buffer[] = [];
  let errText = '';
  child.stderr!.on('data', (b: Buffer) => (errText += b.toString()));
  const exited = new Promise<void>((r) => child.once('close', () => r()));
  try {
    return await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no first packet within 30 s: ${errText}`)), 30_000);
      child.stdout!.on('data', (b: Buffer) => {
        chunks.push(b);
        if (done(Buffer.concat(chunks))) {
          clearTimeout(timer);
          resolve(Number(process.hrtime.bigint() - started) / 1e6);
        }
      });
      child.once('close', () => {
        clearTimeout(timer);
        if (!done(Buffer.concat(chunks))) reject(new Error(`${argv.join(' ')} exited first: ${errText}`));
      });
    });
  } finally {
    child.kill('SIGINT');
    const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(t);
    stderr?.(errText);
  }
}

/** The phases NETCAP_TRACE_STARTUP=1 printed ("netcap startup:   91.6 ms  phase"), in order, ms since netcap's process start. */
function startupPhases(stderrText: string): [string, number][] {
  return [...stderrText.matchAll(/^netcap startup:\s+([\d.]+) ms {2}(.+)$/gm)].map((m) => [m[2], Number(m[1])]);
}

/** Markdown table: each phase's median end (ms since start) and the median time it took after the phase before. */
function phaseTable(runs: [string, number][][]): string {
  if (runs.length === 0 || runs[0].length === 0) return '';
  const names = runs[0].map(([name]) => name);
  const at = (i: number) => runs.map((r) => r[i]?.[1]).filter((v): v is number => v !== undefined);
  const rows = names.map((name, i) => {
    const ends = at(i);
    const spans = runs.map((r) => (r[i] && (i === 0 ? r[i][1] : r[i - 1] ? r[i][1] - r[i - 1][1] : undefined))).filter((v): v is number => v !== undefined);
    return `| ${i === 0 ? `Node start, ${name}` : name} | ${num(summarize(ends).median)} | ${num(summarize(spans).median)} |`;
  });
  return ['| netcap phase (NETCAP_TRACE_STARTUP=1) | ends at, ms since start | took, ms |', '|---|---|---|', ...rows].join('\n');
}

export async function runMbufBench(ctx?: Pick<BenchContext, 'repeats' | 'log' | 'workDir' | 'quick'>): Promise<BenchResult> {
  const log = ctx?.log ?? ((m: string) => process.stderr.write(`mbuf: ${m}\n`));
  const repeats = ctx?.repeats ?? 5;
  const take = ctx?.quick ? 3 : 5;
  const dir = ctx?.workDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'netcap-bench-mbuf-'));
  const binary = path.join(dir, 'mbuf-target');
  execFileSync('gcc', ['-O2', '-g', '-o', binary, SOURCE]);
  const targets: Target[] = [];
  const skipped: string[] = [];
  const s = { bare: [] as number[], bpftrace: [] as number[], matched: [] as number[], unmatched: [] as number[], bareU: [] as number[], bpftraceU: [] as number[] };
  const b = { bare: [] as number[], netcap: [] as number[], bpftrace: [] as number[] };
  const first = { netcap: [] as number[], bpftrace: [] as number[] };
  const phases: [string, number][][] = [];
  // One target at a time: a second busy loop on the same CPU would share it.
  const run = async <T>(shape: 'single' | 'burst', kind: 'match' | 'nomatch', body: (t: Target) => Promise<T>): Promise<T> => {
    const t = Target.start(binary, shape, kind);
    targets.push(t);
    try {
      await t.median(0, 1);
      return await body(t);
    } finally {
      await t.stop();
    }
  };
  try {
    const ready = /listening on/;
    const btReady = /Attaching 1 probe/;
    for (let r = 0; r < repeats; r++) {
      log(`repetition ${r + 1}/${repeats}: single calls, every packet matches; time to the first packet`);
      await run('single', 'match', async (t) => {
        s.bare.push((await tracedRound(t, null, ready, take)).ns);
        s.bpftrace.push((await tracedRound(t, bpftraceCount(binary, 'bench_one'), btReady, take)).ns);
        s.matched.push((await tracedRound(t, netcapMbuf(t.pid, 'bench_one@1', 'tcp port 80'), ready, take)).ns);
        first.netcap.push(
          await timeToFirst(netcapMbuf(t.pid, 'bench_one@1', 'tcp port 80', ['-c', '1', '-w', '-']), (out) => out.length >= 24 + 16, { NETCAP_TRACE_STARTUP: '1' }, (e) => phases.push(startupPhases(e))),
        );
        first.bpftrace.push(await timeToFirst(['bpftrace', '-e', `uprobe:${binary}:bench_one { printf("hit\\n"); exit(); }`], (out) => out.includes('hit')));
      });
      log(`repetition ${r + 1}/${repeats}: single calls, no packet matches`);
      await run('single', 'nomatch', async (t) => {
        s.bareU.push((await tracedRound(t, null, ready, take)).ns);
        s.bpftraceU.push((await tracedRound(t, bpftraceCount(binary, 'bench_one'), btReady, take)).ns);
        s.unmatched.push((await tracedRound(t, netcapMbuf(t.pid, 'bench_one@1', 'tcp port 80'), ready, take)).ns);
      });
      log(`repetition ${r + 1}/${repeats}: ${BURST}-packet bursts`);
      await run('burst', 'match', async (t) => {
        b.bare.push((await tracedRound(t, null, ready, take)).ns);
        b.bpftrace.push((await tracedRound(t, bpftraceCount(binary, 'bench_burst'), btReady, take)).ns);
        b.netcap.push((await tracedRound(t, netcapMbuf(t.pid, 'bench_burst@1@2', 'tcp port 80'), ready, take)).ns);
      });
    }
  } finally {
    for (const t of targets) await t.stop();
    if (!ctx?.workDir) fs.rmSync(dir, { recursive: true, force: true });
  }
  const added = (traced: number[], bare: number[]) => traced.map((x, i) => x - bare[i]);
  const addedBt = added(s.bpftrace, s.bare);
  const addedMatched = added(s.matched, s.bare);
  const addedBtU = added(s.bpftraceU, s.bareU);
  const addedUnmatched = added(s.unmatched, s.bareU);
  const perPacketBurst = added(b.netcap, b.bare).map((x) => x / BURST);
  const perPacketBurstBt = added(b.bpftrace, b.bare).map((x) => x / BURST);
  const ratioMatched = pairedRatios(addedMatched, addedBt);
  const ratioUnmatched = pairedRatios(addedUnmatched, addedBtU);
  const ratioBurst = pairedRatios(perPacketBurst, addedMatched);
  const ratioFirst = pairedRatios(first.netcap, first.bpftrace);
  const med = (x: number[]) => summarize(x).median;
  const markdown = [
    `Traced program: bench/mbuf-target.c (gcc -O2), a loop calling \`bench_one(struct rte_mbuf-like *)\` or \`bench_burst(pkts, ${BURST})\` pinned to the last CPU (the tools to CPU 0); each figure is the median CPU time per call of the traced thread (CLOCK_THREAD_CPUTIME_ID: the uprobe trap and the BPF program count, time other processes hold the CPU does not) over ${take} rounds taken after the tool attached (the first rounds skipped), ${repeats} repetitions; "added" is traced minus the bare rounds of the same repetition. netcap writes to /dev/null (\`--loss-ok\`: the reader may fall behind a loop that produces a packet every few µs; losses cost the probe nothing more).`,
    '',
    figureTable([
      { label: 'bare call (single mbuf)', samples: s.bare, unit: 'ns' },
      { label: 'added by bpftrace empty count uprobe', samples: addedBt, unit: 'ns' },
      { label: 'added by netcap, filter matches (copy + ring)', samples: addedMatched, unit: 'ns', ratios: ratioMatched, anchor: 'bpftrace count (goal ≤ 1.15x)' },
      { label: 'added by netcap, filter matches nothing', samples: addedUnmatched, unit: 'ns', ratios: ratioUnmatched, anchor: 'bpftrace count, same program (goal ≤ 1.05x)' },
      { label: `bare burst call (${BURST} mbufs)`, samples: b.bare, unit: 'ns' },
      { label: `added by bpftrace per packet in a ${BURST}-burst`, samples: perPacketBurstBt, unit: 'ns' },
      { label: `added by netcap per packet in a ${BURST}-burst (all match)`, samples: perPacketBurst, unit: 'ns', ratios: ratioBurst, anchor: 'netcap single-call cost, matched (goal ≤ 0.1x)' },
      { label: 'start to first captured packet, netcap', samples: first.netcap, unit: 'ms', ratios: ratioFirst, anchor: 'bpftrace start to first hit (goal ≤ 0.5x)' },
      { label: 'start to first hit, bpftrace', samples: first.bpftrace, unit: 'ms' },
    ]),
    '',
    `Where netcap's time to the first packet goes (the same runs, medians of ${phases.length}; the last phase ends when the session reads the ring, which it does every ${DRAIN_INTERVAL_MS} ms while the probes wake it only once an eighth of the ring is full):`,
    '',
    phaseTable(phases),
    '',
    commandsBlock([
      'mbuf-target single match   # and: single nomatch, burst match',
      "bpftrace -e 'uprobe:BIN:bench_one { @c = count(); }'",
      'netcap mbuf -f bench_one@1 --pid PID --dpdk-version 22.11 -e "tcp port 80" -w /dev/null --loss-ok',
      'netcap mbuf -f bench_burst@1@2 --pid PID --dpdk-version 22.11 -e "tcp port 80" -w /dev/null --loss-ok',
      'netcap mbuf -f bench_one@1 --pid PID --dpdk-version 22.11 -e "tcp port 80" -c 1 -w -   # time to first packet',
      "bpftrace -e 'uprobe:BIN:bench_one { printf(\"hit\\n\"); exit(); }'",
    ]),
  ].join('\n');
  return {
    markdown,
    figures: {
      'mbuf.single.bare_ns': med(s.bare),
      'mbuf.single.bpftrace_added_ns': med(addedBt),
      'mbuf.single.matched_added_ns': med(addedMatched),
      'mbuf.single.unmatched_added_ns': med(addedUnmatched),
      'mbuf.single.matched.ratio_vs_bpftrace': med(ratioMatched),
      'mbuf.single.unmatched.ratio_vs_bpftrace': med(ratioUnmatched),
      'mbuf.burst32.per_packet_added_ns': med(perPacketBurst),
      'mbuf.burst32.ratio_vs_single': med(ratioBurst),
      'mbuf.first_packet_ms': med(first.netcap),
      'mbuf.first_packet.ratio_vs_bpftrace': med(ratioFirst),
    },
    ...(skipped.length ? { skipped } : {}),
  };
}

export const section: BenchSection = {
  id: 'mbuf',
  title: 'netcap mbuf: cost per traced call, per packet in bursts, time to first packet',
  budgetMs: 600_000,
  run: (ctx) => runMbufBench(ctx),
};

if (require.main === module) {
  const quick = process.argv.includes('--quick');
  runMbufBench({ repeats: quick ? 2 : 5, quick, log: (m) => process.stderr.write(`mbuf: ${m}\n`), workDir: fs.mkdtempSync(path.join(os.tmpdir(), 'netcap-bench-mbuf-')) }).then(
    (r) => {
      process.stdout.write(`${r.markdown}\n\n${Object.entries(r.figures).map(([k, v]) => `${k} = ${num(v)}`).join('\n')}\n`);
    },
    (e: unknown) => {
      process.stderr.write(`mbuf bench failed: ${(e as Error).stack ?? String(e)}\n`);
      process.exitCode = 1;
    },
  );
}
