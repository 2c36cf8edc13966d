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
  };
}

export interface PcapRecordHeader {
  seconds: number;
  fraction: number;
  /** The captured length as the record gives it. */
  caplen: number;
  wirelen: number;
}

/** The record header at `at` (header.recordHeaderSize bytes), lengths in order. */
export function parsePcapRecordHeader(header: PcapHeader, buf: Buffer, at: number): PcapRecordHeader {
  const u32 = (o: number) => (header.littleEndian ? buf.readUInt32LE(o) : buf.readUInt32BE(o));
  let caplen = u32(at + 8);
  let wirelen = u32(at + 12);
  if (header.lengths === 'swapped' || (header.lengths === 'maybe-swapped' && caplen > wirelen)) [caplen, wirelen] = [wirelen, caplen];
  return { seconds: u32(at), fraction: u32(at + 4), caplen, wirelen };
}

/**
 * The bytes of the record a packet keeps: a captured length beyond the link
 * type's maximum is an error, one beyond the file's snap length is cut to it
 * (the rest is read and dropped), as libpcap does.
 */
export function keptCaplen(header: PcapHeader, record: PcapRecordHeader): number {
  if (record.caplen > maxSnaplenForDlt(dltForLinktype(header.linktype))) {
    throw new CaptureFormatError(
      record.caplen > header.snaplen
        ? `invalid packet capture length ${record.caplen}, bigger than snaplen of ${header.snaplen}`
        : `invalid packet capture length ${record.caplen}, bigger than maximum of ${maxSnaplenForDlt(dltForLinktype(header.linktype))}`,
    );
  }
  return Math.min(record.caplen, header.snaplen);
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
  let at = PCAP_FILE_HEADER_SIZE;
  try {
    while (at < buf.length) {
      if (at + header.recordHeaderSize > buf.length) throw new CaptureFormatError(truncatedHeader(at, header, buf.length - at));
      const record = parsePcapRecordHeader(header, buf, at);
      const kept = keptCaplen(header, record);
      const start = at + header.recordHeaderSize;
      if (start + record.caplen > buf.length) throw new CaptureFormatError(truncatedData(at, record.caplen, buf.length - start));
      file.packets.push(pcapPacket(header, record, buf.subarray(start, start + kept)));
      at = start + record.caplen;
    }
  } catch (e) {
    if (!(e instanceof CaptureFormatError)) throw e;
    file.damage = e.message;
  }
  return file;
}

export function truncatedHeader(at: number, header: PcapHeader, got: number): string {
  return `truncated dump file: the record header at offset ${at} needs ${header.recordHeaderSize} bytes, only ${got} are left`;
}

export function truncatedData(at: number, caplen: number, got: number): string {
  return `truncated dump file: the record at offset ${at} announces ${caplen} captured bytes, only ${got} are left`;
}
