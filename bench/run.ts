// `npm run bench` (node dist/bench/run.js): runs every bench module that
// exists, one after another, each inside its time budget and the whole run
// inside --max-minutes, then writes bench/RESULTS.md.
//
//   node dist/bench/run.js [--only id,id] [--quick] [--repeats N] [--max-minutes M] [--out FILE]
//
// A full run writes bench/RESULTS.md; with --only it writes
// bench/build/RESULTS.<ids>.md unless --out says otherwise.
//
// Sections start DPDK, create namespaces and attach probes; running them in
// parallel would make them measure each other, so they run in sequence.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadSections } from './harness/load-sections';
import { describeMachine } from './harness/machine';
import { readingMarkdown } from './harness/reading';
import { resultsMarkdown } from './harness/results';
import { runSection, type SectionOutcome } from './harness/run-section';

interface Options {
  only?: string[];
  quick: boolean;
  repeats?: number;
  maxMinutes: number;
  out: string;
}

const repoRoot = path.resolve(__dirname, '..', '..');

function usage(message: string): never {
  process.stderr.write(
    `bench: ${message}\nusage: node dist/bench/run.js [--only id,id] [--quick] [--repeats N] [--max-minutes M] [--out FILE]\n`,
  );
  process.exit(2);
}

function parseArgs(argv: string[]): Options {
  const opts: Options = { quick: false, maxMinutes: 20, out: path.join(repoRoot, 'bench', 'RESULTS.md') };
  let outGiven = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) usage(`${a} needs a value`);
      return v;
    };
    if (a === '--only') opts.only = value().split(',');
    else if (a === '--quick') opts.quick = true;
    else if (a === '--repeats') opts.repeats = Number(value());
    else if (a === '--max-minutes') opts.maxMinutes = Number(value());
    else if (a === '--out') {
      opts.out = path.resolve(value());
      outGiven = true;
    }
    else usage(`unknown option ${a}`);
  }
  if (opts.repeats !== undefined && !(Number.isInteger(opts.repeats) && opts.repeats >= 1)) usage('--repeats takes a whole number >= 1');
  if (!(opts.maxMinutes > 0)) usage('--max-minutes takes a positive number');
  // A partial run must not replace the committed full RESULTS.md by accident.
  if (opts.only && !outGiven) opts.out = path.join(repoRoot, 'bench', 'build', `RESULTS.${opts.only.join('+')}.md`);
  return opts;
}

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  if (process.getuid?.() !== 0) usage('benchmarks load BPF programs and create namespaces: run as root');
  const started = new Date();
  const deadline = started.getTime() + opts.maxMinutes * 60_000;
  const loaded = loadSections();
  const selected = opts.only ? loaded.filter((l) => opts.only?.includes(l.section?.id ?? l.module) || opts.only?.includes(l.module)) : loaded;
  if (opts.only && selected.length === 0) usage(`--only ${opts.only.join(',')} names no bench module (have: ${loaded.map((l) => l.module).join(', ')})`);
  const missing = selected.filter((l) => !l.section).map((l) => ({ module: l.module, reason: l.missing ?? 'unknown' }));
  const machine = describeMachine();
  const outcomes: SectionOutcome[] = [];
  const runnable = selected.flatMap((l) => (l.section ? [l.section] : []));
  for (const [i, section] of runnable.entries()) {
    const left = deadline - Date.now();
    if (left < 10_000) {
      missing.push({ module: section.id, reason: `the run reached its limit of ${opts.maxMinutes} minutes first` });
      continue;
    }
    // When the budgets left add up to more than the time left, every section
    // gets its share, so the last ones are shortened rather than dropped.
    const budgetsLeft = runnable.slice(i).reduce((sum, s) => sum + s.budgetMs, 0);
    const maxMs = budgetsLeft > left ? Math.floor((left * section.budgetMs) / budgetsLeft) : left;
    process.stderr.write(`bench: ${section.id}: ${section.title} (budget ${Math.round(Math.min(section.budgetMs, maxMs) / 1000)} s)\n`);
    outcomes.push(await runSection(section, { repoRoot, repeats: opts.repeats ?? (opts.quick ? 3 : 5), quick: opts.quick, maxMs }));
  }
  const figures = Object.assign({}, ...outcomes.map((o) => o.result?.figures ?? {})) as Record<string, number>;
  const command = ['npm run bench', ...(process.argv.length > 2 ? ['--', ...process.argv.slice(2)] : [])].join(' ');
  const markdown = resultsMarkdown({
    machine,
    startedAt: started,
    elapsedMs: Date.now() - started.getTime(),
    command,
    outcomes,
    missing,
    reading: readingMarkdown(figures),
  });
  fs.mkdirSync(path.dirname(opts.out), { recursive: true });
  fs.writeFileSync(opts.out, markdown);
  const jsonOut = path.join(repoRoot, 'bench', 'build', opts.only ? `last-figures.${opts.only.join('+')}.json` : 'last-figures.json');
  fs.mkdirSync(path.dirname(jsonOut), { recursive: true });
  fs.writeFileSync(jsonOut, JSON.stringify({ startedAt: started.toISOString(), machine, figures }, null, 2));
  process.stderr.write(`bench: wrote ${path.relative(process.cwd(), opts.out)} (${outcomes.length} sections, ${missing.length} not run)\n`);
  // Sections may leave timers or sockets of helper libraries open; the run is over.
  process.exit(outcomes.some((o) => o.error) ? 1 : 0);
}

main().catch((e: unknown) => {
  process.stderr.write(`bench: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
