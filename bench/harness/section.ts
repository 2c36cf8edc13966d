// The contract between the bench harness (bench/run.ts) and each bench module
// (bench/compile.ts, ringbuf.ts, mbuf.ts, skb.ts, dataplane.ts, ...).
//
// A module exports one `BenchSection` (as `section`, or as its default
// export). The harness runs the sections one after another (they start DPDK,
// create namespaces and attach probes, which must not overlap), gives each a
// time budget, and assembles their markdown into bench/RESULTS.md.
//
// Rules a section follows (issue 7): every run bounded in time and traffic;
// traffic only inside namespaces it made or on loopback; everything it
// created is removed even when it fails (use ctx.onCleanup or a World that
// it destroys in `finally`). Figures are reported, never asserted.

/** What the harness hands to a section. */
export interface BenchContext {
  /** The repository root (holds package.json, bin/netcap). */
  readonly repoRoot: string;
  /** A scratch directory for this section's files (removed after the run). */
  readonly workDir: string;
  /**
   * How many times to repeat each measurement to report a median and spread
   * (default 5; `--quick` makes it 3). Sections may use fewer for costly runs
   * and say so in their markdown.
   */
  readonly repeats: number;
  /** True with `--quick`: shorter runs, for trying the harness out. */
  readonly quick: boolean;
  /** Milliseconds this section may still take; it should stop early and report what it has. */
  remainingMs(): number;
  /** Progress on stderr, prefixed with the section's id. */
  log(message: string): void;
  /** Registers a clean-up that runs (last registered first) when the section ends, even on failure. */
  onCleanup(fn: () => void | Promise<void>): void;
}

/** What a section returns. */
export interface BenchResult {
  /**
   * A markdown fragment (no top-level heading: the harness adds `## title`).
   * Include the commands that produced the figures and the anchor each is
   * compared against. Use bench/harness/format.ts for figure tables.
   */
  markdown: string;
  /**
   * The headline figures by a stable key (e.g. `mbuf.matched.ratio_vs_bpftrace`),
   * for the summary and for comparing runs. Plain numbers; the unit in the key
   * or documented in the markdown.
   */
  figures: Record<string, number>;
  /** Anything that could not be measured here, with the reason (shown in RESULTS.md). */
  skipped?: string[];
}

export interface BenchSection {
  /** Short stable id, also the CLI selector: `npm run bench -- --only mbuf`. */
  readonly id: string;
  /** The heading in RESULTS.md. */
  readonly title: string;
  /** The time this section needs at most (ms); the harness stops waiting after it. */
  readonly budgetMs: number;
  run(ctx: BenchContext): Promise<BenchResult>;
}
