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

export function readPcap(buf: Buffer): CaptureFile {
  if (buf.length < PCAP_FILE_HEADER_SIZE || !isPcap(buf)) throw new CaptureFormatError('not a pcap file (no pcap magic number)');
  const magicLE = buf.readUInt32LE(0);
  const littleEndian = magicLE === PCAP_MAGIC_MICRO || magicLE === PCAP_MAGIC_NANO;
  const u32 = (at: number) => (littleEndian ? buf.readUInt32LE(at) : buf.readUInt32BE(at));
  const nanosecond = u32(0) === PCAP_MAGIC_NANO;
  const snaplen = u32(16);
  // The upper bits of the link-type field carry FCS information (pcap spec,
  // "LinkType and additional information"); the link type is the low 16.
  const linktype = u32(20) & 0xffff;
  const packets: CapturedPacket[] = [];
  const warnings: string[] = [];
  let at = PCAP_FILE_HEADER_SIZE;
  while (at < buf.length) {
    if (at + PCAP_RECORD_HEADER_SIZE > buf.length) {
      warnings.push(`truncated record header at offset ${at}`);
      break;
    }
    const seconds = BigInt(u32(at));
    const fraction = BigInt(u32(at + 4));
    const caplen = u32(at + 8);
    const wirelen = u32(at + 12);
    if (at + PCAP_RECORD_HEADER_SIZE + caplen > buf.length) {
      warnings.push(`truncated packet at offset ${at}: ${caplen} bytes announced, ${buf.length - at - PCAP_RECORD_HEADER_SIZE} present`);
      break;
    }
    const start = at + PCAP_RECORD_HEADER_SIZE;
    packets.push({
      ifIndex: 0,
      tsNs: seconds * 1_000_000_000n + (nanosecond ? fraction : fraction * 1000n),
      data: buf.subarray(start, start + caplen), // a view: the file buffer stays alive with the packets
      wirelen,
    });
    at = start + caplen;
  }
  return { format: 'pcap', nanosecond, interfaces: [{ linktype, snaplen }], packets, statistics: [], sections: [], warnings };
}
