// Probe timestamps are bpf_ktime_get_ns(): CLOCK_MONOTONIC, which stops
// meaning anything outside this boot. Files need wall-clock time, so the
// session measures (realtime - monotonic) once at start and adds it to every
// record, as perf and bpftrace do. process.hrtime is CLOCK_MONOTONIC on
// Linux (libuv's uv_hrtime), the same clock the kernel helper reads.

export class WallClock {
  /** realtime - monotonic, in nanoseconds. */
  readonly offsetNs: bigint;
  /** offsetNs as the high and low 32 bits of a u64: added to a record's halves with Numbers (record-packets.ts). */
  readonly offsetHigh: number;
  readonly offsetLow: number;

  constructor() {
    // Sample the monotonic clock on both sides of the realtime read and take
    // the middle: the error is at most half the gap (a few microseconds).
    const before = process.hrtime.bigint();
    const realtime = realtimeNs();
    const after = process.hrtime.bigint();
    this.offsetNs = realtime - (before + after) / 2n;
    const u64 = BigInt.asUintN(64, this.offsetNs);
    this.offsetHigh = Number(u64 >> 32n);
    this.offsetLow = Number(u64 & 0xffffffffn);
  }

  /** Wall-clock ns since the epoch for a bpf_ktime_get_ns() value. */
  toRealtime(monotonicNs: bigint): bigint {
    return monotonicNs + this.offsetNs;
  }
}

/** The wall clock in ns since the epoch, to the microsecond (Date.now() has milliseconds only): the time packets are stamped with. */
export function realtimeNs(): bigint {
  return BigInt(Math.round((performance.timeOrigin + performance.now()) * 1000)) * 1000n;
}
