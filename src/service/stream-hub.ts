// A capture's live pcapng stream to any number of clients (network mode).
// Each run of the capture (its start, a restart after a direction change)
// is a pcapng section: a section header, the interfaces, the packets, and
// at the end of the run the statistics of each interface as that client
// has them. A client that connects in the middle of a run gets the section
// header and every interface known so far first, then the packets from
// then on. Each block is encoded once and copied into every client's
// bounded queue (stream-client.ts): a slow client misses packets and is
// told so, and nobody else, the local dump included, waits for it.
import type { Writable } from 'node:stream';
import type { CaptureInterface, CaptureStatistics, CapturedPacket, PacketSink } from '../index';
import { enhancedPacketBlockLength, interfaceBlock, sectionHeaderBlock, writeEnhancedPacketBlock } from '../output/pcapng-blocks';
import { StreamClient, type StreamClientCounters } from './stream-client';

/** How long a stream may take to send what it holds once its capture is deleted or the service stops. */
const END_GRACE_MS = 2000;

export interface StreamTotals {
  /** Clients connected now, with their counters. */
  clients: StreamClientCounters[];
  /** Clients that came and went. */
  clientsGone: number;
  /** Packets the clients that went had missed. */
  missedByGone: number;
}

export class StreamHub {
  private readonly clients = new Set<StreamClient>();
  /** The current run's section header and interface blocks, for clients that join during it. */
  private section: { header: Buffer; interfaces: Buffer[]; snaplens: number[] } | undefined;
  private nextId = 1;
  private gone = 0;
  private missedByGone = 0;
  private ended = false;

  constructor(
    private readonly queueBytes: number,
    private readonly comment: () => string,
  ) {}

  get clientCount(): number {
    return this.clients.size;
  }

  totals(): StreamTotals {
    return { clients: [...this.clients].map((c) => c.counters()), clientsGone: this.gone, missedByGone: this.missedByGone };
  }

  /** A new client on `out` (an HTTP response whose headers are sent): the current section so far, then what comes. */
  addClient(out: Writable, remote: string): StreamClient {
    const client = new StreamClient(this.nextId++, remote, out, this.queueBytes, (c) => {
      if (!this.clients.delete(c)) return;
      this.gone++;
      this.missedByGone += c.counters().missed;
    });
    this.clients.add(client);
    if (this.section) {
      client.offerControl(this.section.header);
      for (const b of this.section.interfaces) client.offerControl(b);
    }
    if (this.ended) client.end();
    return client;
  }

  /** The output one run of the capture writes to: a new section for every client. */
  runSink(interfaces: readonly CaptureInterface[]): PacketSink {
    const section = { header: sectionHeaderBlock({ comment: this.comment() }), interfaces: interfaces.map(interfaceBlock), snaplens: interfaces.map((i) => i.snaplen) };
    this.section = section;
    for (const c of this.clients) {
      c.newSection();
      c.offerControl(section.header);
      for (const b of section.interfaces) c.offerControl(b);
    }
    return {
      write: (batch) => {
        this.write(section.snaplens, batch);
        return Promise.resolve();
      },
      addInterface: (iface) => {
        const block = interfaceBlock(iface);
        section.interfaces.push(block);
        section.snaplens.push(iface.snaplen);
        for (const c of this.clients) c.offerControl(block);
      },
      flush: () => Promise.resolve(),
      close: (stats) => {
        this.closeSection(section.interfaces.length, stats);
        if (this.section === section) this.section = undefined;
        return Promise.resolve();
      },
    };
  }

  /** Ends every stream (the capture is stopped or deleted): what is queued goes first, for a short while. */
  async end(): Promise<void> {
    this.ended = true;
    const clients = [...this.clients];
    for (const c of clients) c.end();
    const deadline = Date.now() + END_GRACE_MS;
    while (clients.some((c) => !c.isClosed) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    for (const c of clients) c.destroy();
  }

  private write(snaplens: readonly number[], batch: readonly CapturedPacket[]): void {
    if (this.clients.size === 0) return;
    // The batch's blocks encoded once, into one buffer, then copied into each client's queue.
    let bytes = 0;
    for (const pkt of batch) bytes += enhancedPacketBlockLength(pkt, snaplens[pkt.ifIndex] ?? 0);
    const blocks = Buffer.allocUnsafeSlow(bytes);
    let at = 0;
    for (const pkt of batch) {
      const end = at + writeEnhancedPacketBlock(blocks, at, pkt, snaplens[pkt.ifIndex] ?? 0);
      for (const c of this.clients) c.offerPacket(blocks, at, end, pkt.ifIndex);
      at = end;
    }
  }

  private closeSection(interfaceCount: number, stats: readonly (CaptureStatistics | undefined)[]): void {
    const tsNs = BigInt(Date.now()) * 1_000_000n;
    for (const c of this.clients) {
      for (let i = 0; i < interfaceCount; i++) c.offerStatistics(i, stats[i], tsNs);
    }
  }
}
