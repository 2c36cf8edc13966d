// Finds the bench modules that exist and turns each into a BenchSection.
// Modules are written by different people; the preferred shape is
// `export const section: BenchSection` (bench/harness/section.ts), but a
// default export, any exported object with run(), or an exported function
// returning markdown (or { markdown, figures }) are adapted too, so that a
// module that landed in another shape still shows up in RESULTS.md.
import * as path from 'node:path';
import type { BenchContext, BenchResult, BenchSection } from './section';

/** The bench modules, in the order RESULTS.md lists them (files in bench/, without extension). */
export const SECTION_MODULES = ['compile', 'targets-load', 'read', 'ringbuf', 'mbuf', 'skb', 'probe-cost', 'iface', 'dataplane', 'ports', 'dumpcap', 'xdp', 'startup', 'replay'] as const;

/** Default budget for a module that does not declare one. */
const DEFAULT_BUDGET_MS = 180_000;

export interface LoadedSection {
  module: string;
  section?: BenchSection;
  /** Why there is no section (module missing, or no recognisable export). */
  missing?: string;
}

function isSection(x: unknown): x is BenchSection {
  return typeof x === 'object' && x !== null && typeof (x as { run?: unknown }).run === 'function';
}

function asResult(value: unknown): BenchResult {
  if (typeof value === 'string') return { markdown: value, figures: {} };
  if (typeof value === 'object' && value !== null && typeof (value as { markdown?: unknown }).markdown === 'string') {
    const v = value as { markdown: string; figures?: Record<string, number>; skipped?: string[] };
    return { markdown: v.markdown, figures: v.figures ?? {}, ...(v.skipped ? { skipped: v.skipped } : {}) };
  }
  throw new Error('the bench module returned neither markdown nor { markdown, figures }');
}

/** Wraps whatever the module exports into a BenchSection. */
export function adaptModule(name: string, mod: Record<string, unknown>): BenchSection | undefined {
  const candidates: unknown[] = [mod.section, mod.default, ...Object.values(mod)];
  const found = candidates.find(isSection);
  const fn = found ? undefined : ([mod.run, mod.bench, mod.default].find((f) => typeof f === 'function') as ((ctx: BenchContext) => unknown) | undefined);
  if (!found && !fn) return undefined;
  const obj = (found ?? {}) as Partial<BenchSection> & { name?: string };
  const run = found ? found.run.bind(found) : (fn as (ctx: BenchContext) => unknown);
  return {
    id: typeof obj.id === 'string' ? obj.id : name,
    title: typeof obj.title === 'string' ? obj.title : typeof obj.name === 'string' ? obj.name : name,
    budgetMs: typeof obj.budgetMs === 'number' ? obj.budgetMs : DEFAULT_BUDGET_MS,
    run: async (ctx) => asResult(await run(ctx)),
  };
}

/** Loads every module of SECTION_MODULES that exists next to this harness (in dist/bench/). */
export function loadSections(benchDir = path.join(__dirname, '..')): LoadedSection[] {
  return SECTION_MODULES.map((name) => {
    const file = path.join(benchDir, `${name}.js`);
    let mod: Record<string, unknown>;
    try {
      // The modules are optional and only known at run time: a static import would fail the build without them.
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      mod = require(file) as Record<string, unknown>;
    } catch (e) {
      const err = e as { code?: string; message: string };
      if (err.code === 'MODULE_NOT_FOUND' && err.message.includes(file)) return { module: name, missing: `bench/${name}.ts has not landed yet` };
      return { module: name, missing: `bench/${name}.ts failed to load: ${err.message.split('\n')[0]}` };
    }
    const section = adaptModule(name, mod);
    return section ? { module: name, section } : { module: name, missing: `bench/${name}.ts exports no BenchSection or run function` };
  });
}
