// `netcap read`'s work, loaded only when the command runs (cmd/read.ts
// describes the command and its options): reads the file, filters it,
// writes or prints what is kept through the output model every command
// shares (src/output/outputs.ts).
import type { ArgumentsCamelCase } from 'yargs';
import { UserError } from '../src/errors';
import { openCaptureStream } from '../src/output/capture-stream';
import type { CaptureFile } from '../src/output/capture-file';
import type { CaptureInterface, CapturedPacket } from '../src/output/packet';
import { checkOutputOptions, openOutputs, type OutputOptions, type PacketSink } from '../src/output/outputs';
import { tcpdumpFlags } from '../src/output/tcpdump-sink';
import type { EngineName } from '../src/read/engines';
import { filterCapture, type FilterCounts } from '../src/read/filter-capture';
import { parseFileOptions, positiveInteger } from './capture-args';

/** Kept packets handed to the outputs at a time. */
const BATCH = 256;

export interface ReadOptions {
  file: string;
  expression: string;
  engine: EngineName;
  count?: number;
  output: OutputOptions;
  /** Where the warnings and the summary line go (default stderr). */
  log?: (line: string) => void;
}

/** The command's run(): yargs' arguments to a finished read. */
export async function runReadCommand(args: ArgumentsCamelCase): Promise<number> {
  return runRead(readOptions(args));
}

function readOptions(args: ArgumentsCamelCase): ReadOptions {
  const positional = ((args.expression as string[] | undefined) ?? []).join(' ').trim();
  const flag = args.e === undefined ? undefined : String(args.e);
  if (flag !== undefined && positional !== '') {
    throw new UserError(`two filter expressions: -e "${flag}" and "${positional}"`, 'give the filter once, either with -e or after the options');
  }
  const file = String(args.r);
  const expression = flag ?? positional;
  const engine = args.engine as EngineName;
  const output: OutputOptions = {
    writeFile: args.w === undefined ? undefined : String(args.w),
    format: args.format as 'pcap' | 'pcapng' | undefined,
    tcpdumpFlags: String(args.t ?? '-nn'),
    noTcpdump: args.tcpdump === false,
    json: args.json === true,
    comment: `netcap read -r ${file}${expression ? ` -e ${JSON.stringify(expression)}` : ''} --engine ${engine}`,
    ...parseFileOptions(args),
  };
  checkOutputOptions(output);
  return {
    file,
    expression,
    engine,
    count: args.c === undefined ? undefined : positiveInteger(args.c, '-c'),
    output,
  };
}

/**
 * The outputs for a file's packets, opened at its first kept packet (or at
 * the end): its interfaces with the filter noted on them; a pcap output
 * keeps the input's timestamp precision.
 */
function openReadOutputs(opts: ReadOptions, capture: CaptureFile): { sinks: PacketSink[]; interfaces: number } {
  const decorate = (iface: CaptureInterface): CaptureInterface => ({
    ...iface,
    ...(opts.expression ? { filter: opts.expression } : {}),
    ...(iface.description === undefined && opts.expression ? { description: opts.expression } : {}),
  });
  const nanosecond = capture.format === 'pcapng' || capture.nanosecond;
  return { sinks: openOutputs({ ...opts.output, nanosecond }, capture.interfaces.map(decorate)), interfaces: capture.interfaces.length };
}

export async function runRead(opts: ReadOptions): Promise<number> {
  // Check -t before reading anything: a refused flag should fail fast.
  tcpdumpFlags(opts.output.tcpdumpFlags ?? '-nn');
  // Streamed: files of any size in constant memory. Interfaces become known
  // as their blocks are read (pcapng: before their first packet).
  const stream = await openCaptureStream(opts.file);
  const capture = stream.info;
  let output: { sinks: PacketSink[]; interfaces: number } | undefined;
  let batch: CapturedPacket[] = [];
  const writeBatch = async () => {
    output ??= openReadOutputs(opts, capture);
    // Interfaces described after the outputs were opened (a later IDB or section).
    for (; output.interfaces < capture.interfaces.length; output.interfaces++) for (const s of output.sinks) s.addInterface(capture.interfaces[output.interfaces]);
    const written = batch;
    batch = [];
    for (const s of output.sinks) await s.write(written);
  };
  let counts: FilterCounts;
  try {
    counts = await filterCapture(stream, opts, async (pkt) => {
      batch.push(pkt);
      if (batch.length >= BATCH) await writeBatch();
    });
    if (capture.interfaces.length === 0) {
      if (capture.damage) throw new UserError(`${opts.file} is not a capture file netcap can read: ${capture.damage}`, 'netcap reads pcap and pcapng files as libpcap reads them');
      throw new UserError(`${opts.file} describes no interface`, 'the file may be damaged; tcpdump -r shows what it can read');
    }
    // Nothing kept still writes a valid (empty) file, as tcpdump does.
    await writeBatch();
    const closing = output!;
    output = undefined;
    for (const s of closing.sinks) await s.close([]);
    batch = [];
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EPIPE') return 0; // stdout closed early (| head): not an error
    throw e;
  } finally {
    // On an error, what was kept so far is written, as tcpdump does.
    if (output || batch.length) {
      await writeBatch().catch(() => undefined);
      for (const s of output?.sinks ?? []) await s.close([]).catch(() => undefined);
    }
    await stream.close();
  }
  const log = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  for (const w of capture.warnings) log(`netcap: ${opts.file}: ${w}`);
  if (opts.output.writeFile !== undefined && opts.output.writeFile !== '-') log(`netcap: kept ${counts.kept} of ${counts.read} packets read from ${opts.file} (engine ${opts.engine})`);
  if (capture.damage) {
    // What could be read was filtered and written; the damage is an error,
    // as tcpdump reports it after the packets it read.
    log(`netcap: ${opts.file}: ${capture.damage}`);
    return 2;
  }
  return 0;
}

