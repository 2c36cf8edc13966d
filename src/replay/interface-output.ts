// A replay onto an interface (-i IFACE [--netns NS]): frames go to the
// addon's sender thread with absolute deadlines, in batches, kept ahead of
// the clock by up to HIGH_WATER frames, so neither a pause of Node's event
// loop (garbage collection, a slow file read) nor a slow --inject-stream
// producer delays the background. A streamed frame is due "now" and the
// thread sends it before the queued frames that are due later.
import type { CapturedPacket } from '../output/packet';
import type { PacketSender, TimedFrame } from '../net/packet-sender';
import { formatNs } from './durations';
import { LatenessStats } from './lateness';
import type { OutputReport, ReplayOutput } from './output';
import type { TimelinePacket } from './sources';

/** Frames queued ahead at most. */
const HIGH_WATER = 2048;
/** The sender's lowWater option: it wakes us when half the frames are gone. */
export const SENDER_LOW_WATER = HIGH_WATER / 2;
/** Frames handed over per call at most. */
const BATCH = 256;

export class InterfaceOutput implements ReplayOutput {
  readonly label: string;
  private batch: TimedFrame[] = [];
  private queued = 0;
  private readonly lateness = new LatenessStats();
  /** Frames a stop caught before they were handed over. */
  private unsent = 0;
  private flushScheduled = false;

  constructor(private readonly sender: PacketSender) {
    const { name, netns } = sender.iface;
    this.label = netns.label === 'current' ? name : `${name} (netns ${netns.label})`;
  }

  start(): void {
    // The sender thread anchors the schedule itself: on the first frame's send.
  }

  schedule(item: TimelinePacket, dueNs: number): Promise<void> | void {
    this.batch.push({ data: item.pkt.data, dueNs });
    // Frames gather while the sources produce without waiting (each N-API
    // call and thread wake-up costs microseconds: one per frame held top
    // speed to 60k frames/s); the batch goes as soon as the event loop
    // turns, which is when the sources wait for a read.
    if (this.batch.length >= BATCH) this.flush();
    else if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => {
        this.flushScheduled = false;
        this.flush();
      });
    }
    if (this.queued >= HIGH_WATER) return this.waitForRoom();
  }

  private async waitForRoom(): Promise<void> {
    while (this.queued >= HIGH_WATER) {
      await this.sender.waitForProgress(50);
      this.queued = this.sender.stats().queued;
      this.collectLateness();
    }
  }

  injectNow(pkt: CapturedPacket): void {
    this.flush();
    const anchor = this.sender.anchorNs();
    this.queued = this.sender.push([{ data: pkt.data, dueNs: anchor === undefined ? 0 : Number(process.hrtime.bigint() - anchor) }]);
  }

  async finish(): Promise<void> {
    this.flush();
    for (;;) {
      const s = this.sender.stats();
      this.collectLateness();
      if (s.queued === 0 && !s.sending) return;
      await this.sender.waitForProgress(100);
    }
  }

  abort(): void {
    this.unsent += this.batch.length;
    this.batch = [];
    this.sender.cancel(); // counted by the thread as cancelled
  }

  close(): Promise<void> {
    this.collectLateness();
    this.sender.close();
    return Promise.resolve();
  }

  report(): OutputReport {
    const s = this.sender.stats();
    this.collectLateness();
    const notDone: Record<string, number> = { ...s.errors };
    if (s.tooBig) notDone['larger than the MTU'] = s.tooBig;
    if (s.cancelled + this.unsent) notDone['stopped before their time'] = s.cancelled + this.unsent;
    return { done: s.sent, notDone, retried: s.retried, lateness: this.lateness.summary(), clock: `the sender thread's CLOCK_MONOTONIC at the send() call; ${s.realtime ? 'SCHED_FIFO' : 'normal priority'}, spin window ${formatNs(s.spinNs)}` };
  }

  private flush(): void {
    if (this.batch.length === 0) return;
    this.queued = this.sender.push(this.batch);
    this.batch = [];
    this.collectLateness();
  }

  private collectLateness(): void {
    this.lateness.addAll(this.sender.takeLateness());
  }
}
