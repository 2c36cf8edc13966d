// One capture file on disk, pcap or pcapng, behind one small interface, so
// rotation (rotation.ts) and keep-last (keep-last.ts) can open, fill and
// close files without caring about the format. The file is opened
// synchronously, so a path that cannot be written fails at once with a
// UserError, before anything is attached.
import * as fs from 'node:fs';
import type { Writable } from 'node:stream';
import { UserError } from '../errors';
import type { CaptureInterface, CaptureStatistics, CapturedPacket } from './packet';
import { PcapWriter } from './pcap-writer';
import { PcapngWriter } from './pcapng-writer';

export interface FileFormat {
  format: 'pcap' | 'pcapng';
  /** Capture points; a pcap file takes the first's link type and the largest snaplen. */
  interfaces: readonly CaptureInterface[];
  /** pcap: nanosecond timestamps (magic 0xa1b23c4d). pcapng is always ns. */
  nanosecond?: boolean;
  /** pcapng: the section comment (the command line). */
  comment?: string;
}

export interface CaptureFileWriter {
  readonly path: string;
  /** Bytes written so far, buffered ones included (what tcpdump's -C compares: pcap_dump_ftell). */
  size(): number;
  writePacket(pkt: CapturedPacket): Promise<void>;
  flush(): Promise<void>;
  /** Writes the statistics where the format has room (pcapng ISBs), then flushes, fsyncs and closes. */
  close(stats?: readonly CaptureStatistics[]): Promise<void>;
}

/** Opens (creates or truncates, mode 0644) `path` for writing; refuses with a UserError that names the path. */
export function openFileStream(path: string): fs.WriteStream {
  let fd: number;
  try {
    fd = fs.openSync(path, 'w', 0o644);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const why = err.code === 'ENOENT' ? 'its directory does not exist' : err.code === 'EACCES' ? 'permission denied' : err.code === 'EISDIR' ? 'it is a directory' : err.message;
    throw new UserError(`cannot write ${path}: ${why}`, 'give -w a path in a writable directory', err.message);
  }
  return fs.createWriteStream('', { fd, autoClose: true });
}

/** Bytes accepted by a stream: those already written plus those still queued. */
function streamSize(stream: fs.WriteStream): number {
  return stream.bytesWritten + stream.writableLength;
}

/** Opens a capture file at `path` in `format`. A pcap file gets its header at once. */
export function openCaptureFile(path: string, format: FileFormat): CaptureFileWriter {
  const stream = openFileStream(path);
  return captureFileOn(stream, path, format, () => streamSize(stream), true);
}

/** A capture file on an already open stream (stdout for `-w -`: never ended). */
export function captureFileOn(stream: Writable, path: string, format: FileFormat, size: () => number, endStream: boolean): CaptureFileWriter {
  if (format.format === 'pcapng') {
    const w = new PcapngWriter(stream, { comment: format.comment, interfaces: format.interfaces });
    return {
      path,
      size,
      writePacket: (pkt) => w.writePacket(pkt),
      flush: () => w.flush(),
      close: async (stats = []) => {
        for (let i = 0; i < stats.length && i < format.interfaces.length; i++) await w.writeStatistics(i, stats[i]);
        await w.close(endStream);
      },
    };
  }
  const w = new PcapWriter(stream, {
    linktype: format.interfaces[0]?.linktype ?? 1,
    snaplen: Math.max(...format.interfaces.map((i) => i.snaplen)),
    nanosecond: format.nanosecond,
  });
  // The header now: an empty file is still a valid capture, and size() counts it like tcpdump's ftell does.
  void w.writeHeader();
  return {
    path,
    size,
    // pcap has one interface: every packet is interface 0.
    writePacket: (pkt) => w.writePacket(pkt),
    flush: () => w.flush(),
    close: () => w.close(endStream),
  };
}
