// Reads a pcap or pcapng file as a stream of packets, a chunk at a time, so
// files of any size (beyond what one Buffer holds: 2 GiB for fs.readFile)
// are filtered in constant memory. Interfaces and statistics fill in as
// their blocks are read; a pcapng interface is known before its packets.
import { promises as fs } from 'node:fs';
import { UserError } from '../errors';
import { CaptureFormatError, type CaptureFile } from './capture-file';
import type { CapturedPacket } from './packet';
import { isPcap, keptCaplen, parsePcapHeader, parsePcapRecordHeader, pcapInterfaces, pcapPacket, truncatedData, truncatedHeader } from './pcap-reader';
import { isPcapng, PcapngParser, truncatedBlock, truncatedBlockHeader } from './pcapng-reader';
import { PCAP_FILE_HEADER_SIZE } from './pcap-writer';

const CHUNK_BYTES = 1 << 20;

/** Where a capture's bytes come from: a file, or any stream read in order (stdin, a pipe). */
export interface ByteSource {
  /** Like FileHandle.read at the current position: resolves with 0 bytes at the end. */
  read(buffer: Buffer, offset: number, length: number, position: null): Promise<{ bytesRead: number }>;
}

/** Sequential reads of exact sizes from a file, through 1 MiB chunks. */
class ChunkedFile {
  private chunk = Buffer.alloc(0);
  private pos = 0;
  private eof = false;
  /** File offset of the next byte read() returns. */
  offset = 0;

  constructor(
    private readonly handle: ByteSource,
    private readonly chunkBytes = CHUNK_BYTES,
  ) {}

  /**
   * The next `n` bytes (fewer only at the end of the file). The result may be
   * a view of a chunk: chunks are never reused, so it stays valid.
   */
  async read(n: number): Promise<Buffer> {
    if (this.chunk.length - this.pos >= n) {
      const out = this.chunk.subarray(this.pos, this.pos + n);
      this.pos += n;
      this.offset += n;
      return out;
    }
    const parts: Buffer[] = [this.chunk.subarray(this.pos)];
    let have = parts[0].length;
    this.chunk = Buffer.alloc(0);
    this.pos = 0;
    while (have < n && !this.eof) {
      const size = Math.max(this.chunkBytes, n - have);
      const buf = Buffer.allocUnsafe(size);
      const { bytesRead } = await this.handle.read(buf, 0, size, null);
      if (bytesRead === 0) {
        this.eof = true;
        break;
      }
      const got = buf.subarray(0, bytesRead);
      const take = Math.min(n - have, got.length);
      parts.push(got.subarray(0, take));
      have += take;
      if (take < got.length) {
        this.chunk = got;
        this.pos = take;
      }
    }
    const out = parts.length === 1 ? parts[0] : Buffer.concat(parts, have);
    this.offset += out.length;
    return out;
  }
}

/**
 * An open capture file: `info` fills in as `packets()` is consumed. A file
 * damaged part way ends the packets early with `info.damage` saying why.
 */
export interface CaptureStream {
  /** Format, interfaces, statistics, sections and warnings (its `packets` stays empty). */
  readonly info: CaptureFile;
  packets(): AsyncGenerator<CapturedPacket>;
  close(): Promise<void>;
}

/** Opens a capture file for streaming; unreadable or foreign files are UserErrors. `chunkBytes` is for tests. */
export async function openCaptureStream(file: string, chunkBytes = CHUNK_BYTES): Promise<CaptureStream> {
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(file, 'r');
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new UserError(`cannot read ${file}: ${err.code === 'ENOENT' ? 'no such file' : err.message}`, 'give the path of a pcap or pcapng file (-r FILE)', err.stack);
  }
  return openCaptureSource(file, handle, () => handle.close().catch(() => undefined), chunkBytes);
}

/**
 * A capture read from any byte source (a pipe's bytes after a sniff of its
 * first bytes, say); `file` names it in errors. Closes the source on a bad header.
 */
export async function openCaptureSource(file: string, source: ByteSource, close: () => Promise<void>, chunkBytes = CHUNK_BYTES): Promise<CaptureStream> {
  const reader = new ChunkedFile(source, chunkBytes);
  try {
    const head = await reader.read(PCAP_FILE_HEADER_SIZE);
    if (isPcapng(head)) return pcapngStream(file, reader, head, close);
    if (isPcap(head)) return pcapStream(reader, head, close);
    throw new CaptureFormatError(head.length < 4 ? `the file is too short (${head.length} bytes) to be a capture` : `unknown file format (starts with 0x${head.subarray(0, 4).toString('hex')})`);
  } catch (e) {
    await close();
    throw asUserError(file, e);
  }
}

function asUserError(file: string, e: unknown): unknown {
  if (e instanceof CaptureFormatError) return new UserError(`${file} is not a capture file netcap can read: ${e.message}`, 'netcap reads pcap (tcpdump -w) and pcapng files', e.stack);
  const err = e as NodeJS.ErrnoException;
  if (err.code === 'EISDIR') return new UserError(`cannot read ${file}: it is a directory`, 'give the path of a pcap or pcapng file (-r FILE)');
  return e;
}

function pcapStream(reader: ChunkedFile, head: Buffer, close: () => Promise<void>): CaptureStream {
  const header = parsePcapHeader(head);
  const info: CaptureFile = { format: 'pcap', nanosecond: header.nanosecond, interfaces: pcapInterfaces(header), packets: [], statistics: [], sections: [], warnings: [] };
  async function* packets(): AsyncGenerator<CapturedPacket> {
    try {
      for (;;) {
        const at = reader.offset;
        const rec = await reader.read(header.recordHeaderSize);
        if (rec.length === 0) return;
        if (rec.length < header.recordHeaderSize) throw new CaptureFormatError(truncatedHeader(at, header, rec.length));
        const record = parsePcapRecordHeader(header, rec, 0);
        const kept = keptCaplen(header, record);
        const data = await reader.read(record.caplen);
        if (data.length < record.caplen) throw new CaptureFormatError(truncatedData(at, record.caplen, data.length));
        yield pcapPacket(header, record, data.subarray(0, kept));
      }
    } catch (e) {
      if (!(e instanceof CaptureFormatError)) throw e;
      info.damage = e.message;
    }
  }
  return { info, packets, close };
}

function pcapngStream(file: string, reader: ChunkedFile, head: Buffer, close: () => Promise<void>): CaptureStream {
  const parser = new PcapngParser();
  const info = parser.file;
  let pending: Buffer = head; // bytes read but not parsed yet
  let pendingOffset = 0;
  async function* packets(): AsyncGenerator<CapturedPacket> {
    try {
      for (;;) {
        if (pending.length < 12) {
          pending = Buffer.concat([pending, await reader.read(12 - pending.length)]);
          if (pending.length === 0) return;
          if (pending.length < 12) {
            info.damage = truncatedBlockHeader(pendingOffset, pending.length);
            return;
          }
        }
        const total = parser.blockLength(pending, 0, pendingOffset);
        if (pending.length < total) {
          const rest = await reader.read(total - pending.length);
          pending = Buffer.concat([pending, rest]);
          if (pending.length < total) {
            info.damage = truncatedBlock(pendingOffset, total, pending.length);
            return;
          }
        }
        const block = pending.subarray(0, total);
        pending = pending.subarray(total);
        const pkt = parser.parseBlock(block, 0, total, pendingOffset);
        pendingOffset += total;
        if (pkt) yield pkt;
      }
    } catch (e) {
      if (!(e instanceof CaptureFormatError)) throw asUserError(file, e);
      info.damage = e.message;
    }
  }
  return { info, packets, close };
}
