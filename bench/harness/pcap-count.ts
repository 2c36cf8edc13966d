// Counts the packets in a capture file, to compare what each tool captured
// with what was forwarded. Classic pcap: a 24-byte file header, then records
// with a 16-byte header whose third word is the captured length. pcapng:
// blocks of (type, total length, ..., total length); packets are Enhanced
// Packet Blocks (type 6), Simple Packet Blocks (3) and the obsolete Packet
// Block (2). A file cut short by a killed writer counts its whole records.
import * as fs from 'node:fs';

const PCAP_MAGICS = new Set([0xa1b2c3d4, 0xa1b23c4d]);
const PCAPNG_SECTION_HEADER = 0x0a0d0d0a;
const PCAPNG_BYTE_ORDER_MAGIC = 0x1a2b3c4d;

/** Packets in a pcap or pcapng file; 0 for a missing or empty file. */
export function countPackets(file: string): number {
  let buf: Buffer;
  try {
    buf = fs.readFileSync(file);
  } catch {
    return 0;
  }
  if (buf.length < 24) return 0;
  if (buf.readUInt32LE(0) === PCAPNG_SECTION_HEADER) return countPcapng(buf);
  const le = PCAP_MAGICS.has(buf.readUInt32LE(0));
  if (!le && !PCAP_MAGICS.has(buf.readUInt32BE(0))) throw new Error(`${file}: neither pcap nor pcapng`);
  let n = 0;
  for (let off = 24; off + 16 <= buf.length; n++) {
    const caplen = le ? buf.readUInt32LE(off + 8) : buf.readUInt32BE(off + 8);
    if (off + 16 + caplen > buf.length) break;
    off += 16 + caplen;
  }
  return n;
}

function countPcapng(buf: Buffer): number {
  let n = 0;
  let le = true;
  for (let off = 0; off + 12 <= buf.length; ) {
    if (buf.readUInt32LE(off) === PCAPNG_SECTION_HEADER) le = buf.readUInt32LE(off + 8) === PCAPNG_BYTE_ORDER_MAGIC;
    const type = le ? buf.readUInt32LE(off) : buf.readUInt32BE(off);
    const len = le ? buf.readUInt32LE(off + 4) : buf.readUInt32BE(off + 4);
    if (len < 12 || off + len > buf.length) break;
    if (type === 6 || type === 3 || type === 2) n++;
    off += len;
  }
  return n;
}
