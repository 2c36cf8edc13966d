// One capture file on disk, pcap or pcapng, behind one small interface, so
// rotation (rotation.ts) and keep-last (keep-last.ts) can open, fill and
// close files without caring about the format. The file is opened
// synchronously, so a path that cannot be written fails at once with a
// UserError, before anything is attached.
//
// size() counts the bytes given to the format writer, by the formats' own
// arithmetic (pcap: 16-byte record header + caplen; pcapng: the Enhanced
// Packet Block's length), not what the stream has taken so far: the writers
// coalesce small writes and hand them to the stream a turn later.
import * as fs from 'node:fs';
import { Writable } from 'node:stream';
import { UserError } from '../errors';
import { packetComment, type CaptureInterface, type CaptureStatistics, type CapturedPacket } from './packet';
import { PCAP_FILE_HEADER_SIZE, PCAP_RECORD_HEADER_SIZE, PcapWriter } from './pcap-writer';
import { PcapngWriter } from './pcapng-writer';
import { BLOCK } from './pcapng-format';

export interface FileFormat {
  format: 'pcap' | 'pcapng';
  /** Capture points; a pcap file takes the first's link type and the largest snaplen. */
  interfaces: readonly CaptureInterface[];
  /** pcap: nanosecond timestamps (magic 0xa1b23c4d). pcapng is always ns. */
  nanosecond?: boolean;
  /** pcapng: the section comment (the command line). */
  comment?: string;
  /**
   * pcapng: continue an existing file with a new section instead of
   * truncating it (netcap serve resumes a dump after a restart). The file is
   * first cut after its last whole block, so a block half-written when the
   * process died goes and the file stays readable. A missing file is created.
   */
  append?: boolean;
  /** Refuse to open a symbolic link (O_NOFOLLOW): netcap serve keeps its dumps inside its own directory. */
  noFollow?: boolean;
}

export interface CaptureFileWriter {
  readonly path: string;
  /** Bytes written so far, buffered ones included (what tcpdump's -C compares: pcap_dump_ftell). */
  size(): number;
  writePacket(pkt: CapturedPacket): Promise<void>;
  /** Declares one more interface (pcapng: an IDB before its first packet; pcap: nothing to write). */
  addInterface(iface: CaptureInterface): void;
  flush(): Promise<void>;
  /** Writes the statistics where the format has room (pcapng ISBs), then flushes, fsyncs and closes. */
  close(stats?: readonly CaptureStatistics[]): Promise<void>;
}

/**
 * Opens (creates or truncates, mode 0644; or appends) `path` for writing;
 * refuses with a UserError that names the path.
 */
export function openFileStream(path: string, how: { append?: boolean; noFollow?: boolean } = {}): fs.WriteStream {
  const { O_WRONLY, O_CREAT, O_TRUNC, O_APPEND, O_NOFOLLOW } = fs.constants;
  let fd: number;
  try {
    fd = fs.openSync(path, O_WRONLY | O_CREAT | (how.append ? O_APPEND : O_TRUNC) | (how.noFollow ? O_NOFOLLOW : 0), 0o644);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const why =
      err.code === 'ENOENT' ? 'its directory does not exist'
      : err.code === 'EACCES' ? 'permission denied'
      : err.code === 'EISDIR' ? 'it is a directory'
      : err.code === 'ELOOP' ? 'it is a symbolic link'
      : err.message;
    throw new UserError(`cannot write ${path}: ${why}`, 'give -w a path in a writable directory', err.message);
  }
  return fs.createWriteStream('', { fd, autoClose: true });
}

/**
 * Cuts a pcapng file after its last whole block (length fields that agree,
 * nothing past the end): what a process killed in the middle of a write
 * leaves is dropped. Refuses a file that does not start with a section.
 */
function cutAfterWholeBlocks(path: string, noFollow: boolean): void {
  let fd: number;
  try {
    fd = fs.openSync(path, fs.constants.O_RDWR | (noFollow ? fs.constants.O_NOFOLLOW : 0));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw e;
  }
  try {
    const size = fs.fstatSync(fd).size;
    const head = Buffer.alloc(8);
    const tail = Buffer.alloc(4);
    let at = 0;
    while (at + 12 <= size) {
      fs.readSync(fd, head, 0, 8, at);
      if (at === 0 && head.readUInt32LE(0) !== BLOCK.sectionHeader) throw new UserError(`cannot continue ${path}: it is not a pcapng file`, 'move it away, or give another name');
      const total = head.readUInt32LE(4);
      if (total < 12 || total % 4 !== 0 || at + total > size) break;
      fs.readSync(fd, tail, 0, 4, at + total - 4);
      if (tail.readUInt32LE(0) !== total) break;
      at += total;
    }
    if (at < size) fs.ftruncateSync(fd, at);
  } finally {
    fs.closeSync(fd);
  }
}

const pad4 = (n: number) => (n + 3) & ~3;

/** Bytes of an Enhanced Packet Block (pcapng spec 4.3): 12 framing + 20 fixed + padded data + options. */
export function enhancedPacketBlockSize(pkt: CapturedPacket, snaplen: number): number {
  const caplen = Math.min(pkt.data.length, snaplen || pkt.data.length);
  const options: number[] = [];
  if (pkt.direction) options.push(4); // epb_flags
  const comment = packetComment(pkt);
  if (comment) options.push(Buffer.byteLength(comment, 'utf8'));
  const optionBytes = options.reduce((sum, len) => sum + 4 + pad4(len), 0) + (options.length ? 4 : 0); // + opt_endofopt
  return 12 + 20 + pad4(caplen) + optionBytes;
}

/** Bytes of the section header and interface blocks PcapngWriter writes for these, measured by writing them to a counter. */
async function pcapngHeaderSize(comment: string | undefined, interfaces: readonly CaptureInterface[]): Promise<number> {
  let bytes = 0;
  const counter = new Writable({
    write(chunk: Buffer, _encoding, done) {
      bytes += chunk.length;
      done();
    },
  });
  await new PcapngWriter(counter, { comment, interfaces }).close(true);
  return bytes;
}

/** Opens a capture file at `path` in `format` (continued when format.append). A pcap file gets its header at once. */
export function openCaptureFile(path: string, format: FileFormat): CaptureFileWriter {
  if (format.append) {
    if (format.format !== 'pcapng') throw new Error('only pcapng files are continued: a pcap file has one header');
    cutAfterWholeBlocks(path, format.noFollow ?? false);
  }
  return captureFileOn(openFileStream(path, format), path, format, true);
}

/** A capture file on an already open stream (stdout for `-w -`: never ended). */
export function captureFileOn(stream: Writable, path: string, format: FileFormat, endStream: boolean): CaptureFileWriter {
  const interfaces = [...format.interfaces];
  if (format.format === 'pcapng') {
    const w = new PcapngWriter(stream, { comment: format.comment, interfaces });
    // The blocks before a packet are counted with it (they are written then).
    let bytes = 0;
    let counted = 0;
    return {
      path,
      size: () => bytes,
      writePacket: async (pkt) => {
        if (counted < interfaces.length) {
          bytes += (await pcapngHeaderSize(format.comment, interfaces)) - (counted ? await pcapngHeaderSize(format.comment, interfaces.slice(0, counted)) : 0);
          counted = interfaces.length;
        }
        bytes += enhancedPacketBlockSize(pkt, interfaces[pkt.ifIndex]?.snaplen ?? 0);
        await w.writePacket(pkt);
      },
      addInterface: (iface) => {
        interfaces.push(iface);
        w.addInterface(iface);
      },
      flush: () => w.flush(),
      close: async (stats = []) => {
        for (let i = 0; i < stats.length && i < format.interfaces.length; i++) await w.writeStatistics(i, stats[i]);
        await w.close(endStream);
      },
    };
  }
  const snaplen = Math.max(...interfaces.map((i) => i.snaplen));
  // A pcap header's FCS bits (above the link type) are written back, as libpcap writes them.
  const w = new PcapWriter(stream, { linktype: ((interfaces[0]?.linktype ?? 1) | (interfaces[0]?.linktypeExt ?? 0)) >>> 0, snaplen, nanosecond: format.nanosecond });
  // The header now: an empty file is still a valid capture, and size() counts it like tcpdump's ftell does.
  w.writeHeader().catch(() => undefined); // a failure resurfaces on the next write or close
  let bytes = PCAP_FILE_HEADER_SIZE;
  return {
    path,
    size: () => bytes,
    writePacket: (pkt) => {
      bytes += PCAP_RECORD_HEADER_SIZE + Math.min(pkt.data.length, snaplen);
      return w.writePacket(pkt);
    },
    // One link type per pcap file: the caller has turned every packet into it.
    addInterface: () => undefined,
    flush: () => w.flush(),
    close: () => w.close(endStream),
  };
}
