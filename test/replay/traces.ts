// Traces the replay tests play back, and what they measure on the far side:
// numbered UDP frames with chosen gaps (so every received frame says which
// one it is), written with nanosecond timestamps; a tcpdump on a veth peer
// recording with nanosecond timestamps; gap errors and drift against the
// original spacing.
import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import { udpFrame } from '../../lab/frames';
import type { Namespace } from '../../lab/netns';
import { PcapWriter } from '../../src/output/pcap-writer';
import { readCaptureFile } from '../../src/output/read-capture';
import type { CapturedPacket } from '../../src/output/packet';

export const TRACE_START_NS = 1_700_000_000_000_000_000n;

/** UDP destination port of the frames fixtures/stream-producer.ts streams. */
export const STREAM_PORT = 7001;

/** A UDP frame carrying `seq` (and a marker) in its first payload bytes, `size` bytes long at least. */
export function numberedFrame(seq: number, opts: { dstPort?: number; size?: number; srcMac?: string; dstMac?: string } = {}): Buffer {
  const payload = Buffer.alloc(Math.max(12, (opts.size ?? 60) - 42));
  payload.write('NCRP', 0, 'latin1');
  payload.writeUInt32BE(seq, 4);
  return udpFrame({ dstPort: opts.dstPort ?? 5001, srcPort: 40000, payload, srcMac: opts.srcMac, dstMac: opts.dstMac });
}

/** The sequence number of a numberedFrame, or undefined for any other frame. */
export function frameSeq(frame: Buffer): number | undefined {
  if (frame.length < 50 || frame.toString('latin1', 42, 46) !== 'NCRP') return undefined;
  return frame.readUInt32BE(46);
}

/** Writes packets to a pcap file (nanosecond timestamps unless told otherwise). */
export async function writeTrace(file: string, packets: CapturedPacket[], opts: { linktype?: number; nanosecond?: boolean } = {}): Promise<void> {
  const w = new PcapWriter(fs.createWriteStream(file), { linktype: opts.linktype ?? 1, snaplen: 262144, nanosecond: opts.nanosecond ?? true });
  for (const p of packets) await w.writePacket(p);
  await w.close();
}

/** A small deterministic generator (xorshift32), so a trace is the same on every run. */
export function random(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 0x100000000;
  };
}

/**
 * Numbered frames whose gaps are drawn from `gapsNs` (seeded), until the
 * trace spans at least `spanNs`: sub-100 us gaps (the spin), a few ms, tens
 * of ms (sleeps).
 */
export function gappedTrace(spanNs: number, gapsNs: readonly number[], seed = 14): CapturedPacket[] {
  const next = random(seed);
  const out: CapturedPacket[] = [];
  let t = 0;
  for (let seq = 0; t < spanNs || out.length < 2; seq++) {
    const data = numberedFrame(seq, { size: 60 + Math.floor(next() * 400) });
    out.push({ ifIndex: 0, tsNs: TRACE_START_NS + BigInt(t), data, wirelen: data.length });
    t += gapsNs[Math.floor(next() * gapsNs.length)];
  }
  return out;
}

export interface Recorder {
  /** Stops tcpdump (after `settleMs` for the last frames) and reads what it wrote; `stats` is its closing line(s). */
  stop(settleMs?: number): Promise<{ packets: CapturedPacket[]; stats: string }>;
}

/**
 * tcpdump on `ifname` in `ns` writing nanosecond timestamps to `file`;
 * resolves once it is listening. A veth has host timestamps only (tcpdump
 * -J lists "host"; -j adapter_unsynced falls back to them with a warning),
 * taken by the receive path in the sender's context (netif_rx with
 * tstamp_prequeue), so they are what the peer sees.
 */
export async function startRecorder(ns: Namespace, ifname: string, file: string): Promise<Recorder> {
  const child: ChildProcess = ns.spawn(['tcpdump', '-i', ifname, '-n', '-B', '16384', '--immediate-mode', '-U', '--time-stamp-precision', 'nano', '-w', file, 'udp']);
  let stderr = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`tcpdump on ${ifname} did not start: ${stderr}`)), 10_000);
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (s: string) => {
      stderr += s;
      if (/listening on/.test(stderr)) {
        clearTimeout(timer);
        resolve();
      }
    });
    void exited.then(() => reject(new Error(`tcpdump on ${ifname} exited: ${stderr}`)));
  });
  return {
    stop: async (settleMs = 300) => {
      await new Promise((r) => setTimeout(r, settleMs));
      child.kill('SIGINT');
      await exited;
      const stats = stderr.split('\n').filter((l) => /packets? (captured|received|dropped)/.test(l)).join(', ');
      return { packets: (await readCaptureFile(file)).packets, stats };
    },
  };
}

export interface GapReport {
  /** Received frames in order, by sequence number. */
  seqs: number[];
  /** |received gap - original gap / factor| for consecutive frames, ns. */
  p50Ns: number;
  p99Ns: number;
  maxNs: number;
  /** (last - first received) - (last - first original) / factor, ns. */
  driftNs: number;
}

function quantile(sorted: number[], q: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] : 0;
}

/** Gap errors of a received capture against the trace it replays at `factor`. */
export function gapErrors(trace: CapturedPacket[], received: CapturedPacket[], factor: number): GapReport {
  const frames = received.map((p) => ({ seq: frameSeq(p.data), ts: p.tsNs })).filter((f): f is { seq: number; ts: bigint } => f.seq !== undefined);
  const errors: number[] = [];
  for (let i = 1; i < frames.length; i++) {
    const original = Number(trace[frames[i].seq].tsNs - trace[frames[i - 1].seq].tsNs) / factor;
    errors.push(Math.abs(Number(frames[i].ts - frames[i - 1].ts) - original));
  }
  errors.sort((a, b) => a - b);
  const first = frames[0];
  const last = frames[frames.length - 1];
  const driftNs = frames.length < 2 ? 0 : Number(last.ts - first.ts) - Number(trace[last.seq].tsNs - trace[first.seq].tsNs) / factor;
  return { seqs: frames.map((f) => f.seq), p50Ns: quantile(errors, 0.5), p99Ns: quantile(errors, 0.99), maxNs: errors[errors.length - 1] ?? 0, driftNs };
}
