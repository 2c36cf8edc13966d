// The live status line on stderr, like xdpcap's: per capture point, probe
// hits, filter matches and ring losses, redrawn in place once a second
// ("\r" + text + erase-to-end-of-line). Only on a terminal: a redirected
// stderr (a log file, a pipe to a script) gets no control characters.
// stop() erases the line, so the final summary starts on a clean line.
import type { PointStats } from '../src/capture/stats';

export interface StatusLineOptions {
  /** Redraw interval (default 1000 ms). */
  intervalMs?: number;
  /** The captured-packet count so far, shown first when given. */
  captured?: () => number;
  /** The counters' text in the mode's own shape (instead of per point hits/matched/lost). */
  text?: (counts: readonly PointStats[]) => string;
}

/**
 * The status text: `N captured | point: H hits, M matched, L lost | ...`,
 * cut to `columns` characters so it never wraps (a wrapped line cannot be
 * redrawn with a carriage return).
 */
export function formatStatusLine(names: readonly string[], counts: readonly PointStats[], captured?: number, columns?: number, text?: (counts: readonly PointStats[]) => string): string {
  const parts = text ? [text(counts)] : names.map((name, i) => `${name}: ${counts[i]?.seen ?? 0n} hits, ${counts[i]?.matched ?? 0n} matched, ${counts[i]?.lost ?? 0n} lost`);
  if (captured !== undefined) parts.unshift(`${captured} captured`);
  const line = parts.join(' | ');
  return columns && columns > 1 && line.length >= columns ? line.slice(0, columns - 1) : line;
}

export class StatusLine {
  private timer: NodeJS.Timeout | undefined;
  private drawn = false;

  constructor(
    private readonly stream: NodeJS.WritableStream,
    /** The points' names now (a capture may add points while it runs). */
    private readonly names: () => readonly string[],
    private readonly read: () => PointStats[],
    private readonly options: StatusLineOptions = {},
  ) {}

  /** True when the stream is a terminal (the only place a status line goes). */
  static wanted(stream: NodeJS.WritableStream): boolean {
    return (stream as NodeJS.WriteStream).isTTY === true;
  }

  /** Starts redrawing; does nothing when the stream is not a terminal. */
  start(): this {
    if (this.timer || !StatusLine.wanted(this.stream)) return this;
    this.timer = setInterval(() => this.draw(), this.options.intervalMs ?? 1000);
    return this;
  }

  /** Draws the line now (also called by the timer). */
  draw(): void {
    let counts: PointStats[];
    try {
      counts = this.read();
    } catch {
      return; // the maps are being closed: the summary will tell
    }
    const columns = (this.stream as NodeJS.WriteStream).columns;
    this.stream.write(`\r${formatStatusLine(this.names(), counts, this.options.captured?.(), columns, this.options.text)}\x1b[K`);
    this.drawn = true;
  }

  /** Stops redrawing and erases the line if one was drawn. Idempotent. */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    if (this.drawn) this.stream.write('\r\x1b[K');
    this.drawn = false;
  }
}
