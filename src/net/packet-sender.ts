// Sending frames out of an interface, each at its own moment: an AF_PACKET
// socket bound to the interface inside its network namespace, and the
// addon's sender thread (native/src/inject.cc), which sends the first frame
// at once, makes that moment the anchor, and sleeps until each later
// frame's deadline (anchor + due, CLOCK_MONOTONIC: process.hrtime's clock),
// retrying ENOBUFS. This module is the addon's only user for sending; the
// policy (what to send when, what a failure means) stays with the caller.
import { isNativeError, native, type NativeSender, type NativeSenderStats } from '../native';
import { UserError } from '../errors';
import type { NetnsRef } from '../kernel/interfaces';

export type SenderStats = NativeSenderStats;

/** ARPHRD_ values (include/uapi/linux/if_arp.h) of the link layers netcap sends on. */
const ARPHRD_ETHER = 1;
const ARPHRD_LOOPBACK = 772;
const ARPHRD_RAWIP = 519;
const ARPHRD_NONE = 65534;

export interface SendingInterface {
  name: string;
  netns: NetnsRef;
  ifindex: number;
  mtu: number;
  up: boolean;
  /** Has carrier (for a veth: its peer is up). */
  running: boolean;
  /** What the frames handed over must start with: an Ethernet header, an IP header, or something else. */
  link: 'ethernet' | 'raw-ip' | { arphrd: number };
  /** "02:00:00:00:00:01" style. */
  mac: string;
}

export interface SenderOptions {
  /** How long before a deadline the thread stops sleeping and spins on the clock (default: learnt from how late it wakes, 50 us to 1 ms). */
  spinNs?: number;
  /** The queue length at which the thread wakes its producer (default 1024). */
  lowWater?: number;
  /** Wait for deadlines at real-time priority (SCHED_FIFO) when permitted (default true). */
  realtime?: boolean;
}

/** One frame for push(): its bytes and when it is due, in ns after the anchor (the first frame's send). */
export interface TimedFrame {
  data: Buffer;
  dueNs: number;
}

export class PacketSender {
  private readonly sender: NativeSender;
  private waiters: (() => void)[] = [];
  private closed = false;

  private constructor(
    readonly iface: SendingInterface,
    fd: number,
    options: SenderOptions,
  ) {
    this.sender = new (native().packet.Sender)(fd, () => this.woken(), { spinNs: options.spinNs, lowWater: options.lowWater, realtime: options.realtime });
  }

  /**
   * Opens `ifname` in `netns` for sending. The caller has checked that the
   * interface exists (resolveInterface names the ones that do); EPERM means
   * no CAP_NET_RAW.
   */
  static open(ifname: string, netns: NetnsRef, options: SenderOptions = {}): PacketSender {
    let s;
    try {
      s = native().packet.open(netns.label === 'current' ? '' : netns.path, ifname);
    } catch (e) {
      if (!isNativeError(e)) throw e;
      const hint = e.code === 'EPERM' || e.code === 'EACCES' ? 'sending raw frames needs root (CAP_NET_RAW, and CAP_SYS_ADMIN for --netns)' : 'check the interface name and --netns';
      throw new UserError(`cannot open ${ifname} for sending (${e.code}): ${e.message}`, hint);
    }
    const link = s.arphrd === ARPHRD_ETHER || s.arphrd === ARPHRD_LOOPBACK ? 'ethernet' : s.arphrd === ARPHRD_NONE || s.arphrd === ARPHRD_RAWIP ? 'raw-ip' : { arphrd: s.arphrd };
    const mac = [...s.mac].map((b) => b.toString(16).padStart(2, '0')).join(':');
    const iface: SendingInterface = { name: ifname, netns, ifindex: s.ifindex, mtu: s.mtu, up: s.up, running: s.running, link, mac };
    return new PacketSender(iface, s.fd, options);
  }

  /** Queues frames; returns the queue's length. */
  push(frames: readonly TimedFrame[]): number {
    if (frames.length === 0) return this.sender.stats().queued;
    const ends = new Uint32Array(frames.length);
    const due = new Float64Array(frames.length);
    let end = 0;
    for (let i = 0; i < frames.length; i++) {
      end += frames[i].data.length;
      ends[i] = end;
      due[i] = frames[i].dueNs;
    }
    const data = frames.length === 1 ? frames[0].data : Buffer.concat(frames.map((f) => f.data), end);
    return this.sender.push(data, ends, due);
  }

  /** The moment dues count from (process.hrtime.bigint() clock), once the first frame went out. */
  anchorNs(): bigint | undefined {
    const a = this.sender.stats().anchorNs;
    return a === 0n ? undefined : a;
  }

  stats(): SenderStats {
    return this.sender.stats();
  }

  /** ns late of each frame sent since the last call. */
  takeLateness(): Float64Array {
    return this.sender.takeLateness();
  }

  /**
   * Resolves when the thread reports progress (its queue drained to the
   * low-water mark or emptied) or after `maxMs`, whichever comes first: a
   * report that came before the call is not lost, the caller re-checks.
   */
  waitForProgress(maxMs: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, maxMs);
      const waiters = this.waiters;
      function done(): void {
        clearTimeout(timer);
        const i = waiters.indexOf(done);
        if (i >= 0) waiters.splice(i, 1);
        resolve();
      }
      waiters.push(done);
    });
  }

  /** Drops the frames not sent yet; returns how many. */
  cancel(): number {
    return this.closed ? 0 : this.sender.cancel();
  }

  /** Idempotent: stops the thread (dropping what is queued) and closes the socket. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.sender.close();
    this.woken();
  }

  private woken(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }
}
