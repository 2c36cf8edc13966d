// The summary a capture prints when it ends, in tcpdump's words ("N packets
// captured", "N packets received by filter", "N packets dropped by kernel")
// adapted to probes: every probe hit is "seen", the filter's accepts are
// "matched", and a full ring is "lost" (never silently).
import type { PointStats } from '../src/capture/stats';

export function formatSummary(names: readonly string[], counts: readonly PointStats[], captured: number): string {
  const sum = (k: keyof PointStats) => counts.reduce((s, c) => s + c[k], 0n);
  const lines = [
    `${packets(captured)} captured`,
    `${packets(sum('seen'))} seen by probes`,
    `${packets(sum('matched'))} matched by filter`,
    `${packets(sum('lost'))} lost in ring`,
  ];
  const readErrors = sum('readErrors');
  if (readErrors > 0n) lines.push(`${readErrors} read error${readErrors === 1n ? '' : 's'} (packet memory not readable)`);
  if (names.length > 1 || readErrors > 0n) {
    names.forEach((name, i) => {
      const c = counts[i];
      lines.push(`  ${name}: ${c.captured} captured, ${c.seen} seen, ${c.matched} matched, ${c.lost} lost, ${c.readErrors} read errors`);
    });
  }
  return lines.join('\n') + '\n';
}

/** "1 packet", "0 packets", "2 packets". */
export function packets(n: number | bigint): string {
  return `${n} packet${n === 1 || n === 1n ? '' : 's'}`;
}
