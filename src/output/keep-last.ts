// The original netcap's --write-file-rotate N: keep only the last N packets
// in memory and write them to -w FILE when the capture ends, whatever ends it
// (-c, SIGINT, SIGTERM, --duration, the traced process exiting, an error).
// The original wrote its buffer only on SIGINT, so `-c` lost it; here the
// file is written by close(), which the capture session calls on every exit
// path.
//
// The file is opened (created, truncated) at the start so a bad path fails
// before anything is attached; it holds a valid, empty capture until the end.
import type { CaptureInterface, CaptureStatistics, CapturedPacket } from './packet';
import { openCaptureFile, type CaptureFileWriter, type FileFormat } from './file-writer';

export class KeepLastWriter {
  private readonly ring: (CapturedPacket | undefined)[];
  /** Next slot to overwrite; also the oldest packet once the ring is full. */
  private next = 0;
  private stored = 0;
  private seen = 0;
  private file: CaptureFileWriter | undefined;

  constructor(
    readonly path: string,
    readonly keep: number,
    readonly format: FileFormat,
  ) {
    if (!Number.isInteger(keep) || keep < 1) throw new RangeError(`keep ${keep}: not a positive whole number`);
    this.ring = new Array<CapturedPacket | undefined>(keep);
    this.file = openCaptureFile(path, format);
  }

  /** One more interface, declared in the file when it is written. */
  addInterface(iface: CaptureInterface): void {
    this.file?.addInterface(iface);
  }

  /** Packets offered so far (kept or pushed out). */
  get packetsSeen(): number {
    return this.seen;
  }

  /** Remembers a packet, forgetting the oldest once `keep` are held. */
  add(pkt: CapturedPacket): void {
    this.ring[this.next] = pkt;
    this.next = (this.next + 1) % this.keep;
    this.stored = Math.min(this.stored + 1, this.keep);
    this.seen++;
  }

  /** The kept packets, oldest first. */
  kept(): CapturedPacket[] {
    const start = this.stored < this.keep ? 0 : this.next;
    const out: CapturedPacket[] = [];
    for (let i = 0; i < this.stored; i++) out.push(this.ring[(start + i) % this.keep]!);
    return out;
  }

  /** Writes the kept packets (oldest first) and the statistics, then closes the file. Idempotent. */
  async close(stats?: readonly CaptureStatistics[]): Promise<void> {
    const file = this.file;
    if (!file) return;
    this.file = undefined;
    try {
      for (const pkt of this.kept()) await file.writePacket(pkt);
    } finally {
      await file.close(stats);
    }
  }
}
