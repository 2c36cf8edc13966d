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
import * as os from 'node:os';
import type { Writable } from 'node:stream';
import { packetComment, type CaptureInterface, type CaptureStatistics, type CapturedPacket, type PacketVerdict } from './packet';
import {
  BLOCK,
  BYTE_ORDER_MAGIC,
  EPB_INBOUND,
  EPB_OUTBOUND,
  OPT,
  VERDICT_TYPE,
  encodeBlock,
  pad4,
  stringOption,
  timestampOption,
  u32Option,
  u64Option,
  type RawOption,
} from './pcapng-format';
import { copyBytes, DIRECTION_IN, DIRECTION_UNKNOWN, type PacketBatch } from './packet-batch';
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
    const caplen = Math.min(pkt.data.length, iface.snaplen || pkt.data.length);
    const body = Buffer.alloc(20);
    body.writeUInt32LE(pkt.ifIndex, 0);
    // if_tsresol = 9: the timestamp is in nanoseconds, high 32 bits first.
    body.writeUInt32LE(Number((pkt.tsNs >> 32n) & 0xffffffffn), 4);
    body.writeUInt32LE(Number(pkt.tsNs & 0xffffffffn), 8);
    body.writeUInt32LE(caplen, 12);
    body.writeUInt32LE(pkt.wirelen >>> 0, 16); // as given, even below caplen (a file's value is kept)
    const options: RawOption[] = [];
    if (pkt.direction) options.push(u32Option(OPT.epbFlags, pkt.direction === 'in' ? EPB_INBOUND : EPB_OUTBOUND));
    if (pkt.verdict) options.push(verdictOption(pkt.verdict));
    const comment = packetComment(pkt);
    if (comment) options.push(stringOption(OPT.comment, comment));
    await this.out.write(encodeBlock(BLOCK.enhancedPacket, Buffer.concat([body, pkt.data.subarray(0, caplen)]), options));
  }

  /**
   * Appends every packet of a batch at once, as writePacket would one by
   * one, into the pending buffer: no Buffer or promise per packet; a
   * comment is made only for a packet that has one. Returns the bytes of
   * the blocks (`header`: the section header and interface blocks written
   * first) and each packet's (`sizes`); resolves `ready` when the stream
   * can take more.
   */
  writeBatch(batch: PacketBatch): { bytes: number; header: number; sizes: Uint32Array; ready: Promise<void> } {
    const header = this.queuePending();
    const { count, bytes: src, dataStart, caplen, wirelen, ifIndex, tsHigh, tsLow, direction } = batch;
    // First each packet's comment, kept length (each interface's snap length looked up once per batch) and block size.
    const comments: (Buffer | undefined)[] = new Array<Buffer | undefined>(count);
    const snaplens = this.interfaces.map((iface) => iface.snaplen);
    const kept = new Uint32Array(count);
    const blocks = new Uint32Array(count);
    for (let i = 0; i < count; i++) {
      const snaplen = snaplens[ifIndex[i]];
      if (snaplen === undefined) throw new RangeError(`packet names interface ${ifIndex[i]}, but only ${this.interfaces.length} were added`);
      kept[i] = Math.min(caplen[i], snaplen || caplen[i]);
      const comment = (comments[i] = batch.comment(i));
      blocks[i] = enhancedPacketBlockBytes(kept[i], direction[i] !== DIRECTION_UNKNOWN, comment?.length ?? 0);
    }
    const source = src.buffer;
    const sourceOffset = src.byteOffset;
    const total = this.out.appendSlices(blocks, count, (first, last, out, at) => {
      const fields = new DataView(out.buffer, out.byteOffset, out.byteLength);
      for (let i = first; i < last; i++) {
        const length = kept[i];
        const comment = comments[i];
        const block = blocks[i];
        const end = at + block;
        fields.setUint32(at, BLOCK.enhancedPacket, true);
        fields.setUint32(at + 4, block, true);
        fields.setUint32(at + 8, ifIndex[i], true);
        fields.setUint32(at + 12, tsHigh[i], true);
        fields.setUint32(at + 16, tsLow[i], true);
        fields.setUint32(at + 20, length, true);
        fields.setUint32(at + 24, wirelen[i] >>> 0, true);
        at = copyBytes(source, sourceOffset + dataStart[i], length, out, at + 28);
        at = zeroTo(out, at, pad4(length) - length);
        if (direction[i] !== DIRECTION_UNKNOWN) {
          fields.setUint16(at, OPT.epbFlags, true);
          fields.setUint16(at + 2, 4, true);
          fields.setUint32(at + 4, direction[i] === DIRECTION_IN ? EPB_INBOUND : EPB_OUTBOUND, true);
          at += 8;
        }
        if (comment?.length) {
          fields.setUint16(at, OPT.comment, true);
          fields.setUint16(at + 2, comment.length, true);
          out.set(comment, at + 4);
          at = zeroTo(out, at + 4 + comment.length, pad4(comment.length) - comment.length);
        }
        if (at + 4 < end) at = zeroTo(out, at, 4); // opt_endofopt
        fields.setUint32(at, block, true);
        at += 4;
      }
    });
    return { bytes: header + total, header, sizes: blocks, ready: this.out.ready() };
  }

  /** Writes an Interface Statistics Block for one interface. */
  async writeStatistics(ifIndex: number, stats: CaptureStatistics): Promise<void> {
    await this.writePending();
    if (!this.interfaces[ifIndex]) throw new RangeError(`statistics for interface ${ifIndex}, but only ${this.interfaces.length} were added`);
    const tsNs = stats.tsNs ?? BigInt(Date.now()) * 1_000_000n;
    const body = Buffer.alloc(12);
    body.writeUInt32LE(ifIndex, 0);
    body.writeUInt32LE(Number((tsNs >> 32n) & 0xffffffffn), 4);
    body.writeUInt32LE(Number(tsNs & 0xffffffffn), 8);
    const options: RawOption[] = [];
    if (stats.comment) options.push(stringOption(OPT.comment, stats.comment));
    options.push(timestampOption(OPT.isbEndTime, tsNs));
    if (stats.received !== undefined) options.push(u64Option(OPT.isbIfRecv, stats.received));
    if (stats.interfaceDropped !== undefined) options.push(u64Option(OPT.isbIfDrop, stats.interfaceDropped));
    if (stats.filterAccepted !== undefined) options.push(u64Option(OPT.isbFilterAccept, stats.filterAccepted));
    if (stats.osDropped !== undefined) options.push(u64Option(OPT.isbOsDrop, stats.osDropped));
    if (stats.delivered !== undefined) options.push(u64Option(OPT.isbUsrDeliv, stats.delivered));
    await this.out.write(encodeBlock(BLOCK.interfaceStatistics, body, options));
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
      blocks.push(this.sectionHeader());
    }
    while (this.queuedInterfaces.length) blocks.push(interfaceBlock(this.queuedInterfaces.shift()!));
    for (const b of blocks) this.out.append(b);
    return blocks.reduce((sum, b) => sum + b.length, 0);
  }

  private sectionHeader(): Buffer {
    const body = Buffer.alloc(16);
    body.writeUInt32LE(BYTE_ORDER_MAGIC, 0);
    body.writeUInt16LE(1, 4); // version 1.0
    body.writeUInt16LE(0, 6);
    body.writeBigInt64LE(-1n, 8); // section length: not known
    const options: RawOption[] = [];
    if (this.options.comment) options.push(stringOption(OPT.comment, this.options.comment));
    options.push(stringOption(OPT.shbOs, `${os.type()} ${os.release()}`));
    options.push(stringOption(OPT.shbUserAppl, this.options.application ?? 'netcap'));
    return encodeBlock(BLOCK.sectionHeader, body, options);
  }
}

/** Bytes of an Enhanced Packet Block (pcapng spec 4.3): 12 framing + 20 fixed + padded data + options (epb_flags, epb_verdict, a comment, opt_endofopt). */
export function enhancedPacketBlockBytes(caplen: number, flags: boolean, commentBytes: number, verdict = false): number {
  const options = (flags ? 8 : 0) + (verdict ? 4 + pad4(9) : 0) + (commentBytes ? 4 + pad4(commentBytes) : 0);
  return 12 + 20 + pad4(caplen) + (options ? options + 4 : 0);
}

function zeroTo(out: Buffer, at: number, bytes: number): number {
  for (let i = 0; i < bytes; i++) out[at + i] = 0;
  return at + bytes;
}

/** epb_verdict: the verdict type octet, then the program's return value as a 64-bit integer (TC's -1 stays -1). */
function verdictOption(v: PacketVerdict): RawOption {
  const value = Buffer.alloc(9);
  value[0] = VERDICT_TYPE[v.type];
  value.writeBigInt64LE(BigInt(v.value), 1);
  return { code: OPT.epbVerdict, value };
}

function interfaceBlock(desc: CaptureInterface): Buffer {
  const body = Buffer.alloc(8);
  body.writeUInt16LE(desc.linktype, 0);
  body.writeUInt32LE(desc.snaplen, 4);
  const options: RawOption[] = [];
  if (desc.name) options.push(stringOption(OPT.ifName, desc.name));
  if (desc.description) options.push(stringOption(OPT.ifDescription, desc.description));
  options.push({ code: OPT.ifTsresol, value: Buffer.from([9]) });
  // if_filter: first byte 0 = "libpcap filter string".
  if (desc.filter) options.push({ code: OPT.ifFilter, value: Buffer.concat([Buffer.from([0]), Buffer.from(desc.filter, 'utf8')]) });
  return encodeBlock(BLOCK.interfaceDescription, body, options);
}
