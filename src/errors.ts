// Errors a user can act on. The CLI prints `netcap: <message>` (and the hint
// on a second line), exits with `exitCode`, and shows `detail` (a verifier
// log, an errno, a stack) only with --verbose.
export class UserError extends Error {
  constructor(
    message: string,
    readonly hint?: string,
    readonly detail?: string,
    readonly exitCode = 2,
  ) {
    super(message);
    this.name = 'UserError';
  }
}

/** Closest names by edit distance, for "did you mean" lists. */
export function closeNames(wanted: string, names: Iterable<string>, max = 5): string[] {
  const scored: [number, string][] = [];
  const w = wanted.toLowerCase();
  for (const n of names) {
    const l = n.toLowerCase();
    const d = l.includes(w) || w.includes(l) ? Math.abs(l.length - w.length) / 4 : editDistance(w, l);
    if (d <= Math.max(2, w.length / 3)) scored.push([d, n]);
  }
  scored.sort((a, b) => a[0] - b[0] || a[1].localeCompare(b[1]));
  return [...new Set(scored.map((s) => s[1]))].slice(0, max);
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length];
}
