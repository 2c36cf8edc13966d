// How late packets went out against their schedule, in constant memory
// whatever the trace's size: a log-linear histogram (64 buckets per power
// of two, so a percentile is within 1.6% of the true value), the exact
// maximum, and the first and last packets' lateness, whose difference is
// the total drift of the replay.
const SUB_BITS = 6;
const SUB = 1 << SUB_BITS;

function bucketOf(ns: number): number {
  const v = Math.max(0, Math.floor(ns));
  if (v < SUB) return v;
  const e = Math.floor(Math.log2(v));
  const mantissa = Math.floor(v / 2 ** (e - SUB_BITS)) - SUB;
  return (e - SUB_BITS + 1) * SUB + mantissa;
}

/** The upper end of a bucket (what a percentile reports). */
function bucketTop(b: number): number {
  if (b < SUB) return b;
  const e = Math.floor(b / SUB) - 1 + SUB_BITS;
  const mantissa = b % SUB;
  return (SUB + mantissa + 1) * 2 ** (e - SUB_BITS) - 1;
}

export interface LatenessSummary {
  count: number;
  p50Ns: number;
  p99Ns: number;
  maxNs: number;
  /** Lateness of the last packet minus that of the first: how far the replay's end slid. */
  driftNs: number;
}

export class LatenessStats {
  private readonly counts = new Map<number, number>();
  private n = 0;
  private max = 0;
  private first: number | undefined;
  private last = 0;

  add(ns: number): void {
    const b = bucketOf(ns);
    this.counts.set(b, (this.counts.get(b) ?? 0) + 1);
    this.n++;
    if (ns > this.max) this.max = ns;
    this.first ??= ns;
    this.last = ns;
  }

  addAll(values: ArrayLike<number>): void {
    for (let i = 0; i < values.length; i++) this.add(values[i]);
  }

  get count(): number {
    return this.n;
  }

  /** The q-quantile (0..1), rounded up to its bucket's top and capped by the maximum. */
  quantile(q: number): number {
    if (this.n === 0) return 0;
    const rank = Math.max(1, Math.ceil(q * this.n));
    let seen = 0;
    for (const b of [...this.counts.keys()].sort((x, y) => x - y)) {
      seen += this.counts.get(b)!;
      if (seen >= rank) return Math.min(bucketTop(b), this.max);
    }
    return this.max;
  }

  summary(): LatenessSummary {
    return { count: this.n, p50Ns: this.quantile(0.5), p99Ns: this.quantile(0.99), maxNs: this.max, driftNs: this.n ? this.last - (this.first ?? 0) : 0 };
  }
}
