// Moments and lengths of time as users write them: "2.5s", "300ms",
// "150us", "20ns", "1m", or a plain number of seconds.
import { UserError } from '../errors';

const UNIT_NS: Record<string, number> = { ns: 1, us: 1e3, 'µs': 1e3, ms: 1e6, s: 1e9, '': 1e9, m: 60e9, min: 60e9, h: 3600e9 };

/** Nanoseconds in `text`; `what` names the option in the error. */
export function parseDurationNs(text: string, what: string): number {
  // \u00b5: µ, written so the bundle stays ASCII (scripts/bundle.mjs).
  const m = /^\s*(\d+(?:\.\d*)?|\.\d+)\s*(ns|us|\u00b5s|ms|s|min|m|h|)\s*$/.exec(text);
  if (!m) throw new UserError(`${what}: "${text}" is not a time`, 'write a number with a unit: 2.5s, 300ms, 150us, 20ns (a plain number is seconds)');
  return Math.round(Number(m[1]) * UNIT_NS[m[2]]);
}

/** "2.5 s", "300 ms", "150 us", "20 ns": the largest unit that keeps the number at least 1. */
export function formatNs(ns: number): string {
  const a = Math.abs(ns);
  if (a >= 1e9) return `${round(ns / 1e9)} s`;
  if (a >= 1e6) return `${round(ns / 1e6)} ms`;
  if (a >= 1e3) return `${round(ns / 1e3)} us`;
  return `${Math.round(ns)} ns`;
}

function round(x: number): string {
  return Math.abs(x) >= 100 ? x.toFixed(0) : Math.abs(x) >= 10 ? x.toFixed(1) : x.toFixed(2);
}
