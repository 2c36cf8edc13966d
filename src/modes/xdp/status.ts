// Counters in xdpcap's shape: per action, packets the XDP program gave
// that verdict (received by the hook) / packets the filter matched, as
// `drop: 120/3  pass: 9810/41`, one group per hook. Shown live on a
// terminal once a second (redrawn in place like the session's status
// line, which `netcap xdp` turns off) and once more after the summary.
import type { PointCounts } from '../../capture/summary';
import { actionName } from './actions';

/** One capture point of `netcap xdp`: one slot of one hook. */
export interface XdpPointRef {
  hookName: string;
  hookEntries: number;
  action: number;
}

function perHook(points: readonly XdpPointRef[], counts: readonly PointCounts[]): { name: string; entries: number; parts: string[] }[] {
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
export function formatXdpCounts(points: readonly XdpPointRef[], counts: readonly PointCounts[]): string {
  const groups = perHook(points, counts);
  if (groups.length === 1) return groups[0].parts.join('  ');
  return groups.map((g) => `${g.name}: ${g.parts.join('  ')}`).join(' | ');
}

/** The lines after the summary: per hook, received/matched per action, and a 4-entry hook's missing REDIRECT slot. */
export function formatXdpSummary(points: readonly XdpPointRef[], counts: readonly PointCounts[]): string {
  return perHook(points, counts)
    .map((g) => `xdp:${g.name} received/matched: ${g.parts.join('  ')}${g.entries < 5 ? `  (no redirect slot: the hook map has ${g.entries} entries)` : ''}\n`)
    .join('');
}

/** The live line on a terminal: "\r" + text + erase to the end of the line, cut to the terminal's width. */
export class XdpStatusLine {
  private timer: NodeJS.Timeout | undefined;
  private drawn = false;

  constructor(
    private readonly stream: NodeJS.WritableStream,
    private readonly text: () => string,
    private readonly intervalMs = 1000,
  ) {}

  start(): this {
    if (this.timer || (this.stream as NodeJS.WriteStream).isTTY !== true) return this;
    this.timer = setInterval(() => this.draw(), this.intervalMs);
    return this;
  }

  private draw(): void {
    let text: string;
    try {
      text = this.text();
    } catch {
      return; // the maps are being closed: the summary will tell
    }
    const columns = (this.stream as NodeJS.WriteStream).columns;
    this.stream.write(`\r${columns && text.length >= columns ? text.slice(0, columns - 1) : text}\x1b[K`);
    this.drawn = true;
  }

  /** Stops and erases the line. Idempotent. */
  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    if (this.drawn) this.stream.write('\r\x1b[K');
    this.drawn = false;
  }
}
