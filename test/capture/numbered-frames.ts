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
  for (let k = 0; k <= sent; k++) {
    const expected: number[] = [];
    for (let i = 0; i < sent; i++) if (i < k ? wanted.before(i) : wanted.after(i)) expected.push(i);
    if (expected.length === captured.length && expected.every((n, j) => n === captured[j])) return k;
  }
  assert.fail(`no frame splits the capture into old and new settings: captured ${captured.join(',')}`);
}
