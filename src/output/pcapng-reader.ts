// Reads pcapng: any number of sections, each in its own byte order (the SHB's
// byte-order magic says which), interfaces with their if_tsresol and
// if_tsoffset, Enhanced, Simple and (obsolete) Packet Blocks with their
// comments, direction flags and eBPF verdicts, and Interface Statistics
// Blocks. Unknown
// blocks are skipped, as the specification asks.
import { CaptureFormatError, type CaptureFile } from './capture-file';
import type { CaptureInterface, CaptureStatistics, CapturedPacket } from './packet';
import { dltForLinktype } from './linktypes';
import { adjustSnaplen } from './savefile-rules';
import { BLOCK, BYTE_ORDER_MAGIC, EPB_INBOUND, EPB_OUTBOUND, OPT, VERDICT_TYPE, decodeOptions, pad4, type RawOption } from './pcapng-format';

const IF_TSOFFSET = 14;
/** libpcap's BT_SHB_INSANE_MAX. */
const SHB_MAX_LENGTH = 1024 * 1024;

/** Bytes of fixed fields each block type needs between its length fields. */
const MIN_BODY: Record<number, number> = {
  [BLOCK.sectionHeader]: 16,
  [BLOCK.interfaceDescription]: 8,
  [BLOCK.enhancedPacket]: 20,
  [BLOCK.obsoletePacket]: 20,
  [BLOCK.simplePacket]: 4,
  [BLOCK.interfaceStatistics]: 12,
};

export function isPcapng(buf: Buffer): boolean {
  return buf.length >= 12 && buf.readUInt32LE(0) === BLOCK.sectionHeader;
}

interface SectionInterface {
  globalIndex: number;
  snaplen: number;
  /** Converts a timestamp in the interface's units to ns since the epoch. */
  toNs: (units: bigint) => bigint;
}

/**
 * Parses pcapng one block at a time, keeping the state blocks depend on
 * (the section's byte order and interfaces). Used over a whole buffer by
 * readPcapng and over a file by the streaming reader.
 */
export class PcapngParser {
  readonly file: CaptureFile = { format: 'pcapng', nanosecond: true, interfaces: [], packets: [], statistics: [], sections: [], warnings: [] };
  private littleEndian = true;
  private sectionInterfaces: SectionInterface[] = [];

  /**
   * The total length of the block starting at `at` (`head` holds at least its
   * first 12 bytes). A Section Header Block sets the byte order first.
   */
  blockLength(head: Buffer, at: number, fileOffset = at): number {
    const section = head.readUInt32LE(at) === BLOCK.sectionHeader;
    if (section) {
      const magic = head.readUInt32LE(at + 8);
      if (magic === BYTE_ORDER_MAGIC) this.littleEndian = true;
      else if (head.readUInt32BE(at + 8) === BYTE_ORDER_MAGIC) this.littleEndian = false;
      else throw new CaptureFormatError(`pcapng section at offset ${fileOffset} has a bad byte-order magic 0x${magic.toString(16)}`);
    }
    const total = this.littleEndian ? head.readUInt32LE(at + 4) : head.readUInt32BE(at + 4);
    if (total < 12 || total % 4 !== 0) throw new CaptureFormatError(`pcapng block at offset ${fileOffset} has a bad length ${total}`);
    // libpcap (sf-pcapng.c) refuses a section header shorter than its fixed
    // fields or longer than 1 MiB (BT_SHB_INSANE_MAX).
    if (section && (total < 28 || total > SHB_MAX_LENGTH)) throw new CaptureFormatError(`pcapng Section Header Block at offset ${fileOffset} has an invalid length ${total} (28 to ${SHB_MAX_LENGTH} bytes)`);
    return total;
  }

  /** Whether the block at `at` holds a packet (Enhanced, Simple or obsolete Packet Block): parsing it leaves the file's description as it is. */
  isPacketBlock(buf: Buffer, at: number): boolean {
    const type = this.littleEndian ? buf.readUInt32LE(at) : buf.readUInt32BE(at);
    return type === BLOCK.enhancedPacket || type === BLOCK.simplePacket || type === BLOCK.obsoletePacket;
  }

  /** Parses the whole block buf[at, at + total); returns its packet, if it holds one. */
  parseBlock(buf: Buffer, at: number, total: number, fileOffset = at): CapturedPacket | undefined {
    const result = this.file;
    const littleEndian = this.littleEndian;
    const type = buf.readUInt32LE(at) === BLOCK.sectionHeader ? BLOCK.sectionHeader : littleEndian ? buf.readUInt32LE(at) : buf.readUInt32BE(at);
    if (type === BLOCK.sectionHeader) this.sectionInterfaces = [];
    const sectionInterfaces = this.sectionInterfaces;
    const u32 = (o: number) => (littleEndian ? buf.readUInt32LE(o) : buf.readUInt32BE(o));
    const u16 = (o: number) => (littleEndian ? buf.readUInt16LE(o) : buf.readUInt16BE(o));
    const body = at + 8;
    const end = at + total - 4;
    const options = (from: number) => decodeOptions(buf, from, end, littleEndian);
    const minimum = MIN_BODY[type];
    if (minimum !== undefined && end - body < minimum) throw new CaptureFormatError(`pcapng block at offset ${fileOffset} (type ${type}) is ${total} bytes, too short for its fixed fields`);
    if (u32(end) !== total) throw new CaptureFormatError(`pcapng block at offset ${fileOffset}: its total length is ${total} in the header and ${u32(end)} in the trailer`);
    switch (type) {
      case BLOCK.sectionHeader: {
        // libpcap reads versions 1.0 and 1.2 (1.2 is written by programs
        // that add block types); others are refused.
        const major = u16(body + 4);
        const minor = u16(body + 6);
        if (result.sections.length === 0 ? !(major === 1 && (minor === 0 || minor === 2)) : major !== 1) {
          throw new CaptureFormatError(`unsupported pcapng savefile version ${major}.${minor} (section at offset ${fileOffset})`);
        }
        const opts = options(body + 16);
        result.sections.push({ comment: joinComments(opts), application: textOption(opts, OPT.shbUserAppl) });
        return undefined;
      }
      case BLOCK.interfaceDescription: {
        const opts = options(body + 8);
        const iface: CaptureInterface = { linktype: u16(body), snaplen: adjustSnaplen(dltForLinktype(u16(body)), u32(body + 4)) };
        const name = textOption(opts, OPT.ifName);
        const description = textOption(opts, OPT.ifDescription);
        const filter = opts.find((o) => o.code === OPT.ifFilter);
        if (name !== undefined) iface.name = name;
        if (description !== undefined) iface.description = description;
        if (filter && filter.value.length > 1 && filter.value[0] === 0) iface.filter = filter.value.subarray(1).toString('utf8');
        const resol = opts.find((o) => o.code === OPT.ifTsresol)?.value[0] ?? 6;
        const offsetOpt = opts.find((o) => o.code === IF_TSOFFSET);
        const offsetSeconds = offsetOpt && offsetOpt.value.length === 8 ? (littleEndian ? offsetOpt.value.readBigInt64LE(0) : offsetOpt.value.readBigInt64BE(0)) : 0n;
        sectionInterfaces.push({ globalIndex: result.interfaces.length, snaplen: iface.snaplen, toNs: timestampConverter(resol, offsetSeconds) });
        result.interfaces.push(iface);
        return undefined;
      }
      case BLOCK.enhancedPacket:
      case BLOCK.obsoletePacket: {
        const enhanced = type === BLOCK.enhancedPacket;
        const ifId = enhanced ? u32(body) : u16(body);
        const iface = sectionInterfaces[ifId];
        if (!iface) throw new CaptureFormatError(`pcapng packet at offset ${fileOffset} names interface ${ifId}, which its section does not describe`);
        const units = (BigInt(u32(body + 4)) << 32n) | BigInt(u32(body + 8));
        const caplen = u32(body + 12);
        const wirelen = u32(body + 16);
        const dataStart = body + 20;
        // libpcap refuses, not cuts, a pcapng packet longer than its interface's snap length.
        if (caplen > iface.snaplen) throw new CaptureFormatError(`invalid packet capture length ${caplen}, bigger than snaplen of ${iface.snaplen} (pcapng packet at offset ${fileOffset})`);
        if (dataStart + caplen > end) throw new CaptureFormatError(`pcapng packet at offset ${fileOffset} claims ${caplen} bytes, more than its block holds`);
        const opts = options(dataStart + pad4(caplen));
        const pkt: CapturedPacket = { ifIndex: iface.globalIndex, tsNs: iface.toNs(units), data: buf.subarray(dataStart, dataStart + caplen), wirelen };
        const comment = joinComments(opts);
        if (comment !== undefined) pkt.comment = comment;
        // epb_flags (and the OPB's pack_flags, same code and layout): bits 0-1 direction.
        const flags = opts.find((o) => o.code === OPT.epbFlags);
        if (flags && flags.value.length === 4) {
          const dir = (littleEndian ? flags.value.readUInt32LE(0) : flags.value.readUInt32BE(0)) & 3;
          if (dir === EPB_INBOUND) pkt.direction = 'in';
          else if (dir === EPB_OUTBOUND) pkt.direction = 'out';
        }
        // epb_verdict (EPB only): an eBPF TC or XDP return value; hardware verdicts are opaque bytes and skipped.
        const verdict = enhanced ? opts.find((o) => o.code === OPT.epbVerdict && o.value.length === 9) : undefined;
        if (verdict && (verdict.value[0] === VERDICT_TYPE.tc || verdict.value[0] === VERDICT_TYPE.xdp)) {
          const value = littleEndian ? verdict.value.readBigInt64LE(1) : verdict.value.readBigInt64BE(1);
          pkt.verdict = { type: verdict.value[0] === VERDICT_TYPE.xdp ? 'xdp' : 'tc', value: Number(value) };
        }
        return pkt;
      }
      case BLOCK.simplePacket: {
        // No interface id (always the section's first) and no timestamp;
        // caplen = min(original length, snaplen), which the block must hold.
        const iface = sectionInterfaces[0];
        if (!iface) throw new CaptureFormatError(`pcapng Simple Packet Block at offset ${fileOffset} comes before any interface`);
        const wirelen = u32(body);
        const caplen = Math.min(wirelen, iface.snaplen);
        if (body + 4 + caplen > end) throw new CaptureFormatError(`pcapng Simple Packet Block at offset ${fileOffset} holds fewer than its ${caplen} bytes`);
        return { ifIndex: iface.globalIndex, tsNs: 0n, data: buf.subarray(body + 4, body + 4 + caplen), wirelen };
      }
      case BLOCK.interfaceStatistics: {
        const ifId = u32(body);
        const iface = sectionInterfaces[ifId];
        if (!iface) return undefined;
        const opts = options(body + 12);
        const stats: CaptureStatistics = { tsNs: iface.toNs((BigInt(u32(body + 4)) << 32n) | BigInt(u32(body + 8))) };
        const u64 = (code: number) => {
          const o = opts.find((x) => x.code === code);
          if (!o || o.value.length !== 8) return undefined;
          return littleEndian ? o.value.readBigUInt64LE(0) : o.value.readBigUInt64BE(0);
        };
        const set = <K extends keyof CaptureStatistics>(key: K, value: CaptureStatistics[K] | undefined) => {
          if (value !== undefined) stats[key] = value;
        };
        set('received', u64(OPT.isbIfRecv));
        set('interfaceDropped', u64(OPT.isbIfDrop));
        set('filterAccepted', u64(OPT.isbFilterAccept));
        set('osDropped', u64(OPT.isbOsDrop));
        set('delivered', u64(OPT.isbUsrDeliv));
        set('comment', joinComments(opts));
        result.statistics.push({ ifIndex: iface.globalIndex, stats });
        return undefined;
      }
      default:
        return undefined; // unknown or uninteresting block (NRB, DSB, custom): skip
    }
  }
}

/** Reads a whole pcapng file held in memory (packet data are views of `buf`). */
export function readPcapng(buf: Buffer): CaptureFile {
  if (!isPcapng(buf)) throw new CaptureFormatError('not a pcapng file (no Section Header Block)');
  const parser = new PcapngParser();
  const result = parser.file;
  let at = 0;
  while (at < buf.length) {
    if (at + 12 > buf.length) {
      result.damage = truncatedBlockHeader(at, buf.length - at);
      break;
    }
    const total = parser.blockLength(buf, at);
    if (at + total > buf.length) {
      result.damage = truncatedBlock(at, total, buf.length - at);
      break;
    }
    const pkt = parser.parseBlock(buf, at, total);
    if (pkt) result.packets.push(pkt);
    at += total;
  }
  return result;
}

export function truncatedBlockHeader(at: number, got: number): string {
  return `truncated pcapng file: the block header at offset ${at} needs 12 bytes, only ${got} are left`;
}

export function truncatedBlock(at: number, total: number, got: number): string {
  return `truncated pcapng file: the block at offset ${at} announces ${total} bytes, only ${got} are left`;
}

function textOption(opts: readonly RawOption[], code: number): string | undefined {
  const o = opts.find((x) => x.code === code);
  return o ? o.value.toString('utf8') : undefined;
}

/** Several opt_comment options are allowed; keep them all, one per line. */
function joinComments(opts: readonly RawOption[]): string | undefined {
  const all = opts.filter((o) => o.code === OPT.comment).map((o) => o.value.toString('utf8'));
  return all.length ? all.join('\n') : undefined;
}

/**
 * if_tsresol: MSB clear -> units of 10^-n s; MSB set -> 2^-n s. Default 6
 * (microseconds). if_tsoffset: seconds to add.
 */
function timestampConverter(tsresol: number, offsetSeconds: bigint): (units: bigint) => bigint {
  const n = BigInt(tsresol & 0x7f);
  const offsetNs = offsetSeconds * 1_000_000_000n;
  if (tsresol & 0x80) return (u) => ((u * 1_000_000_000n) >> n) + offsetNs;
  if (n <= 9n) {
    const scale = 10n ** (9n - n);
    return (u) => u * scale + offsetNs;
  }
  const div = 10n ** (n - 9n);
  return (u) => u / div + offsetNs;
}
