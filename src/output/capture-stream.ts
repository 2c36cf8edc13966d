// Reads a pcap or pcapng file as a stream of packets, a chunk at a time, so
// files of any size (beyond what one Buffer holds: 2 GiB for fs.readFile)
// are filtered in constant memory. Interfaces and statistics fill in as
// their blocks are read; a pcapng interface is known before its packets.
//
// The packets of a chunk come as one batch, parsed without a pause: a
// consumer that looks at every packet and keeps a few (netcap read) judges
// each one from the batch's fields, hands the kept ones on as columns over
// the chunk (columns(); CapturedPackets, a timestamp as a bigint and an
// object each, only where an output needs them), and waits for the file
// once per chunk instead of twice per packet.
import * as fsSync from 'node:fs';
import { promises as fs } from 'node:fs';
import { UserError } from '../errors';
import { CaptureFormatError, type CaptureFile } from './capture-file';
import type { CapturedPacket } from './packet';
import type { PacketBatch as PacketColumns } from './packet-batch';
import { PcapColumns } from './pcap-columns';
import { incompleteRecord, isPcap, parsePcapHeader, parsePcapRecordHeader, pcapInterfaces, pcapPacket, PcapRecords, scanPcapRecords, type PcapHeader } from './pcap-reader';
import { isPcapng, PcapngParser, truncatedBlock, truncatedBlockHeader } from './pcapng-reader';
import { PCAP_FILE_HEADER_SIZE } from './pcap-writer';

const CHUNK_BYTES = 1 << 20;

/** Where a capture's bytes come from: a file, or any stream read in order (stdin, a pipe). */
export interface ByteSource {
  /** Like FileHandle.read at the current position: resolves with 0 bytes at the end. */
  read(buffer: Buffer, offset: number, length: number, position: null): Promise<{ bytesRead: number }>;
}

/**
 * A file read in chunks into one buffer: `next(n)` gives the bytes not
 * consumed yet followed by newly read ones, at least `n` of them unless the
 * file ends first; `consume(n)` says how many of those were used. The bytes
 * next() gave stay valid until it is called again: the buffer is reused
 * (fresh memory for every chunk costs page faults, and more than the copies
 * of the few packets a reader keeps).
 */
class ChunkedFile {
  private store: Buffer;
  private pos = 0;
  private end = 0;
  private eof = false;
  /** File offset of the first byte next() returns. */
  offset = 0;

  constructor(
    private readonly handle: ByteSource,
    chunkBytes = CHUNK_BYTES,
  ) {
    this.store = Buffer.allocUnsafe(chunkBytes);
  }

  async next(n: number): Promise<Buffer> {
    if (this.end - this.pos < n && !this.eof) {
      // The unconsumed tail moves to the front (a bigger buffer when a block needs it), the rest is refilled.
      const rest = this.end - this.pos;
      if (n > this.store.length) {
        const bigger = Buffer.allocUnsafe(n);
        this.store.copy(bigger, 0, this.pos, this.end);
        this.store = bigger;
      } else {
        this.store.copyWithin(0, this.pos, this.end);
      }
      this.pos = 0;
      this.end = rest;
      while (this.end < n && !this.eof) {
        const { bytesRead } = await this.handle.read(this.store, this.end, this.store.length - this.end, null);
        if (bytesRead === 0) this.eof = true;
        this.end += bytesRead;
      }
    }
    return this.store.subarray(this.pos, this.end);
  }

  consume(n: number): void {
    this.pos += n;
    this.offset += n;
  }

  /** The source has no more bytes: what next() gives is all there is. */
  get ended(): boolean {
    return this.eof;
  }
}

/**
 * Consecutive packets read from the file at once. Packet i's captured bytes
 * are bytes(i)[start(i), start(i) + caplen(i)), valid until the stream is
 * asked for the next batch; packet(i) makes it a CapturedPacket of its own
 * (its data a copy), which stays valid.
 */
export interface PacketBatch {
  readonly count: number;
  bytes(i: number): Buffer;
  start(i: number): number;
  caplen(i: number): number;
  wirelen(i: number): number;
  /** The packet's interface: an index into the stream's info.interfaces. */
  ifIndex(i: number): number;
  packet(i: number): CapturedPacket;
  /**
   * Packets indices[0..n) as the columns the file outputs write (valid
   * until the next batch), their bytes cut to `snaplen`; absent or
   * undefined when only packet() carries what they hold (a pcapng block's
   * options; see PcapColumns.fill).
   */
  columns?(indices: Uint32Array, n: number, snaplen?: number): PacketColumns | undefined;
}

/**
 * Packets of one pcap chunk (scanPcapRecords): the rest of a record header
 * is read again only for a packet asked for. One per stream, refilled for
 * each chunk.
 */
class PcapBatch implements PacketBatch {
  private buf: Buffer = Buffer.alloc(0);
  readonly records = new PcapRecords();
  private readonly selected: PcapColumns;

  constructor(private readonly header: PcapHeader) {
    this.selected = new PcapColumns(header);
  }

  /** Takes the whole records at the start of `buf`; returns the bytes they span (records.damage: why the next cannot be read). */
  fill(buf: Buffer): number {
    this.buf = buf;
    scanPcapRecords(this.header, buf, this.records);
    return this.records.end;
  }

  get count(): number {
    return this.records.count;
  }

  bytes(): Buffer {
    return this.buf;
  }

  start(i: number): number {
    return this.records.at[i] + this.header.recordHeaderSize;
  }

  caplen(i: number): number {
    return this.records.kept[i];
  }

  wirelen(i: number): number {
    return this.records.wirelen[i];
  }

  ifIndex(): number {
    return 0;
  }

  packet(i: number): CapturedPacket {
    const start = this.start(i);
    return pcapPacket(this.header, parsePcapRecordHeader(this.header, this.buf, this.records.at[i]), Buffer.from(this.buf.subarray(start, start + this.records.kept[i])));
  }

  columns(indices: Uint32Array, n: number, snaplen?: number): PacketColumns | undefined {
    return this.selected.fill(this.buf, this.records, indices, n, snaplen);
  }
}

/** Packets already made (pcapng, whose blocks carry options), their data views of the chunk: the fields are theirs. */
class PacketList implements PacketBatch {
  readonly packets: CapturedPacket[] = [];

  get count(): number {
    return this.packets.length;
  }

  bytes(i: number): Buffer {
    return this.packets[i].data;
  }

  start(): number {
    return 0;
  }

  caplen(i: number): number {
    return this.packets[i].data.length;
  }

  wirelen(i: number): number {
    return this.packets[i].wirelen;
  }

  ifIndex(i: number): number {
    return this.packets[i].ifIndex;
  }

  packet(i: number): CapturedPacket {
    const p = this.packets[i];
    return { ...p, data: Buffer.from(p.data) };
  }
}

/**
 * An open capture file: `info` fills in as the packets are consumed. A file
 * damaged part way ends the packets early with `info.damage` saying why,
 * once the packets before the damage were taken.
 */
export interface CaptureStream {
  /** Format, interfaces, statistics, sections and warnings (its `packets` stays empty). */
  readonly info: CaptureFile;
  /**
   * The packets a batch at a time. A batch never spans a block that
   * describes the file (a pcapng section or interface): while a batch is
   * read, `info.interfaces` is what the file had described before its packets.
   */
  batches(): AsyncGenerator<PacketBatch>;
  /** The packets one at a time. */
  packets(): AsyncGenerator<CapturedPacket>;
  close(): Promise<void>;
}

/**
 * Opens a capture file for streaming ('-': standard input, e.g. a pipe from
 * `netcap skb -w -`); unreadable or foreign files are UserErrors.
 * `chunkBytes` is for tests.
 */
export async function openCaptureStream(file: string, chunkBytes = CHUNK_BYTES): Promise<CaptureStream> {
  if (file === '-') return openCaptureSource(file, stdinSource(), () => Promise.resolve(), chunkBytes);
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(file, 'r');
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const why = err.code === 'ENOENT' ? 'no such file' : err.code === 'EACCES' || err.code === 'EPERM' ? `permission denied (user ${process.getuid?.() ?? '?'} may not read it)` : err.code === 'EISDIR' ? 'it is a directory' : (err.code ?? err.message);
    throw new UserError(`cannot read ${file}: ${why}`, 'give the path of a pcap or pcapng file (-r FILE), or -r - for standard input', err.stack);
  }
  return openCaptureSource(file, fileSource(handle), () => handle.close().catch(() => undefined), chunkBytes);
}

/**
 * Standard input read with read(2) on descriptor 0, without Node's stream
 * machinery (which would switch a pipe to non-blocking mode and read ahead):
 * a read waits in the thread pool until the writer sends more or closes.
 */
function stdinSource(): ByteSource {
  const read = (buffer: Buffer, offset: number, length: number): Promise<{ bytesRead: number }> =>
    new Promise((resolve, reject) => {
      fsSync.read(0, buffer, offset, length, null, (e, n) => {
        if (!e) return resolve({ bytesRead: n });
        // A descriptor another part of the process made non-blocking: wait a little and read again.
        if (e.code === 'EAGAIN') return void setTimeout(() => void read(buffer, offset, length).then(resolve, reject), 5);
        if (e.code === 'EOF') return resolve({ bytesRead: 0 });
        reject(new UserError(`cannot read standard input: ${e.code ?? e.message}`, 'pipe a pcap or pcapng stream into netcap read -r -, e.g. netcap skb ... -w - | netcap read -r -'));
      });
    });
  return { read };
}

/**
 * A file read without the thread pool: a read of a chunk from the page cache
 * takes a fraction of a millisecond, less than handing it to libuv's
 * threads and back (a 100,000-packet file read 3x faster this way). A
 * FIFO or a slow disk would block the event loop for a read; those come
 * through openCaptureSource with a stream of their own.
 */
function fileSource(handle: fs.FileHandle): ByteSource {
  const stat = fsSync.fstatSync(handle.fd);
  if (!stat.isFile()) return handle;
  return { read: (buffer, offset, length) => Promise.resolve({ bytesRead: fsSync.readSync(handle.fd, buffer, offset, length, null) }) };
}

/**
 * A capture read from any byte source (a pipe's bytes after a sniff of its
 * first bytes, say); `file` names it in errors. Closes the source on a bad header.
 */
export async function openCaptureSource(file: string, source: ByteSource, close: () => Promise<void>, chunkBytes = CHUNK_BYTES): Promise<CaptureStream> {
  const reader = new ChunkedFile(source, chunkBytes);
  try {
    const head = (await reader.next(PCAP_FILE_HEADER_SIZE)).subarray(0, PCAP_FILE_HEADER_SIZE);
    if (isPcapng(head)) {
      const parser = new PcapngParser();
      return stream(parser.file, pcapngBatches(file, reader, parser), close);
    }
    if (isPcap(head)) {
      const header = parsePcapHeader(head);
      reader.consume(PCAP_FILE_HEADER_SIZE);
      const info: CaptureFile = { format: 'pcap', nanosecond: header.nanosecond, interfaces: pcapInterfaces(header), packets: [], statistics: [], sections: [], warnings: [] };
      return stream(info, pcapBatches(reader, header, info), close);
    }
    throw new CaptureFormatError(head.length < 4 ? `the ${file === '-' ? 'input' : 'file'} is too short (${head.length} bytes) to be a capture` : `unknown file format (starts with 0x${head.subarray(0, 4).toString('hex')})`);
  } catch (e) {
    await close();
    throw asUserError(file, e);
  }
}

type Batches = () => AsyncGenerator<PacketBatch>;

function stream(info: CaptureFile, batches: Batches, close: () => Promise<void>): CaptureStream {
  return {
    info,
    batches,
    async *packets() {
      for await (const batch of batches()) for (let i = 0; i < batch.count; i++) yield batch.packet(i);
    },
    close,
  };
}

function asUserError(file: string, e: unknown): unknown {
  if (e instanceof CaptureFormatError) return new UserError(`${file} is not a capture file netcap can read: ${e.message}`, 'netcap reads pcap (tcpdump -w) and pcapng files', e.stack);
  const err = e as NodeJS.ErrnoException;
  if (err.code === 'EISDIR') return new UserError(`cannot read ${file}: it is a directory`, 'give the path of a pcap or pcapng file (-r FILE)');
  return e;
}

function pcapBatches(reader: ChunkedFile, header: PcapHeader, info: CaptureFile): Batches {
  const headerSize = header.recordHeaderSize;
  return async function* () {
    const batch = new PcapBatch(header);
    // What the next record needs in one piece: its header, then (once that is here) its data too.
    let need = headerSize;
    for (;;) {
      const buf = await reader.next(need);
      if (buf.length === 0) return;
      const at = batch.fill(buf);
      reader.consume(at);
      if (batch.count > 0) yield batch;
      const rest = buf.length - at;
      // A record libpcap refuses, or the file ends inside one: the packets before it were taken.
      const damage = batch.records.damage ?? (rest > 0 && reader.ended ? incompleteRecord(header, buf, at, reader.offset) : undefined);
      if (damage !== undefined) {
        info.damage = damage;
        return;
      }
      need = rest >= headerSize ? headerSize + parsePcapRecordHeader(header, buf, at).caplen : headerSize;
    }
  };
}

function pcapngBatches(file: string, reader: ChunkedFile, parser: PcapngParser): Batches {
  const info = parser.file;
  return async function* () {
    try {
      for (;;) {
        let buf = await reader.next(12);
        if (buf.length === 0) return;
        const batch = new PacketList();
        let at = 0;
        while (at < buf.length) {
          // Not all of the next block here: consume what was parsed, read on.
          if (buf.length - at < 12) {
            if (at > 0) break;
            info.damage = truncatedBlockHeader(reader.offset, buf.length);
            return;
          }
          // A block that describes the file ends the batch before it (see CaptureStream.batches).
          if (batch.count > 0 && !parser.isPacketBlock(buf, at)) break;
          let pkt: CapturedPacket | undefined;
          try {
            const total = parser.blockLength(buf, at, reader.offset + at);
            if (buf.length - at < total) {
              if (at > 0) break;
              buf = await reader.next(total);
              if (buf.length < total) {
                info.damage = truncatedBlock(reader.offset, total, buf.length);
                return;
              }
            }
            pkt = parser.parseBlock(buf, at, total, reader.offset + at);
            at += total;
          } catch (e) {
            // The packets before the damage go first: a packet block is
            // parsed without changing the parser, so the next batch meets
            // the same damage.
            if (e instanceof CaptureFormatError && batch.count > 0) break;
            throw e;
          }
          if (pkt) batch.packets.push(pkt);
        }
        reader.consume(at);
        if (batch.count > 0) yield batch;
      }
    } catch (e) {
      if (!(e instanceof CaptureFormatError)) throw asUserError(file, e);
      info.damage = e.message;
    }
  };
}
