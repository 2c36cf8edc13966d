// The pcapng blocks netcap writes, as functions of their contents: the
// file writer (pcapng-writer.ts, one packet or a whole batch of columns)
// and netcap serve's streams (a batch encoded once for many readers) write
// through the same encoders. An Enhanced Packet Block is sized by one
// function and written by one, putEnhancedPacketBlock, which takes its
// fields as numbers and byte views, so the fast path's columns and a
// CapturedPacket reach it alike, with no object or Buffer per packet.
import * as os from 'node:os';
import { packetComment, type CaptureInterface, type CaptureStatistics, type CapturedPacket, type PacketVerdict } from './packet';
import { BLOCK, BYTE_ORDER_MAGIC, EPB_INBOUND, EPB_OUTBOUND, OPT, VERDICT_TYPE, encodeBlock, pad4, stringOption, timestampOption, u64Option, type RawOption } from './pcapng-format';

/** A Section Header Block: version 1.0, length unknown, the comment, the OS and the application (default "netcap"). */
export function sectionHeaderBlock(options: { application?: string; comment?: string }): Buffer {
  const body = Buffer.alloc(16);
  body.writeUInt32LE(BYTE_ORDER_MAGIC, 0);
  body.writeUInt16LE(1, 4); // version 1.0
  body.writeUInt16LE(0, 6);
  body.writeBigInt64LE(-1n, 8); // section length: not known
  const opts: RawOption[] = [];
  if (options.comment) opts.push(stringOption(OPT.comment, options.comment));
  opts.push(stringOption(OPT.shbOs, `${os.type()} ${os.release()}`));
  opts.push(stringOption(OPT.shbUserAppl, options.application ?? 'netcap'));
  return encodeBlock(BLOCK.sectionHeader, body, opts);
}

/** An Interface Description Block: link type, snap length, name, description, ns resolution, the filter. */
export function interfaceBlock(desc: CaptureInterface): Buffer {
  const body = Buffer.alloc(8);
  body.writeUInt16LE(desc.linktype, 0);
  body.writeUInt32LE(desc.snaplen, 4);
  const options: RawOption[] = [];
  if (desc.name) options.push(stringOption(OPT.ifName, desc.name));
  if (desc.description) options.push(stringOption(OPT.ifDescription, desc.description));
  options.push({ code: OPT.ifTsresol, value: Buffer.from([9]) });
  // if_filter: first byte 0 = "libpcap filter string".
  if (desc.filter) options.push({ code: OPT.ifFilter, value: Buffer.concat([Buffer.from([0]), Buffer.from(desc.filter, 'utf8')]) });
  return encodeBlock(BLOCK.interfaceDescription, body, options);
}

/** An Interface Statistics Block of interface `ifIndex`, at stats.tsNs (default now). */
export function statisticsBlock(ifIndex: number, stats: CaptureStatistics): Buffer {
  const tsNs = stats.tsNs ?? BigInt(Date.now()) * 1_000_000n;
  const body = Buffer.alloc(12);
  body.writeUInt32LE(ifIndex, 0);
  body.writeUInt32LE(Number((tsNs >> 32n) & 0xffffffffn), 4);
  body.writeUInt32LE(Number(tsNs & 0xffffffffn), 8);
  const options: RawOption[] = [];
  if (stats.comment) options.push(stringOption(OPT.comment, stats.comment));
  options.push(timestampOption(OPT.isbEndTime, tsNs));
  if (stats.received !== undefined) options.push(u64Option(OPT.isbIfRecv, stats.received));
  if (stats.interfaceDropped !== undefined) options.push(u64Option(OPT.isbIfDrop, stats.interfaceDropped));
  if (stats.filterAccepted !== undefined) options.push(u64Option(OPT.isbFilterAccept, stats.filterAccepted));
  if (stats.osDropped !== undefined) options.push(u64Option(OPT.isbOsDrop, stats.osDropped));
  if (stats.delivered !== undefined) options.push(u64Option(OPT.isbUsrDeliv, stats.delivered));
  return encodeBlock(BLOCK.interfaceStatistics, body, options);
}

/** epb_verdict's value: the verdict type octet, then the program's return value as a 64-bit integer. */
const VERDICT_BYTES = 9;

/**
 * Bytes of an Enhanced Packet Block (pcapng 4.3): 12 framing, 20 fixed, the
 * padded data, and the options (epb_flags, epb_verdict, the comment,
 * opt_endofopt) — what -C compares with its limit, too.
 */
export function enhancedPacketBlockBytes(caplen: number, flags: boolean, verdict: boolean, commentBytes: number): number {
  const options = (flags ? 8 : 0) + (verdict ? 4 + pad4(VERDICT_BYTES) : 0) + (commentBytes ? 4 + pad4(commentBytes) : 0);
  return 32 + pad4(caplen) + (options ? options + 4 : 0);
}

/** Where an Enhanced Packet Block's packet bytes start, from the start of the block. */
export const EPB_DATA_OFFSET = 28;

/**
 * Writes one Enhanced Packet Block of `block` bytes (enhancedPacketBlockBytes
 * of the same fields) into `out` at `at`; `fields` is a DataView over
 * `out`. The packet's kept bytes are the first `caplen` of `data` (undefined:
 * the caller copies them to `at` + EPB_DATA_OFFSET itself); `flags`
 * is its epb_flags (0: none), `verdict` epb_verdict's value (undefined:
 * none) and `comment` the comment (UTF-8 bytes, or a string written in
 * place) of `commentBytes` bytes (0: none). Returns the offset after the
 * block. Nothing is allocated here: at 100k packets/s a Buffer or view per
 * packet kept the garbage collector busy.
 */
export function putEnhancedPacketBlock(
  out: Buffer,
  fields: DataView,
  at: number,
  block: number,
  ifIndex: number,
  tsHigh: number,
  tsLow: number,
  wirelen: number,
  data: Uint8Array | undefined,
  caplen: number,
  flags: number,
  verdict: Uint8Array | undefined,
  comment: Uint8Array | string | undefined,
  commentBytes: number,
): number {
  const end = at + block;
  fields.setUint32(at, BLOCK.enhancedPacket, true);
  fields.setUint32(at + 4, block, true);
  fields.setUint32(at + 8, ifIndex, true);
  // if_tsresol = 9: the timestamp is in nanoseconds, high 32 bits first.
  fields.setUint32(at + 12, tsHigh, true);
  fields.setUint32(at + 16, tsLow, true);
  fields.setUint32(at + 20, caplen, true);
  fields.setUint32(at + 24, wirelen >>> 0, true); // as given, even below caplen (a file's value is kept)
  if (data) out.set(caplen === data.length ? data : data.subarray(0, caplen), at + EPB_DATA_OFFSET);
  at = zeroTo(out, at + EPB_DATA_OFFSET + caplen, pad4(caplen) - caplen);
  if (flags !== 0) {
    fields.setUint16(at, OPT.epbFlags, true);
    fields.setUint16(at + 2, 4, true);
    fields.setUint32(at + 4, flags, true);
    at += 8;
  }
  if (verdict) {
    fields.setUint16(at, OPT.epbVerdict, true);
    fields.setUint16(at + 2, VERDICT_BYTES, true);
    out.set(verdict, at + 4);
    at = zeroTo(out, at + 4 + VERDICT_BYTES, pad4(VERDICT_BYTES) - VERDICT_BYTES);
  }
  if (commentBytes > 0) {
    fields.setUint16(at, OPT.comment, true);
    fields.setUint16(at + 2, commentBytes, true);
    if (typeof comment === 'string') out.write(comment, at + 4, commentBytes, 'utf8');
    else out.set(comment!, at + 4);
    at = zeroTo(out, at + 4 + commentBytes, pad4(commentBytes) - commentBytes);
  }
  if (at + 4 < end) at = zeroTo(out, at, 4); // opt_endofopt
  fields.setUint32(at, block, true);
  return at + 4;
}

/** epb_flags of a direction: inbound or outbound, 0 when not known. */
export function directionFlags(direction: CapturedPacket['direction']): number {
  return direction === 'in' ? EPB_INBOUND : direction === 'out' ? EPB_OUTBOUND : 0;
}

/** Bytes of the Enhanced Packet Block of `pkt` on an interface of snap length `snaplen` (0: no limit). */
export function enhancedPacketBlockLength(pkt: CapturedPacket, snaplen: number): number {
  const comment = packetComment(pkt);
  return enhancedPacketBlockBytes(caplenOf(pkt, snaplen), directionFlags(pkt.direction) !== 0, pkt.verdict !== undefined, comment ? Buffer.byteLength(comment, 'utf8') : 0);
}

/**
 * Writes the Enhanced Packet Block of `pkt` into `target` at `at`, which has
 * room for enhancedPacketBlockLength() bytes; returns that length. In place,
 * so a writer to many readers encodes a batch into one buffer.
 */
export function writeEnhancedPacketBlock(target: Buffer, at: number, pkt: CapturedPacket, snaplen: number): number {
  const comment = packetComment(pkt);
  const commentBytes = comment ? Buffer.byteLength(comment, 'utf8') : 0;
  const caplen = caplenOf(pkt, snaplen);
  const flags = directionFlags(pkt.direction);
  const block = enhancedPacketBlockBytes(caplen, flags !== 0, pkt.verdict !== undefined, commentBytes);
  const tsHigh = Number((pkt.tsNs >> 32n) & 0xffffffffn);
  const tsLow = Number(pkt.tsNs & 0xffffffffn);
  putEnhancedPacketBlock(target, viewOf(target), at, block, pkt.ifIndex, tsHigh, tsLow, pkt.wirelen, pkt.data, caplen, flags, pkt.verdict && verdictValue(pkt.verdict), comment, commentBytes);
  return block;
}

/** A DataView over `target`, kept for the next call with the same buffer (a batch's blocks go into one: netcap serve's streams). */
let lastTarget: Buffer | undefined;
let lastView: DataView | undefined;
function viewOf(target: Buffer): DataView {
  if (target !== lastTarget || !lastView) {
    lastTarget = target;
    lastView = new DataView(target.buffer, target.byteOffset, target.byteLength);
  }
  return lastView;
}

/** The Enhanced Packet Block of `pkt` as a Buffer of its own. */
export function enhancedPacketBlock(pkt: CapturedPacket, snaplen: number): Buffer {
  const block = Buffer.allocUnsafe(enhancedPacketBlockLength(pkt, snaplen));
  writeEnhancedPacketBlock(block, 0, pkt, snaplen);
  return block;
}

const caplenOf = (pkt: CapturedPacket, snaplen: number) => Math.min(pkt.data.length, snaplen || pkt.data.length);

/** epb_verdict's value: the verdict type octet, then the program's return value as a 64-bit integer (TC's -1 stays -1). */
function verdictValue(v: PacketVerdict): Buffer {
  const value = Buffer.alloc(VERDICT_BYTES);
  value[0] = VERDICT_TYPE[v.type];
  value.writeBigInt64LE(BigInt(v.value), 1);
  return value;
}

/** Zeroes `bytes` bytes of `out` from `at` (padding: a loop beats fill()'s call for 0-3 bytes); returns the offset after them. */
function zeroTo(out: Buffer, at: number, bytes: number): number {
  for (let i = 0; i < bytes; i++) out[at + i] = 0;
  return at + bytes;
}
