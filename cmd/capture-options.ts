// The options every capturing subcommand (mbuf, raw, skb, iface) shares, in
// tcpdump's spelling where tcpdump has one, and their translation into the
// session's options. Checked here, before anything touches the kernel.
import type { Argv, ArgumentsCamelCase } from 'yargs';
import { UserError } from '../src/errors';
import type { SessionOptions } from '../src/capture/session';
import type { RotationOptions } from '../src/output/rotation';

export const DEFAULT_SNAPLEN = 262144;
/** Largest snap length: one jumbo-frame chain is far below it, and the scratch record (twice this per CPU) stays small. */
export const MAX_SNAPLEN = 262144;

/** The shared options; `points: false` for a command whose points are not -f functions (iface: -i and -Q). */
export function captureOptions(y: Argv, opts: { points?: boolean } = {}): Argv {
  const withPoints = opts.points === false ? y : y.option('f', { alias: 'function', type: 'string', demandOption: true, describe: 'capture points, comma-separated (see the command\'s forms)' });
  return withPoints
    .option('e', { alias: 'expression', type: 'string', default: '', describe: 'tcpdump filter expression (man 7 pcap-filter), run in the kernel' })
    .option('t', { alias: 'tcpdump-flags', type: 'string', default: '-nn', describe: 'flags for decoding with `tcpdump -r -` (split without a shell)' })
    .option('w', { alias: 'write', type: 'string', describe: 'write packets to FILE (.pcap or .pcapng), or - for stdout' })
    .option('format', { choices: ['pcap', 'pcapng'] as const, describe: 'file format for -w (default: from the file name, else pcap)' })
    .option('c', { alias: 'count', type: 'number', describe: 'stop after writing N packets' })
    .option('s', { alias: ['snaplen', 'capture-max-size'], type: 'number', default: DEFAULT_SNAPLEN, describe: 'bytes captured per packet at most' })
    .option('duration', { type: 'number', describe: 'stop after this many seconds' })
    .option('U', { alias: 'packet-buffered', type: 'boolean', default: false, describe: 'flush the output after every packet' })
    .option('time-stamp-precision', { choices: ['micro', 'nano'] as const, default: 'micro', describe: 'pcap timestamp precision (pcapng is always nanoseconds)' })
    .option('tcpdump', { type: 'boolean', default: true, describe: 'decode with tcpdump when it is installed (--no-tcpdump: the built-in decoder)' })
    .option('json', { type: 'boolean', default: false, describe: 'print one JSON object per packet' })
    .option('print', { type: 'boolean', default: false, describe: 'also decode to stdout while writing -w FILE' })
    .option('meta', { type: 'boolean', default: false, describe: 'show pid/comm/cpu/point before each line (built-in decoder)' })
    .option('dry-run', { type: 'boolean', default: false, describe: 'print the resolved targets and the programs; attach nothing' })
    .option('ring-size', { type: 'number', default: 8, describe: 'ring buffer size in MiB (a power of two)' })
    .option('loss-ok', { type: 'boolean', default: false, describe: 'exit 0 even when packets were lost in the ring (default: exit 3)' })
    .option('C', { alias: 'file-size', type: 'number', describe: 'tcpdump -C: start a new -w file when it is larger than this many millions of bytes (FILE, FILE1, ...)' })
    .option('W', { alias: 'file-count', type: 'number', describe: 'tcpdump -W: with -C a ring of N files (FILE0..); with --rotate-seconds stop after N files' })
    .option('rotate-seconds', { type: 'number', describe: 'tcpdump -G (here -G is --gather): a new -w file every N seconds, named by strftime(3) on FILE' })
    .option('write-file-rotate', { type: 'number', describe: 'keep only the last N packets and write them to -w FILE when the capture ends (any way it ends)' })
    .epilog('Exit status: 0 done; 1 internal error; 2 bad input (nothing was attached); 3 packets were lost in the ring buffer (see the summary; --loss-ok gives 0).');
}

export interface CaptureArgs {
  points: string;
  expression: string;
  snaplen: number;
  ringBytes: number;
  dryRun: boolean;
  session: SessionOptions;
}

function positiveInteger(v: unknown, flag: string, max = Number.MAX_SAFE_INTEGER): number {
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
  const write = args.w as string | undefined;
  if (write === '') throw new UserError('-w needs a file name', 'e.g. -w out.pcap, or -w - for stdout');
  if (args.json && write === '-') throw new UserError('--json and -w - both write to stdout', 'choose one, or write the file elsewhere');
  const files = parseFileOptions(args, write);
  return {
    points: String(args.f ?? ''),
    expression: String(args.e ?? '').trim(),
    snaplen,
    ringBytes: ringMiB << 20,
    dryRun: Boolean(args.dryRun),
    session: {
      count,
      durationMs,
      writeFile: write,
      format: args.format as 'pcap' | 'pcapng' | undefined,
      nanosecond: args.timeStampPrecision === 'nano',
      tcpdumpFlags: String(args.t ?? '-nn'),
      noTcpdump: args.tcpdump === false,
      json: Boolean(args.json),
      print: Boolean(args.print),
      meta: Boolean(args.meta),
      flushEachPacket: Boolean(args.U),
      lossOk: Boolean(args.lossOk),
      status: true,
      commandLine: ['netcap', ...argv].join(' '),
      ...files,
    },
  };
}

/** -C, -W, --rotate-seconds and --write-file-rotate, checked against each other and -w. */
function parseFileOptions(args: ArgumentsCamelCase, write: string | undefined): { rotation?: RotationOptions; keepLast?: number } {
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
  const rotating = maxBytes !== undefined || seconds !== undefined;
  if (fileCount !== undefined && !rotating) throw new UserError('-W needs -C or --rotate-seconds', 'e.g. -w out.pcap -C 100 -W 5 for a ring of five files');
  if ((rotating || keepLast !== undefined) && write === undefined) throw new UserError(`${keepLast !== undefined ? '--write-file-rotate' : '-C/--rotate-seconds'} needs -w FILE`, 'e.g. -w out.pcap');
  if ((rotating || keepLast !== undefined) && write === '-') throw new UserError(`${keepLast !== undefined ? '--write-file-rotate' : '-C/--rotate-seconds'} needs a file name, not -w - (stdout)`, 'e.g. -w out.pcap');
  if (rotating && keepLast !== undefined) throw new UserError('--write-file-rotate keeps one file; it cannot be combined with -C or --rotate-seconds', 'choose one');
  return { rotation: rotating ? { maxBytes, seconds, fileCount } : undefined, keepLast };
}
