// Reads classic pcap files in either byte order, with micro- or nanosecond
// timestamps (the magic says which: 0xa1b2c3d4 / 0xa1b23c4d, as written by the
// writing host in its own byte order).
import { CaptureFormatError, type CaptureFile } from './capture-file';
import type { CapturedPacket } from './packet';
import { PCAP_FILE_HEADER_SIZE, PCAP_MAGIC_MICRO, PCAP_MAGIC_NANO, PCAP_RECORD_HEADER_SIZE } from './pcap-writer';

/** Is this the start of a pcap file (either byte order, either precision)? */
export function isPcap(buf: Buffer): boolean {
  if (buf.length < 4) return false;
  return [PCAP_MAGIC_MICRO, PCAP_MAGIC_NANO].some((m) => buf.readUInt32LE(0) === m || buf.readUInt32BE(0) === m);
}

/** What the 24-byte file header says. */
export interface PcapHeader {
  littleEndian: boolean;
  nanosecond: boolean;
  snaplen: number;
  linktype: number;
}

export function parsePcapHeader(buf: Buffer): PcapHeader {
  if (buf.length < PCAP_FILE_HEADER_SIZE || !isPcap(buf)) throw new CaptureFormatError('not a pcap file (no pcap magic number)');
  const magicLE = buf.readUInt32LE(0);
  const littleEndian = magicLE === PCAP_MAGIC_MICRO || magicLE === PCAP_MAGIC_NANO;
  const u32 = (at: number) => (littleEndian ? buf.readUInt32LE(at) : buf.readUInt32BE(at));
  // The upper bits of the link-type field carry FCS information (pcap spec,
  // "LinkType and additional information"); the link type is the low 16.
  return { littleEndian, nanosecond: u32(0) === PCAP_MAGIC_NANO, snaplen: u32(16), linktype: u32(20) & 0xffff };
}

/** The record header at `at`: timestamp (ns), captured and wire lengths. */
export function parsePcapRecordHeader(header: PcapHeader, buf: Buffer, at: number): { tsNs: bigint; caplen: number; wirelen: number } {
  const u32 = (o: number) => (header.littleEndian ? buf.readUInt32LE(o) : buf.readUInt32BE(o));
  const seconds = BigInt(u32(at));
  const fraction = BigInt(u32(at + 4));
  return { tsNs: seconds * 1_000_000_000n + (header.nanosecond ? fraction : fraction * 1000n), caplen: u32(at + 8), wirelen: u32(at + 12) };
}

/** Reads a whole pcap file held in memory (packet data are views of `buf`). */
export function readPcap(buf: Buffer): CaptureFile {
  const header = parsePcapHeader(buf);
  const packets: CapturedPacket[] = [];
  const warnings: string[] = [];
  let at = PCAP_FILE_HEADER_SIZE;
  while (at < buf.length) {
    if (at + PCAP_RECORD_HEADER_SIZE > buf.length) {
      warnings.push(`truncated record header at offset ${at}`);
      break;
    }
    const record = parsePcapRecordHeader(header, buf, at);
    if (at + PCAP_RECORD_HEADER_SIZE + record.caplen > buf.length) {
      warnings.push(`truncated packet at offset ${at}: ${record.caplen} bytes announced, ${buf.length - at - PCAP_RECORD_HEADER_SIZE} present`);
      break;
    }
    const start = at + PCAP_RECORD_HEADER_SIZE;
    packets.push({ ifIndex: 0, tsNs: record.tsNs, data: buf.subarray(start, start + record.caplen), wirelen: record.wirelen });
    at = start + record.caplen;
  }
  return {
    format: 'pcap',
    nanosecond: header.nanosecond,
    interfaces: [{ linktype: header.linktype, snaplen: header.snaplen }],
    packets,
    statistics: [],
    sections: [],
    warnings,
  };
}
