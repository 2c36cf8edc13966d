// `netcap read`'s work, loaded only when the command runs (cmd/read.ts
// describes the command and its options): reads the file, filters it,
// writes or prints what is kept through the output model every command
// shares (src/output/outputs.ts).
import type { ArgumentsCamelCase } from 'yargs';
import { UserError } from '../src/errors';
import { openCaptureStream, type PacketBatch } from '../src/output/capture-stream';
import { joinHalves } from '../src/output/packet-batch';
import type { CaptureFile } from '../src/output/capture-file';
import type { CaptureInterface, CapturedPacket } from '../src/output/packet';
import { openOutputs, type OutputOptions, type PacketSink } from '../src/output/outputs';
import { tcpdumpFlags } from '../src/output/tcpdump-sink';
import { requireCaptureCapabilities } from '../src/proc/capabilities';
import type { EngineName } from '../src/read/engines';
import { filterCapture, type FilterCounts } from '../src/read/filter-capture';
import { filterExpression, oneOf, parseOutputArgs } from './capture-args';
import { packets } from './summary';

export interface ReadOptions {
  file: string;
  expression: string;
  engine: EngineName;
  count?: number;
  /** -s: kept packets are cut to this many bytes (their wire length is kept). */
  snaplen?: number;
  /** -U: flush the outputs after every batch. */
  flushEachBatch?: boolean;
  output: OutputOptions;
  /** Where the warnings and the summary line go (default stderr). */
  log?: (line: string) => void;
}

/** `pkt` with its captured bytes cut to `snaplen` (its wire length kept). */
function cutTo(pkt: CapturedPacket, snaplen: number | undefined): CapturedPacket {
  return snaplen !== undefined && pkt.data.length > snaplen ? { ...pkt, data: pkt.data.subarray(0, snaplen) } : pkt;
}

/** The command's run(): yargs' arguments to a finished read. */
export async function runReadCommand(args: ArgumentsCamelCase): Promise<number> {
  const opts = readOptions(args);
  if (opts.engine === 'kernel') requireCaptureCapabilities();
  return runRead(opts);
}

function readOptions(args: ArgumentsCamelCase): ReadOptions {
  if (args.r === undefined || String(args.r) === '') throw new UserError('netcap read needs the file to read: -r FILE', 'e.g. netcap read -r in.pcap udp, or -r - for standard input');
  const file = String(args.r);
  const expression = filterExpression(args);
  const engine = oneOf(args.engine, '--engine', ['interp', 'kernel'] as const) ?? 'interp';
  const out = parseOutputArgs(args, `netcap read -r ${file}${expression ? ` -e ${JSON.stringify(expression)}` : ''} --engine ${engine}`);
  return {
    file,
    expression,
    engine,
    count: out.count,
    snaplen: args.s === undefined ? undefined : out.snaplen,
    flushEachBatch: out.flushEachBatch,
    output: out.output,
  };
}

/**
 * The outputs for a file's packets, opened at its first kept packet (or at
 * the end): its interfaces with the filter (and -s) noted on them; a pcap
 * output keeps the input's timestamp precision unless told otherwise.
 * `firstMs`: the first kept packet's time (ms since the epoch).
 */
function openReadOutputs(opts: ReadOptions, capture: CaptureFile, firstMs: number | undefined): { sinks: PacketSink[]; interfaces: number } {
  const nanosecond = opts.output.nanosecond ?? (capture.format === 'pcapng' || capture.nanosecond);
  // --rotate-seconds cuts the file's own time into intervals, from its first kept packet.
  const rotationStart = firstMs === undefined ? undefined : () => firstMs;
  return { sinks: openOutputs({ ...opts.output, nanosecond, rotationStart }, capture.interfaces.map((i) => decorate(opts, i))), interfaces: capture.interfaces.length };
}

function decorate(opts: ReadOptions, iface: CaptureInterface): CaptureInterface {
  return {
    ...iface,
    ...(opts.snaplen !== undefined ? { snaplen: Math.min(iface.snaplen || opts.snaplen, opts.snaplen) } : {}),
    ...(opts.expression ? { filter: opts.expression } : {}),
    ...(iface.description === undefined && opts.expression ? { description: opts.expression } : {}),
  };
}

/** Thrown from the filtering loop when an output has ended the read (| head, -W reached). */
class OutputEnded extends Error {}

export async function runRead(opts: ReadOptions): Promise<number> {
  // Check -t before reading anything: a refused flag should fail fast.
  tcpdumpFlags(opts.output.tcpdumpFlags ?? '');
  const name = opts.file === '-' ? 'standard input' : opts.file;
  // Streamed: files of any size in constant memory. Interfaces become known
  // as their blocks are read (pcapng: before their first packet).
  const stream = await openCaptureStream(opts.file);
  const capture = stream.info;
  let output: { sinks: PacketSink[]; interfaces: number } | undefined;
  let ended: string | undefined;
  /** The outputs, opened now if they are not yet; `firstMs` gives the time of the first packet they will write. */
  const outputs = (firstMs?: () => number) => {
    if (!output) {
      output = openReadOutputs(opts, capture, firstMs?.());
      for (const s of output.sinks) void s.ended?.then((why) => (ended ??= why));
    }
    // Interfaces described after the outputs were opened (a later IDB or section).
    for (; output.interfaces < capture.interfaces.length; output.interfaces++) for (const s of output.sinks) s.addInterface(decorate(opts, capture.interfaces[output.interfaces]));
    return output.sinks;
  };
  const cut = opts.snaplen;
  // The kept packets of each batch of the file: as columns to the file
  // outputs (src/output/pcap-columns.ts), as packets to the others and
  // wherever the file's packets carry more than columns hold.
  const writeKept = async (batch: PacketBatch, kept: Uint32Array, n: number) => {
    if (ended !== undefined) throw new OutputEnded();
    const columns = batch.columns?.(kept, n, cut);
    const made: CapturedPacket[] = [];
    const packets = () => {
      if (made.length === 0) for (let k = 0; k < n; k++) made.push(columns ? columns.packet(k) : cutTo(batch.packet(kept[k]), cut));
      return made;
    };
    const sinks = outputs(() => Number((columns ? joinHalves(columns.tsHigh[0], columns.tsLow[0]) : packets()[0].tsNs) / 1_000_000n));
    for (const s of sinks) await (columns && s.writeBatch ? s.writeBatch(columns) : s.write(packets()));
    if (opts.flushEachBatch) for (const s of sinks) await s.flush();
  };
  let counts: FilterCounts = { read: 0, kept: 0 };
  try {
    counts = await filterCapture(stream, opts, writeKept).catch((e: unknown) => {
      if (e instanceof OutputEnded) return { read: NaN, kept: NaN };
      throw e;
    });
    if (capture.interfaces.length === 0) {
      if (capture.damage) throw new UserError(`${name} is not a capture netcap can read: ${capture.damage}`, 'netcap reads pcap and pcapng files as libpcap reads them');
      throw new UserError(`${name} describes no interface`, 'the file may be damaged; tcpdump -r shows what it can read');
    }
    // Nothing kept still writes a valid (empty) file, as tcpdump does.
    const sinks = ended === undefined ? outputs() : output!.sinks;
    output = undefined;
    for (const s of sinks) await s.close([]);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EPIPE') return 0; // stdout closed early (| head): not an error
    throw e;
  } finally {
    // On an error, what was kept so far is written, as tcpdump does.
    for (const s of output?.sinks ?? []) await s.close([]).catch(() => undefined);
    await stream.close();
  }
  const log = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  for (const w of capture.warnings) log(`netcap: ${name}: ${w}`);
  if (ended === 'file-limit') log('netcap: maximum file limit reached (--rotate-seconds with -W)');
  if (ended === undefined && opts.output.writeFile !== undefined && opts.output.writeFile !== '-') log(`netcap: kept ${counts.kept} of ${packets(counts.read)} read from ${name} (engine ${opts.engine})`);
  if (capture.damage && ended === undefined) {
    // What could be read was filtered and written; the damage is an error,
    // as tcpdump reports it after the packets it read.
    log(`netcap: ${name}: ${capture.damage}`);
    return 2;
  }
  return 0;
}
