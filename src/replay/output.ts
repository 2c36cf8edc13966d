// Where a replay's packets go: a capture file (file-output.ts) or an
// interface (interface-output.ts). The replay hands over timeline packets in
// order with their deadlines; each output meets them with the clock it
// has, and weaves in streamed packets at the current transcription time.
import type { CapturedPacket } from '../output/packet';
import type { LatenessSummary } from './lateness';
import type { TimelinePacket } from './sources';

export interface ReplayOutput {
  /** "out.pcap", "v0 (netns lab)": for the report. */
  readonly label: string;
  /** Starts the clock: deadlines are ns after `anchorNs` (process.hrtime.bigint()), or after the first packet's send where the output sends. */
  start(anchorNs: bigint): void;
  /**
   * The next packet, due `dueNs` after the anchor. Returns a promise when the
   * caller must wait before handing over another, nothing when it need not
   * (at top speed a promise per packet is a good part of the cost).
   */
  schedule(item: TimelinePacket, dueNs: number): Promise<void> | void;
  /** A streamed packet: out as soon as possible, at the current transcription time. */
  injectNow(pkt: CapturedPacket, label: string): void;
  /** Resolves once everything handed over has gone out. */
  finish(): Promise<void>;
  /** A stop: what has not gone out yet stays out (and is counted). */
  abort(): void;
  /** Closes the file or the socket (after finish() or abort()). */
  close(): Promise<void>;
  report(): OutputReport;
}

export interface OutputReport {
  /** Packets written or sent. */
  done: number;
  /** Packets given up on, by reason ("ENETDOWN", "larger than the MTU", "stopped"...). */
  notDone: Record<string, number>;
  /** ENOBUFS retries (interfaces). */
  retried: number;
  lateness: LatenessSummary;
  /** What the lateness was measured with, e.g. "the sender thread's clock" */
  clock: string;
}
