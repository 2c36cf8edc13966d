// When each packet is due, in ns after the anchor (the moment the first
// packet goes out). Every deadline is computed from the anchor, never from
// the previous packet's actual send time, so lateness never accumulates:
// the transcriber of the libpcap tutorial slept in whole seconds from one
// packet to the next, and tcpreplay drifted at multipliers for years for
// want of this.
import type { Pace } from './options';

export class Schedule {
  private firstOffsetNs: number | undefined;
  private count = 0;
  private bits = 0;
  private lastDueNs = 0;

  constructor(readonly pace: Pace) {}

  /**
   * The next packet's deadline. Packets come in timeline order; a trace
   * whose clock steps back keeps its order (the deadline never decreases),
   * so a queue ordered by deadline sends them as the file has them.
   */
  next(offsetNs: number, wireBytes: number): number {
    this.firstOffsetNs ??= offsetNs;
    let due: number;
    switch (this.pace.kind) {
      case 'timed':
        due = (offsetNs - this.firstOffsetNs) / this.pace.factor;
        break;
      case 'pps':
        due = (this.count * 1e9) / this.pace.pps;
        break;
      case 'mbps':
        // Each packet starts when the bits before it have gone out at the rate.
        due = (this.bits * 1e3) / this.pace.mbps;
        break;
      case 'topspeed':
        due = 0;
        break;
    }
    this.count++;
    this.bits += wireBytes * 8;
    this.lastDueNs = Math.max(this.lastDueNs, due);
    return this.lastDueNs;
  }
}
