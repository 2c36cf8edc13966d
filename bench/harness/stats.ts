// Summary statistics for repeated measurements: the median is what we
// report (robust to the one run a noisy machine spoils), with the spread
// shown as min..max and the interquartile range.

export interface Summary {
  /** How many samples. */
  n: number;
  median: number;
  min: number;
  max: number;
  /** 25th and 75th percentile (linear interpolation). */
  p25: number;
  p75: number;
  /** Interquartile range relative to the median (0.05 = ±5 % spread); NaN when the median is 0. */
  relativeIqr: number;
}

/** The q-quantile (0..1) of sorted values, interpolating linearly between ranks. */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

/** Summarises samples; NaN entries (failed runs) are left out of the figures but not hidden: n counts only the valid ones. */
export function summarize(samples: readonly number[]): Summary {
  const sorted = samples.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  const median = quantile(sorted, 0.5);
  const p25 = quantile(sorted, 0.25);
  const p75 = quantile(sorted, 0.75);
  return {
    n: sorted.length,
    median,
    min: sorted.length ? sorted[0] : NaN,
    max: sorted.length ? sorted[sorted.length - 1] : NaN,
    p25,
    p75,
    relativeIqr: median !== 0 ? (p75 - p25) / median : NaN,
  };
}

/**
 * Ratios of paired samples (run i of the subject against run i of its
 * anchor, measured back to back), so that drift of a noisy machine cancels
 * out within each pair; summarised like any other figure.
 */
export function pairedRatios(subject: readonly number[], anchor: readonly number[]): number[] {
  const n = Math.min(subject.length, anchor.length);
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(anchor[i] !== 0 ? subject[i] / anchor[i] : NaN);
  return out;
}
