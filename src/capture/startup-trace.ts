// NETCAP_TRACE_STARTUP=1: one stderr line per start-up phase, in ms since
// the process started (performance.now() counts from Node's time origin),
// so the time to the first packet can be broken down without a profiler
// (bench/mbuf.ts compares it with bpftrace's). Off, a mark costs one
// boolean test.
const enabled = process.env.NETCAP_TRACE_STARTUP === '1';

/** Notes that `phase` has just finished. */
export function startupMark(phase: string): void {
  if (enabled) process.stderr.write(`netcap startup: ${performance.now().toFixed(1).padStart(7)} ms  ${phase}\n`);
}
