// `netcap replay`'s work, loaded only when the command runs (cmd/replay.ts
// describes the options): checks the command line, runs the replay with
// SIGINT/SIGTERM/SIGHUP as a stop, prints the report. Exit status: 0; 3 when
// packets could not be sent; 2 for bad input (also when found mid-way, such
// as a damaged trace: what came before it was replayed and reported).
import * as fs from 'node:fs';
import type { ArgumentsCamelCase } from 'yargs';
import { fileFormat } from '../src/output/outputs';
import { UserError } from '../src/errors';
import type { EngineName } from '../src/read/engines';
import { parseDurationNs } from '../src/replay/durations';
import { macBytes } from '../src/replay/headers';
import type { InjectionRequest, Pace, ReplayOptions, ReplayTarget } from '../src/replay/options';
import { looksLikePacketSpec, PACKET_KINDS } from '../src/replay/packet-spec';
import { runReplay } from '../src/replay/replay';

const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

export async function runReplayCommand(args: ArgumentsCamelCase): Promise<number> {
  const opts = replayOptions(args);
  const stop = new AbortController();
  const onSignal = (): void => stop.abort();
  for (const s of STOP_SIGNALS) process.on(s, onSignal);
  const log = (line: string): void => void process.stderr.write(`netcap: ${line}\n`);
  try {
    const result = await runReplay(opts, stop.signal, log);
    for (const line of result.report) log(line);
    if (result.failure) throw result.failure;
    return result.exitCode;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EPIPE') return 0; // -w - into a pipe closed early (| head)
    throw e;
  } finally {
    for (const s of STOP_SIGNALS) process.off(s, onSignal);
  }
}

function replayOptions(args: ArgumentsCamelCase): ReplayOptions {
  const positional = ((args.expression as string[] | undefined) ?? []).join(' ').trim();
  const injectStream = args.injectStream === undefined ? undefined : String(args.injectStream);
  if (injectStream === '') throw new UserError('--inject-stream needs a path, or - for stdin', 'e.g. some-generator | netcap replay -r bg.pcap -w out.pcap --inject-stream -');
  const flag = args.e === undefined ? undefined : String(args.e);
  if (flag !== undefined && positional !== '') throw new UserError(`two filter expressions: -e "${flag}" and "${positional}"`, 'give the filter once, either with -e or after the options');
  const file = String(args.r);
  if (file === '-') throw new UserError('-r - : the background must be a file', 'it is read more than once (--loop, --inject times); save the stream to a file first');
  return {
    file,
    expression: flag ?? positional,
    engine: args.engine as EngineName,
    injections: ((args.inject as string[] | undefined) ?? []).map(injection),
    injectStream,
    pace: pace(args),
    loops: wholeNumber(args.loop, '--loop', 1) ?? 1,
    limit: wholeNumber(args.c, '-c', 1),
    durationNs: args.duration === undefined ? undefined : parseDurationNs(String(args.duration), '--duration'),
    target: target(args),
    addEthernet: macOption(args.addEthernet),
    spinNs: args.spin === undefined ? undefined : parseDurationNs(String(args.spin), '--spin'),
  };
}

function target(args: ArgumentsCamelCase): ReplayTarget {
  if ((args.w === undefined) === (args.i === undefined)) throw new UserError(args.w === undefined ? 'nowhere to replay to' : 'both -w and -i', 'give -w FILE to write a capture file or -i IFACE to send onto an interface (one of them)');
  if (args.i !== undefined) {
    if (args.format !== undefined) throw new UserError('--format applies to the file written with -w', 'leave it out with -i');
    if (args.stamp !== 'trace') throw new UserError('--stamp applies to the file written with -w', 'leave it out with -i');
    return { kind: 'interface', name: String(args.i), netns: args.netns === undefined ? undefined : String(args.netns) };
  }
  if (args.netns !== undefined) throw new UserError('--netns applies to the interface of -i', 'leave it out with -w');
  const path = String(args.w);
  // The one rule of every command: --format, else the name (.pcapng), else pcap.
  const format = fileFormat({ writeFile: path, format: args.format as 'pcap' | 'pcapng' | undefined });
  return { kind: 'file', path, format, stamp: args.stamp as 'trace' | 'now' };
}

/** -x, --pps, --mbps, --topspeed: at most one. */
function pace(args: ArgumentsCamelCase): Pace {
  const given = [
    args.x !== undefined && '-x',
    args.pps !== undefined && '--pps',
    args.mbps !== undefined && '--mbps',
    args.topspeed === true && '--topspeed',
  ].filter((g): g is string => g !== false);
  if (given.length > 1) throw new UserError(`two speed options: ${given.join(' and ')}`, 'give one of -x FACTOR, --pps N, --mbps N, --topspeed');
  const positive = (value: unknown, name: string, example: string): number => {
    const n = Number(value);
    if (!Number.isFinite(n) || n <= 0) throw new UserError(`${name} ${String(value)}: not a positive number`, `e.g. ${name} ${example}`);
    return n;
  };
  if (args.x !== undefined) return { kind: 'timed', factor: positive(args.x, '-x', '2') };
  if (args.pps !== undefined) return { kind: 'pps', pps: positive(args.pps, '--pps', '1000') };
  if (args.mbps !== undefined) return { kind: 'mbps', mbps: positive(args.mbps, '--mbps', '10') };
  if (args.topspeed === true) return { kind: 'topspeed' };
  return { kind: 'timed', factor: 1 };
}

function wholeNumber(value: unknown, name: string, min: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new UserError(`${name} ${String(value)}: not a whole number of at least ${min}`, `e.g. ${name} 3`);
  return n;
}

function macOption(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  const text = String(value);
  if (!macBytes(text)) throw new UserError(`--add-ethernet ${text}: not a MAC address`, 'e.g. --add-ethernet 02:00:00:00:00:02 (ff:ff:ff:ff:ff:ff for broadcast)');
  return text;
}

/** FILE@TIME, FILE.json@TIME or SPEC@TIME; the file must exist now. */
function injection(value: string): InjectionRequest {
  const at = value.lastIndexOf('@');
  if (at <= 0) throw new UserError(`--inject ${value}: no moment given`, 'write FILE@TIME or SPEC@TIME, e.g. --inject probe.pcap@2.5s');
  const what = value.slice(0, at);
  const atNs = parseDurationNs(value.slice(at + 1), `--inject ${value}`);
  if (fs.existsSync(what)) return { what, kind: what.endsWith('.json') ? 'json' : 'trace', atNs, label: value };
  if (looksLikePacketSpec(what)) return { what, kind: 'spec', atNs, label: value };
  throw new UserError(`--inject ${value}: no file ${what}`, `give a trace, a JSON file of packet specs, or a packet spec (${PACKET_KINDS.join(', ')}: e.g. icmp-echo,src=192.0.2.1,dst=192.0.2.2@3s)`);
}
