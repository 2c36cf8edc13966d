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
  stringOption,
  timestampOption,
  pad4,
  u64Option,
  type RawOption,
} from './pcapng-format';
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
    await this.out.write(enhancedPacketBlock(pkt, iface.snaplen));
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
    if (!this.headerWritten) {
      this.headerWritten = true;
      await this.out.write(sectionHeaderBlock(this.options));
    }
    while (this.queuedInterfaces.length) {
      await this.out.write(interfaceBlock(this.queuedInterfaces.shift()!));
    }
  }
}

// The blocks as functions of their contents, so a writer to many readers
// (netcap serve's streams) encodes each block once for all of them.

/** A Section Header Block: version 1.0, length unknown, the comment, the OS and the application. */
export function sectionHeaderBlock(options: Pick<PcapngWriterOptions, 'application' | 'comment'>): Buffer {
  const body = Buffer.alloc(16);
  body.writeUInt32LE(BYTE_ORDER_MAGIC, 0);
  body.writeUInt16LE(1, 4); // version 1.0
  body.writeUInt16LE(0, 6);
  body.writeBigInt64LE(-1n, 8); // section length: not known
  const opts: RawOption[] = [];
  if (options.comment) opts.push(stringOption(OPT.comment, options.comment));
  opts.push(stringOption(OPT.shbOs, `${os.type()} ${os.release()}`));
  opts.push(stringOption(OPT.shbUserAppl, options.application ?? 'netcap'));
  return encodeBlock(BLOCK.sectionHeader, body, opts);
}

/** An Enhanced Packet Block of a packet on an interface of snap length `snaplen` (0: no limit). */
export function enhancedPacketBlock(pkt: CapturedPacket, snaplen: number): Buffer {
  const block = Buffer.allocUnsafe(enhancedPacketBlockLength(pkt, snaplen));
  writeEnhancedPacketBlock(block, 0, pkt, snaplen);
  return block;
}

/**
 * Bytes of the Enhanced Packet Block of `pkt` (pcapng 4.3): 12 framing, 20
 * fixed, the padded data, and the options (epb_flags, epb_verdict, the
 * comment, opt_endofopt) — what -C compares with its limit, too.
 */
export function enhancedPacketBlockLength(pkt: CapturedPacket, snaplen: number): number {
  const comment = packetComment(pkt);
  let options = 0;
  if (pkt.direction) options += 8;
  if (pkt.verdict) options += 4 + pad4(VERDICT_BYTES);
  if (comment) options += 4 + pad4(Buffer.byteLength(comment, 'utf8'));
  return 32 + pad4(caplenOf(pkt, snaplen)) + (options ? options + 4 : 0);
}

/**
 * Writes the Enhanced Packet Block of `pkt` into `target` at `at`, which
 * has room for enhancedPacketBlockLength() bytes; returns that length. In
 * place, so a writer to many readers encodes a batch into one buffer.
 */
export function writeEnhancedPacketBlock(target: Buffer, at: number, pkt: CapturedPacket, snaplen: number): number {
  const total = enhancedPacketBlockLength(pkt, snaplen);
  const caplen = caplenOf(pkt, snaplen);
  target.writeUInt32LE(BLOCK.enhancedPacket, at);
  target.writeUInt32LE(total, at + 4);
  target.writeUInt32LE(pkt.ifIndex, at + 8);
  // if_tsresol = 9: the timestamp is in nanoseconds, high 32 bits first.
  target.writeUInt32LE(Number((pkt.tsNs >> 32n) & 0xffffffffn), at + 12);
  target.writeUInt32LE(Number(pkt.tsNs & 0xffffffffn), at + 16);
  target.writeUInt32LE(caplen, at + 20);
  target.writeUInt32LE(pkt.wirelen >>> 0, at + 24); // as given, even below caplen (a file's value is kept)
  let o = at + 28 + pkt.data.copy(target, at + 28, 0, caplen);
  o = zeroTo(target, o, at + 28 + pad4(caplen));
  const option = (code: number, length: number) => {
    target.writeUInt16LE(code, o);
    target.writeUInt16LE(length, o + 2);
    o += 4;
  };
  if (pkt.direction) {
    option(OPT.epbFlags, 4);
    target.writeUInt32LE(pkt.direction === 'in' ? EPB_INBOUND : EPB_OUTBOUND, o);
    o += 4;
  }
  if (pkt.verdict) {
    option(OPT.epbVerdict, VERDICT_BYTES);
    verdictValue(pkt.verdict).copy(target, o);
    o = zeroTo(target, o + VERDICT_BYTES, o + pad4(VERDICT_BYTES));
  }
  const comment = packetComment(pkt);
  if (comment) {
    const length = Buffer.byteLength(comment, 'utf8');
    option(OPT.comment, length);
    target.write(comment, o, length, 'utf8');
    o = zeroTo(target, o + length, o + pad4(length));
  }
  if (o > at + 28 + pad4(caplen)) option(OPT.endOfOpt, 0);
  target.writeUInt32LE(total, o);
  return total;
}

const caplenOf = (pkt: CapturedPacket, snaplen: number) => Math.min(pkt.data.length, snaplen || pkt.data.length);

/** Zeroes target[from, to) (padding); returns `to`. */
function zeroTo(target: Buffer, from: number, to: number): number {
  target.fill(0, from, to);
  return to;
}

/** An Interface Statistics Block of interface `ifIndex`, at stats.tsNs (default now). */
export function statisticsBlock(ifIndex: number, stats: CaptureStatistics): Buffer {
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
  return encodeBlock(BLOCK.interfaceStatistics, body, options);
}

/** epb_verdict: the verdict type octet, then the program's return value as a 64-bit integer (TC's -1 stays -1). */
const VERDICT_BYTES = 9;
function verdictValue(v: PacketVerdict): Buffer {
  const value = Buffer.alloc(VERDICT_BYTES);
  value[0] = VERDICT_TYPE[v.type];
  value.writeBigInt64LE(BigInt(v.value), 1);
  return value;
}

/** An Interface Description Block: link type, snap length, name, description, ns resolution, the filter. */
export function interfaceBlock(desc: CaptureInterface): Buffer {
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
