// The packet bytes of a batch, copied into an output buffer by the addon in
// one call once the writer has laid out the records around them
// (native/src/copy.cc says why JavaScript could not do it cheaply). A
// writer adds each packet's copy as it writes the record's fields and runs
// them all before the buffer is handed on.
import { native } from '../native';

export class RangeCopies {
  /** source offset, destination offset and length of each copy: 3 numbers a copy. */
  private jobs = new Uint32Array(3 * 1024);
  private count = 0;

  /** Forgets copies not run (a writer that threw between add and run): call before the first add of a buffer. */
  start(): this {
    this.count = 0;
    return this;
  }

  /** A copy of `length` bytes of the source at `from` to the output at `to`, made by run(). */
  add(from: number, to: number, length: number): void {
    const k = 3 * this.count;
    if (k + 3 > this.jobs.length) {
      const grown = new Uint32Array(2 * this.jobs.length);
      grown.set(this.jobs);
      this.jobs = grown;
    }
    this.jobs[k] = from;
    this.jobs[k + 1] = to;
    this.jobs[k + 2] = length;
    this.count++;
  }

  /** Makes every copy added since the last run, from `source` into `out` (offsets relative to each). */
  run(source: Uint8Array, out: Uint8Array): void {
    if (this.count === 0) return;
    const count = this.count;
    this.count = 0;
    native().copyRanges(source, out, this.jobs, count);
  }
}
