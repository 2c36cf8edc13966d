// The records of one ring batch as the PacketBatch outputs write
// (src/output/packet-batch.ts): a few header fields per record read into
// reused columns, the packet bytes left where the ring reader put them.
// Nothing is decoded per record unless an output asks: a record becomes a
// PacketRecord, and through the mode a CapturedPacket, only for its
// comment (pcapng) or for outputs and listeners that take CapturedPackets.
// Only for modes whose packets are their records as they are (PreparedMode
// plainPackets).
import type { RecordBatch } from '../bpf/ringbuf';
import { LINKTYPE_RAW } from '../output/linktypes';
import { packetComment, type CapturedPacket } from '../output/packet';
import { DIRECTION_IN, DIRECTION_OUT, DIRECTION_UNKNOWN, type PacketBatch } from '../output/packet-batch';
import type { WallClock } from './clock';
import type { PlainPackets } from './mode';
import { decodeRecord, FLAG_DIRECTION_KNOWN, FLAG_OUTBOUND, RECORD, type PacketRecord } from './record';

const TWO_32 = 2 ** 32;

export class RecordPackets implements PacketBatch {
  count = 0;
  bytes: Buffer = Buffer.alloc(0);
  dataStart = new Uint32Array(0);
  caplen = new Uint32Array(0);
  wirelen = new Uint32Array(0);
  ifIndex = new Uint32Array(0);
  tsHigh = new Uint32Array(0);
  tsLow = new Uint32Array(0);
  direction = new Uint8Array(0);
  etherType = new Uint16Array(0);
  /** The capture point of each record (for the per-point counts). */
  point = new Uint32Array(0);
  private recordStart = new Uint32Array(0);
  private readonly pointDirection: number[];
  private packets: CapturedPacket[] | undefined;

  constructor(
    plain: PlainPackets,
    points: number,
    private readonly clock: WallClock,
    /** The output interface of a point's packets of a link type (made on first use). */
    private readonly interfaceOf: (point: number, linktype: number) => number,
    /** A record as the packet the general path writes. */
    private readonly packetOf: (rec: PacketRecord) => CapturedPacket,
  ) {
    this.pointDirection = Array.from({ length: points }, (_, p) => directionCode(plain.direction(p)));
  }

  /** Takes the first `count` records of `batch` (this object is the batch until the next fill). */
  fill(batch: RecordBatch, count: number): this {
    this.grow(count);
    this.bytes = batch.data;
    this.count = count;
    this.packets = undefined;
    const { data, ends } = batch;
    const { offsetHigh, offsetLow } = this.clock;
    let lastPoint = -1;
    let lastLinktype = -1;
    let lastIndex = 0;
    let start = 0;
    for (let i = 0; i < count; i++) {
      const end = ends[i];
      const point = data.readUInt32LE(start + RECORD.point);
      const linktype = data[start + RECORD.linktype];
      if (point !== lastPoint || linktype !== lastLinktype) {
        lastIndex = this.interfaceOf(point, linktype);
        lastPoint = point;
        lastLinktype = linktype;
      }
      const low = data.readUInt32LE(start + RECORD.tsNs) + offsetLow;
      const carry = low >= TWO_32 ? 1 : 0;
      this.tsLow[i] = low - carry * TWO_32;
      this.tsHigh[i] = data.readUInt32LE(start + RECORD.tsNs + 4) + offsetHigh + carry;
      this.recordStart[i] = start;
      this.dataStart[i] = start + RECORD.headerSize;
      this.caplen[i] = Math.max(0, Math.min(data.readUInt32LE(start + RECORD.caplen), end - start - RECORD.headerSize));
      this.wirelen[i] = data.readUInt32LE(start + RECORD.wirelen);
      this.ifIndex[i] = lastIndex;
      this.point[i] = point;
      const flags = data[start + RECORD.flags];
      this.direction[i] = this.pointDirection[point] || (flags & FLAG_DIRECTION_KNOWN ? (flags & FLAG_OUTBOUND ? DIRECTION_OUT : DIRECTION_IN) : DIRECTION_UNKNOWN);
      this.etherType[i] = linktype === LINKTYPE_RAW ? data.readUInt16BE(start + RECORD.protocol) : 0;
      start = end;
    }
    return this;
  }

  /** Record i decoded (its bytes copied). */
  record(i: number): PacketRecord {
    const start = this.recordStart[i];
    return decodeRecord(this.bytes.subarray(start, this.dataStart[i] + this.caplen[i]));
  }

  comment(i: number): string | undefined {
    return packetComment(this.packet(i));
  }

  packet(i: number): CapturedPacket {
    return this.packets?.[i] ?? this.packetOf(this.record(i));
  }

  /** Every packet as a CapturedPacket, made once per batch. */
  all(): CapturedPacket[] {
    this.packets ??= Array.from({ length: this.count }, (_, i) => this.packetOf(this.record(i)));
    return this.packets;
  }

  private grow(count: number): void {
    if (this.caplen.length >= count) return;
    const n = Math.max(count, 2 * this.caplen.length, 1024);
    this.dataStart = new Uint32Array(n);
    this.caplen = new Uint32Array(n);
    this.wirelen = new Uint32Array(n);
    this.ifIndex = new Uint32Array(n);
    this.tsHigh = new Uint32Array(n);
    this.tsLow = new Uint32Array(n);
    this.direction = new Uint8Array(n);
    this.etherType = new Uint16Array(n);
    this.point = new Uint32Array(n);
    this.recordStart = new Uint32Array(n);
  }
}

function directionCode(d: 'in' | 'out' | undefined): number {
  return d === 'in' ? DIRECTION_IN : d === 'out' ? DIRECTION_OUT : DIRECTION_UNKNOWN;
}
