// One agent's live pcapng stream (GET /captures/{name}/stream), read block
// by block as the bytes come: sections (a new one when the capture starts a
// new run), its interfaces, its packets and its statistics. Each packet
// leaves as the block the merged file will hold: its interface id turned
// into the merged file's, its timestamp moved onto the client's clock when
// the agent's clock is shifted (clock.ts). netcap's own streams (little
// endian, nanosecond timestamps) are patched in a copy of the block; any
// other pcapng is decoded and encoded again.
import type { Readable } from 'node:stream';
import { PcapngParser } from '../output/pcapng-reader';
import { enhancedPacketBlock } from '../output/pcapng-blocks';
import { BLOCK, BYTE_ORDER_MAGIC, OPT, decodeOptions } from '../output/pcapng-format';
import type { CaptureInterface, CaptureStatistics } from '../output/packet';

const IF_TSOFFSET = 14;
/** A block longer than this is refused (the largest packet netcap writes is 256 KiB). */
const MAX_BLOCK_BYTES = 16 << 20;

export interface AgentStreamEvents {
  /** An interface of the agent's stream; returns the merged file's id for it. */
  interface(iface: CaptureInterface): number;
  /** A packet: its timestamp's high and low 32 bits (ns, on the client's clock), `block` its Enhanced Packet Block for the merged file. */
  packet(mergedIf: number, hi: number, lo: number, block: Buffer): void;
  /** The agent's statistics of one of its interfaces (what it missed, at the end of a run). */
  statistics(mergedIf: number, stats: CaptureStatistics): void;
}

interface StreamInterface {
  merged: number;
  snaplen: number;
  /** Little endian with ns timestamps and no offset: the block is patched, not re-encoded. */
  patchable: boolean;
}

export class AgentStream {
  /** Packets and bytes read from the stream. */
  packets = 0;
  bytes = 0;
  private parser = new PcapngParser();
  private interfaces: StreamInterface[] = [];
  /** Interfaces the parser has numbered (across sections) -> merged ids. */
  private parsedToMerged: number[] = [];
  private littleEndian = true;
  private leftover: Buffer | undefined;

  constructor(
    private readonly events: AgentStreamEvents,
    /** Added to every timestamp (ns): the agent's clock onto the client's. */
    private readonly shiftNs: bigint,
  ) {}

  /** Reads `source` until it ends; rejects when its bytes are not pcapng or it breaks off. */
  read(source: Readable): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      source.on('data', (chunk: Buffer) => {
        try {
          this.feed(chunk);
        } catch (e) {
          source.destroy();
          reject(e as Error);
        }
      });
      source.once('end', () => (this.leftover?.length ? reject(new Error(`the stream ended inside a block (${this.leftover.length} bytes of it)`)) : resolve()));
      source.once('error', reject);
      source.once('close', () => reject(new Error('the connection closed before the stream ended')));
    });
  }

  /** Takes the next bytes of the stream: every whole block in them is handled, the rest kept. */
  feed(chunk: Buffer): void {
    let buf = chunk;
    if (this.leftover) {
      buf = Buffer.concat([this.leftover, chunk]);
      this.leftover = undefined;
    }
    let at = 0;
    while (buf.length - at >= 12) {
      const total = this.blockLength(buf, at);
      if (buf.length - at < total) break;
      this.block(buf, at, total);
      at += total;
    }
    if (at < buf.length) this.leftover = Buffer.from(buf.subarray(at));
  }

  private blockLength(buf: Buffer, at: number): number {
    if (buf.readUInt32LE(at) === BLOCK.sectionHeader) this.littleEndian = buf.readUInt32LE(at + 8) === BYTE_ORDER_MAGIC;
    const total = this.parser.blockLength(buf, at, this.bytes + at);
    if (total > MAX_BLOCK_BYTES) throw new Error(`a block of ${total} bytes at offset ${this.bytes + at}: not a netcap stream`);
    return total;
  }

  private block(buf: Buffer, at: number, total: number): void {
    const type = this.littleEndian ? buf.readUInt32LE(at) : buf.readUInt32BE(at);
    if (type === BLOCK.enhancedPacket && this.littleEndian) {
      const own = this.interfaces[buf.readUInt32LE(at + 8)];
      if (own?.patchable) {
        this.packet(own, buf, at, total);
        this.bytes += total;
        return;
      }
    }
    const before = this.parser.file.interfaces.length;
    const pkt = this.parser.parseBlock(buf, at, total, this.bytes + at);
    this.bytes += total;
    if (type === BLOCK.sectionHeader) this.interfaces = [];
    else if (type === BLOCK.interfaceDescription) this.addInterface(buf, at, total, before);
    else if (type === BLOCK.interfaceStatistics) {
      const last = this.parser.file.statistics.pop();
      if (last) this.events.statistics(this.parsedToMerged[last.ifIndex], last.stats);
    } else if (pkt) {
      // Another writer's packet (big endian, other resolutions): decoded and encoded again.
      const merged = this.parsedToMerged[pkt.ifIndex];
      const tsNs = pkt.tsNs + this.shiftNs;
      const block = enhancedPacketBlock({ ...pkt, ifIndex: merged, tsNs }, this.parser.file.interfaces[pkt.ifIndex].snaplen);
      this.packets++;
      this.events.packet(merged, Number(tsNs >> 32n), Number(tsNs & 0xffffffffn), block);
    }
  }

  private addInterface(buf: Buffer, at: number, total: number, parsedIndex: number): void {
    const iface = this.parser.file.interfaces[parsedIndex];
    const opts = decodeOptions(buf, at + 16, at + total - 4, this.littleEndian);
    const resol = opts.find((o) => o.code === OPT.ifTsresol)?.value[0] ?? 6;
    const patchable = this.littleEndian && resol === 9 && !opts.some((o) => o.code === IF_TSOFFSET);
    const merged = this.events.interface(iface);
    this.parsedToMerged[parsedIndex] = merged;
    this.interfaces.push({ merged, snaplen: iface.snaplen, patchable });
  }

  /** netcap's own packet: a copy of its block with the merged interface id (and the shifted time). */
  private packet(own: StreamInterface, buf: Buffer, at: number, total: number): void {
    const block = Buffer.allocUnsafe(total);
    buf.copy(block, 0, at, at + total);
    block.writeUInt32LE(own.merged, 8);
    let hi = block.readUInt32LE(12);
    let lo = block.readUInt32LE(16);
    if (this.shiftNs !== 0n) {
      const tsNs = ((BigInt(hi) << 32n) | BigInt(lo)) + this.shiftNs;
      hi = Number(tsNs >> 32n);
      lo = Number(tsNs & 0xffffffffn);
      block.writeUInt32LE(hi, 12);
      block.writeUInt32LE(lo, 16);
    }
    this.packets++;
    this.events.packet(own.merged, hi, lo, block);
  }
}
