// The classic pcap file format (tcpdump's -w): a 24-byte file header, then
// per packet a 16-byte record header and the captured bytes. We write
// little-endian (the byte order of the hosts we run on; readers check the
// magic either way), with the microsecond magic 0xa1b2c3d4
// or the nanosecond magic 0xa1b23c4d (libpcap >= 1.5 and tshark read both).
// Format: https://www.ietf.org/archive/id/draft-ietf-opsawg-pcap-01.html
import type { Writable } from 'node:stream';
import type { CapturedPacket } from './packet';
import { splitNanoseconds, type PacketBatch } from './packet-batch';
import { RangeCopies } from './range-copies';
import { SYNTHETIC_ETHERNET_BYTES, syntheticEtherType } from './linktypes';
import { StreamWriter } from './stream-writer';

export const PCAP_MAGIC_MICRO = 0xa1b2c3d4;
export const PCAP_MAGIC_NANO = 0xa1b23c4d;
export const PCAP_FILE_HEADER_SIZE = 24;
export const PCAP_RECORD_HEADER_SIZE = 16;

export interface PcapWriterOptions {
  /** DLT_/LINKTYPE_ value of every packet (pcap files have one). */
  linktype: number;
  /** Largest caplen; longer packets are cut to it (wirelen is kept). */
  snaplen: number;
  /** Nanosecond timestamps (magic 0xa1b23c4d); default microseconds. */
  nanosecond?: boolean;
}

export class PcapWriter {
  private readonly out: StreamWriter;
  private headerWritten = false;
  private readonly time = new Float64Array(2);
  /** The synthesised Ethernet header of a raw-IP packet: zero MACs, then its EtherType. */
  private readonly ethernet = Buffer.alloc(SYNTHETIC_ETHERNET_BYTES);
  /** writeBatch's kept length, record size and Ethernet header bytes of each packet (reused). */
  private kept = new Uint32Array(0);
  private sizes = new Uint32Array(0);
  private front = new Uint8Array(0);
  private readonly copies = new RangeCopies();
  private readonly recordHeader = Buffer.alloc(PCAP_RECORD_HEADER_SIZE);

  constructor(
    sink: Writable,
    readonly options: PcapWriterOptions,
  ) {
    this.out = new StreamWriter(sink);
  }

  /** Writes the file header now (otherwise it goes out with the first packet). */
  async writeHeader(): Promise<void> {
    if (this.headerWritten) return;
    this.queueHeader();
    await this.out.ready();
  }

  private queueHeader(): void {
    if (this.headerWritten) return;
    this.headerWritten = true;
    this.out.append(pcapFileHeader(this.options));
  }

  /** Appends one packet; `ifIndex`, `comment` and `direction` have no place in pcap and are dropped. */
  async writePacket(pkt: CapturedPacket): Promise<void> {
    this.queueHeader();
    const caplen = Math.min(pkt.data.length, this.options.snaplen);
    // Reused: append() copies it (netcap read writes each kept packet this way).
    const h = this.recordHeader;
    const nanosecond = this.options.nanosecond === true;
    if (pkt.pcapTime && pkt.pcapTime.nanosecond === nanosecond) {
      // A pcap record read back: its fields as written, as libpcap writes them.
      h.writeUInt32LE(pkt.pcapTime.seconds, 0);
      h.writeUInt32LE(pkt.pcapTime.fraction, 4);
    } else {
      const seconds = pkt.tsNs / 1_000_000_000n;
      const fractionNs = pkt.tsNs % 1_000_000_000n;
      h.writeUInt32LE(Number(seconds & 0xffffffffn), 0);
      h.writeUInt32LE(Number(nanosecond ? fractionNs : fractionNs / 1000n), 4);
    }
    h.writeUInt32LE(caplen, 8);
    // The wire length as given, even below caplen (tcpdump -r keeps a file's).
    h.writeUInt32LE(pkt.wirelen >>> 0, 12);
    this.out.append(h);
    await this.out.write(pkt.data.subarray(0, caplen));
  }

  /**
   * Appends every packet of a batch at once, as writePacket would one by
   * one, into the pending buffer (no Buffer or promise per packet). The
   * packets of interfaces `behindEthernet(ifIndex)` names go behind a
   * synthesised Ethernet header (outputs.ts). Returns the bytes of the
   * records and each one's (`sizes`, valid until the next batch); resolves
   * `ready` when the stream can take more.
   */
  writeBatch(batch: PacketBatch, behindEthernet?: (ifIndex: number) => boolean): { bytes: number; header: number; sizes: Uint32Array; ready: Promise<void> } {
    this.queueHeader();
    const nanosecond = this.options.nanosecond === true;
    const { count, bytes: src } = batch;
    if (this.kept.length < count) {
      this.kept = new Uint32Array(Math.max(count, 2 * this.kept.length));
      this.sizes = new Uint32Array(this.kept.length);
      this.front = new Uint8Array(this.kept.length);
    }
    this.measure(batch, behindEthernet);
    const total = this.out.appendSlices(this.sizes, count, (first, end, out, at) => {
      this.putRecords(batch, first, end, out, at, nanosecond);
      this.copies.run(src, out);
    });
    return { bytes: total, header: 0, sizes: this.sizes, ready: this.out.ready() };
  }

  /**
   * Each packet's synthesised Ethernet header (0 or 14 bytes, looked up once
   * per interface), kept length and record size (a loop of its own:
   * DEVELOPERS.md, the fast path).
   */
  private measure(batch: PacketBatch, behindEthernet?: (ifIndex: number) => boolean): void {
    const { count, caplen, ifIndex } = batch;
    const { snaplen } = this.options;
    const { kept, sizes, front } = this;
    const fronts: number[] = [];
    for (let i = 0; i < count; i++) {
      const ifx = ifIndex[i];
      const f = (fronts[ifx] ??= behindEthernet?.(ifx) ? SYNTHETIC_ETHERNET_BYTES : 0);
      front[i] = f;
      kept[i] = Math.min(caplen[i] + f, snaplen);
      sizes[i] = PCAP_RECORD_HEADER_SIZE + kept[i];
    }
  }

  /**
   * Packets first..end-1 as records into `out` from `at`: the headers now,
   * the packet bytes as copies for `this.copies.run()` (a loop of its own:
   * DEVELOPERS.md, the fast path).
   */
  private putRecords(batch: PacketBatch, first: number, end: number, out: Buffer, at: number, nanosecond: boolean): void {
    const { bytes: src, dataStart, caplen, wirelen, tsHigh, tsLow } = batch;
    const { kept, front, time } = this;
    const copies = this.copies.start();
    const fields = new DataView(out.buffer, out.byteOffset, out.byteLength);
    for (let i = first; i < end; i++) {
      const start = dataStart[i];
      splitNanoseconds(tsHigh[i], tsLow[i], time);
      fields.setUint32(at, time[0] >>> 0, true);
      fields.setUint32(at + 4, nanosecond ? time[1] : Math.floor(time[1] / 1000), true);
      fields.setUint32(at + 8, kept[i], true);
      fields.setUint32(at + 12, (wirelen[i] + front[i]) >>> 0, true);
      at += PCAP_RECORD_HEADER_SIZE;
      const header = Math.min(front[i], kept[i]);
      if (header) {
        this.ethernet.writeUInt16BE(syntheticEtherType(batch.etherType[i], caplen[i] > 0 ? src[start] : undefined), 12);
        at += this.ethernet.copy(out, at, 0, header);
      }
      copies.add(start, at, kept[i] - header);
      at += kept[i] - header;
    }
  }

  /** Resolves when everything written so far has reached the OS. */
  async flush(): Promise<void> {
    await this.out.flush();
  }

  /** Writes the header if no packet came, flushes and ends the sink. */
  async close(endSink = true): Promise<void> {
    await this.writeHeader();
    await this.out.close(endSink);
  }
}

/** The 24-byte pcap file header (little-endian, like libpcap on x86 and arm64). */
export function pcapFileHeader(options: PcapWriterOptions): Buffer {
  const h = Buffer.alloc(PCAP_FILE_HEADER_SIZE);
  h.writeUInt32LE(options.nanosecond ? PCAP_MAGIC_NANO : PCAP_MAGIC_MICRO, 0);
  h.writeUInt16LE(2, 4); // version 2.4
  h.writeUInt16LE(4, 6);
  h.writeInt32LE(0, 8); // thiszone: timestamps are UTC
  h.writeUInt32LE(0, 12); // sigfigs
  h.writeUInt32LE(options.snaplen, 16);
  h.writeUInt32LE(options.linktype, 20);
  return h;
}
