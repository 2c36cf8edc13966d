// --inject-stream PATH|-: packets that arrive while the replay runs, from a
// program writing a pcap or pcapng stream or JSON lines ({"data": "<hex>"},
// the shape `netcap read --json` prints), each handed over the moment it is
// complete. The reader runs beside the replay and never holds it up: a slow
// or bursty producer only delays its own packets. The format is recognised
// from the first byte ('{' or whitespace: JSON lines).
import * as fs from 'node:fs';
import * as net from 'node:net';
import type { Readable } from 'node:stream';
import { UserError } from '../errors';
import { openCaptureSource, type ByteSource } from '../output/capture-stream';
import type { CapturedPacket } from '../output/packet';
import type { LinkAdapter } from './link-adapter';

/** Buffered bytes above which the producer is paused (it is read as fast as it writes otherwise). */
const MAX_BUFFERED = 4 << 20;

/** A Readable as a ByteSource: read() takes what has arrived, or waits for more. */
class ReadableSource implements ByteSource {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private ended = false;
  private error: Error | undefined;
  private wake: (() => void) | undefined;

  constructor(private readonly readable: Readable) {
    readable.on('data', (chunk: Buffer) => {
      this.chunks.push(chunk);
      this.buffered += chunk.length;
      if (this.buffered > MAX_BUFFERED) readable.pause();
      this.notify();
    });
    readable.on('end', () => this.finish());
    readable.on('close', () => this.finish());
    readable.on('error', (e: Error) => {
      this.error = e;
      this.finish();
    });
  }

  /** The first byte that read() will return, without taking it; undefined at the end. */
  async peekByte(): Promise<number | undefined> {
    await this.available();
    return this.chunks[0]?.[0];
  }

  async read(buffer: Buffer, offset: number, length: number): Promise<{ bytesRead: number }> {
    await this.available();
    if (this.chunks.length === 0) {
      if (this.error) throw this.error;
      return { bytesRead: 0 };
    }
    const chunk = this.chunks[0];
    const n = Math.min(length, chunk.length);
    chunk.copy(buffer, offset, 0, n);
    if (n === chunk.length) this.chunks.shift();
    else this.chunks[0] = chunk.subarray(n);
    this.buffered -= n;
    if (this.buffered <= MAX_BUFFERED && this.readable.isPaused()) this.readable.resume();
    return { bytesRead: n };
  }

  /** Ends the source: a pending read resolves with nothing. */
  stop(): void {
    this.readable.destroy();
    this.chunks = [];
    this.finish();
  }

  private async available(): Promise<void> {
    while (this.chunks.length === 0 && !this.ended) await new Promise<void>((resolve) => (this.wake = resolve));
  }

  private finish(): void {
    this.ended = true;
    this.notify();
  }

  private notify(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }
}

export interface StreamInjections {
  /** Packets handed over so far. */
  readonly count: number;
  /** What stopped the stream early (bad input), if anything. */
  readonly failure: UserError | undefined;
  /** Resolves when the stream ended (its end, an error, or stop()). */
  readonly done: Promise<void>;
  /** Stops reading. */
  stop(): Promise<void>;
}

/**
 * Opens `path` ('-' is stdin) and calls `onPacket` for each packet as it
 * arrives, its bytes in the output's link type. A FIFO is opened like a
 * pipe (non-blocking reads), so stop() is never held up by a silent producer.
 */
export function readStreamInjections(path: string, link: LinkAdapter, onPacket: (pkt: CapturedPacket) => void): StreamInjections {
  const label = path === '-' ? 'stdin' : path;
  let count = 0;
  let failure: UserError | undefined;
  let source: ReadableSource | undefined;
  let stopped = false;
  const deliver = (data: Buffer, wirelen: number, linktype: number, where: string): void => {
    const out = link.adapt(data, linktype, where);
    count++;
    onPacket({ ifIndex: 0, tsNs: 0n, data: out, wirelen: wirelen + out.length - data.length });
  };
  const run = async (): Promise<void> => {
    const readable = await openReadable(path, () => stopped);
    if (!readable) return;
    source = new ReadableSource(readable);
    if (stopped) source.stop();
    const first = await source.peekByte();
    if (first === undefined) return;
    if (first === 0x7b || first === 0x20 || first === 0x0a || first === 0x09 || first === 0x0d) await readJsonLines(source, label, link.linktype, deliver);
    else {
      const stream = await openCaptureSource(`--inject-stream ${label}`, source, () => Promise.resolve());
      let n = 0;
      for await (const pkt of stream.packets()) {
        n++;
        deliver(pkt.data, pkt.wirelen, stream.info.interfaces[pkt.ifIndex]?.linktype ?? link.linktype, `--inject-stream ${label} (packet ${n})`);
      }
      const damage = stream.info.damage ?? stream.info.warnings[0];
      if (damage && !stopped) throw new UserError(`--inject-stream ${label}: ${damage}`, `the ${n} packets before it were injected`);
    }
  };
  const done = run().catch((e: unknown) => {
    if (stopped) return;
    failure = e instanceof UserError ? e : new UserError(`--inject-stream ${label}: ${(e as Error).message}`, 'the packets read before it were injected');
    source?.stop();
  });
  return {
    get count() {
      return count;
    },
    get failure() {
      return failure;
    },
    done,
    stop: async () => {
      stopped = true;
      source?.stop();
      if (!source && path !== '-') releaseFifoOpen(path);
      await done;
    },
  };
}

/** One JSON object per line with the packet's bytes in hex as "data" (and optionally "wirelen"). */
async function readJsonLines(source: ReadableSource, label: string, linktype: number, deliver: (data: Buffer, wirelen: number, linktype: number, where: string) => void): Promise<void> {
  const buf = Buffer.alloc(64 * 1024);
  let text = '';
  let line = 0;
  for (;;) {
    const { bytesRead } = await source.read(buf, 0, buf.length);
    if (bytesRead === 0) break;
    text += buf.toString('utf8', 0, bytesRead);
    let nl: number;
    while ((nl = text.indexOf('\n')) >= 0) {
      line++;
      jsonLine(text.slice(0, nl), line);
      text = text.slice(nl + 1);
    }
  }
  if (text.trim() !== '') jsonLine(text, line + 1);

  function jsonLine(s: string, n: number): void {
    if (s.trim() === '') return;
    const where = `--inject-stream ${label} line ${n}`;
    let record: unknown;
    try {
      record = JSON.parse(s);
    } catch {
      throw new UserError(`${where} is not JSON`, 'write one object per line: {"data": "<the packet in hex>"}');
    }
    const data = (record as { data?: unknown }).data;
    if (typeof data !== 'string' || !/^([0-9a-fA-F]{2})+$/.test(data)) throw new UserError(`${where} has no "data" of hex bytes`, 'write one object per line: {"data": "<the packet in hex>"}');
    const bytes = Buffer.from(data, 'hex');
    const wirelen = (record as { wirelen?: unknown }).wirelen;
    deliver(bytes, typeof wirelen === 'number' && wirelen >= bytes.length ? wirelen : bytes.length, linktype, where);
  }
}

/**
 * stdin, a FIFO (as a pipe: its reads never block a thread), or a file.
 * Opening a FIFO waits for its writer; `stopped` ends that wait.
 */
async function openReadable(path: string, stopped: () => boolean): Promise<Readable | undefined> {
  if (path === '-') return process.stdin;
  let st: fs.Stats;
  try {
    st = fs.statSync(path);
  } catch (e) {
    throw new UserError(`--inject-stream ${path}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`, 'give a file, a FIFO, or - for stdin');
  }
  if (!st.isFIFO()) return fs.createReadStream(path);
  // A plain fd (no FileHandle, which would close it again when collected):
  // the socket owns it from here.
  const fd = await new Promise<number>((resolve, reject) => fs.open(path, 'r', (e, n) => (e ? reject(e) : resolve(n))));
  if (stopped()) {
    fs.closeSync(fd);
    return undefined;
  }
  return new net.Socket({ fd, readable: true, writable: false });
}

/**
 * Ends an open() of a FIFO still waiting for its writer (it would keep the
 * process alive): a writer that opens and closes at once lets it return,
 * and the reader then finds the stream stopped.
 */
function releaseFifoOpen(path: string): void {
  try {
    if (!fs.statSync(path).isFIFO()) return;
    fs.closeSync(fs.openSync(path, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK));
  } catch {
    // No reader waiting (ENXIO) or the FIFO is gone: nothing to release.
  }
}
