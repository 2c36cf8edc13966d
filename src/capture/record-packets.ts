// The records of one ring batch as the PacketBatch outputs write
// (src/output/packet-batch.ts): a few header fields per record read into
// reused columns, the packet bytes left where the ring reader put them.
// Nothing is decoded per record unless an output asks: a record becomes a
// PacketRecord, and through the mode a CapturedPacket, only for its
// comment (pcapng) or for outputs and listeners that take CapturedPackets.
// Only for modes whose packets are their records as they are (PreparedMode
// plainPackets).
//
// A comment depends only on the record's header, not on its time, lengths
// or bytes (PlainPackets), and most records of a batch share one: the same
// process, CPU, point and recycled sk_buff. So the comment is made once per
// distinct header in a batch and reused: formatting it for every packet
// cost ~2 µs each, twenty times what tcpdump spends on a whole packet.
import type { RecordBatch } from '../bpf/ringbuf';
import { LINKTYPE_RAW } from '../output/linktypes';
import { packetComment, type CapturedPacket } from '../output/packet';
import { BatchColumns, DIRECTION_IN, DIRECTION_OUT, DIRECTION_UNKNOWN } from '../output/packet-batch';
import type { WallClock } from './clock';
import type { PlainPackets } from './mode';
import { decodeRecord, FLAG_DIRECTION_KNOWN, FLAG_OUTBOUND, RECORD, type PacketRecord } from './record';

const TWO_32 = 2 ** 32;

/** Offsets of the header's 32-bit words a comment may depend on: all but the time (0-7) and the lengths (32-39). */
const COMMENT_KEY: readonly number[] = Array.from({ length: RECORD.headerSize / 4 }, (_, w) => 4 * w).filter((o) => o >= 8 && (o < RECORD.wirelen || o >= RECORD.caplen + 4));

interface CommentEntry {
  key: Uint32Array;
  bytes: Buffer | undefined;
}

export class RecordPackets extends BatchColumns {
  /** The capture point of each record (for the per-point counts). */
  point = new Uint32Array(0);
  /** Each point's direction code, asked of the mode on first use (points may be added while capturing). */
  private readonly pointDirection: number[] = [];
  private packets: CapturedPacket[] | undefined;
  private view: DataView = new DataView(new ArrayBuffer(0));
  /** This batch's comments by a hash of the header words they depend on. */
  private readonly comments = new Map<number, CommentEntry>();
  /** The comment comment() returned last, in this batch. */
  private lastComment: CommentEntry | undefined;

  constructor(
    private readonly plain: PlainPackets,
    private readonly clock: WallClock,
    /** The output interface of a point's packets of a link type (made on first use). */
    private readonly interfaceOf: (point: number, linktype: number) => number,
    /** A record as the packet the general path writes. */
    private readonly packetOf: (rec: PacketRecord) => CapturedPacket,
  ) {
    super();
  }

  /** Takes the first `count` records of `batch` (this object is the batch until the next fill). */
  fill(batch: RecordBatch, count: number): this {
    this.grow(count);
    this.bytes = batch.data;
    this.count = count;
    this.packets = undefined;
    this.comments.clear();
    this.lastComment = undefined;
    const { data, starts, ends } = batch;
    const view = (this.view = batch.view);
    const { offsetHigh, offsetLow } = this.clock;
    let lastPoint = -1;
    let lastLinktype = -1;
    let lastIndex = 0;
    for (let i = 0; i < count; i++) {
      const start = starts[i];
      const end = ends[i];
      const point = view.getUint32(start + RECORD.point, true);
      const linktype = data[start + RECORD.linktype];
      if (point !== lastPoint || linktype !== lastLinktype) {
        lastIndex = this.interfaceOf(point, linktype);
        lastPoint = point;
        lastLinktype = linktype;
        this.pointDirection[point] ??= directionCode(this.plain.direction(point));
      }
      const low = view.getUint32(start + RECORD.tsNs, true) + offsetLow;
      const carry = low >= TWO_32 ? 1 : 0;
      this.tsLow[i] = low - carry * TWO_32;
      this.tsHigh[i] = view.getUint32(start + RECORD.tsNs + 4, true) + offsetHigh + carry;
      this.recordStart[i] = start;
      this.dataStart[i] = start + RECORD.headerSize;
      this.caplen[i] = Math.max(0, Math.min(view.getUint32(start + RECORD.caplen, true), end - start - RECORD.headerSize));
      this.wirelen[i] = view.getUint32(start + RECORD.wirelen, true);
      this.ifIndex[i] = lastIndex;
      this.point[i] = point;
      const flags = data[start + RECORD.flags];
      this.direction[i] = this.pointDirection[point] || (flags & FLAG_DIRECTION_KNOWN ? (flags & FLAG_OUTBOUND ? DIRECTION_OUT : DIRECTION_IN) : DIRECTION_UNKNOWN);
      this.etherType[i] = linktype === LINKTYPE_RAW ? view.getUint16(start + RECORD.protocol, false) : 0;
    }
    return this;
  }

  /** Record i decoded (its bytes copied). */
  record(i: number): PacketRecord {
    const start = this.recordStart[i];
    return decodeRecord(this.bytes.subarray(start, this.dataStart[i] + this.caplen[i]));
  }

  comment(i: number): Buffer | undefined {
    const { view } = this;
    const start = this.recordStart[i];
    // Most often the comment of the record asked before (writers ask in order).
    const last = this.lastComment;
    if (last && sameKey(last.key, view, start)) return last.bytes;
    let hash = 0x811c9dc5;
    for (let k = 0; k < COMMENT_KEY.length; k++) hash = Math.imul(hash ^ view.getUint32(start + COMMENT_KEY[k], true), 0x01000193);
    const known = this.comments.get(hash);
    if (known && sameKey(known.key, view, start)) return (this.lastComment = known).bytes;
    const text = packetComment(this.packet(i));
    const entry = { key: Uint32Array.from(COMMENT_KEY, (o) => view.getUint32(start + o, true)), bytes: text ? Buffer.from(text, 'utf8') : undefined };
    if (!known) this.comments.set(hash, entry);
    this.lastComment = entry;
    return entry.bytes;
  }

  packet(i: number): CapturedPacket {
    return this.packets?.[i] ?? this.packetOf(this.record(i));
  }

  /** Every packet as a CapturedPacket, made once per batch. */
  all(): CapturedPacket[] {
    this.packets ??= Array.from({ length: this.count }, (_, i) => this.packetOf(this.record(i)));
    return this.packets;
  }

  protected override grow(count: number): boolean {
    if (!super.grow(count)) return false;
    this.point = new Uint32Array(this.caplen.length);
    return true;
  }
}

/** Whether the header at `start` has the words `key` holds (COMMENT_KEY). */
function sameKey(key: Uint32Array, view: DataView, start: number): boolean {
  for (let k = 0; k < COMMENT_KEY.length; k++) if (key[k] !== view.getUint32(start + COMMENT_KEY[k], true)) return false;
  return true;
}

function directionCode(d: 'in' | 'out' | undefined): number {
  return d === 'in' ? DIRECTION_IN : d === 'out' ? DIRECTION_OUT : DIRECTION_UNKNOWN;
}
