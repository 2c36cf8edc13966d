// Reads classic pcap files as libpcap 1.10 reads them (sf-pcap.c): either
// byte order, micro- or nanosecond timestamps (the magic says which:
// 0xa1b2c3d4 / 0xa1b23c4d, as written by the writing host in its own byte
// order) and Alexey Kuznetzov's patched format (0xa1b2cd34, 24-byte record
// headers); versions 2.0-2.4 and 543.0, with the captured and wire lengths
// swapped as older writers swapped them; the snap length adjusted, and
// packets longer than it cut to it, as libpcap does.
import { CaptureFormatError, type CaptureFile } from './capture-file';
import { dltForLinktype } from './linktypes';
import type { CapturedPacket } from './packet';
import { PCAP_FILE_HEADER_SIZE, PCAP_MAGIC_MICRO, PCAP_MAGIC_NANO, PCAP_RECORD_HEADER_SIZE } from './pcap-writer';
import { adjustSnaplen, maxSnaplenForDlt, pcapLinktype } from './savefile-rules';

/** Kuznetzov's patched libpcap: each record header has ifindex, protocol and packet type after the lengths. */
const PCAP_MAGIC_KUZNETZOV = 0xa1b2cd34;
const MAGICS = [PCAP_MAGIC_MICRO, PCAP_MAGIC_NANO, PCAP_MAGIC_KUZNETZOV];

/** Is this the start of a pcap file (either byte order, either precision)? */
export function isPcap(buf: Buffer): boolean {
  if (buf.length < 4) return false;
  return MAGICS.some((m) => buf.readUInt32LE(0) === m || buf.readUInt32BE(0) === m);
}

/** What the 24-byte file header says. */
export interface PcapHeader {
  littleEndian: boolean;
  nanosecond: boolean;
  /** The snap length libpcap uses: 0 and values beyond INT_MAX become the link type's maximum. */
  snaplen: number;
  linktype: number;
  /** The field's bits 26-31 (FCS information, LT_LINKTYPE_EXT). */
  linktypeExt: number;
  /** Bytes of each record header: 16, or 24 in Kuznetzov's format. */
  recordHeaderSize: number;
  /** How the record's captured and wire lengths are ordered (libpcap's lengths_swapped). */
  lengths: 'in-order' | 'swapped' | 'maybe-swapped';
  /** The longest captured length a record may have: the link type's maximum (max_snaplen_for_dlt). */
  maxCaplen: number;
}

export function parsePcapHeader(buf: Buffer): PcapHeader {
  if (buf.length < 4 || !isPcap(buf)) throw new CaptureFormatError('not a pcap file (no pcap magic number)');
  if (buf.length < PCAP_FILE_HEADER_SIZE) throw new CaptureFormatError(`truncated dump file: the file header needs ${PCAP_FILE_HEADER_SIZE} bytes, the file has ${buf.length}`);
  const littleEndian = MAGICS.includes(buf.readUInt32LE(0));
  const u32 = (at: number) => (littleEndian ? buf.readUInt32LE(at) : buf.readUInt32BE(at));
  const u16 = (at: number) => (littleEndian ? buf.readUInt16LE(at) : buf.readUInt16BE(at));
  const magic = u32(0);
  const major = u16(4);
  const minor = u16(6);
  if (major < 2) throw new CaptureFormatError(`archaic pcap savefile format (version ${major}.${minor})`);
  if (!((major === 2 && minor <= 4) || (major === 543 && minor === 0))) throw new CaptureFormatError(`unsupported pcap savefile version ${major}.${minor}`);
  const linktype = pcapLinktype(u32(20));
  let snaplen = adjustSnaplen(dltForLinktype(linktype), u32(16));
  // Kuznetzov's Ethernet files counted the snap length without the Ethernet header.
  if (magic === PCAP_MAGIC_KUZNETZOV && linktype === 1) snaplen = Math.min(snaplen + 14, 0x7fffffff);
  return {
    littleEndian,
    nanosecond: magic === PCAP_MAGIC_NANO,
    snaplen,
    linktype,
    linktypeExt: (u32(20) & 0xfc000000) >>> 0,
    recordHeaderSize: magic === PCAP_MAGIC_KUZNETZOV ? 24 : PCAP_RECORD_HEADER_SIZE,
    lengths: major === 543 || minor < 3 ? 'swapped' : minor === 3 ? 'maybe-swapped' : 'in-order',
    maxCaplen: maxSnaplenForDlt(dltForLinktype(linktype)),
  };
}

export interface PcapRecordHeader {
  seconds: number;
  fraction: number;
  /** The captured length as the record gives it. */
  caplen: number;
  wirelen: number;
}

/**
 * The record header at `at` (header.recordHeaderSize bytes, all in `buf`),
 * lengths in order. It runs for every record: plain byte arithmetic, no
 * closures (Buffer's readUInt32 checks its arguments on every call).
 */
export function parsePcapRecordHeader(header: PcapHeader, buf: Buffer, at: number): PcapRecordHeader {
  const le = header.littleEndian;
  const first = u32(buf, at + 8, le);
  const second = u32(buf, at + 12, le);
  const swapped = lengthsSwapped(header, first, second);
  return { seconds: u32(buf, at, le), fraction: u32(buf, at + 4, le), caplen: swapped ? second : first, wirelen: swapped ? first : second };
}

/** Whether a record's length fields, as written (`first`, `second`), hold the wire length first: libpcap's lengths_swapped. */
function lengthsSwapped(header: PcapHeader, first: number, second: number): boolean {
  return header.lengths === 'swapped' || (header.lengths === 'maybe-swapped' && first > second);
}

/** The u32 at `at` in the file's byte order (no bounds check: the caller knows the record is there). */
export function u32(buf: Buffer, at: number, littleEndian: boolean): number {
  return littleEndian
    ? (buf[at] | (buf[at + 1] << 8) | (buf[at + 2] << 16)) + buf[at + 3] * 0x1000000
    : (buf[at + 3] | (buf[at + 2] << 8) | (buf[at + 1] << 16)) + buf[at] * 0x1000000;
}

/**
 * The whole records of a run of bytes: where each starts, the bytes its
 * packet keeps and its wire length, in arrays reused from run to run.
 */
export class PcapRecords {
  count = 0;
  /** Offset of each record header in the bytes scanned. */
  at = new Uint32Array(0);
  kept = new Uint32Array(0);
  wirelen = new Uint32Array(0);
  /** Bytes the records span (where the next record starts). */
  end = 0;
  /** Why the record at `end` cannot be read, when libpcap refuses it (not when it is only incomplete). */
  damage: string | undefined;
}

/**
 * Scans the whole records at the start of `buf` into `out`, lengths read as
 * parsePcapRecordHeader reads them: a captured length beyond the link type's
 * maximum is an error, one beyond the file's snap length is cut to it (the
 * rest is read and dropped), as libpcap does. Stops at the first record
 * `buf` does not hold entirely, or at one libpcap refuses (`out.damage`).
 * Every packet of a file goes through this loop: it makes no object per record.
 */
export function scanPcapRecords(header: PcapHeader, buf: Buffer, out: PcapRecords): void {
  const size = header.recordHeaderSize;
  const le = header.littleEndian;
  const capacity = Math.floor(buf.length / size);
  if (capacity > out.at.length) {
    out.at = new Uint32Array(capacity);
    out.kept = new Uint32Array(capacity);
    out.wirelen = new Uint32Array(capacity);
  }
  out.damage = undefined;
  let count = 0;
  let at = 0;
  while (at + size <= buf.length) {
    const first = u32(buf, at + 8, le);
    const second = u32(buf, at + 12, le);
    const swapped = lengthsSwapped(header, first, second);
    const caplen = swapped ? second : first;
    if (caplen > header.maxCaplen) {
      out.damage = capturedLengthError(header, caplen);
      break;
    }
    if (at + size + caplen > buf.length) break;
    out.at[count] = at;
    out.kept[count] = caplen < header.snaplen ? caplen : header.snaplen;
    out.wirelen[count] = swapped ? first : second;
    count++;
    at += size + caplen;
  }
  out.count = count;
  out.end = at;
}

function capturedLengthError(header: PcapHeader, caplen: number): string {
  return caplen > header.snaplen
    ? `invalid packet capture length ${caplen}, bigger than snaplen of ${header.snaplen}`
    : `invalid packet capture length ${caplen}, bigger than maximum of ${header.maxCaplen}`;
}

/** The packet of a record whose `data` holds its kept bytes. */
export function pcapPacket(header: PcapHeader, record: PcapRecordHeader, data: Buffer): CapturedPacket {
  const tsNs = BigInt(record.seconds) * 1_000_000_000n + BigInt(record.fraction) * (header.nanosecond ? 1n : 1000n);
  return { ifIndex: 0, tsNs, data, wirelen: record.wirelen, pcapTime: { seconds: record.seconds, fraction: record.fraction, nanosecond: header.nanosecond } };
}

export function pcapInterfaces(header: PcapHeader): CaptureFile['interfaces'] {
  return [{ linktype: header.linktype, snaplen: header.snaplen, ...(header.linktypeExt ? { linktypeExt: header.linktypeExt } : {}) }];
}

/** Reads a whole pcap file held in memory (packet data are views of `buf`). */
export function readPcap(buf: Buffer): CaptureFile {
  const header = parsePcapHeader(buf);
  const file: CaptureFile = { format: 'pcap', nanosecond: header.nanosecond, interfaces: pcapInterfaces(header), packets: [], statistics: [], sections: [], warnings: [] };
  const body = buf.subarray(PCAP_FILE_HEADER_SIZE);
  const records = new PcapRecords();
  scanPcapRecords(header, body, records);
  for (let i = 0; i < records.count; i++) {
    const start = records.at[i] + header.recordHeaderSize;
    file.packets.push(pcapPacket(header, parsePcapRecordHeader(header, body, records.at[i]), body.subarray(start, start + records.kept[i])));
  }
  if (records.damage !== undefined) file.damage = records.damage;
  else if (records.end < body.length) file.damage = incompleteRecord(header, body, records.end, PCAP_FILE_HEADER_SIZE + records.end);
  return file;
}

/** Why the record at `at`, the last bytes of `buf` (at file offset `fileOffset`), cannot be read: the file ends inside it. */
export function incompleteRecord(header: PcapHeader, buf: Buffer, at: number, fileOffset: number): string {
  const rest = buf.length - at;
  if (rest < header.recordHeaderSize) return truncatedHeader(fileOffset, header, rest);
  return truncatedData(fileOffset, parsePcapRecordHeader(header, buf, at).caplen, rest - header.recordHeaderSize);
}

function truncatedHeader(at: number, header: PcapHeader, got: number): string {
  return `truncated dump file: the record header at offset ${at} needs ${header.recordHeaderSize} bytes, only ${got} are left`;
}

function truncatedData(at: number, caplen: number, got: number): string {
  return `truncated dump file: the record at offset ${at} announces ${caplen} captured bytes, only ${got} are left`;
}
