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
import type { CaptureInterface, CaptureStatistics, CapturedPacket } from './packet';
import type { PacketBatch } from './packet-batch';
import { PCAP_FILE_HEADER_SIZE, PCAP_RECORD_HEADER_SIZE, PcapWriter } from './pcap-writer';
import { PcapngWriter } from './pcapng-writer';
import { enhancedPacketBlockLength } from './pcapng-blocks';
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
  /**
   * Writes a batch's packets at once (no object per packet), as writePacket
   * would one by one; a pcap file writes the packets of interfaces
   * `behindEthernet(ifIndex)` names behind a synthesised Ethernet header.
   * Resolves when the file can take more.
   */
  writeBatch(batch: PacketBatch, behindEthernet?: (ifIndex: number) => boolean): Promise<void>;
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
    throw new UserError(`cannot write ${path}: ${openFailure(path, err)}`, 'give -w a path in a writable directory', err.message);
  }
  const kernelFs = kernelFileSystem(path);
  if (kernelFs && fs.fstatSync(fd).isFile()) {
    fs.closeSync(fd);
    throw new UserError(`cannot write ${path}: it is a file of the kernel's ${kernelFs} file system, not a place for a capture`, 'give -w a path in a writable directory');
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

// statfs(2) f_type of the kernel's virtual file systems (include/uapi/linux/magic.h).
const KERNEL_FILE_SYSTEMS = new Map<number, string>([
  [0x9fa0, 'proc'],
  [0x62656572, 'sysfs'],
  [0x74726163, 'tracefs'],
  [0x64626720, 'debugfs'],
  [0xcafe4a11, 'bpf'],
  [0x63677270, 'cgroup2'],
]);

/** The name of the kernel file system `path` (or its directory) is on, when it is one. */
function kernelFileSystem(path: string): string | undefined {
  for (const p of [path, dirname(path)]) {
    try {
      return KERNEL_FILE_SYSTEMS.get(fs.statfsSync(p).type);
    } catch {
      // try the directory
    }
  }
  return undefined;
}

/** Why open(2) refused, in words, naming what to change. */
function openFailure(path: string, err: NodeJS.ErrnoException): string {
  switch (err.code) {
    case 'ENOENT': {
      const kernelFs = kernelFileSystem(path);
      if (kernelFs) return `${dirname(path)} is on the kernel's ${kernelFs} file system, where no file can be created`;
      return fs.existsSync(dirname(path)) ? 'the file cannot be created there' : `its directory ${dirname(path)} does not exist`;
    }
    case 'EACCES':
    case 'EPERM':
      return `permission denied (user ${process.getuid?.() ?? '?'} may not write there)`;
    case 'EISDIR':
      return 'it is a directory (give a file name in it, e.g. -w DIR/out.pcap)';
    case 'EROFS':
      return 'the file system is read-only';
    case 'ENOSPC':
    case 'EDQUOT':
      return 'the disk is full';
    case 'ENOTDIR':
      return 'a part of the path is not a directory';
    case 'ELOOP':
      return 'it is a symbolic link';
    default:
      return err.code ?? err.message;
  }
}

function dirname(path: string): string {
  const i = path.replace(/\/+$/, '').lastIndexOf('/');
  return i < 0 ? '.' : i === 0 ? '/' : path.slice(0, i);
}

/**
 * Where each recently written packet ends in the file, so a write that fails
 * part way (a full disk) can cut the file back to the last whole packet and
 * say how many it holds. Only the last WINDOW bytes matter: what the stream
 * has not written yet is at most a few coalesced chunks (StreamWriter hands
 * over 256 KiB at a time and waits for the stream to drain), so 16 MiB is
 * sixty times that. The ends are kept in a circular Float64Array that grows
 * only while every end it holds is inside the window, and is reused from
 * then on: a JavaScript list pushed to and compacted by slice() made a
 * large array every few thousand packets, whose fresh pages the kernel
 * zeroed (a fifth of a 100k pps pcap capture's CPU with the list's own
 * work, issue 18).
 */
export class WriteProgress {
  private static readonly WINDOW = 16 << 20;
  /** ends[(first + k) & mask] for k < count: the packets' end offsets, oldest first. */
  private ends = new Float64Array(4096);
  private mask = this.ends.length - 1;
  private first = 0;
  private count = 0;
  /** Packets before the oldest end kept. */
  private base = 0;

  /** The next packet ends at `offset`. */
  packetEnds(offset: number): void {
    if (this.count === this.ends.length) {
      if (offset - this.ends[this.first] > WriteProgress.WINDOW) {
        this.first = (this.first + 1) & this.mask;
        this.count--;
        this.base++;
      } else this.grow();
    }
    this.ends[(this.first + this.count) & this.mask] = offset;
    this.count++;
  }

  /** The next `count` packets, of `sizes[i]` bytes, follow one another from `offset` (a loop of its own: DEVELOPERS.md, the fast path). */
  packetsEnd(offset: number, sizes: Uint32Array, count: number): void {
    let end = offset;
    for (let i = 0; i < count; i++) this.packetEnds((end += sizes[i]));
  }

  /** The number of whole packets within `size` bytes, and where they end (undefined: not known). */
  wholePackets(size: number, headerEnd: number): { packets: number; end: number } | undefined {
    let k = this.count - 1;
    while (k >= 0 && this.ends[(this.first + k) & this.mask] > size) k--;
    if (k >= 0) return { packets: this.base + k + 1, end: this.ends[(this.first + k) & this.mask] };
    // Not even the first packet: the header alone, or nothing at all (no valid file either way before the header is whole).
    if (this.base === 0) return { packets: 0, end: size >= headerEnd ? headerEnd : 0 };
    return undefined;
  }

  /** Twice the room, the ends kept in order from index 0. */
  private grow(): void {
    const grown = new Float64Array(2 * this.ends.length);
    for (let k = 0; k < this.count; k++) grown[k] = this.ends[(this.first + k) & this.mask];
    this.ends = grown;
    this.mask = grown.length - 1;
    this.first = 0;
  }
}

/**
 * A write that failed (ENOSPC, EDQUOT, EFBIG, EIO...) as a UserError naming
 * the file: the file is cut back to its last whole packet, so it stays a
 * valid capture, and the message says how many packets it holds.
 */
function writeFailure(path: string, e: unknown, progress: WriteProgress, headerEnd: number): unknown {
  if (e instanceof UserError) return e;
  const err = e as NodeJS.ErrnoException;
  if (typeof err?.code !== 'string' || !err.code.startsWith('E')) return e;
  const what = err.code === 'ENOSPC' || err.code === 'EDQUOT' ? 'disk full' : err.code === 'EFBIG' ? 'the file grew too large for its file system' : `write failed (${err.code})`;
  let held: { packets: number; end: number } | undefined;
  try {
    held = progress.wholePackets(fs.statSync(path).size, headerEnd);
    if (held) fs.truncateSync(path, held.end);
  } catch {
    held = undefined;
  }
  const n = (k: number) => `${k} packet${k === 1 ? '' : 's'}`;
  const holds = !held ? '' : held.packets === 0 ? ` before its first packet; the file holds none` : ` after ${n(held.packets)}; the file holds the first ${held.packets}`;
  return new UserError(
    `${path}: ${what}${holds}`,
    err.code === 'ENOSPC' || err.code === 'EDQUOT' ? 'free some space or write elsewhere (-w), or keep the files small with -C SIZE -W COUNT' : 'write the capture elsewhere (-w)',
    err.message,
  );
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
  const w = formatWriterOn(stream, path, format, endStream);
  // Only a file of our own can be cut back and named; a stream is reported as it failed.
  if (!endStream) return { ...w, writeBatch: (batch, behindEthernet) => w.writeBatch(batch, behindEthernet).ready };
  const progress = new WriteProgress();
  let headerEnd = format.format === 'pcap' ? PCAP_FILE_HEADER_SIZE : 0;
  const named = <T>(p: Promise<T>): Promise<T> => p.catch((e: unknown) => Promise.reject(writeFailure(path, e, progress, headerEnd)));
  return {
    ...w,
    writePacket: async (pkt) => {
      await named(w.writePacket(pkt));
      // The blocks before the first packet (pcapng's header) end where it begins.
      if (headerEnd === 0) headerEnd = w.size() - packetBytes(pkt, format);
      progress.packetEnds(w.size());
    },
    writeBatch: async (batch, behindEthernet) => {
      const written = w.writeBatch(batch, behindEthernet);
      // Where each packet ends: after the blocks written before the first (pcapng's header), every packet's bytes.
      const end = w.size() - written.bytes + written.header;
      if (headerEnd === 0 && batch.count > 0) headerEnd = end;
      progress.packetsEnd(end, written.sizes, batch.count);
      await named(written.ready);
    },
    flush: () => named(w.flush()),
    close: (stats) => named(w.close(stats)),
  };
}

/** The bytes a packet takes in a pcap file (pcapng files count their own blocks). */
function packetBytes(pkt: CapturedPacket, format: FileFormat): number {
  if (format.format === 'pcap') return PCAP_RECORD_HEADER_SIZE + Math.min(pkt.data.length, Math.max(...format.interfaces.map((i) => i.snaplen)));
  return enhancedPacketBlockLength(pkt, format.interfaces[pkt.ifIndex]?.snaplen ?? 0);
}

/** What a format writer's batch wrote (pcap-writer.ts, pcapng-writer.ts): all its bytes, those of the blocks before its first packet, each packet's, and when the file can take more. */
interface BatchWritten {
  bytes: number;
  header: number;
  sizes: Uint32Array;
  ready: Promise<void>;
}

interface FormatWriter extends Omit<CaptureFileWriter, 'writeBatch'> {
  writeBatch(batch: PacketBatch, behindEthernet?: (ifIndex: number) => boolean): BatchWritten;
}

function formatWriterOn(stream: Writable, path: string, format: FileFormat, endStream: boolean): FormatWriter {
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
        bytes += enhancedPacketBlockLength(pkt, interfaces[pkt.ifIndex]?.snaplen ?? 0);
        await w.writePacket(pkt);
      },
      writeBatch: (batch) => {
        const written = w.writeBatch(batch);
        bytes += written.bytes;
        counted = interfaces.length;
        return written;
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
    writeBatch: (batch, behindEthernet) => {
      const written = w.writeBatch(batch, behindEthernet);
      bytes += written.bytes;
      return written;
    },
    // One link type per pcap file: the caller has turned every packet into it.
    addInterface: () => undefined,
    flush: () => w.flush(),
    close: () => w.close(endStream),
  };
}
