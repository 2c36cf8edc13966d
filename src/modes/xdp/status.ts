// Counters in xdpcap's shape: per action, packets the XDP program gave
// that verdict (received by the hook) / packets the filter matched, as
// `drop: 120/3  pass: 9810/41`, one group per hook. The mode's statusText
// (the live line the command redraws on a terminal) and its end-of-capture
// report.
import type { PointStats } from '../../capture/stats';
import { actionName } from './actions';

/** One capture point of `netcap xdp`: one slot of one hook. */
export interface XdpPointRef {
  hookName: string;
  hookEntries: number;
  action: number;
}

function perHook(points: readonly XdpPointRef[], counts: readonly PointStats[]): { name: string; entries: number; parts: string[] }[] {
  const groups: { name: string; entries: number; parts: string[] }[] = [];
  points.forEach((p, i) => {
    let g = groups.find((x) => x.name === p.hookName);
    if (!g) groups.push((g = { name: p.hookName, entries: p.hookEntries, parts: [] }));
    const c = counts[i];
    const lost = c && c.lost > 0n ? ` (${c.lost} lost)` : '';
    g.parts.push(`${actionName(p.action)}: ${c?.seen ?? 0n}/${c?.matched ?? 0n}${lost}`);
  });
  return groups;
}

/** `drop: 120/3  pass: 9810/41` for one hook, `lb: drop: ... | fw: drop: ...` for several. */
export function formatXdpCounts(points: readonly XdpPointRef[], counts: readonly PointStats[]): string {
  const groups = perHook(points, counts);
  if (groups.length === 1) return groups[0].parts.join('  ');
  return groups.map((g) => `${g.name}: ${g.parts.join('  ')}`).join(' | ');
}

/** The lines at the end: per hook, received/matched per action, and a 4-entry hook's missing REDIRECT slot. */
export function formatXdpSummary(points: readonly XdpPointRef[], counts: readonly PointStats[]): string[] {
  return perHook(points, counts).map((g) => `xdp:${g.name} received/matched: ${g.parts.join('  ')}${g.entries < 5 ? `  (no redirect slot: the hook map has ${g.entries} entries)` : ''}`);
}
