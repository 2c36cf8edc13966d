// Runs one section inside its time budget with its own scratch directory and
// clean-up list. A section that throws or overruns still gets its clean-ups
// run, and the harness goes on with the next one: one broken benchmark must
// not cost the others' figures.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { onAbort } from './last-resort';
import type { BenchContext, BenchResult, BenchSection } from './section';

export interface SectionOutcome {
  section: BenchSection;
  result?: BenchResult;
  error?: string;
  elapsedMs: number;
  /** 1-minute load average when the section started: how busy the machine was (other work skews figures). */
  loadAverage: number;
}

export interface RunSectionOptions {
  repoRoot: string;
  repeats: number;
  quick: boolean;
  /** Caps the section's budget (what is left of the whole run). */
  maxMs: number;
}

export async function runSection(section: BenchSection, opts: RunSectionOptions): Promise<SectionOutcome> {
  const started = Date.now();
  const budgetMs = Math.min(section.budgetMs, opts.maxMs);
  const cleanups: (() => void | Promise<void>)[] = [];
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), `nc-bench-${section.id}-`));
  const removeWorkDir = onAbort(() => fs.rmSync(workDir, { recursive: true, force: true }));
  const ctx: BenchContext = {
    repoRoot: opts.repoRoot,
    workDir,
    repeats: opts.repeats,
    quick: opts.quick,
    remainingMs: () => budgetMs - (Date.now() - started),
    log: (message) => process.stderr.write(`bench ${section.id}: ${message}\n`),
    onCleanup: (fn) => cleanups.push(fn),
  };
  let timer: NodeJS.Timeout | undefined;
  const overrun = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`stopped after its budget of ${Math.round(budgetMs / 1000)} s`)), budgetMs);
  });
  const outcome: SectionOutcome = { section, elapsedMs: 0, loadAverage: os.loadavg()[0] };
  try {
    outcome.result = await Promise.race([section.run(ctx), overrun]);
  } catch (e) {
    outcome.error = e instanceof Error ? e.message : String(e);
    ctx.log(`failed: ${outcome.error}`);
  } finally {
    clearTimeout(timer);
    for (const fn of cleanups.reverse()) {
      try {
        await fn();
      } catch (e) {
        ctx.log(`clean-up failed: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    removeWorkDir();
    outcome.elapsedMs = Date.now() - started;
  }
  return outcome;
}
