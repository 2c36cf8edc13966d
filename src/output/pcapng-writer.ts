// pcapng writer: one Section Header Block naming the application and the
// command line, one Interface Description Block per capture point (name,
// description such as the filter, nanosecond resolution, snaplen, link
// type), an Enhanced Packet Block per packet (interface id, ns timestamp,
// lengths, direction flags, the hook's verdict, a comment with the
// packet's metadata), and
// Interface Statistics Blocks with the capture's counters at the end.
//
// Caveat: libpcap 1.10 (so tcpdump) reads a pcapng only if every interface
// has the first one's link type and snaplen ("an interface has a snapshot
// length 128 different from the snapshot length of the first interface");
// Wireshark has no such limit. Give all interfaces one snaplen when the file
// is meant for tcpdump.
import type { Writable } from 'node:stream';
import type { CaptureInterface, CaptureStatistics, CapturedPacket } from './packet';
import { EPB_INBOUND, EPB_OUTBOUND } from './pcapng-format';
import { EPB_DATA_OFFSET, enhancedPacketBlock, enhancedPacketBlockBytes, interfaceBlock, putEnhancedPacketBlock, sectionHeaderBlock, statisticsBlock } from './pcapng-blocks';
import { RangeCopies } from './range-copies';
import { DIRECTION_IN, DIRECTION_OUT, DIRECTION_UNKNOWN, type PacketBatch } from './packet-batch';
import { StreamWriter } from './stream-writer';

export interface PcapngWriterOptions {
  /** shb_userappl; default "netcap". */
  application?: string;
  /** The section's opt_comment, e.g. the command line. */
  comment?: string;
  /** Interfaces known up front (more can be added with addInterface). */
  interfaces?: readonly CaptureInterface[];
}

export class PcapngWriter {
  private readonly out: StreamWriter;
  private readonly interfaces: CaptureInterface[] = [];
  private headerWritten = false;
  private queuedInterfaces: CaptureInterface[] = [];
  /** writeBatch's comment, kept length and block size of each packet (reused from batch to batch). */
  private readonly comments: (Buffer | undefined)[] = [];
  private kept = new Uint32Array(0);
  private blocks = new Uint32Array(0);
  private readonly copies = new RangeCopies();

  constructor(
    sink: Writable,
    readonly options: PcapngWriterOptions = {},
  ) {
    this.out = new StreamWriter(sink);
    for (const i of options.interfaces ?? []) this.addInterface(i);
  }

  /** Declares a capture point; returns its interface id for CapturedPacket.ifIndex. */
  addInterface(desc: CaptureInterface): number {
    this.interfaces.push(desc);
    this.queuedInterfaces.push(desc);
    return this.interfaces.length - 1;
  }

  get interfaceCount(): number {
    return this.interfaces.length;
  }

  async writePacket(pkt: CapturedPacket): Promise<void> {
    await this.writePending();
    const iface = this.interfaces[pkt.ifIndex];
    if (!iface) throw new RangeError(`packet names interface ${pkt.ifIndex}, but only ${this.interfaces.length} were added`);
    await this.out.write(enhancedPacketBlock(pkt, iface.snaplen));
  }

  /**
   * Appends every packet of a batch at once, as writePacket would one by
   * one, into the pending buffer: no Buffer or promise per packet; a
   * comment is made only for a packet that has one. Returns the bytes of
   * the blocks (`header`: the section header and interface blocks written
   * first) and each packet's (`sizes`, valid until the next batch); resolves `ready` when the stream
   * can take more.
   */
  writeBatch(batch: PacketBatch): { bytes: number; header: number; sizes: Uint32Array; ready: Promise<void> } {
    const header = this.queuePending();
    const { count, bytes: src } = batch;
    if (this.kept.length < count) {
      this.kept = new Uint32Array(Math.max(count, 2 * this.kept.length));
      this.blocks = new Uint32Array(this.kept.length);
    }
    this.measure(batch);
    const total = this.out.appendSlices(this.blocks, count, (first, last, out, at) => {
      this.putBlocks(batch, first, last, out, at);
      this.copies.run(src, out);
    });
    this.comments.fill(undefined, 0, count); // the comments are the batch's: not kept past it
    return { bytes: header + total, header, sizes: this.blocks, ready: this.out.ready() };
  }

  /**
   * Each packet's comment, kept length (each interface's snap length looked
   * up once per batch) and block size (a loop of its own: DEVELOPERS.md, the
   * fast path).
   */
  private measure(batch: PacketBatch): void {
    const { count, caplen, ifIndex, direction } = batch;
    const { comments, kept, blocks } = this;
    const snaplens = this.interfaces.map((iface) => iface.snaplen);
    for (let i = 0; i < count; i++) {
      const snaplen = snaplens[ifIndex[i]];
      if (snaplen === undefined) throw new RangeError(`packet names interface ${ifIndex[i]}, but only ${this.interfaces.length} were added`);
      kept[i] = Math.min(caplen[i], snaplen || caplen[i]);
      const comment = (comments[i] = batch.comment(i));
      blocks[i] = enhancedPacketBlockBytes(kept[i], direction[i] !== DIRECTION_UNKNOWN, false, comment?.length ?? 0);
    }
  }

  /**
   * Packets first..last-1 as Enhanced Packet Blocks into `out` from `at`:
   * the blocks now, the packet bytes as copies for `this.copies.run()` (a
   * loop of its own: DEVELOPERS.md, the fast path).
   */
  private putBlocks(batch: PacketBatch, first: number, last: number, out: Buffer, at: number): void {
    const { dataStart, wirelen, ifIndex, tsHigh, tsLow, direction } = batch;
    const { comments, kept, blocks } = this;
    const fields = new DataView(out.buffer, out.byteOffset, out.byteLength);
    const copies = this.copies.start();
    for (let i = first; i < last; i++) {
      const length = kept[i];
      const comment = comments[i];
      copies.add(dataStart[i], at + EPB_DATA_OFFSET, length);
      at = putEnhancedPacketBlock(out, fields, at, blocks[i], ifIndex[i], tsHigh[i], tsLow[i], wirelen[i], undefined, length, EPB_FLAGS[direction[i]], undefined, comment, comment?.length ?? 0);
    }
  }

  /** Writes an Interface Statistics Block for one interface. */
  async writeStatistics(ifIndex: number, stats: CaptureStatistics): Promise<void> {
    await this.writePending();
    if (!this.interfaces[ifIndex]) throw new RangeError(`statistics for interface ${ifIndex}, but only ${this.interfaces.length} were added`);
    await this.out.write(statisticsBlock(ifIndex, stats));
  }

  async flush(): Promise<void> {
    await this.writePending();
    await this.out.flush();
  }

  /** Writes what is pending (a valid file even with no packets), flushes and ends the sink. */
  async close(endSink = true): Promise<void> {
    await this.writePending();
    await this.out.close(endSink);
  }

  private async writePending(): Promise<void> {
    if (this.queuePending() > 0) await this.out.ready();
  }

  /** The section header and the interfaces added since the last block, queued now; returns their bytes. */
  private queuePending(): number {
    const blocks: Buffer[] = [];
    if (!this.headerWritten) {
      this.headerWritten = true;
      blocks.push(sectionHeaderBlock(this.options));
    }
    while (this.queuedInterfaces.length) blocks.push(interfaceBlock(this.queuedInterfaces.shift()!));
    for (const b of blocks) this.out.append(b);
    return blocks.reduce((sum, b) => sum + b.length, 0);
  }
}

/** epb_flags of a PacketBatch direction (DIRECTION_UNKNOWN: none). */
const EPB_FLAGS: Record<number, number> = { [DIRECTION_UNKNOWN]: 0, [DIRECTION_IN]: EPB_INBOUND, [DIRECTION_OUT]: EPB_OUTBOUND };
