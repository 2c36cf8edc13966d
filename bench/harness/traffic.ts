// One fixed-rate run through a forwarding datapath: frames paced at `rate`
// per second for `durationMs` into one interface, counted as they come out
// of another. The injector (lab/inject.c) paces with clock_nanosleep
// on absolute deadlines and reports how many it sent, so a machine that
// cannot offer the rate shows it in the achieved offered rate.
import { inject, receive, type Namespace } from '../../lab';

export interface TrafficResult {
  /** Frames the injector handed to the kernel. */
  sent: number;
  /** Frames that came out of the far side (counted by a receiver there). */
  received: number;
  /** Frames the datapath transmitted, from the kernel's counter of `txCounterIf` (received when not given). */
  transmitted: number;
  durationMs: number;
  /** sent / duration. */
  offeredPps: number;
  /** transmitted / duration. */
  forwardedPps: number;
  /** (sent - transmitted) / sent. */
  lossRatio: number;
}

export interface TrafficOptions {
  ns: Namespace;
  inIf: string;
  outIf: string;
  frames: Buffer[];
  rate: number;
  durationMs: number;
  /** Time for frames still in flight after the last one was sent (default 500 ms). */
  drainMs?: number;
  /**
   * The link the datapath transmits on (l2fwd's b0): its kernel TX counter says
   * what was forwarded even when the receiver, sharing a CPU with everything
   * else, cannot keep up.
   */
  txCounterIf?: string;
}

export async function runTraffic(o: TrafficOptions): Promise<TrafficResult> {
  const drainMs = o.drainMs ?? 500;
  const txBefore = o.txCounterIf ? o.ns.stats(o.txCounterIf).txPackets : 0;
  const rx = await receive(o.ns, o.outIf, { keepFrames: false, durationMs: o.durationMs + drainMs + 30_000 });
  let sent: number;
  try {
    sent = await inject(o.ns, o.inIf, o.frames, {
      rate: o.rate,
      count: Math.round((o.rate * o.durationMs) / 1000),
      durationMs: o.durationMs,
      timeoutMs: o.durationMs + 30_000,
    });
    await new Promise((r) => setTimeout(r, drainMs));
  } finally {
    await rx.stop().catch(() => undefined);
  }
  const { count: received } = await rx.done;
  const transmitted = o.txCounterIf ? o.ns.stats(o.txCounterIf).txPackets - txBefore : received;
  return {
    sent,
    received,
    transmitted,
    durationMs: o.durationMs,
    offeredPps: (sent * 1000) / o.durationMs,
    forwardedPps: (transmitted * 1000) / o.durationMs,
    lossRatio: sent > 0 ? (sent - transmitted) / sent : NaN,
  };
}
