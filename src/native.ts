// The one place that loads the native addon. Only src/bpf/ (the kernel),
// src/filter/libpcap.ts (libpcap) and src/net/ (AF_PACKET sending) import
// this module; everything else goes through them, so the addon stays an
// implementation detail.
import { projectFile } from './project-root';

/** An error thrown by the addon: `code` is an errno name ("EPERM") or "EFILTER". */
export interface NativeError extends Error {
  code: string;
  errno?: number;
  /** The verifier log, when a program load was asked to keep it. */
  log?: string;
}

export interface ProgLoadOptions {
  expectedAttachType?: number;
  attachBtfId?: number;
  attachBtfObjFd?: number;
  progFlags?: number;
  logLevel?: number;
  logSize?: number;
}

export interface PerfEventAttr {
  type: number;
  config: number | bigint;
  /** A string whose address goes in config1 (uprobe path, kprobe symbol). */
  config1Str?: string;
  config2?: number | bigint;
  pid?: number;
  cpu?: number;
}

export interface NativeRingBuffer {
  /** Drains the ring now, delivering through the batch callback; returns the record count. */
  consume(): number;
  /** Delivers one batch at most; true when more records wait (the batch stopped at maxBatchBytes). */
  consumeBatch(): boolean;
  /** Idempotent. */
  close(): void;
  ref(): void;
  unref(): void;
  /** No more wakeups, and consume() stops after the current batch, until resume(). */
  pause(): void;
  resume(): void;
}

/** What native packet.open() learnt about the interface its socket is bound to. */
export interface NativePacketSocket {
  fd: number;
  ifindex: number;
  mtu: number;
  up: boolean;
  /** IFF_RUNNING: the link has carrier (a veth whose peer is up). */
  running: boolean;
  /** ARPHRD_ value: 1 Ethernet, 772 loopback, 65534 none (tun)... */
  arphrd: number;
  mac: Buffer;
}

export interface NativeSenderStats {
  queued: number;
  /** A frame is between the queue and the socket. */
  sending: boolean;
  sent: number;
  bytes: number;
  /** ENOBUFS retries (each frame is retried until it goes out or 2 s pass). */
  retried: number;
  /** EMSGSIZE: larger than the interface's MTU. */
  tooBig: number;
  failed: number;
  /** Dropped from the queue by cancel() or close(). */
  cancelled: number;
  /** The thread got SCHED_FIFO for its waits. */
  realtime: boolean;
  /** A PM QoS request kept idle CPUs polling (0 us wake-up latency) from the start. */
  idlePoll: boolean;
  /** The spin window now (fixed, or learnt from the wake-ups so far). */
  spinNs: number;
  /** CLOCK_MONOTONIC ns that dues count from: when the first frame went out (0n before). */
  anchorNs: bigint;
  /** Failures by errno name. */
  errors: Record<string, number>;
}

export interface NativeSender {
  /** Frame i is data[ends[i-1], ends[i]), due dueNs[i] after the anchor (the first frame's send); returns the frames queued. */
  push(data: Buffer, ends: Uint32Array, dueNs: Float64Array): number;
  stats(): NativeSenderStats;
  /** Lateness (ns after the deadline) of each frame sent since the last call. */
  takeLateness(): Float64Array;
  /** Drops what is queued; returns how many. */
  cancel(): number;
  /** Idempotent: cancels, joins the thread, closes the socket. */
  close(): void;
}

export interface Native {
  pcap: {
    compile(linktype: number, snaplen: number, expression: string, optimize: boolean, handle?: { savefile?: boolean; netmask?: number }): Buffer;
    compileLive(device: string, snaplen: number, expression: string, optimize: boolean, handle?: { netmask?: number }): { code: Buffer; linktype: number; snaplen: number };
    filter(program: Buffer, packet: Buffer, wirelen: number): number;
    validate(program: Buffer): boolean;
    linktype(name: string): number;
    linktypeName(value: number): string | null;
    version: string;
  };
  bpf: {
    progLoad(type: number, name: string, license: string, insns: Buffer, opts: ProgLoadOptions): number;
    mapCreate(type: number, name: string, keySize: number, valueSize: number, maxEntries: number, flags: number): number;
    mapLookup(fd: number, key: Buffer | null, value: Buffer): boolean;
    mapUpdate(fd: number, key: Buffer | null, value: Buffer, flags: number): void;
    mapDelete(fd: number, key: Buffer): boolean;
    mapNextKey(fd: number, key: Buffer | null, next: Buffer): boolean;
    testRun(fd: number, data: Buffer | null, opts: { repeat?: number; ctxIn?: Buffer; dataOutSize?: number; flags?: number; cpu?: number }): {
      retval: number;
      duration: number;
      dataOut?: Buffer;
    };
    address(buffer: Buffer): bigint;
    linkCreate(progFd: number, target: number, attachType: number, opts: { flags?: number; cookie?: bigint; targetBtfId?: number }): number;
    rawTracepointOpen(name: string | null, progFd: number): number;
    tcAttach(ifindex: number, egress: 0 | 1, progFd: number, priority?: number): { handle: number; priority: number; createdQdisc: boolean };
    tcDetach(ifindex: number, egress: 0 | 1, handle: number, priority: number): void;
    tcDeleteQdisc(ifindex: number): void;
    tcPriorities(ifindex: number, egress: 0 | 1): number[];
    progInfo(fd: number): { id: number; type: number; name: string; xlatedLen: number; jitedLen: number };
    linkInfo(fd: number): { id: number; type: number; progId: number };
    objPin(fd: number, path: string): void;
    objGet(path: string): number;
    mapInfo(fd: number): { id: number; type: number; keySize: number; valueSize: number; maxEntries: number; flags: number; name: string };
    progGetFdById(id: number): number;
    progFuncInfo(fd: number): { btfId: number; funcTypeIds: number[] };
    close(fd: number): void;
    numPossibleCpus(): number;
  };
  netns: {
    /** Runs fn with the calling thread in the network namespace netnsFd names, and back. */
    run<T>(netnsFd: number, fn: () => T): T;
    /** getifaddrs(3) of the calling thread's namespace: each device (IFF_* flags, ARPHRD_* type) and each IPv4 address by its label. */
    interfaces(): { links: { name: string; ifindex: number; flags: number; hatype: number }[]; inet: { label: string; prefixlen: number }[] };
    /** A non-blocking NETLINK_ROUTE socket fd subscribed to link changes in the calling thread's namespace. */
    linkEvents(): number;
    /** Reads and discards what waits on a linkEvents socket; the number of notifications (an overrun counts as one). */
    linkEventsPending(fd: number): number;
  };
  perf: {
    open(attr: PerfEventAttr): number;
    enable(fd: number): void;
    disable(fd: number): void;
  };
  packet: {
    /** An AF_PACKET socket bound to ifname, created in the network namespace at netnsPath ("" = ours). */
    open(netnsPath: string, ifname: string): NativePacketSocket;
    /** A sender thread owning fd; onWake runs when the queue drained to lowWater or emptied. */
    Sender: new (fd: number, onWake: () => void, options: { spinNs?: number; lowWater?: number; realtime?: boolean; idlePoll?: boolean }) => NativeSender;
  };
  /** For k < count: jobs[3k + 2] bytes from source at jobs[3k] to out at jobs[3k + 1]; throws (ERANGE) before copying anything if a range lies outside its buffer. */
  copyRanges(source: Uint8Array, out: Uint8Array, jobs: Uint32Array, count: number): void;
  /** The file mapped read-only and private (writing into it is a fault), unmapped when the ArrayBuffer is collected; throws with the errno's code when the file cannot be mapped. */
  mapFile(path: string): ArrayBuffer;
  /**
   * maxBatchBytes (default 1 MiB) bounds one delivered batch; consume() still drains everything.
   * Reads the ring in place: `data` views the ring's data and, after it, maxRecordBytes of its start again (default: all of it),
   * read-only (writing into it is a fault), the same ArrayBuffer every batch, detached by close(); record i is
   * data[starts[i], ends[i]), its bytes the kernel's again once onBatch returns. A batch ends at the ring's end.
   */
  RingBuffer: new (
    mapFd: number,
    onBatch: (data: ArrayBuffer, starts: ArrayBuffer, ends: ArrayBuffer, count: number) => void,
    maxBatchBytes?: number,
    maxRecordBytes?: number,
  ) => NativeRingBuffer;
}

let loaded: Native | undefined;

/** The addon, loaded on first use (so `netcap --help` works without it). */
export function native(): Native {
  if (!loaded) {
    const file = projectFile('native', 'build', 'Release', 'netcap.node');
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      loaded = require(file) as Native;
    } catch (e) {
      throw new Error(`the native addon is not built (${file}): run \`npm run setup\`\n${(e as Error).message}`);
    }
  }
  return loaded;
}

export function isNativeError(e: unknown): e is NativeError {
  return e instanceof Error && typeof (e as NativeError).code === 'string';
}
