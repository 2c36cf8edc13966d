// pcapng building blocks shared by the writer and the reader: block types,
// option codes, and option lists (code, length, value padded to 32 bits,
// ended by opt_endofopt). Numbers from the pcapng specification,
// https://www.ietf.org/archive/id/draft-ietf-opsawg-pcapng-02.html

export const BLOCK = {
  sectionHeader: 0x0a0d0d0a,
  interfaceDescription: 0x00000001,
  obsoletePacket: 0x00000002,
  simplePacket: 0x00000003,
  interfaceStatistics: 0x00000005,
  enhancedPacket: 0x00000006,
} as const;

export const BYTE_ORDER_MAGIC = 0x1a2b3c4d;

export const OPT = {
  endOfOpt: 0,
  comment: 1,
  shbHardware: 2,
  shbOs: 3,
  shbUserAppl: 4,
  ifName: 2,
  ifDescription: 3,
  ifTsresol: 9,
  ifFilter: 11,
  ifOs: 12,
  epbFlags: 2,
  epbDropcount: 4,
  epbVerdict: 7,
  isbStartTime: 2,
  isbEndTime: 3,
  isbIfRecv: 4,
  isbIfDrop: 5,
  isbFilterAccept: 6,
  isbOsDrop: 7,
  isbUsrDeliv: 8,
} as const;

/** epb_flags bits 0-1: 01 inbound, 10 outbound. */
export const EPB_INBOUND = 1;
export const EPB_OUTBOUND = 2;

/** epb_verdict's first octet: who decided (then, for TC and XDP, the program's 64-bit return value). */
export const VERDICT_TYPE = { hardware: 0, tc: 1, xdp: 2 } as const;

export interface RawOption {
  code: number;
  value: Buffer;
}

export function pad4(n: number): number {
  return (n + 3) & ~3;
}

/** Encodes an option list, little-endian, with its opt_endofopt; empty when there are no options. */
export function encodeOptions(options: readonly RawOption[]): Buffer {
  if (options.length === 0) return Buffer.alloc(0);
  const parts: Buffer[] = [];
  for (const o of options) {
    const h = Buffer.alloc(4);
    h.writeUInt16LE(o.code, 0);
    h.writeUInt16LE(o.value.length, 2);
    parts.push(h, o.value, Buffer.alloc(pad4(o.value.length) - o.value.length));
  }
  parts.push(Buffer.alloc(4)); // opt_endofopt
  return Buffer.concat(parts);
}

/** A whole block: type, total length, body (padded), options, total length again. */
export function encodeBlock(type: number, body: Buffer, options: readonly RawOption[] = []): Buffer {
  const paddedBody = body.length % 4 === 0 ? body : Buffer.concat([body, Buffer.alloc(pad4(body.length) - body.length)]);
  const opts = encodeOptions(options);
  const total = 12 + paddedBody.length + opts.length;
  const head = Buffer.alloc(8);
  head.writeUInt32LE(type, 0);
  head.writeUInt32LE(total, 4);
  const tail = Buffer.alloc(4);
  tail.writeUInt32LE(total, 0);
  return Buffer.concat([head, paddedBody, opts, tail]);
}

export function stringOption(code: number, text: string): RawOption {
  return { code, value: Buffer.from(text, 'utf8') };
}

export function u32Option(code: number, value: number): RawOption {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(value >>> 0);
  return { code, value: b };
}

export function u64Option(code: number, value: bigint): RawOption {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt.asUintN(64, value));
  return { code, value: b };
}

/** A timestamp option (isb_starttime/endtime): high and low 32-bit halves in if_tsresol units. */
export function timestampOption(code: number, units: bigint): RawOption {
  const b = Buffer.alloc(8);
  b.writeUInt32LE(Number((units >> 32n) & 0xffffffffn), 0);
  b.writeUInt32LE(Number(units & 0xffffffffn), 4);
  return { code, value: b };
}

/**
 * Parses an option list starting at `offset` and ending before `end`, in the
 * section's byte order. Stops at opt_endofopt or the end of the block.
 */
export function decodeOptions(buf: Buffer, offset: number, end: number, littleEndian: boolean): RawOption[] {
  const out: RawOption[] = [];
  let at = offset;
  while (at + 4 <= end) {
    const code = littleEndian ? buf.readUInt16LE(at) : buf.readUInt16BE(at);
    const length = littleEndian ? buf.readUInt16LE(at + 2) : buf.readUInt16BE(at + 2);
    if (code === OPT.endOfOpt) break;
    if (at + 4 + length > end) break; // malformed: ignore the rest, keep the packet
    out.push({ code, value: buf.subarray(at + 4, at + 4 + length) });
    at += 4 + pad4(length);
  }
  return out;
}
