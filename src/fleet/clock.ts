// An agent's clock against the client's, from request round trips (the way
// NTP's client does it, without NTP): the client reads its clock (t0), asks
// GET /info, which answers with the agent's clock (the same realtime its
// packets are stamped with), and reads its clock again (t1). If the answer
// was made half way, offset = agent - (t0 + t1) / 2, and whatever the
// asymmetry, the truth lies within (t1 - t0) / 2 of it. Of several round
// trips the shortest is kept: its bound is the tightest.
import { realtimeNs } from '../capture/clock';
import type { ServiceInfo } from '../service/client';

export interface ClockEstimate {
  /** agent - client, in ns: add it to a client time to get the agent's. */
  offsetNs: bigint;
  /** Half the shortest round trip: the offset is right to within this. */
  errorNs: bigint;
  /** Round trips made. */
  samples: number;
}

/** Round trips per estimate: enough for one short one on a busy network, few enough to start at once. */
export const CLOCK_SAMPLES = 8;

/** Estimates the offset from `samples` sequential calls of `info` (the agent's GET /info). */
export async function estimateClock(info: () => Promise<Pick<ServiceInfo, 'clock'>>, samples = CLOCK_SAMPLES): Promise<ClockEstimate> {
  let best: ClockEstimate | undefined;
  for (let i = 0; i < samples; i++) {
    const t0 = realtimeNs();
    const answer = await info();
    const t1 = realtimeNs();
    const agent = BigInt(answer.clock.realtimeNs);
    const estimate = { offsetNs: agent - (t0 + t1) / 2n, errorNs: (t1 - t0) / 2n, samples };
    if (!best || estimate.errorNs < best.errorNs) best = estimate;
  }
  return best!;
}

/**
 * The shift put on an agent's timestamps to bring them onto the client's
 * clock: none when the offset is within its error (the clocks agree as far
 * as round trips can tell, and shifting would only add the error), else
 * minus the offset.
 */
export function clockShift(estimate: ClockEstimate): bigint {
  const magnitude = estimate.offsetNs < 0n ? -estimate.offsetNs : estimate.offsetNs;
  return magnitude <= estimate.errorNs ? 0n : -estimate.offsetNs;
}

/** "+1.234 ms ± 0.056 ms" */
export function describeClock(e: ClockEstimate): string {
  return `${formatNs(e.offsetNs, true)} ± ${formatNs(e.errorNs)}`;
}

export function formatNs(ns: bigint, signed = false): string {
  const sign = ns < 0n ? '-' : signed ? '+' : '';
  const abs = Number(ns < 0n ? -ns : ns);
  return abs >= 1e9 ? `${sign}${(abs / 1e9).toFixed(3)} s` : abs >= 1e6 ? `${sign}${(abs / 1e6).toFixed(3)} ms` : `${sign}${(abs / 1e3).toFixed(1)} µs`;
}
