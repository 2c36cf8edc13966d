// The one output model of every command (the capturing ones and `read`):
// which sinks a set of options asks for, which combinations are refused,
// and which file format -w writes. A sink takes packets in batches, in
// order, learns interfaces as they appear (pcapng: an IDB before the first
// packet that names it), and is closed once with per-interface statistics.
//
//   -w FILE         a pcap or pcapng file (-w - : stdout); format by --format,
//                   else by the name (.pcapng), else pcap — in every command
//   -C/-W/--rotate-seconds, --write-file-rotate   the same -w file, rotated or keep-last
//   (no -w) or --print   decoded on stdout: tcpdump -r -, the built-in decoder
//                   (--no-tcpdump, or when metadata matters), or --json
//
// Outputs that hold one link type (pcap files, tcpdump) take the first
// interface's; raw-IP packets of an interface marked ethernetFallback go
// behind a synthesised Ethernet header, any other mix is refused. Text and
// JSON decode each packet in its interface's own link type.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Writable } from 'node:stream';
import { UserError } from '../errors';
import { formatMeta, type CaptureInterface, type CaptureStatistics, type CapturedPacket } from './packet';
import type { PacketBatch } from './packet-batch';
import { captureFileOn, openCaptureFile, type CaptureFileWriter } from './file-writer';
import { RotatingFileWriter, type RotationOptions } from './rotation';
import { KeepLastWriter } from './keep-last';
import { TcpdumpSink, tcpdumpFlags } from './tcpdump-sink';
import { formatPacket, type TextDecoderOptions } from './text-decoder';
import { formatJsonLine } from './json-lines';
import { StreamWriter } from './stream-writer';
import { dltForLinktype, LINKTYPE_ETHERNET, LINKTYPE_RAW, SYNTHETIC_ETHERNET_BYTES, syntheticEtherType } from './linktypes';
import { linktypeName as dltName } from '../filter/libpcap';

const linktypeName = (linktype: number): string => dltName(dltForLinktype(linktype));

export interface PacketSink {
  /** Writes a batch, in order; resolves when the sink can take more. */
  write(batch: readonly CapturedPacket[]): Promise<void>;
  /**
   * Optional, the fast path: takes a batch as columns (PacketBatch) and
   * copies what it keeps before returning (the batch is reused); resolves
   * when the sink can take more. A capture whose packets are its records
   * as they are calls it instead of write().
   */
  writeBatch?(batch: PacketBatch): Promise<void>;
  /** One more interface, before the first packet that names it. */
  addInterface(iface: CaptureInterface): void;
  /** Resolves when everything written so far has been handed to the OS. */
  flush(): Promise<void>;
  /** Writes the statistics where the format has room (pcapng ISBs, by interface index), flushes and closes. */
  close(stats: readonly (CaptureStatistics | undefined)[]): Promise<void>;
  /** Stops at once (a second Ctrl-C): no more flushing. */
  abort?(): void;
  /**
   * Resolves (with the reason) when the sink wants the capture to end:
   * 'file-limit' (-G with -W wrote its last file), 'output-closed' (the
   * reader of stdout went away: `| head`), 'decoder-exited' (tcpdump ended by
   * itself; close() says why).
   */
  ended?: Promise<string>;
  /** Resolves once the sink works (tcpdump has taken its flags); rejects with why not. Wait for it before attaching. */
  ready?: Promise<void>;
  /** A file nobody reads before it is flushed or closed (not stdout): the capture need not hand it packets promptly. */
  readonly buffered?: boolean;
}

export interface OutputOptions {
  /** -w FILE, or '-' for stdout. */
  writeFile?: string;
  /** --format; otherwise from the file name (.pcapng -> pcapng), pcap by default. */
  format?: 'pcap' | 'pcapng';
  /** --time-stamp-precision nano (pcap files only; pcapng is always ns). */
  nanosecond?: boolean;
  /** -t FLAGS for `tcpdump -r -`, after -nn (see resolveNames); the built-in decoder honours -e -x -xx -X -XX (and -n -l -S -K, its ways anyway). */
  tcpdumpFlags?: string;
  /** --names: let tcpdump turn addresses and ports into names (netcap passes -nn otherwise). */
  resolveNames?: boolean;
  /** --no-tcpdump: the built-in decoder even when tcpdump exists. */
  noTcpdump?: boolean;
  /** --json: one JSON object per packet on stdout. */
  json?: boolean;
  /** --print: decode to stdout while writing a file. */
  print?: boolean;
  /** --meta: the packet's metadata before each decoded line (built-in decoder). */
  meta?: boolean;
  /**
   * The packets carry metadata tcpdump cannot print (stacks, drop reasons,
   * gather notes): decoded text uses the built-in decoder with --meta.
   */
  metadataOnStdout?: boolean;
  /** -C/-W/--rotate-seconds: rotate the -w file like tcpdump (rotation.ts). */
  rotation?: RotationOptions;
  /** --write-file-rotate N: only the last N packets, written to -w FILE when the capture ends. */
  keepLast?: number;
  /** The pcapng section comment (the command line). */
  comment?: string;
  /** -w FILE (pcapng) continues an existing file with a new section instead of truncating it (file-writer.ts). */
  append?: boolean;
  /** -w FILE may not be a symbolic link. */
  noFollow?: boolean;
  /**
   * When the first --rotate-seconds file opens (ms since the epoch): the wall
   * clock for a capture; `read` gives its first packet's time, so a file's
   * packets are cut into intervals of their own time.
   */
  rotationStart?: () => number;
  /** Where decoded text and -w - go (default process.stdout). */
  stdout?: Writable;
}

/** The file format -w writes: --format, else the file name's extension, else pcap. */
export function fileFormat(opts: OutputOptions): 'pcap' | 'pcapng' {
  if (opts.format) return opts.format;
  return opts.writeFile && /\.pcapng$/i.test(opts.writeFile) ? 'pcapng' : 'pcap';
}

/** Refuses combinations that cannot mean what they say; run before anything else is opened. */
export function checkOutputOptions(opts: OutputOptions): void {
  const write = opts.writeFile;
  if (write === '') throw new UserError('-w needs a file name', 'e.g. -w out.pcap, or -w - for stdout');
  if (opts.format !== undefined && write === undefined) throw new UserError('--format applies to the file written with -w', 'add -w FILE, or leave --format out to print the packets');
  if (opts.json && write === '-') throw new UserError('--json and -w - both write to stdout', 'choose one, or write the file elsewhere');
  if (opts.json && write !== undefined && !opts.print) throw new UserError('--json prints packets; -w writes them to a file', 'choose one of --json and -w (or add --print to do both)');
  if (opts.print && write === '-') throw new UserError('--print decodes to stdout, where -w - writes the capture', 'write the file elsewhere (-w FILE --print), or decode downstream: ... -w - | tcpdump -r -');
  if (opts.print && write === undefined) throw new UserError('--print applies with -w FILE (without -w the packets are printed anyway)', 'add -w FILE, or leave --print out');
  const rotating = opts.rotation !== undefined && (opts.rotation.maxBytes !== undefined || opts.rotation.seconds !== undefined);
  const what = opts.keepLast !== undefined ? '--write-file-rotate' : '-C/--rotate-seconds';
  if (opts.rotation?.fileCount !== undefined && !rotating) throw new UserError('-W needs -C or --rotate-seconds', 'e.g. -w out.pcap -C 100 -W 5 for a ring of five files');
  if ((rotating || opts.keepLast !== undefined) && write === undefined) throw new UserError(`${what} needs -w FILE`, 'e.g. -w out.pcap');
  if ((rotating || opts.keepLast !== undefined) && write === '-') throw new UserError(`${what} needs a file name, not -w - (stdout)`, 'e.g. -w out.pcap');
  if (rotating && opts.keepLast !== undefined) throw new UserError('--write-file-rotate keeps one file; it cannot be combined with -C or --rotate-seconds', 'choose one');
  if (opts.append && (write === undefined || write === '-' || fileFormat(opts) !== 'pcapng')) throw new UserError('only a pcapng file is continued', 'write FILE.pcapng');
  checkDecoding(opts);
}

/** How packets are printed on stdout, if they are: through tcpdump, by the built-in decoder, or as JSON. */
export function printedAs(opts: OutputOptions): 'tcpdump' | 'built-in' | 'json' | undefined {
  const decode = opts.writeFile === undefined || (opts.print === true && opts.writeFile !== '-');
  if (!decode) return undefined;
  if (opts.json) return 'json';
  return opts.noTcpdump || opts.meta || opts.metadataOnStdout || !haveTcpdump() ? 'built-in' : 'tcpdump';
}

// The tcpdump flags the built-in decoder honours: -e and -x/-xx/-X/-XX as
// tcpdump does; -n, -l, -S and -K are what it does anyway (numbers only, each
// batch written at once, absolute sequence numbers, no checksum checks).
const BUILT_IN_FLAGS = new Set('enxXlSK'.split(''));

/** Options about decoded text need decoded text to apply to, and the decoder used must honour them. */
function checkDecoding(opts: OutputOptions): void {
  const as = printedAs(opts);
  const flags = tcpdumpFlags(opts.tcpdumpFlags ?? '');
  const given = [
    ...(flags.length ? [`-t "${(opts.tcpdumpFlags ?? '').trim()}"`] : []),
    ...(opts.noTcpdump ? ['--no-tcpdump'] : []),
    ...(opts.meta ? ['--meta'] : []),
    ...(opts.resolveNames ? ['--names'] : []),
  ];
  if (given.length && (as === undefined || as === 'json')) {
    throw new UserError(
      `${given[0]} applies to packets decoded as text, and ${as === 'json' ? '--json prints JSON' : '-w writes them to a file'}`,
      as === 'json' ? `leave ${given[0]} out (JSON has the bytes, and the metadata as fields)` : `add --print to decode them too, or leave ${given[0]} out`,
    );
  }
  if (as !== 'built-in') return;
  const why = opts.noTcpdump ? 'with --no-tcpdump' : opts.meta ? 'with --meta' : opts.metadataOnStdout ? 'for packets with a stack, a drop reason or gather notes' : 'as tcpdump is not installed';
  const instead = 'or write pcapng (-w FILE.pcapng) and read it with tcpdump -r';
  if (opts.resolveNames) throw new UserError(`--names: the built-in decoder (used ${why}) prints numbers only`, `leave --names out, ${instead}`);
  for (const word of flags) {
    if (!word.startsWith('-')) continue; // an argument: its flag was judged
    const foreign = word.startsWith('--') ? word : [...word.slice(1)].find((l) => !BUILT_IN_FLAGS.has(l));
    if (foreign === undefined) continue;
    const flag = foreign.startsWith('--') ? foreign : `-${foreign}`;
    throw new UserError(`tcpdump flag ${flag}${flag === word ? '' : ` (in ${word})`}: the built-in decoder, used ${why}, cannot honour it`, `it honours -e -x -xx -X -XX; leave ${flag} out, ${instead}`);
  }
}

/** True when a `tcpdump` executable is on PATH. */
export function haveTcpdump(): boolean {
  for (const dir of (process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin').split(':')) {
    try {
      fs.accessSync(path.join(dir || '.', 'tcpdump'), fs.constants.X_OK);
      return true;
    } catch {
      // keep looking
    }
  }
  return false;
}

/**
 * Opens the sinks the options ask for, over the interfaces known now. Fails
 * (UserError) on everything bad input can break — the -w path, the -t
 * flags, a pcap file for mixed link types — before returning, so a capture
 * attaches only once its outputs work.
 */
export function openOutputs(opts: OutputOptions, interfaces: readonly CaptureInterface[]): PacketSink[] {
  checkOutputOptions(opts);
  const sinks: PacketSink[] = [];
  const stdout = opts.stdout ?? process.stdout;
  if (opts.writeFile !== undefined) sinks.push(fileSink(opts, interfaces, stdout));
  const as = printedAs(opts);
  if (as === 'json') sinks.push(textSink(interfaces, stdout, (pkt, iface) => formatJsonLine(pkt, iface)));
  else if (as === 'tcpdump') sinks.push(tcpdumpSink(opts, interfaces, stdout));
  else if (as === 'built-in') {
    const decoder = decoderOptions(tcpdumpFlags(opts.tcpdumpFlags ?? ''));
    const meta = opts.meta || opts.metadataOnStdout;
    sinks.push(
      textSink(interfaces, stdout, (pkt, iface) => {
        // The interface is named in brackets: the point is not repeated after it.
        const comment = meta ? (pkt.comment ?? (pkt.meta ? formatMeta({ ...pkt.meta, point: undefined }) : undefined)) : undefined;
        return `${comment ? `[${iface.name ?? pkt.ifIndex}] ${comment}\n` : ''}${formatPacket(pkt, iface.linktype, decoder)}`;
      }),
    );
  }
  return sinks;
}

/** The tcpdump printing flags the built-in decoder understands: -e and -x/-xx/-X/-XX. */
export function decoderOptions(words: readonly string[]): TextDecoderOptions {
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

/**
 * The view of an output that holds one link type (the first interface's):
 * the packet as that output writes it — for raw-IP packets of an
 * ethernetFallback interface, behind a synthesised Ethernet header on the
 * interface it names; a packet of any other link type is refused.
 */
class OneLinktype {
  readonly linktype: number;
  private readonly interfaces: CaptureInterface[];

  constructor(interfaces: readonly CaptureInterface[], private readonly refusal: string) {
    this.interfaces = [...interfaces];
    this.linktype = interfaces[0]?.linktype ?? LINKTYPE_ETHERNET;
    for (const i of interfaces) this.check(i);
  }

  get snaplen(): number {
    return Math.max(0, ...this.interfaces.map((i) => i.snaplen));
  }

  add(iface: CaptureInterface): void {
    this.check(iface);
    this.interfaces.push(iface);
  }

  interfaceOf(pkt: CapturedPacket): CaptureInterface {
    return this.interfaces[pkt.ifIndex] ?? { linktype: this.linktype, snaplen: 0 };
  }

  /** Whether packets of interface `ifIndex` go behind a synthesised Ethernet header (convert). */
  behindEthernet(ifIndex: number): boolean {
    const iface = this.interfaces[ifIndex];
    return iface !== undefined && iface.linktype !== this.linktype && iface.ethernetFallback !== undefined;
  }

  /** The packet in this output's link type. */
  convert(pkt: CapturedPacket): CapturedPacket {
    const iface = this.interfaceOf(pkt);
    if (iface.linktype === this.linktype || iface.ethernetFallback === undefined) return pkt;
    return { ...pkt, ifIndex: iface.ethernetFallback, ...behindEthernet(pkt) };
  }

  private check(iface: CaptureInterface): void {
    if (iface.linktype === this.linktype) return;
    if (iface.ethernetFallback !== undefined && iface.linktype === LINKTYPE_RAW && this.linktype === LINKTYPE_ETHERNET) return;
    throw new UserError(`the packets mix link types (${linktypeName(this.linktype)}, then ${linktypeName(iface.linktype)})`, this.refusal);
  }
}

/** A raw-IP packet behind a synthesised Ethernet header: zero MACs, its EtherType (from the IP version when none is known). */
export function behindEthernet(pkt: CapturedPacket): { data: Buffer; wirelen: number } {
  const eth = Buffer.alloc(SYNTHETIC_ETHERNET_BYTES);
  eth.writeUInt16BE(syntheticEtherType(pkt.etherType, pkt.data[0]), 12);
  return { data: Buffer.concat([eth, pkt.data]), wirelen: pkt.wirelen + SYNTHETIC_ETHERNET_BYTES };
}

function fileSink(opts: OutputOptions, interfaces: readonly CaptureInterface[], stdout: Writable): PacketSink {
  const file = opts.writeFile!;
  const format = fileFormat(opts);
  const one = format === 'pcap' ? new OneLinktype(interfaces, 'write pcapng instead: -w FILE.pcapng or --format pcapng') : undefined;
  const fileFormatOf = { format, interfaces: one ? [{ linktype: one.linktype, snaplen: one.snaplen, linktypeExt: interfaces[0]?.linktypeExt }] : interfaces, nanosecond: opts.nanosecond, comment: opts.comment, append: opts.append, noFollow: opts.noFollow };
  const writePacket = (w: { writePacket(p: CapturedPacket): Promise<void> }) => async (batch: readonly CapturedPacket[]) => {
    for (const pkt of batch) await w.writePacket(one ? one.convert(pkt) : pkt);
  };
  const addInterface = (w: { addInterface(i: CaptureInterface): void }) => (iface: CaptureInterface) => (one ? one.add(iface) : w.addInterface(iface));
  const statistics = (stats: readonly (CaptureStatistics | undefined)[]) => (one ? [] : stats);
  if (opts.keepLast !== undefined) {
    const w = new KeepLastWriter(file, opts.keepLast, fileFormatOf);
    return {
      write: async (batch) => {
        for (const pkt of batch) w.add(one ? one.convert(pkt) : pkt);
      },
      buffered: true,
      addInterface: addInterface(w),
      // Nothing is on disk until the end: -U has nothing to flush.
      flush: () => Promise.resolve(),
      close: (stats) => w.close(denseStats(statistics(stats))),
    };
  }
  if (opts.rotation && (opts.rotation.maxBytes !== undefined || opts.rotation.seconds !== undefined)) {
    const w = new RotatingFileWriter(file, opts.rotation, fileFormatOf, opts.rotationStart);
    return {
      write: writePacket(w),
      buffered: true,
      addInterface: addInterface(w),
      flush: () => w.flush(),
      close: (stats) => w.close(denseStats(statistics(stats))),
      ended: new Promise<string>((resolve) => w.whenFinished(() => resolve('file-limit'))),
    };
  }
  const toStdout = file === '-';
  const w: CaptureFileWriter = toStdout ? captureFileOn(stdout, file, fileFormatOf, false) : openCaptureFile(file, fileFormatOf);
  const behindEthernet = one ? (ifIndex: number) => one.behindEthernet(ifIndex) : undefined;
  if (!toStdout) {
    return {
      write: writePacket(w),
      writeBatch: (batch) => w.writeBatch(batch, behindEthernet),
      buffered: true,
      addInterface: addInterface(w),
      flush: () => w.flush(),
      close: (stats) => w.close(denseStats(statistics(stats))),
    };
  }
  const ended = new Stopping();
  return {
    write: (batch) => ended.guard(() => writePacket(w)(batch)),
    writeBatch: (batch) => ended.guard(() => w.writeBatch(batch, behindEthernet)),
    addInterface: addInterface(w),
    flush: () => ended.guard(() => w.flush()),
    close: (stats) => ended.guard(() => w.close(denseStats(statistics(stats)))),
    ended: ended.promise,
  };
}

/** Statistics by interface index for the file writers, which take a dense list: interfaces without counters get none. */
function denseStats(stats: readonly (CaptureStatistics | undefined)[]): CaptureStatistics[] {
  const out: CaptureStatistics[] = [];
  for (const s of stats) {
    if (s === undefined) break;
    out.push(s);
  }
  return out;
}

function tcpdumpSink(opts: OutputOptions, interfaces: readonly CaptureInterface[], stdout: Writable): PacketSink {
  const flags = `${opts.resolveNames ? '' : '-nn '}${opts.tcpdumpFlags ?? ''}`;
  tcpdumpFlags(flags); // refuse bad flags before anything is attached
  const one = new OneLinktype(interfaces, 'tcpdump reads one link type per stream; print with --no-tcpdump or write pcapng');
  // -l: tcpdump line-buffers its output, else a pipe holds decoded packets
  // back until 4 KiB pile up (stdio's full buffering) and a live capture
  // looks dead.
  const sink = new TcpdumpSink({ linktype: (one.linktype | (interfaces[0]?.linktypeExt ?? 0)) >>> 0, snaplen: one.snaplen || 262144, flags: `-l ${flags}`, stdout });
  const ended = new Stopping(sink.ended);
  return {
    write: (batch) =>
      ended.guard(async () => {
        for (const pkt of batch) await sink.writePacket(one.convert(pkt));
      }),
    addInterface: (iface) => one.add(iface),
    flush: () => ended.guard(() => sink.flush()),
    close: () => sink.close(),
    abort: () => sink.kill(),
    ended: ended.promise,
    ready: sink.ready,
  };
}

/**
 * The end of an output on stdout whose reader went away (EPIPE: `| head`):
 * not a failure but the end of the capture, as tcpdump stops quietly on
 * SIGPIPE; writes after it are dropped.
 */
class Stopping {
  readonly promise: Promise<string>;
  private stop!: (why: string) => void;
  private stopped = false;

  constructor(from?: Promise<string>) {
    this.promise = new Promise<string>((resolve) => (this.stop = resolve));
    void from?.then((why) => this.end(why));
  }

  end(why: string): void {
    this.stopped = true;
    this.stop(why);
  }

  /** Runs a write; an EPIPE ends the output instead of failing the capture. */
  async guard(work: () => Promise<void>): Promise<void> {
    if (this.stopped) return;
    try {
      await work();
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EPIPE') throw e;
      this.end('output-closed');
    }
  }
}

/** Decoded text or JSON lines on stdout, one per packet, each decoded in its own interface's link type. */
function textSink(interfaces: readonly CaptureInterface[], stdout: Writable, line: (pkt: CapturedPacket, iface: CaptureInterface) => string): PacketSink {
  const out = new StreamWriter(stdout);
  const known = [...interfaces];
  const ended = new Stopping();
  return {
    write: (batch) =>
      ended.guard(async () => {
        if (batch.length === 0) return;
        const text = batch.map((pkt) => line(pkt, known[pkt.ifIndex] ?? { linktype: LINKTYPE_ETHERNET, snaplen: 0 })).join('\n') + '\n';
        await out.write(Buffer.from(text));
      }),
    addInterface: (iface) => void known.push(iface),
    flush: () => ended.guard(() => out.flush()),
    close: () => ended.guard(() => out.close(false)),
    ended: ended.promise,
  };
}
