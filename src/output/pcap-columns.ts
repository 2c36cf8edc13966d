// Packets of a pcap file's chunk as the columns the file outputs write (a
// PacketBatch, what a capture hands them from its ring): `netcap read` keeps
// some packets of every chunk and writes them as a batch, with no object,
// BigInt, promise or copy per packet (the general path made a
// CapturedPacket of each: its garbage collection and one awaited write per
// packet were most of read's time beyond the filter).
import type { CapturedPacket } from './packet';
import { joinNanoseconds, type PacketBatch } from './packet-batch';
import { parsePcapRecordHeader, pcapPacket, u32, type PcapHeader, type PcapRecords } from './pcap-reader';

export class PcapColumns implements PacketBatch {
  count = 0;
  bytes: Buffer = Buffer.alloc(0);
  dataStart = new Uint32Array(0);
  caplen = new Uint32Array(0);
  wirelen = new Uint32Array(0);
  /** A pcap file has one interface: all zero, like direction and etherType (not known). */
  ifIndex = new Uint32Array(0);
  tsHigh = new Uint32Array(0);
  tsLow = new Uint32Array(0);
  direction = new Uint8Array(0);
  etherType = new Uint16Array(0);
  /** Where each packet's record header is in `bytes` (for packet()). */
  private recordAt = new Uint32Array(0);
  private readonly halves = new Uint32Array(2);

  constructor(private readonly header: PcapHeader) {}

  /**
   * The records `indices[0..n)` of `records` (scanned from `buf`), their
   * kept bytes cut to `snaplen`; undefined when one of them has a timestamp
   * fraction out of range (a second or more): only packet(), whose
   * pcapTime keeps the fields as written, writes that back as libpcap does.
   */
  fill(buf: Buffer, records: PcapRecords, indices: Uint32Array, n: number, snaplen = Infinity): this | undefined {
    if (this.dataStart.length < n) this.grow(n);
    const { littleEndian, nanosecond, recordHeaderSize } = this.header;
    const perSecond = nanosecond ? 1_000_000_000 : 1_000_000;
    const scale = nanosecond ? 1 : 1000;
    const { dataStart, caplen, wirelen, tsHigh, tsLow, recordAt, halves } = this;
    for (let k = 0; k < n; k++) {
      const i = indices[k];
      const at = records.at[i];
      const fraction = u32(buf, at + 4, littleEndian);
      if (fraction >= perSecond) return undefined;
      joinNanoseconds(u32(buf, at, littleEndian), fraction * scale, halves);
      tsHigh[k] = halves[0];
      tsLow[k] = halves[1];
      recordAt[k] = at;
      dataStart[k] = at + recordHeaderSize;
      caplen[k] = Math.min(records.kept[i], snaplen);
      wirelen[k] = records.wirelen[i];
    }
    this.bytes = buf;
    this.count = n;
    return this;
  }

  comment(): undefined {
    return undefined;
  }

  packet(k: number): CapturedPacket {
    const start = this.dataStart[k];
    return pcapPacket(this.header, parsePcapRecordHeader(this.header, this.bytes, this.recordAt[k]), Buffer.from(this.bytes.subarray(start, start + this.caplen[k])));
  }

  private grow(n: number): void {
    const size = Math.max(n, 2 * this.dataStart.length);
    this.dataStart = new Uint32Array(size);
    this.caplen = new Uint32Array(size);
    this.wirelen = new Uint32Array(size);
    this.ifIndex = new Uint32Array(size);
    this.tsHigh = new Uint32Array(size);
    this.tsLow = new Uint32Array(size);
    this.direction = new Uint8Array(size);
    this.etherType = new Uint16Array(size);
    this.recordAt = new Uint32Array(size);
  }
}
