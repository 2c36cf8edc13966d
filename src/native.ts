// The one place that loads the native addon. Only src/bpf/ (the kernel) and
// src/filter/libpcap.ts (libpcap) import this module; everything else goes
// through them, so the addon stays an implementation detail.
import * as path from 'node:path';

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
  /** Idempotent. */
  close(): void;
  ref(): void;
  unref(): void;
}

export interface Native {
  pcap: {
    compile(linktype: number, snaplen: number, expression: string, optimize: boolean, handle?: { savefile?: boolean; netmask?: number }): Buffer;
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
    tcAttach(ifindex: number, egress: 0 | 1, progFd: number): { handle: number; priority: number };
    tcDetach(ifindex: number, egress: 0 | 1, handle: number, priority: number): void;
    progInfo(fd: number): { id: number; type: number; name: string; xlatedLen: number; jitedLen: number };
    linkInfo(fd: number): { id: number; type: number; progId: number };
    close(fd: number): void;
    numPossibleCpus(): number;
  };
  perf: {
    open(attr: PerfEventAttr): number;
    enable(fd: number): void;
    disable(fd: number): void;
  };
  /** maxBatchBytes (default 1 MiB) bounds one delivered batch; consume() still drains everything. */
  /** onBatch gets the staging buffers (reused by the next batch): `bytes` of records back to back, and `count` end offsets. */
  RingBuffer: new (mapFd: number, onBatch: (data: ArrayBuffer, bytes: number, ends: ArrayBuffer, count: number) => void, maxBatchBytes?: number) => NativeRingBuffer;
}

let loaded: Native | undefined;

/** The addon, loaded on first use (so `netcap --help` works without it). */
export function native(): Native {
  if (!loaded) {
    const file = path.join(__dirname, '..', '..', 'native', 'build', 'Release', 'netcap.node');
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
