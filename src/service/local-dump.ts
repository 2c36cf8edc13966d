// A capture's local dump: one pcapng file kept open (or the files of its
// rotation), opened through the one output model (src/output/outputs.ts),
// made resilient: at least once a second, and after every batch with
// flush=each, what was written is handed to the kernel (so a SIGKILL of the
// service keeps it), and once a second the file is synced to the disk (so
// a power cut keeps what was flushed before the last sync). The writers
// only ever hand whole blocks to the kernel, so the file is valid for
// tcpdump at any moment, up to the last flush.
//
// A new capture's dump starts a new file, as tcpdump -w does; a restored
// capture, or one whose mode comes back to local, continues it: a new pcapng
// section, which tcpdump, tshark and Wireshark read with the earlier ones
// as one capture.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { openOutputs, type CaptureInterface, type CaptureStatistics, type CapturedPacket, type PacketSink } from '../index';
import type { PacketBatch } from '../output/packet-batch';
import type { CaptureDefinition } from './definition';

/** The most time between flushes of a dump. */
export const FLUSH_INTERVAL_MS = 1000;

export interface DumpCounters {
  /** Packets handed to the dump. */
  written: number;
  /** Packets the last completed flush covered (in the kernel, readable by tcpdump, kept across a SIGKILL). */
  flushed: number;
  /** When the last flush completed (ms since the epoch), 0 before the first. */
  flushedAtMs: number;
  /** When the last sync to the disk completed. */
  syncedAtMs: number;
}

export class LocalDump implements PacketSink {
  readonly counters: DumpCounters = { written: 0, flushed: 0, flushedAtMs: 0, syncedAtMs: 0 };
  readonly ended?: Promise<string>;
  private readonly inner: PacketSink;
  /** Writes, flushes and the close in order: the timer's flush never runs inside a write. */
  private chain: Promise<void> = Promise.resolve();
  private readonly timer: NodeJS.Timeout;
  private closed = false;
  private syncing = false;

  /**
   * Opens `file` (inside `folder`) for the capture's interfaces so far:
   * truncated for a new capture, continued (`continued`) by a restored one
   * or a mode changed back to local. `comment` is the pcapng section's.
   * Throws UserError when it cannot.
   */
  constructor(
    readonly folder: string,
    file: string,
    def: CaptureDefinition,
    interfaces: readonly CaptureInterface[],
    opts: { comment: string; continued: boolean },
  ) {
    const r = def.rotation;
    // -G names each file by its time (tcpdump's strftime on -w): a name
    // without conversions would be overwritten at every rotation.
    const template = r?.seconds ? file.replace(/\.pcapng$/, '-%Y%m%d-%H%M%S.pcapng') : file;
    [this.inner] = openOutputs(
      {
        writeFile: path.join(folder.replace(/%/g, '%%'), path.basename(template)),
        format: 'pcapng',
        comment: opts.comment,
        append: opts.continued,
        noFollow: true,
        ...(r?.keepLast !== undefined ? { keepLast: r.keepLast } : {}),
        ...(r && r.keepLast === undefined ? { rotation: { maxBytes: r.megabytes !== undefined ? Math.round(r.megabytes * 1e6) : undefined, fileCount: r.files, seconds: r.seconds } } : {}),
      },
      interfaces,
    );
    if (this.inner.ended) this.ended = this.inner.ended;
    this.timer = setInterval(() => void this.flushAndSync(), FLUSH_INTERVAL_MS);
    this.timer.unref();
  }

  write(batch: readonly CapturedPacket[]): Promise<void> {
    if (this.closed) return Promise.resolve();
    return this.queue(async () => {
      await this.inner.write(batch);
      this.counters.written += batch.length;
    });
  }

  /**
   * The capture's fast path (PacketSink.writeBatch): the file takes the
   * batch's records as they are, copied now (the batch is reused), with no
   * object or promise per packet (packet by packet, each one cost a Buffer,
   * a DataView and several promises). Counted once the file can take more,
   * in order with the queued flushes.
   */
  writeBatch(batch: PacketBatch): Promise<void> {
    if (this.closed) return Promise.resolve();
    if (!this.inner.writeBatch) return this.write(Array.from({ length: batch.count }, (_, i) => batch.packet(i)));
    const count = batch.count;
    const ready = this.inner.writeBatch(batch);
    ready.catch(() => undefined); // seen through the queue below
    return this.queue(async () => {
      await ready;
      this.counters.written += count;
    });
  }

  addInterface(iface: CaptureInterface): void {
    if (!this.closed) this.inner.addInterface(iface);
  }

  flush(): Promise<void> {
    return this.queue(() => this.flushNow());
  }

  async close(stats: readonly (CaptureStatistics | undefined)[]): Promise<void> {
    if (this.closed) return this.chain;
    this.closed = true;
    clearInterval(this.timer);
    // The writers' close flushes, writes the statistics and fsyncs.
    await this.queue(async () => {
      await this.inner.close(stats);
      this.counters.flushed = this.counters.written;
      this.counters.flushedAtMs = this.counters.syncedAtMs = Date.now();
    });
  }

  abort(): void {
    this.inner.abort?.();
  }

  private queue(op: () => Promise<void>): Promise<void> {
    const next = this.chain.then(op);
    this.chain = next.catch(() => undefined);
    return next;
  }

  private async flushNow(): Promise<void> {
    const covered = this.counters.written;
    await this.inner.flush();
    this.counters.flushed = covered;
    this.counters.flushedAtMs = Date.now();
  }

  private async flushAndSync(): Promise<void> {
    // One at a time: on a busy disk a sync can take longer than the interval,
    // and syncs piling up would hold libuv's threads the writes need.
    if (this.closed || this.syncing) return;
    this.syncing = true;
    const since = this.counters.syncedAtMs;
    try {
      await this.queue(() => this.flushNow());
      await syncChangedFiles(this.folder, since);
      this.counters.syncedAtMs = Date.now();
    } catch {
      // A failing disk shows in the next write, which ends the capture with the error.
    } finally {
      this.syncing = false;
    }
  }
}

/**
 * fdatasync(2) of the folder's files changed since `sinceMs`. The writers'
 * descriptors are theirs; a sync through another descriptor of the same
 * file writes the same pages (fsync acts on the file, not the descriptor).
 */
async function syncChangedFiles(folder: string, sinceMs: number): Promise<void> {
  for (const name of await fs.promises.readdir(folder)) {
    const file = path.join(folder, name);
    const st = await fs.promises.lstat(file).catch(() => undefined);
    if (!st?.isFile() || st.mtimeMs < sinceMs - 1000) continue;
    const handle = await fs.promises.open(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW).catch(() => undefined);
    if (!handle) continue;
    try {
      await handle.datasync();
    } finally {
      await handle.close();
    }
  }
}
