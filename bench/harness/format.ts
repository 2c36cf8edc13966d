// Markdown for figures: every figure is printed as median with its spread,
// and as a ratio to its anchor where it has one, so sections look alike.
import { summarize, type Summary } from './stats';

/** A number with a sensible number of digits for a table. */
export function num(x: number, digits = 3): string {
  if (!Number.isFinite(x)) return 'n/a';
  if (x === 0) return '0';
  const abs = Math.abs(x);
  if (abs >= 1000) return Math.round(x).toLocaleString('en-US');
  return Number(x.toPrecision(digits)).toString();
}

/** "12.3 (10.1..14.2, n=5)": median, min..max and the sample count. */
export function medianWithSpread(s: Summary, unit = ''): string {
  if (s.n === 0) return 'n/a';
  const u = unit ? ` ${unit}` : '';
  return `${num(s.median)}${u} (${num(s.min)}..${num(s.max)}, n=${s.n})`;
}

export interface FigureRow {
  /** What was measured, e.g. "netcap mbuf, filter matches all". */
  label: string;
  /** The raw samples (one per repetition). */
  samples: readonly number[];
  unit: string;
  /** Ratios to the anchor (ideally paired per repetition, see stats.pairedRatios). */
  ratios?: readonly number[];
  /** What the ratio is against, e.g. "no capture". */
  anchor?: string;
}

/** A markdown table: figure | median (min..max, n) | ratio to anchor (median, min..max) | anchor. */
export function figureTable(rows: readonly FigureRow[]): string {
  const lines = ['| measured | median (min..max, n) | ratio to anchor | anchor |', '|---|---|---|---|'];
  for (const r of rows) {
    const ratio = r.ratios && r.ratios.length ? medianWithSpread(summarize(r.ratios), 'x') : '—';
    lines.push(`| ${r.label} | ${medianWithSpread(summarize(r.samples), r.unit)} | ${ratio} | ${r.anchor ?? '—'} |`);
  }
  return lines.join('\n');
}

/** A fenced block of the commands that produced the figures. */
export function commandsBlock(commands: readonly string[]): string {
  return ['```', ...commands, '```'].join('\n');
}

/** argv as a reader would type it (quotes around words with spaces or shell characters); for display only, never run. */
export function displayCommand(argv: readonly string[]): string {
  return argv.map((a) => (/^[\w@%+=:,./<>-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
}
