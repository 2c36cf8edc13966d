// netcap replay onto a veth in a namespace this test makes, with tcpdump
// recording on the peer (nanosecond timestamps): every frame arrives, in
// order, and the gaps between them match the trace's. The anchor is Debian's
// tcpreplay, replaying the same 30 s trace onto the same veth in the same
// run: netcap's p99 gap error and total drift are at most tcpreplay's (give
// or take the receive side's noise, RECEIVE_NOISE_NS), at -x 1 and -x 4. Bad input (an interface that is down, raw IP onto
// Ethernet) sends nothing and exits 2; frames larger than the MTU are
// counted, never cut.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { Readable } from 'node:stream';
import * as path from 'node:path';
import { World, type Namespace } from '../../lab/netns';
import { NETCAP } from '../capture/netcap-child';
import { tempDir } from '../output/reference-tools';
import { formatNs } from '../../src/replay/durations';
import { LINKTYPE_RAW } from '../../src/output/linktypes';
import { frameSeq, gapErrors, gappedTrace, numberedFrame, startRecorder, STREAM_PORT, TRACE_START_NS, writeTrace, type GapReport } from './traces';

interface Finished {
  code: number | null;
  stderr: string;
}

/** Runs a tool to its end; `stdin` (a producer's stdout) is piped in through us, so nothing it wrote before the spawn is lost. */
function runTool(argv: string[], timeoutMs: number, stdin?: Readable): Promise<Finished> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0], argv.slice(1), { stdio: [stdin ? 'pipe' : 'ignore', 'ignore', 'pipe'] });
    if (stdin) stdin.pipe(child.stdin!);
    let stderr = '';
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (s: string) => (stderr += s));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    });
  });
}

const netcap = (args: string[], timeoutMs = 60_000, stdin?: Readable): Promise<Finished> => runTool([process.execPath, NETCAP, 'replay', ...args], timeoutMs, stdin);

/**
 * How far apart two single runs' p99 gap errors or drifts may be and still
 * count as equal: the receive side's own noise. tcpdump's host timestamps on
 * a veth give a p50 gap error of 2-20 us to either tool even when frames go
 * out on time, and this VM stalls a vCPU now and then (a sender thread with
 * nothing else to do was seen 2.4 ms late at real-time priority): on a quiet
 * machine one run of either tool can land tens of us either side of the
 * other at the 99th percentile. On a busy one tcpreplay's busy loop is
 * preempted for milliseconds and the margin plays no part.
 */
const RECEIVE_NOISE_NS = 50_000;

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
      assert.ok(ours.p99Ns <= theirs.p99Ns + RECEIVE_NOISE_NS, `-x ${factor}: netcap's p99 gap error ${formatNs(ours.p99Ns)} is at most tcpreplay's ${formatNs(theirs.p99Ns)} (+${formatNs(RECEIVE_NOISE_NS)} of receive noise)`);
      assert.ok(Math.abs(ours.driftNs) <= Math.abs(theirs.driftNs) + RECEIVE_NOISE_NS, `-x ${factor}: netcap's drift ${formatNs(ours.driftNs)} is at most tcpreplay's ${formatNs(theirs.driftNs)} (+${formatNs(RECEIVE_NOISE_NS)} of receive noise)`);
    }
  });
  it('counts frames larger than the MTU (exit 3), weaves in a stream and hand-built frames, stops on SIGTERM; bad input sends nothing (exit 2)', async () => {
    const sized = (sizes: number[]) => sizes.map((size, seq) => ({ ifIndex: 0, tsNs: TRACE_START_NS + BigInt(seq * 20_000_000), data: numberedFrame(seq, { size }), wirelen: size }));
    const big = path.join(tmp.dir, 'big.pcap');
    await writeTrace(big, sized([100, 1514, 1600, 300, 9000, 60]));
    let rec = await startRecorder(ns, 'v1', path.join(tmp.dir, 'big-rx.pcap'));
    const r = await netcap(['-r', big, '-i', 'v0', '--netns', ns.name, '--inject', 'udp,dst=192.0.2.9,dport=5001,payload=hand-built@50ms']);
    let got = (await rec.stop()).packets;
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, /5 sent, 0 ENOBUFS retries, not sent: 2 larger than the MTU/);
    assert.deepEqual(got.map((p) => frameSeq(p.data) ?? p.data.subarray(42).toString()), [0, 1, 'hand-built', 3, 5], 'the others arrive in order, none cut');
    assert.deepEqual(got.map((p) => p.data.length), [100, 1514, 52, 300, 60]);

    // A stream woven in while the background plays.
    const producer = spawn(process.execPath, [path.join(__dirname, 'fixtures', 'stream-producer.js'), '--format', 'json', '--count', '5', '--interval-ms', '60'], { stdio: ['ignore', 'pipe', 'inherit'] });
    const bg = path.join(tmp.dir, 'one-second.pcap');
    await writeTrace(bg, sized(Array<number>(50).fill(200)));
    rec = await startRecorder(ns, 'v1', path.join(tmp.dir, 'stream-rx.pcap'));
    const s = await netcap(['-r', bg, '-i', 'v0', '--netns', ns.name, '--inject-stream', '-'], 60_000, producer.stdout!);
    producer.kill();
    got = (await rec.stop()).packets;
    assert.equal(s.code, 0, s.stderr);
    assert.deepEqual(got.filter((p) => p.data.readUInt16BE(36) === STREAM_PORT).map((p) => frameSeq(p.data)), [0, 1, 2, 3, 4], `every streamed frame, once: ${s.stderr}`);
    assert.equal(got.filter((p) => p.data.readUInt16BE(36) === 5001).length, 50);

    // SIGTERM while frames are queued ahead: those not due yet stay unsent, and the report says so.
    rec = await startRecorder(ns, 'v1', path.join(tmp.dir, 'term-rx.pcap'));
    const child = spawn(process.execPath, [NETCAP, 'replay', '-r', bg, '-i', 'v0', '--netns', ns.name], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => (stderr += chunk));
    while (!/replaying/.test(stderr)) await new Promise((res) => setTimeout(res, 20));
    await new Promise((res) => setTimeout(res, 400));
    child.kill('SIGTERM');
    const termCode = await new Promise<number | null>((resolve) => child.once('close', resolve));
    got = (await rec.stop()).packets;
    assert.equal(termCode, 0, stderr);
    const sent = /sent (\d+) packets .*\(stopped by a signal\)/.exec(stderr);
    assert.ok(sent && Number(sent[1]) > 5 && Number(sent[1]) < 50, stderr);
    assert.match(stderr, new RegExp(`not sent: ${50 - Number(sent[1])} stopped before their time`));
    assert.equal(got.length, Number(sent[1]), 'what the report says went out arrived, nothing more');

    // Raw IP: refused onto Ethernet, sent with --add-ethernet.
    const raw = path.join(tmp.dir, 'raw.pcap');
    await writeTrace(raw, sized([100, 200]).map((p) => ({ ...p, data: p.data.subarray(14), wirelen: p.wirelen - 14 })), { linktype: LINKTYPE_RAW });
    rec = await startRecorder(ns, 'v1', path.join(tmp.dir, 'raw-rx.pcap'));
    const refused = await netcap(['-r', raw, '-i', 'v0', '--netns', ns.name]);
    const added = await netcap(['-r', raw, '-i', 'v0', '--netns', ns.name, '--add-ethernet', '02:00:00:00:00:99']);
    got = (await rec.stop()).packets;
    assert.equal(refused.code, 2, refused.stderr);
    assert.match(refused.stderr, /holds raw IP packets and the output is Ethernet/);
    assert.equal(added.code, 0, added.stderr);
    assert.deepEqual(got.map((p) => p.data.subarray(0, 12).toString('hex')), Array<string>(2).fill(`020000000099${ns.mac('v0').replace(/:/g, '')}`), 'only the --add-ethernet replay arrived, with the header asked for');

    ns.addVeth('d0', 'd1');
    ns.ip(['link', 'set', 'dev', 'd0', 'down']);
    const cases: [string[], RegExp][] = [
      [['-i', 'd0', '--netns', ns.name], /d0 in network namespace .* is down\n\s+bring it up first: ip -n .* link set d0 up/],
      [['-i', 'nosuch0', '--netns', ns.name], /no interface nosuch0 in network namespace/],
      [['-i', 'v0', '--netns', 'nc-no-such-netns'], /no network namespace nc-no-such-netns/],
      [['-i', 'v0', '--netns', ns.name, '--stamp', 'now'], /--stamp applies to the file written with -w/],
    ];
    for (const [args, message] of cases) {
      const bad = await netcap(['-r', big, ...args]);
      assert.equal(bad.code, 2, `${args.join(' ')}: ${bad.stderr}`);
      assert.match(bad.stderr, message);
      assert.doesNotMatch(bad.stderr, /replaying|\n\s+at /, 'refused before anything was sent');
    }
  });
});
