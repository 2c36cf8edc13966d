// The shared options of a running command, checked and turned into the
// capture's and the outputs' options before anything touches the kernel
// (cmd/capture-options.ts describes them to yargs). Every command that
// writes or prints packets (the capturing ones and `read`) goes through
// parseOutputArgs, so an option means the same, and is refused the same
// way, everywhere.
import type { ArgumentsCamelCase } from 'yargs';
import { UserError } from '../src/errors';
import { parseDirection } from '../src/capture/direction';
import { checkOutputOptions, type OutputOptions } from '../src/output/outputs';
import type { RotationOptions } from '../src/output/rotation';
import { DEFAULT_SNAPLEN, MAX_SNAPLEN } from '../src/limits';

export interface OutputArgs {
  output: OutputOptions;
  /** -c N: stop after writing N packets. */
  count?: number;
  snaplen: number;
  /** -U: flush the outputs after every batch. */
  flushEachBatch: boolean;
  /** --immediate-mode: read the ring every 10 ms whatever the outputs. */
  immediate: boolean;
}

export interface CaptureArgs extends OutputArgs {
  points: string;
  expression: string;
  ringBytes: number;
  dryRun: boolean;
  /** --duration, in milliseconds. */
  durationMs?: number;
  /** --loss-ok: exit 0 even when packets were lost in the ring. */
  lossOk: boolean;
  /** -Q: the direction asked for ('inout', the default, is every packet). */
  direction: 'in' | 'out' | 'inout';
}

/** A whole number from 1 to max, echoed as typed when it is none. */
export function positiveInteger(v: unknown, flag: string, max = Number.MAX_SAFE_INTEGER): number {
  const text = String(v).trim();
  if (text === '') throw new UserError(`${flag} needs a number`, `e.g. ${flag} 100`);
  const n = Number(text);
  if (!/^\+?\d+$/.test(text) || !Number.isSafeInteger(n) || n < 1 || n > max) {
    throw new UserError(`${flag} ${text}: not a whole number ${max === Number.MAX_SAFE_INTEGER ? 'above 0' : `from 1 to ${max}`}`, `e.g. ${flag} 100`);
  }
  return n;
}

/** A number above 0 (fractions allowed), echoed as typed when it is none. */
export function positiveNumber(v: unknown, flag: string, unit: string): number {
  const text = String(v).trim();
  const n = Number(text);
  if (text === '' || !Number.isFinite(n) || n <= 0) throw new UserError(`${flag} ${text || '(nothing)'}: not a positive number of ${unit}`, `e.g. ${flag} 10`);
  return n;
}

/** One of a few words, as yargs' `choices` would check, in our words. */
export function oneOf<T extends string>(v: unknown, flag: string, choices: readonly T[]): T | undefined {
  if (v === undefined) return undefined;
  const text = String(v);
  if (!(choices as readonly string[]).includes(text)) throw new UserError(`${flag} ${text || '(nothing)'}: not one of ${choices.join(', ')}`, `e.g. ${flag} ${choices[0]}`);
  return text as T;
}

/** Options that may be given more than once, and what that means: points add up; tcpdump's counting flags count. */
const REPEATABLE = new Set(['_', '$0', '--', 'filter', 'f', 'function', 'hook']);

/**
 * Refuses an option given twice: yargs makes an array of it, which would
 * otherwise reach the code as "a,b" (or worse). Flags given twice mean what
 * they mean once; -f's points add up.
 */
export function refuseRepeated(args: ArgumentsCamelCase, argv: readonly string[] = process.argv.slice(2)): void {
  const repeated = Object.keys(args).filter((k) => !REPEATABLE.has(k) && Array.isArray(args[k]));
  if (!repeated.length) return;
  // Aliases share the value: name the option as it was typed (else by its shortest spelling).
  const spell = (key: string) => (key.length === 1 ? `-${key}` : `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`);
  const typed = (key: string) => argv.some((w) => w === spell(key) || w.startsWith(`${spell(key)}=`));
  const key = [...repeated].sort((a, b) => Number(typed(b)) - Number(typed(a)) || a.length - b.length)[0];
  const flag = spell(key);
  const values = (args[key] as unknown[]).map((v) => JSON.stringify(String(v))).join(' and ');
  throw new UserError(`${flag} was given more than once (${values})`, `give ${flag} once${key === 't' ? ' (put all tcpdump flags in one -t "...")' : ''}`);
}

/** The filter: -e EXPR, or the words after the options (after `--` too), as tcpdump takes them; not both. */
export function filterExpression(args: ArgumentsCamelCase): string {
  const words = [...((args.filter as unknown[] | undefined) ?? []), ...((args['--'] as unknown[] | undefined) ?? [])].map(String);
  const trailing = words.join(' ').trim();
  if (args.e !== undefined && trailing !== '') {
    throw new UserError(`two filters: -e "${String(args.e)}" and "${trailing}"`, 'give the filter once: with -e, or as the words after the options');
  }
  return (args.e === undefined ? trailing : String(args.e)).trim();
}

/** -s: bytes per packet; 0 is the most (tcpdump's -s 0). */
export function snaplenOption(v: unknown): number {
  if (v === undefined) return DEFAULT_SNAPLEN;
  if (String(v).trim() === '0') return MAX_SNAPLEN;
  return positiveInteger(v, '-s', MAX_SNAPLEN);
}

/** tcpdump's decoding flags given as netcap options, as words for `tcpdump -r -` (they go with -t's). */
function decodingWords(args: ArgumentsCamelCase): string[] {
  const letters = (letter: string, n: unknown) => (Number(n) > 0 ? [`-${letter.repeat(Number(n))}`] : []);
  if (Number(args.n) > 0 && args.names) throw new UserError('-n and --names ask for numbers and for names', 'choose one (netcap prints numbers unless --names)');
  return [...letters('v', args.v), ...letters('x', args.x), ...letters('X', args.X), ...(args.A ? ['-A'] : []), ...(args.q ? ['-q'] : [])];
}

/** The output options of any command that writes or prints packets, checked by the output model. */
export function parseOutputArgs(args: ArgumentsCamelCase, comment: string): OutputArgs {
  refuseRepeated(args);
  const precision = oneOf(args.timeStampPrecision, '--time-stamp-precision', ['micro', 'nano'] as const);
  const flags = [args.t === undefined ? '' : String(args.t), ...decodingWords(args)].filter((w) => w.trim() !== '').join(' ');
  const output: OutputOptions = {
    writeFile: args.w === undefined ? undefined : String(args.w),
    format: oneOf(args.format, '--format', ['pcap', 'pcapng'] as const),
    nanosecond: precision === undefined ? undefined : precision === 'nano',
    tcpdumpFlags: flags,
    resolveNames: args.names === true,
    noTcpdump: args.tcpdump === false,
    json: args.json === true,
    print: args.print === true,
    meta: args.meta === true,
    comment,
    ...parseFileOptions(args),
  };
  checkOutputOptions(output);
  return {
    output,
    count: args.c === undefined ? undefined : positiveInteger(args.c, '-c'),
    snaplen: snaplenOption(args.s),
    flushEachBatch: args.U === true,
    immediate: args.immediateMode === true,
  };
}

/** Checks and converts the shared options of a capturing command (`command`: "skb", for messages). */
/**
 * The shared capture options of `command`, checked. `ownPoints`: the command
 * names its points with options of its own (iface: -i; xdp: --hook), not -f.
 */
export function parseCaptureArgs(args: ArgumentsCamelCase, command: string, opts: { ownPoints?: boolean } = {}, argv: string[] = process.argv.slice(2)): CaptureArgs {
  const out = parseOutputArgs(args, ['netcap', ...argv].join(' '));
  const ringMiB = args.ringSize === undefined ? 8 : positiveInteger(args.ringSize, '--ring-size', 1024);
  if ((ringMiB & (ringMiB - 1)) !== 0) throw new UserError(`--ring-size ${ringMiB}: not a power of two`, 'e.g. --ring-size 8 or 64');
  const durationMs = args.duration === undefined ? undefined : Math.round(positiveNumber(args.duration, '--duration', 'seconds') * 1000);
  return {
    ...out,
    points: opts.ownPoints ? '' : pointsOption(args, command),
    expression: filterExpression(args),
    ringBytes: ringMiB << 20,
    dryRun: args.dryRun === true,
    durationMs,
    lossOk: args.lossOk === true,
    direction: directionOption(args.Q),
  };
}

/** -Q in|out|inout (tcpdump), also ingress|egress|bidirectional (Polycube); `off` is the service's, not a capture's start. */
function directionOption(value: unknown): 'in' | 'out' | 'inout' {
  if (value === undefined) return 'inout';
  const d = parseDirection(String(value), '-Q');
  if (d === 'off') throw new UserError('-Q off: "off" is a state of a running capture, not a direction to start with', 'give in, out or inout; netcap serve can turn a running capture off');
  return d;
}

/** -f, given once or more (the points add up). */
function pointsOption(args: ArgumentsCamelCase, command: string): string {
  const given = args.f === undefined ? [] : Array.isArray(args.f) ? args.f.map(String) : [String(args.f)];
  const points = given.map((p) => p.trim()).filter((p) => p !== '').join(',');
  if (points === '') throw new UserError(`netcap ${command} needs capture points: -f POINTS`, `netcap ${command} --list shows the points it can use here; --help shows their forms`);
  return points;
}

/** -C, -W, --rotate-seconds and --write-file-rotate as numbers (their combinations are the output model's to check). */
export function parseFileOptions(args: ArgumentsCamelCase): { rotation?: RotationOptions; keepLast?: number } {
  const given = (v: unknown) => v !== undefined;
  const maxBytes = given(args.C) ? Math.round(positiveNumber(args.C, '-C', 'millions of bytes') * 1_000_000) : undefined;
  const seconds = given(args.rotateSeconds) ? positiveInteger(args.rotateSeconds, '--rotate-seconds') : undefined;
  const fileCount = given(args.W) ? positiveInteger(args.W, '-W') : undefined;
  const keepLast = given(args.writeFileRotate) ? positiveInteger(args.writeFileRotate, '--write-file-rotate') : undefined;
  const rotation = maxBytes !== undefined || seconds !== undefined || fileCount !== undefined ? { maxBytes, seconds, fileCount } : undefined;
  return { rotation, keepLast };
}

/** --pid as a number, echoed as typed when it is none. */
export function pidOption(args: ArgumentsCamelCase): number | undefined {
  if (args.pid === undefined) return undefined;
  const text = String(args.pid).trim();
  const pid = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(pid) || pid < 1) throw new UserError(`--pid ${text || '(nothing)'}: not a process id`, 'give a positive number, e.g. --pid $(pidof l2fwd)');
  return pid;
}

/** -Q in/out for a mode that does not know a packet's direction (its points are functions). */
export function refuseDirection(c: CaptureArgs, command: string): void {
  if (c.direction === 'inout') return;
  throw new UserError(`-Q ${c.direction}: netcap ${command} does not know which way a packet goes`, `its points are functions: choose ${c.direction === 'in' ? 'receive' : 'transmit'} functions with -f (${c.direction === 'in' ? 'an rx burst with @N@ret' : 'a tx burst with @N@M'}), and leave -Q out`);
}
