// A batch of captured packets as columns over shared bytes: what a capture
// hands to the outputs that write its records as they are (pcap and pcapng
// files), so that no object, BigInt, string or copy is made per packet. At
// 100k packets/s the objects of the general path (CapturedPacket, its
// metadata, a copy of the bytes) kept the garbage collector busy for a
// fifth of the time (bench/RESULTS.md, "User space"). A packet as a
// CapturedPacket, and its comment, are made only when an output asks.
import type { CapturedPacket } from './packet';

/** PacketBatch.direction: not known. */
export const DIRECTION_UNKNOWN = 0;
export const DIRECTION_IN = 1;
export const DIRECTION_OUT = 2;

/**
 * Packets 0 .. count-1. The columns may be longer than `count` (they are
 * reused from batch to batch) and, like `bytes`, are valid only during the
 * call they are handed to: an output copies what it keeps.
 */
export interface PacketBatch {
  readonly count: number;
  /** Packet i's bytes are bytes[dataStart[i], dataStart[i] + caplen[i]). */
  readonly bytes: Buffer;
  readonly dataStart: Uint32Array;
  readonly caplen: Uint32Array;
  readonly wirelen: Uint32Array;
  /** The output interface (CapturedPacket.ifIndex). */
  readonly ifIndex: Uint32Array;
  /** Wall-clock time in ns since the epoch: the high and the low 32 bits. */
  readonly tsHigh: Uint32Array;
  readonly tsLow: Uint32Array;
  /** DIRECTION_UNKNOWN, DIRECTION_IN or DIRECTION_OUT. */
  readonly direction: Uint8Array;
  /** A raw-IP packet's EtherType (CapturedPacket.etherType; 0 when none is known). */
  readonly etherType: Uint16Array;
  /** The UTF-8 bytes of packet i's comment (packetComment of its metadata), or undefined; shared between packets: not to be modified. */
  comment(i: number): Buffer | undefined;
  /** Packet i as a CapturedPacket (its own copy of the bytes), made now. */
  packet(i: number): CapturedPacket;
}

/**
 * A PacketBatch's columns, reused from batch to batch and grown when a
 * batch needs more: what a capture's ring batch (src/capture/record-packets.ts)
 * and a file's kept packets (src/output/pcap-columns.ts) fill.
 */
export abstract class BatchColumns implements PacketBatch {
  count = 0;
  bytes: Buffer = Buffer.alloc(0);
  dataStart = new Uint32Array(0);
  caplen = new Uint32Array(0);
  wirelen = new Uint32Array(0);
  ifIndex = new Uint32Array(0);
  tsHigh = new Uint32Array(0);
  tsLow = new Uint32Array(0);
  direction = new Uint8Array(0);
  etherType = new Uint16Array(0);
  /** Where packet i's record (its header, then its bytes) starts in `bytes`: for packet() and what else reads the header again. */
  protected recordStart = new Uint32Array(0);

  abstract comment(i: number): Buffer | undefined;
  abstract packet(i: number): CapturedPacket;

  /** Room for `count` packets (the columns' contents are lost when they grow); whether they grew. */
  protected grow(count: number): boolean {
    if (this.caplen.length >= count) return false;
    const n = Math.max(count, 2 * this.caplen.length, 1024);
    this.dataStart = new Uint32Array(n);
    this.caplen = new Uint32Array(n);
    this.wirelen = new Uint32Array(n);
    this.ifIndex = new Uint32Array(n);
    this.tsHigh = new Uint32Array(n);
    this.tsLow = new Uint32Array(n);
    this.direction = new Uint8Array(n);
    this.etherType = new Uint16Array(n);
    this.recordStart = new Uint32Array(n);
    return true;
  }
}

// 2^32 and 2^48 as multiples of 10^9 and remainders: a 64-bit count of
// nanoseconds split into seconds with Numbers only (every partial sum
// stays below 2^53, so the arithmetic is exact).
const NS_PER_S = 1_000_000_000;
const P32_S = 4;
const P32_NS = 294_967_296;
const P48_S = 281_474;
const P48_NS = 976_710_656;

/**
 * Seconds and nanoseconds within the second of `high` * 2^32 + `low`
 * nanoseconds (the halves of a u64, as a record carries it), exactly.
 * Writes them to out[0] and out[1] (no object per call).
 */
export function splitNanoseconds(high: number, low: number, out: Float64Array): void {
  const h1 = Math.floor(high / 65536);
  const h0 = high - h1 * 65536;
  const rest = h1 * P48_NS + h0 * P32_NS + low;
  // rest < 2^47, so rest / 10^9 is rounded by far less than 10^-9 and floor()
  // is exact; a floating-point % would be a call into C per packet in V8.
  const seconds = Math.floor(rest / NS_PER_S);
  out[0] = h1 * P48_S + h0 * P32_S + seconds;
  out[1] = rest - seconds * NS_PER_S;
}

/**
 * The halves of `seconds` * 10^9 + `nanoseconds` (seconds < 2^32,
 * nanoseconds < 10^9), as a record carries a u64: out[0] the high and
 * out[1] the low 32 bits, exactly, with Numbers only (splitNanoseconds'
 * inverse).
 */
export function joinNanoseconds(seconds: number, nanoseconds: number, out: Uint32Array): void {
  // seconds = s1 * 2^16 + s0: the product is x * 2^16 + y with x and y below 2^53.
  const s1 = Math.floor(seconds / 65536);
  const x = s1 * NS_PER_S;
  const y = (seconds - s1 * 65536) * NS_PER_S + nanoseconds;
  // x * 2^16 = xHigh * 2^32 + xLow * 2^16.
  const xHigh = Math.floor(x / 65536);
  const low = (x - xHigh * 65536) * 65536 + y;
  const carry = Math.floor(low / 4294967296);
  out[0] = xHigh + carry;
  out[1] = low - carry * 4294967296;
}

/** The u64 `high` * 2^32 + `low` as a BigInt. */
export function joinHalves(high: number, low: number): bigint {
  return (BigInt(high) << 32n) | BigInt(low);
}
