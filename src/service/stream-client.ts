// One reader of a capture's live pcapng stream, behind a bounded queue.
// The capture never waits for it: blocks are copied into the client's own
// chunks (64 KiB each, so the bytes counted are the memory held), the
// socket takes chunks as fast as the client reads, and a packet that finds
// the queue full is not queued but counted as missed, per interface. Once
// the queue has room again the client is told, in the stream itself: an
// Interface Statistics Block whose isb_osdrop is what it missed so far.
//
// Control blocks (section header, interfaces, statistics) are always
// queued: without them the stream cannot be read. They are a few per
// interface and run, so they add little to the bound.
import type { Writable } from 'node:stream';
import type { CaptureStatistics } from '../index';
import { statisticsBlock } from '../output/pcapng-blocks';

const CHUNK_BYTES = 64 * 1024;

export interface StreamClientCounters {
  id: number;
  /** The client's address and port. */
  remote: string;
  connectedAtMs: number;
  /** Packets queued for it (sent or on their way). */
  packets: number;
  /** Packets it missed because its queue was full. */
  missed: number;
  /** Bytes waiting in its queue now. */
  queuedBytes: number;
  /** The queue's bound. */
  queueLimit: number;
}

export class StreamClient {
  readonly connectedAtMs = Date.now();
  /** Queued chunks and how much of each is filled; the last is being filled until the socket takes it. */
  private readonly chunks: { buf: Buffer; used: number }[] = [];
  private filling: { buf: Buffer; used: number } | undefined;
  /** Bytes of the chunks held (capacity: what the memory costs). */
  private heldBytes = 0;
  private waitingForDrain = false;
  private scheduled = false;
  private ending = false;
  private closedValue = false;
  private packets = 0;
  private readonly missedBy: number[] = [];
  private readonly sentBy: number[] = [];
  private toldMissed = 0;
  private missedTotal = 0;

  constructor(
    readonly id: number,
    readonly remote: string,
    private readonly out: Writable,
    readonly queueLimit: number,
    private readonly onClose: (c: StreamClient) => void,
  ) {
    out.on('drain', () => {
      this.waitingForDrain = false;
      this.pump();
    });
    out.on('close', () => this.closed());
    out.on('error', () => this.closed());
  }

  get isClosed(): boolean {
    return this.closedValue;
  }

  counters(): StreamClientCounters {
    return { id: this.id, remote: this.remote, connectedAtMs: this.connectedAtMs, packets: this.packets, missed: this.missedTotal, queuedBytes: this.heldBytes, queueLimit: this.queueLimit };
  }

  /** Queues a packet's block (from[start, end)), or counts it missed when the queue is full. */
  offerPacket(from: Buffer, start: number, end: number, ifIndex: number): void {
    if (this.closedValue || this.ending) return;
    if (this.heldBytes + (end - start) > this.queueLimit && this.heldBytes > 0) {
      this.missedBy[ifIndex] = (this.missedBy[ifIndex] ?? 0) + 1;
      this.missedTotal++;
      return;
    }
    if (this.missedTotal > this.toldMissed && this.heldBytes < this.queueLimit / 2) this.tellMissed();
    this.append(from, start, end);
    this.packets++;
    this.sentBy[ifIndex] = (this.sentBy[ifIndex] ?? 0) + 1;
  }

  /** Queues a block the stream cannot do without. */
  offerControl(block: Buffer): void {
    if (this.closedValue || this.ending) return;
    this.append(block);
  }

  /** The end-of-run statistics of interface `ifIndex` as this client has them: the capture's, with what it missed added to the drops. */
  offerStatistics(ifIndex: number, stats: CaptureStatistics | undefined, tsNs: bigint): void {
    const missed = this.missedBy[ifIndex] ?? 0;
    const own = `this client was sent ${this.sentBy[ifIndex] ?? 0} and missed ${missed} (its queue was full)`;
    this.offerControl(
      statisticsBlock(ifIndex, {
        ...stats,
        osDropped: (stats?.osDropped ?? 0n) + BigInt(missed),
        delivered: BigInt(this.sentBy[ifIndex] ?? 0),
        comment: stats?.comment ? `${stats.comment}; ${own}` : `netcap: ${own}`,
        tsNs,
      }),
    );
    this.toldMissed = this.missedTotal;
  }

  /** A new section begins: its interfaces are numbered from 0 again. */
  newSection(): void {
    this.missedBy.length = 0;
    this.sentBy.length = 0;
  }

  /** Sends what is queued, then ends the response. */
  end(): void {
    if (this.closedValue || this.ending) return;
    this.ending = true;
    this.pump();
  }

  /** Ends at once, whatever is queued (a client that does not read while the service stops). */
  destroy(): void {
    if (!this.closedValue) this.out.destroy();
    this.closed();
  }

  /** An Interface Statistics Block per interface with misses not yet told: isb_osdrop = missed so far. */
  private tellMissed(): void {
    const tsNs = BigInt(Date.now()) * 1_000_000n;
    this.missedBy.forEach((missed, ifIndex) => {
      if (!missed) return;
      this.append(statisticsBlock(ifIndex, { osDropped: BigInt(missed), delivered: BigInt(this.sentBy[ifIndex] ?? 0), comment: `netcap: this client missed ${missed} packets of this interface so far (its queue of ${this.queueLimit} bytes was full)`, tsNs }));
    });
    this.toldMissed = this.missedTotal;
  }

  private append(from: Buffer, start = 0, end = from.length): void {
    const length = end - start;
    if (!this.filling || this.filling.used + length > this.filling.buf.length) {
      this.filling = { buf: Buffer.allocUnsafeSlow(Math.max(CHUNK_BYTES, length)), used: 0 };
      this.chunks.push(this.filling);
      this.heldBytes += this.filling.buf.length;
    }
    this.filling.used += from.copy(this.filling.buf, this.filling.used, start, end);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => {
        this.scheduled = false;
        this.pump();
      });
    }
  }

  /** Hands the queued chunks (their filled part) to the socket while it takes them; the one being filled is sealed first. */
  private pump(): void {
    if (this.closedValue) return;
    while (!this.waitingForDrain && this.chunks.length > 0) {
      const chunk = this.chunks.shift()!;
      if (chunk === this.filling) this.filling = undefined;
      this.heldBytes -= chunk.buf.length;
      if (!this.out.write(chunk.used === chunk.buf.length ? chunk.buf : chunk.buf.subarray(0, chunk.used))) this.waitingForDrain = true;
    }
    // Room again after misses: tell the client now, not only with the next packet.
    if (!this.ending && this.missedTotal > this.toldMissed && this.heldBytes < this.queueLimit / 2) this.tellMissed();
    if (this.ending && this.chunks.length === 0 && !this.waitingForDrain) this.out.end();
  }

  private closed(): void {
    if (this.closedValue) return;
    this.closedValue = true;
    this.chunks.length = 0;
    this.filling = undefined;
    this.heldBytes = 0;
    this.onClose(this);
  }
}
