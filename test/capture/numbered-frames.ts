// Numbered UDP frames for output tests (rotation, keep-last, losses): each
// carries its sequence number right after the UDP header, so a capture read
// back by tcpdump tells exactly which frames it holds, in which order, and
// whether any is missing or repeated.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { udpFrame } from '../../lab/frames';
import { tcpdumpDump } from '../output/reference-tools';

/** Where the number sits: Ethernet (14) + IPv4 (20) + UDP (8). */
const NUMBER_OFFSET = 42;

export const SENDER_MAC = '02:00:00:00:7e:01';
export const RECEIVER_MAC = '02:00:00:00:7e:02';

/** `count` UDP frames to `dstPort`, numbered from `first`, each `size` bytes long (at least 60). */
export function numberedFrames(count: number, dstPort: number, size = 200, first = 0): Buffer[] {
  const frames: Buffer[] = [];
  for (let i = first; i < first + count; i++) {
    const payload = Buffer.alloc(Math.max(4, size - NUMBER_OFFSET), i & 0xff);
    payload.writeUInt32BE(i, 0);
    frames.push(udpFrame({ srcMac: SENDER_MAC, dstMac: RECEIVER_MAC, dstIp: '192.0.2.2', dstPort, payload }));
  }
  return frames;
}

/** The sequence number of a frame made by numberedFrames. */
export function frameNumber(frame: Buffer): number {
  return frame.readUInt32BE(NUMBER_OFFSET);
}

/** The packets of a capture file as tcpdump reads them (bytes), in file order. */
export function packetsByTcpdump(file: string): Buffer[] {
  return tcpdumpDump(file, false).map((p) => p.bytes);
}

/** The sequence numbers of the packets of a capture file, read by tcpdump. */
export function numbersByTcpdump(file: string): number[] {
  return packetsByTcpdump(file).map(frameNumber);
}

/** Files in `dir` whose names start with `prefix`, sorted by name. */
export function filesStartingWith(dir: string, prefix: string): string[] {
  return fs.readdirSync(dir).filter((f) => f.startsWith(prefix)).sort().map((f) => path.join(dir, f));
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Waits until `check()` is true (polling every 50 ms), or throws after `timeoutMs` with `what`. */
export async function waitFor(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

/**
 * The split point of a run-time change from `before` to `after` (predicates
 * on the frame number): the K for which the captured numbers are exactly the
 * frames `before` selects below K and `after` selects from K on (none judged
 * by both, none by neither). Fails when no K fits.
 */
export function splitPoint(captured: number[], sent: number, wanted: { before: (i: number) => boolean; after: (i: number) => boolean }): number {
  const starts = phaseStarts(captured, sent, [wanted.before, wanted.after]);
  if (!starts) assert.fail(`no frame splits the capture into old and new settings: captured ${captured.join(',')}`);
  return starts[1];
}

/**
 * Where each of a run of settings took over, for a capture whose settings
 * changed while frames 0..sent-1 flowed in order: the first frame of each
 * phase. `phases[j](i)` says whether phase j's settings capture frame i. The
 * captured numbers must be exactly what the phases select, in order and none
 * twice, each phase judging a non-empty run of frames and every frame judged
 * by exactly one phase; undefined when no such split exists.
 */
export function phaseStarts(captured: readonly number[], sent: number, phases: readonly ((i: number) => boolean)[]): number[] | undefined {
  if (captured.some((n, j) => n < 0 || n >= sent || (j > 0 && n <= captured[j - 1]))) return undefined;
  const got = new Set(captured);
  const fits = (i: number, j: number) => phases[j](i) === got.has(i);
  // reach[i][j]: frames 0..i fit with frame i judged by phase j.
  const reach: boolean[][] = [phases.map((_, j) => j === 0 && fits(0, 0))];
  for (let i = 1; i < sent; i++) reach.push(phases.map((_, j) => fits(i, j) && (reach[i - 1][j] || (j > 0 && reach[i - 1][j - 1]))));
  let j = phases.length - 1;
  if (sent === 0 || !reach[sent - 1][j]) return undefined;
  const starts = new Array<number>(phases.length).fill(0);
  for (let i = sent - 1; i > 0; i--) {
    if (!reach[i - 1][j]) {
      starts[j] = i;
      j--;
    }
  }
  return starts;
}
