// Where a session's packets go: a pcap or pcapng file (or stdout), tcpdump
// for decoding, the built-in decoder, or JSON lines. Each sink is opened
// before any probe is attached (so an unwritable -w path fails with nothing
// attached), takes packets in order, and is closed once with the final
// per-point statistics (pcapng writes them as Interface Statistics Blocks).
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Writable } from 'node:stream';
import { UserError } from '../errors';
import type { CaptureInterface, CaptureStatistics, CapturedPacket } from '../output/packet';
import { PcapWriter } from '../output/pcap-writer';
import { PcapngWriter } from '../output/pcapng-writer';
import { TcpdumpSink, tcpdumpFlags } from '../output/tcpdump-sink';
import { formatPacket } from '../output/text-decoder';
import { formatJsonLine } from '../output/json-lines';
import { SinkWriter } from '../output/sink';
import type { RotationOptions } from '../output/rotation';
import { specialFileSink, wantsSpecialFileSink } from './file-sinks';

export interface PacketSink {
  write(pkt: CapturedPacket): Promise<void>;
  flush(): Promise<void>;
  /** Flushes, writes the statistics where the format has room, and closes. */
  close(stats: CaptureStatistics[]): Promise<void>;
  /** Stops at once (a second Ctrl-C): no more flushing. */
  abort?(): void;
  /** Resolves (with the reason) when the sink wants the capture to end: -G with -W wrote its last file. */
  ended?: Promise<string>;
}

export interface SinkOptions {
  /** -w FILE, or '-' for stdout. */
  writeFile?: string;
  /** --format; otherwise from the file name (.pcapng -> pcapng), pcap by default. */
  format?: 'pcap' | 'pcapng';
  /** --time-stamp-precision nano (pcap files only; pcapng is always ns). */
  nanosecond?: boolean;
  /** -t FLAGS for `tcpdump -r -` (default "-nn"). */
  tcpdumpFlags?: string;
  /** --no-tcpdump: the built-in decoder even when tcpdump exists. */
  noTcpdump?: boolean;
  /** --json: one JSON object per packet on stdout. */
  json?: boolean;
  /** --print: decode to stdout while writing a file. */
  print?: boolean;
  /** --meta: the packet's metadata before each decoded line (built-in decoder). */
  meta?: boolean;
  /** The command line, for the pcapng section comment. */
  commandLine?: string;
  /** Where decoded text goes (default process.stdout). */
  stdout?: Writable;
  /** -C/-W/-G: rotate the -w file like tcpdump (src/output/rotation.ts). */
  rotation?: RotationOptions;
  /** --write-file-rotate N: only the last N packets, written to -w FILE when the capture ends. */
  keepLast?: number;
}

/** The file format -w writes: --format, else the file name's extension, else pcap. */
export function fileFormat(opts: SinkOptions): 'pcap' | 'pcapng' {
  if (opts.format) return opts.format;
  return opts.writeFile && /\.pcapng$/i.test(opts.writeFile) ? 'pcapng' : 'pcap';
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
 * Opens the sinks the options ask for. Checks everything that can fail on
 * bad input (the -w path, the -t flags) before returning, so the caller can
 * attach afterwards knowing output works.
 */
export function openSinks(opts: SinkOptions, interfaces: CaptureInterface[]): PacketSink[] {
  const sinks: PacketSink[] = [];
  const stdout = opts.stdout ?? process.stdout;
  const toStdout = opts.writeFile === '-';
  if (opts.writeFile !== undefined) sinks.push(wantsSpecialFileSink(opts) ? specialFileSink(opts, checkedFormat(opts, interfaces), interfaces) : fileSink(opts, interfaces));
  const decode = opts.writeFile === undefined || (opts.print === true && !toStdout);
  if (decode) {
    if (opts.json) sinks.push(jsonSink(interfaces, stdout));
    else if (!opts.noTcpdump && haveTcpdump() && sameLinktype(interfaces)) sinks.push(tcpdumpSink(opts, interfaces, stdout));
    else sinks.push(textSink(opts, interfaces, stdout));
  }
  return sinks;
}

function sameLinktype(interfaces: CaptureInterface[]): boolean {
  return interfaces.every((i) => i.linktype === interfaces[0]?.linktype);
}

function openOutputStream(file: string): Writable {
  if (file === '-') return process.stdout;
  let fd: number;
  try {
    fd = fs.openSync(file, 'w', 0o644);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new UserError(`cannot write ${file}: ${err.code === 'ENOENT' ? 'its directory does not exist' : err.code === 'EACCES' ? 'permission denied' : err.message}`, 'give -w a path in a writable directory, or -w - for stdout', err.message);
  }
  return fs.createWriteStream('', { fd, autoClose: true });
}

function checkedFormat(opts: SinkOptions, interfaces: CaptureInterface[]): 'pcap' | 'pcapng' {
  const format = fileFormat(opts);
  if (format === 'pcap' && !sameLinktype(interfaces)) {
    throw new UserError('these capture points produce different link types, which one pcap file cannot hold', 'write pcapng instead: -w FILE.pcapng or --format pcapng');
  }
  return format;
}

function fileSink(opts: SinkOptions, interfaces: CaptureInterface[]): PacketSink {
  const file = opts.writeFile!;
  const format = checkedFormat(opts, interfaces);
  const stream = openOutputStream(file);
  const endSink = file !== '-';
  if (format === 'pcapng') {
    const writer = new PcapngWriter(stream, { comment: opts.commandLine, interfaces });
    return {
      write: (pkt) => writer.writePacket(pkt),
      flush: () => writer.flush(),
      close: async (stats) => {
        for (let i = 0; i < stats.length && i < interfaces.length; i++) await writer.writeStatistics(i, stats[i]);
        await writer.close(endSink);
      },
    };
  }
  const snaplen = Math.max(...interfaces.map((i) => i.snaplen));
  const writer = new PcapWriter(stream, { linktype: interfaces[0]?.linktype ?? 1, snaplen, nanosecond: opts.nanosecond });
  return {
    write: (pkt) => writer.writePacket(pkt),
    flush: () => writer.flush(),
    close: () => writer.close(endSink),
  };
}

function tcpdumpSink(opts: SinkOptions, interfaces: CaptureInterface[], stdout: Writable): PacketSink {
  tcpdumpFlags(opts.tcpdumpFlags ?? '-nn'); // refuse bad flags before anything is attached
  const snaplen = Math.max(...interfaces.map((i) => i.snaplen));
  // -l: tcpdump line-buffers its output, else a pipe holds decoded packets
  // back until 4 KiB pile up (stdio's full buffering) and a live capture
  // looks dead.
  const sink = new TcpdumpSink({ linktype: interfaces[0]?.linktype ?? 1, snaplen, flags: `-l ${opts.tcpdumpFlags ?? '-nn'}`, stdout });
  return {
    write: (pkt) => sink.writePacket(pkt),
    flush: () => sink.flush(),
    close: () => sink.close(),
    abort: () => sink.kill(),
  };
}

function textSink(opts: SinkOptions, interfaces: CaptureInterface[], stdout: Writable): PacketSink {
  const out = new SinkWriter(stdout);
  const flags = opts.tcpdumpFlags ?? '-nn';
  const hex = /(^|\s)-\w*XX/.test(flags) ? 'XX' : /(^|\s)-\w*X/.test(flags) ? 'X' : /(^|\s)-\w*xx/.test(flags) ? 'xx' : /(^|\s)-\w*x/.test(flags) ? 'x' : undefined;
  const linkHeader = /(^|\s)-\w*e/.test(flags);
  return {
    write: async (pkt) => {
      const iface = interfaces[pkt.ifIndex];
      const meta = opts.meta && pkt.comment ? `[${iface?.name ?? pkt.ifIndex}] ${pkt.comment}\n` : '';
      await out.write(Buffer.from(`${meta}${formatPacket(pkt, iface?.linktype ?? 1, { hex, linkHeader })}\n`));
    },
    flush: () => out.flush(),
    close: () => out.close(false),
  };
}

function jsonSink(interfaces: CaptureInterface[], stdout: Writable): PacketSink {
  const out = new SinkWriter(stdout);
  return {
    write: (pkt) => out.write(Buffer.from(`${formatJsonLine(pkt, interfaces[pkt.ifIndex] ?? { linktype: 1, snaplen: 0 })}\n`)),
    flush: () => out.flush(),
    close: () => out.close(false),
  };
}
