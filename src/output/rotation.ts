// tcpdump's -C, -W and -G for -w files, with tcpdump's rules (tcpdump.c,
// dump_packet_and_trunc and MakeFilename, 4.99), so scripts written for
// tcpdump find the files they expect:
//
// - -C SIZE: before writing a packet, if the current file is larger than
//   SIZE bytes, close it and open the next. A file therefore ends at most one
//   packet past SIZE. Files are named FILE, FILE1, FILE2, ...
// - -C with -W N: a ring of N files named FILE0 .. FILE<N-1>, the number
//   zero-padded to the width of N-1 (-W 12: FILE00 .. FILE11); after the
//   last, the first is overwritten.
// - -G SECONDS: before writing a packet, if SECONDS have passed since the
//   current file was opened, open a new one named by strftime(3) on FILE at
//   that moment (a name without a time conversion is overwritten each time,
//   as in tcpdump). Rotation happens on the first packet after the interval:
//   no packet, no new file.
// - -G with -W N (no -C): stop after N files; the packet that would open
//   file N+1 is not written, and the capture ends (tcpdump exits 0 with
//   "Maximum file limit reached").
// - -G with -C: FILE<count> within each interval, the count restarting at 0
//   with every new interval; -W then only sets the width of the count (and
//   wraps it, as tcpdump's code does).
//
// Unlike tcpdump, which compares whole seconds of time() when it processes
// a packet, the interval is measured on the packets' own timestamps, in
// milliseconds: a file holds the packets of [opening, opening + SECONDS)
// exactly, however late a busy machine gets to write them. The first file
// opens at the wall-clock start; later ones at the packet that opens them,
// and are named by its time.
//
// Every file is a complete capture: a pcap file header, or a pcapng section
// header with every interface. pcapng statistics go into the last file only
// (the counters are read once, when the capture ends).
import type { CaptureInterface, CaptureStatistics, CapturedPacket } from './packet';
import { openCaptureFile, type CaptureFileWriter, type FileFormat } from './file-writer';
import { strftime } from './strftime';

export interface RotationOptions {
  /** -C: bytes (tcpdump's unit is millions of bytes: -C 1 = 1 000 000). */
  maxBytes?: number;
  /** -W: number of files. */
  fileCount?: number;
  /** -G: seconds between new files. */
  seconds?: number;
}

/** Digits tcpdump gives the file number for -W N: those of N-1 (getWflagChars). */
export function fileNumberWidth(fileCount: number | undefined): number {
  if (!fileCount || fileCount < 1) return 0;
  return fileCount <= 1 ? 0 : String(fileCount - 1).length;
}

/**
 * The name tcpdump gives a rotated file: the template through strftime when
 * -G is on, then the number (zero-padded to `width`) unless both are 0.
 */
export function rotatedFileName(template: string, count: number, width: number, timeMs?: number): string {
  const base = timeMs === undefined ? template : strftime(template, new Date(timeMs));
  return count === 0 && width === 0 ? base : `${base}${String(count).padStart(width, '0')}`;
}

export class RotatingFileWriter {
  /** Every file opened, in order (a ring reopens names). */
  readonly opened: string[] = [];
  private current: CaptureFileWriter;
  /** When the current file was opened (ns since the epoch), for -G. */
  private openedAtNs: bigint;
  private sizeCount = 0;
  private timeCount = 0;
  private readonly width: number;
  private limitReached = false;
  private closed = false;
  private onLimit: (() => void) | undefined;
  /** The interfaces every new file declares: those given, and those added since. */
  private readonly format: FileFormat;

  /**
   * Opens the first file now (so a bad path fails before capturing).
   * `now` is the clock (ms since the epoch), replaceable in tests.
   */
  constructor(
    readonly template: string,
    readonly rotation: RotationOptions,
    format: FileFormat,
    private readonly now: () => number = Date.now,
  ) {
    this.format = { ...format, interfaces: [...format.interfaces] };
    this.width = rotation.maxBytes ? fileNumberWidth(rotation.fileCount) : 0;
    this.openedAtNs = BigInt(this.now()) * 1_000_000n;
    this.current = this.open(this.nameFor(0, this.openedAtNs));
    // Only the first file continues an existing one: a ring's later files start afresh.
    this.format.append = false;
  }

  /** The file being written. */
  get currentPath(): string {
    return this.current.path;
  }

  /** True once -G with -W has written its last file: later packets are dropped. */
  get finished(): boolean {
    return this.limitReached;
  }

  /** Calls `fn` once when -G with -W reaches its file limit (the capture should end). */
  whenFinished(fn: () => void): void {
    this.onLimit = fn;
    if (this.limitReached) fn();
  }

  async writePacket(pkt: CapturedPacket): Promise<void> {
    if (this.limitReached || this.closed) return;
    if (this.rotation.seconds) {
      const t = pkt.tsNs;
      if (t - this.openedAtNs >= BigInt(this.rotation.seconds) * 1_000_000_000n) {
        await this.current.close();
        this.timeCount++;
        if (!this.rotation.maxBytes && this.rotation.fileCount && this.timeCount >= this.rotation.fileCount) {
          this.limitReached = true;
          this.onLimit?.();
          return;
        }
        this.openedAtNs = t;
        this.sizeCount = 0;
        this.current = this.open(this.nameFor(0, t));
      }
    }
    if (this.rotation.maxBytes && this.current.size() > this.rotation.maxBytes) {
      await this.current.close();
      this.sizeCount++;
      if (this.rotation.fileCount && this.sizeCount >= this.rotation.fileCount) this.sizeCount = 0;
      this.current = this.open(this.nameFor(this.sizeCount, this.openedAtNs));
    }
    await this.current.writePacket(pkt);
  }

  /** One more interface: in the current file from now on, and in every later file. */
  addInterface(iface: CaptureInterface): void {
    (this.format.interfaces as CaptureInterface[]).push(iface);
    if (!this.limitReached && !this.closed) this.current.addInterface(iface);
  }

  async flush(): Promise<void> {
    if (!this.limitReached && !this.closed) await this.current.flush();
  }

  /** Closes the current file, with the statistics (pcapng) in it. */
  async close(stats?: readonly CaptureStatistics[]): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // With the -G/-W limit reached, the last file was closed then.
    if (!this.limitReached) await this.current.close(stats);
  }

  private nameFor(count: number, timeNs: bigint): string {
    return rotatedFileName(this.template, count, this.width, this.rotation.seconds ? Number(timeNs / 1_000_000n) : undefined);
  }

  private open(path: string): CaptureFileWriter {
    const f = openCaptureFile(path, this.format);
    this.opened.push(path);
    return f;
  }
}
