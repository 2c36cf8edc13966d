// Waits until a datapath forwards: injects numbered marker frames on one
// interface and watches for them on another. DPDK's af_packet PMD opens its
// sockets during device probe, before the forwarding loop runs, so markers
// sent in between queue up and come out together once it runs; this waits a
// little for those stragglers so they don't land in the caller's capture.
import { newProbeTag, probeFrame, probeSeq } from './frames';
import { inject, receive } from './inject';
import type { Namespace } from './netns';

export interface WaitForwardingOptions {
  timeoutMs?: number;
  intervalMs?: number;
  /** Rejects early (e.g. when the forwarding process died). */
  abort?: Promise<never>;
}

/**
 * Resolves with the milliseconds until a marker injected on `inIf` came out
 * of `outIf`, counted from the call (so a caller that spawns a process just
 * before gets its start-up time).
 */
export async function waitForwarding(ns: Namespace, inIf: string, outIf: string, opts: WaitForwardingOptions = {}): Promise<number> {
  const timeoutMs = opts.timeoutMs ?? 20_000;
  const intervalMs = opts.intervalMs ?? 50;
  const tag = newProbeTag();
  const started = Date.now();
  const rx = await receive(ns, outIf, { durationMs: timeoutMs + 1000 });
  try {
    let seq = 0;
    const arrived = () => rx.frames.some((f) => probeSeq(f, tag) !== undefined);
    while (!arrived()) {
      if (Date.now() - started > timeoutMs) throw new Error(`nothing injected on ${ns.name}/${inIf} came out of ${outIf} within ${timeoutMs} ms`);
      await Promise.race([inject(ns, inIf, [probeFrame(tag, seq++)]), ...(opts.abort ? [opts.abort] : [])]);
      await Promise.race([new Promise((r) => setTimeout(r, intervalMs)), ...(opts.abort ? [opts.abort] : [])]);
    }
    const elapsed = Date.now() - started;
    // Stragglers: markers queued before the loop ran, out within a few ms.
    const settleUntil = Date.now() + 300;
    while (Date.now() < settleUntil && rx.frames.filter((f) => probeSeq(f, tag) !== undefined).length < seq) {
      await new Promise((r) => setTimeout(r, 20));
    }
    return elapsed;
  } finally {
    await rx.stop();
  }
}
