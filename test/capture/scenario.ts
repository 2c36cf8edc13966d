// One capture scenario, as the integration tests run it: start netcap on a
// DPDK app, wait until it is listening, inject numbered frames, stop it, and
// return what it wrote next to what libpcap's own filter selects from the
// injected frames (the reference) and what came out of the far side.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { compileCbpf, libpcapFilter } from '../../src/filter/libpcap';
import { readCaptureFile } from '../../src/output/read-capture';
import type { CaptureFile } from '../../src/output/capture-file';
import type { DpdkApp } from '../../lab/dpdk';
import { tcpFrame, udpFrame } from '../../lab/frames';
import { inject, receive } from '../../lab/inject';
import type { World } from '../../lab/netns';
import { bpfObjectsOf, runNetcap, stillLoaded, tempDir } from './netcap-child';

/** A mix of frames for filters to choose from: TCP to port 80 and 22, UDP, with sizes from 60 to 1400 bytes. */
export function mixedFrames(n: number, opts: { minLength?: number } = {}): Buffer[] {
  const frames: Buffer[] = [];
  for (let i = 0; i < n; i++) {
    const size = [0, 40, 300, 1200][i % 4] + (opts.minLength ?? 0);
    const payload = Buffer.alloc(size + 4);
    payload.writeUInt32BE(i, 0);
    for (let j = 4; j < payload.length; j++) payload[j] = (i * 7 + j) & 0xff;
    const kind = i % 3;
    frames.push(
      kind === 0
        ? tcpFrame({ dstPort: 80, srcPort: 40000 + i, payload, dstMac: '02:00:00:00:0b:01', srcMac: '02:00:00:00:0a:01' })
        : kind === 1
          ? udpFrame({ dstPort: 53, srcPort: 40000 + i, payload, dstMac: '02:00:00:00:0b:01', srcMac: '02:00:00:00:0a:01' })
          : tcpFrame({ dstPort: 22, srcPort: 40000 + i, payload, dstMac: '02:00:00:00:0b:01', srcMac: '02:00:00:00:0a:01' }),
    );
  }
  return frames;
}

export interface ScenarioResult {
  file: CaptureFile;
  /** Injected frames libpcap's filter accepts, each cut to the snap length. */
  expected: Buffer[];
  /** Their lengths on the wire (before the snap length). */
  expectedWirelen: number[];
  injected: Buffer[];
  /** Frames that came out of the other side of the DPDK app. */
  forwarded: Buffer[];
  /** `reverse` frames libpcap's filter accepts, and those of them that came out of a1. */
  expectedReverse: Buffer[];
  reverseForwarded: Buffer[];
  exit: { code: number | null; signal: NodeJS.Signals | null };
  stderr: string;
  /** Program and link ids netcap held while running, and which of them exist after it exited. */
  held: { programs: number[]; links: number[] };
  leftover: { programs: number[]; links: number[] };
}

export interface ScenarioOptions {
  mode?: 'mbuf' | 'raw';
  point: string;
  expression: string;
  frames: Buffer[];
  snaplen?: number;
  /** Stop with -c N instead of SIGINT. */
  count?: number;
  extraArgs?: string[];
  file?: string;
  /** Name the traced program by --binary (every process running it) instead of --pid. */
  byBinary?: boolean;
  /** Frames injected on b1 after `frames` (they come out of a1: port 1 rx, port 0 tx). */
  reverse?: Buffer[];
}

export async function runScenario(world: World, app: DpdkApp, o: ScenarioOptions): Promise<ScenarioResult> {
  const dir = tempDir('scenario');
  try {
    const out = path.join(dir, o.file ?? 'out.pcap');
    const target = o.byBinary ? ['--binary', app.binary] : ['--pid', String(app.pid)];
    const args = [o.mode ?? 'mbuf', '-f', o.point, ...target, '-w', out, ...(o.expression ? ['-e', o.expression] : [])];
    if (o.snaplen !== undefined) args.push('-s', String(o.snaplen));
    if (o.count !== undefined) args.push('-c', String(o.count));
    args.push(...(o.extraArgs ?? []));
    const run = runNetcap(args, world);
    await run.ready();
    const held = bpfObjectsOf(run.child.pid!);
    const reverse = o.reverse ?? [];
    const rx = await receive(app.ns, app.links.b1, { durationMs: 30_000 });
    const back = reverse.length ? await receive(app.ns, app.links.a1, { durationMs: 30_000 }) : undefined;
    await inject(app.ns, app.links.a1, o.frames, { rate: 2000 });
    if (reverse.length) await inject(app.ns, app.links.b1, reverse, { rate: 2000 });
    const arrived = (got: readonly Buffer[], sent: readonly Buffer[]) => got.filter((f) => sent.some((g) => g.equals(f)));
    // Wait until everything came out of the far side (or three seconds passed).
    const until = Date.now() + 3000;
    while (Date.now() < until && (arrived(rx.frames, o.frames).length < o.frames.length || (back && arrived(back.frames, reverse).length < reverse.length))) {
      await new Promise((r) => setTimeout(r, 50));
    }
    await new Promise((r) => setTimeout(r, 200));
    const received = await rx.stop();
    const receivedBack = back ? await back.stop() : { frames: [] };
    const exit = o.count !== undefined ? await Promise.race([run.exited, new Promise<never>((_, rej) => setTimeout(() => rej(new Error(`netcap did not stop after -c ${o.count}:\n${run.stderr()}`)), 10_000))]) : await run.stop('SIGINT');
    // The kernel frees some objects from a workqueue after the last fd
    // closes: allow it a moment before calling anything left over.
    let leftover = stillLoaded(held);
    for (let i = 0; i < 20 && leftover.programs.length + leftover.links.length > 0; i++) {
      await new Promise((r) => setTimeout(r, 100));
      leftover = stillLoaded(held);
    }
    const cbpf = compileCbpf(o.expression, { linktype: 'EN10MB', snaplen: o.snaplen ?? 262144 });
    const accepts = (f: Buffer) => libpcapFilter(cbpf, f, f.length) > 0;
    let selected = o.frames.filter(accepts);
    if (o.count !== undefined) selected = selected.slice(0, o.count);
    const expected = selected.map((f) => f.subarray(0, o.snaplen ?? f.length));
    const file = await readCaptureFile(out);
    return {
      file,
      expected,
      expectedWirelen: selected.map((f) => f.length),
      injected: o.frames,
      forwarded: arrived(received.frames, o.frames),
      expectedReverse: reverse.filter(accepts).map((f) => f.subarray(0, o.snaplen ?? f.length)),
      reverseForwarded: arrived(receivedBack.frames, reverse),
      exit,
      stderr: run.stderr(),
      held,
      leftover,
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
