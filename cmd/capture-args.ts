// The shared capture options of a running command, checked and turned into
// the capture's and the outputs' options before anything touches the kernel
// (cmd/capture-options.ts describes them to yargs).
import type { ArgumentsCamelCase } from 'yargs';
import { UserError } from '../src/errors';
import { checkOutputOptions, type OutputOptions } from '../src/output/outputs';
import type { RotationOptions } from '../src/output/rotation';
import { MAX_SNAPLEN } from '../src/limits';

export interface CaptureArgs {
  points: string;
  expression: string;
  snaplen: number;
  ringBytes: number;
  dryRun: boolean;
  /** -c N: stop after writing N packets. */
  count?: number;
  /** --duration, in milliseconds. */
  durationMs?: number;
  /** -U: flush the outputs after every batch. */
  flushEachBatch: boolean;
  /** --loss-ok: exit 0 even when packets were lost in the ring. */
  lossOk: boolean;
  output: OutputOptions;
}

export function positiveInteger(v: unknown, flag: string, max = Number.MAX_SAFE_INTEGER): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > max) throw new UserError(`${flag} ${String(v)}: not a whole number between 1 and ${max}`, `e.g. ${flag} 100`);
  return n;
}

/** Checks and converts the shared options. */
export function parseCaptureArgs(args: ArgumentsCamelCase, argv: string[] = process.argv.slice(2)): CaptureArgs {
  const snaplen = positiveInteger(args.s, '-s', MAX_SNAPLEN);
  const ringMiB = positiveInteger(args.ringSize, '--ring-size', 1024);
  if ((ringMiB & (ringMiB - 1)) !== 0) throw new UserError(`--ring-size ${ringMiB}: not a power of two`, 'e.g. --ring-size 8 or 64');
  const count = args.c === undefined ? undefined : positiveInteger(args.c, '-c');
  let durationMs: number | undefined;
  if (args.duration !== undefined) {
    const d = Number(args.duration);
    if (!Number.isFinite(d) || d <= 0) throw new UserError(`--duration ${String(args.duration)}: not a positive number of seconds`, 'e.g. --duration 10');
    durationMs = Math.round(d * 1000);
  }
  const output: OutputOptions = {
    writeFile: args.w as string | undefined,
    format: args.format as 'pcap' | 'pcapng' | undefined,
    nanosecond: args.timeStampPrecision === 'nano',
    tcpdumpFlags: String(args.t ?? '-nn'),
    noTcpdump: args.tcpdump === false,
    json: Boolean(args.json),
    print: Boolean(args.print),
    meta: Boolean(args.meta),
    comment: ['netcap', ...argv].join(' '),
    ...parseFileOptions(args),
  };
  checkOutputOptions(output);
  return {
    points: String(args.f ?? ''),
    expression: String(args.e ?? '').trim(),
    snaplen,
    ringBytes: ringMiB << 20,
    dryRun: Boolean(args.dryRun),
    count,
    durationMs,
    flushEachBatch: Boolean(args.U),
    lossOk: Boolean(args.lossOk),
    output,
  };
}

/** -C, -W, --rotate-seconds and --write-file-rotate as numbers (their combinations are the output model's to check). */
export function parseFileOptions(args: ArgumentsCamelCase): { rotation?: RotationOptions; keepLast?: number } {
  const given = (v: unknown) => v !== undefined;
  let maxBytes: number | undefined;
  if (given(args.C)) {
    const c = Number(args.C);
    if (!Number.isFinite(c) || c <= 0) throw new UserError(`-C ${String(args.C)}: not a positive number of millions of bytes`, 'e.g. -C 100 for files of about 100 MB');
    maxBytes = Math.round(c * 1_000_000);
  }
  const seconds = given(args.rotateSeconds) ? positiveInteger(args.rotateSeconds, '--rotate-seconds') : undefined;
  const fileCount = given(args.W) ? positiveInteger(args.W, '-W') : undefined;
  const keepLast = given(args.writeFileRotate) ? positiveInteger(args.writeFileRotate, '--write-file-rotate') : undefined;
  const rotation = maxBytes !== undefined || seconds !== undefined || fileCount !== undefined ? { maxBytes, seconds, fileCount } : undefined;
  return { rotation, keepLast };
}

/** --pid as a number, echoed as typed when it is none. */
export function pidOption(args: ArgumentsCamelCase): number | undefined {
  if (args.pid === undefined) return undefined;
  const pid = Number(args.pid);
  if (!Number.isInteger(pid) || pid < 1) throw new UserError(`--pid ${String(args.pid)}: not a process id`, 'give a positive number, e.g. --pid $(pidof l2fwd)');
  return pid;
}
