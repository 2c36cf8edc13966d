// Packets of a pcap file's chunk as the columns the file outputs write (a
// PacketBatch, what a capture hands them from its ring): `netcap read` keeps
// some packets of every chunk and writes them as a batch, with no object,
// BigInt, promise or copy per packet (the general path made a
// CapturedPacket of each: its garbage collection and one awaited write per
// packet were most of read's time beyond the filter).
import type { CapturedPacket } from './packet';
import { BatchColumns, joinNanoseconds } from './packet-batch';
import { parsePcapRecordHeader, pcapPacket, u32, type PcapHeader, type PcapRecords } from './pcap-reader';

/** A pcap file has one interface, and no direction or EtherType: those columns stay zero. */
export class PcapColumns extends BatchColumns {
  private readonly halves = new Uint32Array(2);

  constructor(private readonly header: PcapHeader) {
    super();
  }

  /**
   * The records `indices[0..n)` of `records` (scanned from `buf`), their
   * kept bytes cut to `snaplen`; undefined when one of them has a timestamp
   * fraction out of range (a second or more): only packet(), whose
   * pcapTime keeps the fields as written, writes that back as libpcap does.
   */
  fill(buf: Buffer, records: PcapRecords, indices: Uint32Array, n: number, snaplen = Infinity): this | undefined {
    this.grow(n);
    const { littleEndian, nanosecond, recordHeaderSize } = this.header;
    const perSecond = nanosecond ? 1_000_000_000 : 1_000_000;
    const scale = nanosecond ? 1 : 1000;
    const { dataStart, caplen, wirelen, tsHigh, tsLow, recordStart, halves } = this;
    for (let k = 0; k < n; k++) {
      const i = indices[k];
      const at = records.at[i];
      const fraction = u32(buf, at + 4, littleEndian);
      if (fraction >= perSecond) return undefined;
      joinNanoseconds(u32(buf, at, littleEndian), fraction * scale, halves);
      tsHigh[k] = halves[0];
      tsLow[k] = halves[1];
      recordStart[k] = at;
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
    return pcapPacket(this.header, parsePcapRecordHeader(this.header, this.bytes, this.recordStart[k]), Buffer.from(this.bytes.subarray(start, start + this.caplen[k])));
  }
}
