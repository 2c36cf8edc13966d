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
import type { PacketBatch } from './packet-batch';
import { PCAP_FILE_HEADER_SIZE, PCAP_RECORD_HEADER_SIZE, PcapWriter } from './pcap-writer';
import { enhancedPacketBlockBytes, PcapngWriter } from './pcapng-writer';

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

/** Bytes of the Enhanced Packet Block of a packet. */
export function enhancedPacketBlockSize(pkt: CapturedPacket, snaplen: number): number {
  const comment = packetComment(pkt);
  return enhancedPacketBlockBytes(Math.min(pkt.data.length, snaplen || pkt.data.length), pkt.direction !== undefined, comment ? Buffer.byteLength(comment, 'utf8') : 0, pkt.verdict !== undefined);
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

/** Opens a capture file at `path` in `format`. A pcap file gets its header at once. */
export function openCaptureFile(path: string, format: FileFormat): CaptureFileWriter {
  return captureFileOn(openFileStream(path), path, format, true);
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
      writeBatch: (batch) => {
        const written = w.writeBatch(batch);
        bytes += written.bytes;
        counted = interfaces.length;
        return written.ready;
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
      return written.ready;
    },
    // One link type per pcap file: the caller has turned every packet into it.
    addInterface: () => undefined,
    flush: () => w.flush(),
    close: () => w.close(endStream),
  };
}
