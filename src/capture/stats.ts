// Per-point counters as the library reports them: the probes count into a
// per-CPU array (record.ts COUNTER), the reader sums the CPUs when asked,
// and the library adds what it wrote to the outputs.
import { u32, type BpfMap } from '../bpf/map';
import { COUNTER, COUNTERS_PER_POINT } from './record';

export interface PointStats {
  /** Packets the probe looked at (probe hits; every mbuf of a burst). */
  seen: bigint;
  /** Packets the filter accepted. */
  matched: bigint;
  /** Matched packets dropped because the ring was full. */
  lost: bigint;
  /** Packets (or segments) whose bytes could not be read. */
  readErrors: bigint;
  /** Packets written to the outputs. */
  captured: bigint;
}

/** Sums the per-CPU counters of `points` points; `captured` is what the reader wrote per point. */
export function readPointStats(counters: BpfMap, points: number, captured: readonly number[]): PointStats[] {
  const out: PointStats[] = [];
  for (let p = 0; p < points; p++) {
    const get = (k: number) => counters.sumU64(u32(p * COUNTERS_PER_POINT + k));
    out.push({ seen: get(COUNTER.seen), matched: get(COUNTER.matched), lost: get(COUNTER.lost), readErrors: get(COUNTER.readErrors), captured: BigInt(captured[p] ?? 0) });
  }
  return out;
}
