// `netcap read`'s work, loaded only when the command runs (cmd/read.ts
// describes the command and its options): reads the file, filters it,
// writes or prints what is kept.
import * as fs from 'node:fs';
import type { ArgumentsCamelCase } from 'yargs';
import { UserError } from '../src/errors';
import { DEFAULT_SNAPLEN, linktypeName } from '../src/filter';
import { openCaptureStream } from '../src/output/capture-stream';
import type { CaptureFile } from '../src/output/capture-file';
import type { CaptureInterface, CapturedPacket } from '../src/output/packet';
import { PcapWriter } from '../src/output/pcap-writer';
import { PcapngWriter } from '../src/output/pcapng-writer';
import { SinkWriter } from '../src/output/sink';
import { TcpdumpSink, tcpdumpFlags } from '../src/output/tcpdump-sink';
import { formatPacket, type TextDecoderOptions } from '../src/output/text-decoder';
import { formatJsonLine } from '../src/output/json-lines';
import { RotatingFileWriter, type RotationOptions } from '../src/output/rotation';
import type { EngineName } from '../src/read/engines';
import { filterCapture, type FilterCounts } from '../src/read/filter-capture';

export interface ReadOptions {
  file: string;
  expression: string;
  out?: string;
  engine: EngineName;
  format?: 'pcap' | 'pcapng';
  count?: number;
  tcpdump: boolean;
  json: boolean;
  flags: string;
  /** -C/-W: rotate the -w file like `tcpdump -r IN -w OUT -C SIZE -W N`. */
  rotation?: RotationOptions;
  /** Where the warnings and the summary line go (default stderr). */
  log?: (line: string) => void;
}

/** Where kept packets go: a capture file, tcpdump, or text on stdout. */
interface PacketOutput {
  write(pkt: CapturedPacket): Promise<void>;
  close(): Promise<void>;
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
  if (args.w === undefined && args.format !== undefined) throw new UserError('--format applies to the file written with -w', 'add -w FILE, or leave --format out to print the packets');
  if (args.w !== undefined && args.json === true) throw new UserError('--json prints packets; -w writes them to a file', 'choose one of --json and -w');
  const count = args.c === undefined ? undefined : Number(args.c);
  if (count !== undefined && (!Number.isInteger(count) || count < 1)) throw new UserError(`bad packet count -c ${String(args.c)}`, 'give a positive whole number, e.g. -c 10');
  return {
    file: String(args.r),
    expression: flag ?? positional,
    out: args.w === undefined ? undefined : String(args.w),
    engine: args.engine as EngineName,
    format: args.format as 'pcap' | 'pcapng' | undefined,
    count,
    tcpdump: args.tcpdump !== false,
    json: args.json === true,
    flags: String(args.t ?? '-nn'),
    rotation: readRotation(args),
  };
}

function readRotation(args: ArgumentsCamelCase): RotationOptions | undefined {
  if (args.C === undefined) {
    if (args.W !== undefined) throw new UserError('-W needs -C', 'e.g. -w out.pcap -C 100 -W 5 for a ring of five files');
    return undefined;
  }
  const c = Number(args.C);
  if (!Number.isFinite(c) || c <= 0) throw new UserError(`-C ${String(args.C)}: not a positive number of millions of bytes`, 'e.g. -C 100 for files of about 100 MB');
  const w = args.W === undefined ? undefined : Number(args.W);
  if (w !== undefined && (!Number.isInteger(w) || w < 1)) throw new UserError(`-W ${String(args.W)}: not a positive whole number`, 'e.g. -W 5');
  if (args.w === undefined || args.w === '-') throw new UserError('-C needs -w FILE (a file name, not stdout)', 'e.g. -w out.pcap -C 100');
  return { maxBytes: Math.round(c * 1_000_000), fileCount: w };
}

export async function runRead(opts: ReadOptions): Promise<number> {
  // Check -t before reading anything: a refused flag should fail fast.
  const flagWords = tcpdumpFlags(opts.flags);
  // Streamed: files of any size in constant memory. Interfaces become known
  // as their blocks are read (pcapng: before their first packet).
  const stream = await openCaptureStream(opts.file);
  const capture = stream.info;
  let output: PacketOutput | undefined;
  let counts: FilterCounts;
  try {
    counts = await filterCapture(stream, opts, async (pkt) => {
      output ??= openOutput(opts, capture, flagWords);
      await output.write(pkt);
    });
    if (capture.interfaces.length === 0) {
      if (capture.damage) throw new UserError(`${opts.file} is not a capture file netcap can read: ${capture.damage}`, 'netcap reads pcap and pcapng files as libpcap reads them');
      throw new UserError(`${opts.file} describes no interface`, 'the file may be damaged; tcpdump -r shows what it can read');
    }
    // Nothing kept still writes a valid (empty) file, as tcpdump does.
    output ??= openOutput(opts, capture, flagWords);
    const closing = output;
    output = undefined;
    await closing.close();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EPIPE') return 0; // stdout closed early (| head): not an error
    throw e;
  } finally {
    // On an error, what was kept so far is written, as tcpdump does.
    await output?.close().catch(() => undefined);
    await stream.close();
  }
  const log = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  for (const w of capture.warnings) log(`netcap: ${opts.file}: ${w}`);
  if (opts.out !== undefined && opts.out !== '-') log(`netcap: kept ${counts.kept} of ${counts.read} packets read from ${opts.file} (engine ${opts.engine})`);
  if (capture.damage) {
    // What could be read was filtered and written; the damage is an error,
    // as tcpdump reports it after the packets it read.
    log(`netcap: ${opts.file}: ${capture.damage}`);
    return 2;
  }
  return 0;
}

function openOutput(opts: ReadOptions, capture: CaptureFile, flagWords: string[]): PacketOutput {
  if (opts.out !== undefined) return openFileOutput(opts, capture);
  if (opts.json) return textOutput((pkt) => formatJsonLine(pkt, capture.interfaces[pkt.ifIndex]));
  if (!opts.tcpdump) {
    const decoder = decoderOptions(flagWords);
    return textOutput((pkt) => formatPacket(pkt, capture.interfaces[pkt.ifIndex].linktype, decoder));
  }
  const { linktype, field, snaplen } = singleLinktype(capture, 'tcpdump reads one link type per stream; print with --no-tcpdump');
  const sink = new TcpdumpSink({ linktype: field, snaplen, flags: opts.flags });
  return { write: (pkt) => sink.writePacket(sameLinktype(capture, pkt, linktype)), close: () => sink.close() };
}

function openFileOutput(opts: ReadOptions, capture: CaptureFile): PacketOutput {
  const format = opts.format ?? capture.format;
  if (opts.rotation) return rotatingOutput(opts, capture, format);
  const toStdout = opts.out === '-';
  let stream: fs.WriteStream | NodeJS.WriteStream;
  if (toStdout) stream = process.stdout;
  else {
    try {
      fs.writeFileSync(opts.out!, ''); // fail now, with a clear message, if the path is not writable
    } catch (e) {
      throw new UserError(`cannot write ${opts.out}: ${(e as Error).message}`, 'give a writable path with -w');
    }
    stream = fs.createWriteStream(opts.out!);
  }
  if (format === 'pcap') {
    const { linktype, field, snaplen } = singleLinktype(capture, 'a pcap file has one link type; write pcapng (--format pcapng)');
    // Keep the input's precision: a nanosecond file stays nanosecond.
    const w = new PcapWriter(stream, { linktype: field, snaplen, nanosecond: capture.format === 'pcapng' || capture.nanosecond });
    return { write: (pkt) => w.writePacket({ ...sameLinktype(capture, pkt, linktype), ifIndex: 0 }), close: () => w.close(!toStdout) };
  }
  const comment = `netcap read -r ${opts.file}${opts.expression ? ` -e ${JSON.stringify(opts.expression)}` : ''} --engine ${opts.engine}`;
  const decorate = (iface: CaptureInterface): CaptureInterface => ({
    ...iface,
    ...(opts.expression ? { filter: opts.expression } : {}),
    ...(iface.description === undefined && opts.expression ? { description: opts.expression } : {}),
  });
  const interfaces = capture.interfaces.map(decorate);
  const w = new PcapngWriter(stream, { comment, interfaces });
  return {
    write: (pkt) => {
      // Interfaces described after the output was opened (a later IDB or section).
      while (w.interfaceCount < capture.interfaces.length) w.addInterface(decorate(capture.interfaces[w.interfaceCount]));
      return w.writePacket(pkt);
    },
    close: () => w.close(!toStdout),
  };
}

/** -C/-W: the same files `tcpdump -r IN -w OUT -C SIZE -W N` writes (pcap), or pcapng ones. */
function rotatingOutput(opts: ReadOptions, capture: CaptureFile, format: 'pcap' | 'pcapng'): PacketOutput {
  if (format === 'pcap') {
    const { field, snaplen } = singleLinktype(capture, 'a pcap file has one link type; write pcapng (--format pcapng)');
    const w = new RotatingFileWriter(opts.out!, opts.rotation!, { format, interfaces: [{ linktype: field, snaplen }], nanosecond: capture.format === 'pcapng' || capture.nanosecond });
    return { write: (pkt) => w.writePacket({ ...pkt, ifIndex: 0 }), close: () => w.close() };
  }
  const comment = `netcap read -r ${opts.file}${opts.expression ? ` -e ${JSON.stringify(opts.expression)}` : ''} --engine ${opts.engine}`;
  const interfaces = capture.interfaces.map((iface) => ({ ...iface, ...(opts.expression ? { filter: opts.expression } : {}) }));
  const w = new RotatingFileWriter(opts.out!, opts.rotation!, { format, interfaces, comment });
  return { write: (pkt) => w.writePacket(pkt), close: () => w.close() };
}

/** The one link type of the packets, and the link-type field a pcap header gives it. */
function singleLinktype(capture: CaptureFile, hint: string): { linktype: number; field: number; snaplen: number } {
  const types = [...new Set(capture.interfaces.map((i) => i.linktype))];
  if (types.length > 1) throw new UserError(`the file mixes link types (${types.map(linktypeName).join(', ')})`, hint);
  // A pcap file's FCS bits (above the link type) are written back, as libpcap writes them.
  const field = (types[0] | (capture.interfaces[0].linktypeExt ?? 0)) >>> 0;
  return { linktype: types[0], field, snaplen: Math.max(...capture.interfaces.map((i) => i.snaplen || DEFAULT_SNAPLEN)) };
}

/** A packet for a one-link-type output; an interface described later with another link type is refused. */
function sameLinktype(capture: CaptureFile, pkt: CapturedPacket, linktype: number): CapturedPacket {
  const theirs = capture.interfaces[pkt.ifIndex].linktype;
  if (theirs !== linktype) throw new UserError(`the file mixes link types (${linktypeName(linktype)}, then ${linktypeName(theirs)})`, 'write pcapng (--format pcapng) or print with --no-tcpdump');
  return pkt;
}

function textOutput(format: (pkt: CapturedPacket) => string): PacketOutput {
  const out = new SinkWriter(process.stdout);
  return { write: (pkt) => out.write(Buffer.from(format(pkt) + '\n')), close: () => out.close(false) };
}

/** The tcpdump printing flags the built-in decoder understands: -e and -x/-xx/-X/-XX. */
function decoderOptions(words: string[]): TextDecoderOptions {
  const options: TextDecoderOptions = {};
  let x = 0;
  let ascii = false;
  for (const w of words) {
    if (!/^-[A-Za-z#]+$/.test(w)) continue;
    for (const letter of w.slice(1)) {
      if (letter === 'e') options.linkHeader = true;
      if (letter === 'x') x++;
      if (letter === 'X') {
        x++;
        ascii = true;
      }
    }
  }
  if (x > 0) options.hex = ascii ? (x > 1 ? 'XX' : 'X') : x > 1 ? 'xx' : 'x';
  return options;
}
