// An overloaded ring is never silent. `netcap skb` with a 1 MiB ring is
// stopped (SIGSTOP: a consumer that does not read) while 3 MB of numbered
// frames arrive on a veth in a namespace made here; the kernel side keeps
// matching and counts what the full ring refused. After SIGCONT and SIGINT:
// the summary shows the losses, the pcapng statistics blocks carry them
// (read by tshark's pcapng dissector), the exit status is 3 (0 with
// --loss-ok), and what was captured is a clean subset of what was sent.
// Then a running netcap whose output is slower than the packets (it
// decodes to a stdout nobody reads while 28 MB arrive at 50k frames/s):
// the reader pauses at the capture's bound of records read but not written
// (src/capture/capture.ts MAX_BACKLOG_BYTES), the ring fills, and the same
// three say how many were lost, while what netcap held stayed bounded.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { World, type Namespace } from '../../lab/netns';
import { inject } from '../../lab/inject';
import { runNetcap, type NetcapRun } from './netcap-child';
import { RECEIVER_MAC, SENDER_MAC, numberedFrames, sleep } from './numbered-frames';
import { run, tempDir } from '../output/reference-tools';
import * as fs from 'node:fs';

const tmp = tempDir('losses');
const world = new World('losses');
let ns: Namespace;

before(() => {
  ns = world.addNamespace();
  ns.addVeth('v0', 'v1', { local: { mac: SENDER_MAC }, peer: { mac: RECEIVER_MAC, address: '192.0.2.2/24' } });
});

after(async () => {
  await world.destroy();
  tmp.remove();
});

/** The counters of netcap's summary on stderr. */
function summary(stderr: string): { captured: number; seen: number; matched: number; lost: number } {
  const n = (re: RegExp) => {
    const m = re.exec(stderr);
    assert.ok(m, `${re} in:\n${stderr}`);
    return Number(m[1]);
  };
  return {
    captured: n(/^(\d+) packets? captured$/m),
    seen: n(/^(\d+) packets seen by probes$/m),
    matched: n(/^(\d+) packets matched by filter$/m),
    lost: n(/^(\d+) packets lost in ring$/m),
  };
}

/** Interface Statistics Block counters summed over the file's interfaces, as tshark's pcapng dissector reads them. */
function isbTotals(file: string): { received: number; accepted: number; osDropped: number; delivered: number } {
  const prefix = 'pcapng.options.option.data.interface.';
  const text = run(['tshark', '-X', 'read_format:MIME Files Format', '-r', file, '-T', 'fields', '-e', `${prefix}received`, '-e', `${prefix}accepted_by_filter`, '-e', `${prefix}dropped_by_os`, '-e', `${prefix}delivered_to_user`]);
  const totals = { received: 0, accepted: 0, osDropped: 0, delivered: 0 };
  let blocks = 0;
  for (const line of text.split('\n')) {
    const [received, accepted, osDropped, delivered] = line.split('\t');
    if (!received && !accepted) continue;
    blocks++;
    totals.received += Number(received || 0);
    totals.accepted += Number(accepted || 0);
    totals.osDropped += Number(osDropped || 0);
    totals.delivered += Number(delivered || 0);
  }
  assert.ok(blocks >= 1, `no statistics block in ${file}:\n${text}`);
  return totals;
}

void test('a stopped consumer with a 1 MiB ring: losses in the summary, the pcapng statistics and the exit status', async () => {
  const frames = numberedFrames(3000, 7501, 1000); // 3 MB, three times the ring
  const common = ['skb', '-f', 'tracepoint:net:netif_receive_skb', '-i', 'v1', '--netns', ns.name, '-e', 'udp port 7501', '--ring-size', '1'];
  const files = { strict: path.join(tmp.dir, 'strict.pcapng'), lossOk: path.join(tmp.dir, 'loss-ok.pcapng') };
  const runs: Record<keyof typeof files, NetcapRun> = {
    strict: runNetcap([...common, '-w', files.strict], world),
    lossOk: runNetcap([...common, '-w', files.lossOk, '--loss-ok'], world),
  };
  for (const r of Object.values(runs)) await r.ready();
  for (const r of Object.values(runs)) r.child.kill('SIGSTOP');
  try {
    assert.equal(await inject(ns, 'v0', frames), frames.length);
  } finally {
    for (const r of Object.values(runs)) r.child.kill('SIGCONT');
  }
  await sleep(1000); // let them drain what the ring holds
  for (const [name, r] of Object.entries(runs) as [keyof typeof files, NetcapRun][]) {
    const exit = await r.stop('SIGINT');
    const s = summary(r.stderr());
    assert.equal(exit.code, name === 'strict' ? 3 : 0, `${name}: exit ${exit.code}\n${r.stderr()}`);
    assert.ok(s.lost > 0, `${name}: the ring overflowed, so losses are counted (${JSON.stringify(s)})`);
    assert.equal(s.matched, frames.length, `${name}: every frame sent matched`);
    assert.ok(s.seen >= frames.length);
    assert.equal(s.captured + s.lost, s.matched, `${name}: captured + lost = matched (${JSON.stringify(s)})`);
    // The file: the statistics blocks say the same, and the packets are a clean subset of those sent.
    const isb = isbTotals(files[name]);
    assert.deepEqual(isb, { received: s.seen, accepted: s.matched, osDropped: s.lost, delivered: s.captured }, `${name}: statistics blocks`);
    assert.match(run(['capinfos', files[name]]), new RegExp(`Number of packets:\\s+${s.captured}\\b`));
    const numbers = run(['tshark', '-r', files[name], '-T', 'fields', '-e', 'data.data']).trim().split('\n').map((h) => parseInt(h.slice(0, 8), 16));
    assert.equal(numbers.length, s.captured);
    numbers.forEach((n, i) => assert.ok(n >= 0 && n < frames.length && (i === 0 || n > numbers[i - 1]), `${name}: packet ${i} is frame ${n}`));
  }
});

/** The peak resident set of process `pid` in MiB (VmHWM). */
function peakRssMiB(pid: number): number {
  const m = /^VmHWM:\s+(\d+) kB$/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  assert.ok(m, `VmHWM of ${pid}`);
  return Number(m[1]) / 1024;
}

/** Checks a capture's summary, statistics blocks and file against each other: returns the summary. */
function checkLossesVisible(file: string, stderr: string, sent: number): ReturnType<typeof summary> {
  const s = summary(stderr);
  assert.ok(s.lost > 0, `the ring overflowed, so losses are counted (${JSON.stringify(s)})`);
  assert.equal(s.matched, sent, 'every frame sent matched');
  assert.ok(s.seen >= sent);
  assert.equal(s.captured + s.lost, s.matched, `captured + lost = matched (${JSON.stringify(s)})`);
  const isb = isbTotals(file);
  assert.deepEqual(isb, { received: s.seen, accepted: s.matched, osDropped: s.lost, delivered: s.captured }, 'statistics blocks');
  assert.match(run(['capinfos', file]), new RegExp(`Number of packets:\\s+${s.captured}\\b`));
  const numbers = run(['tshark', '-r', file, '-T', 'fields', '-e', 'data.data']).trim().split('\n').map((h) => parseInt(h.slice(0, 8), 16));
  assert.equal(numbers.length, s.captured);
  numbers.forEach((n, i) => assert.ok(n >= 0 && n < sent && (i === 0 || n > numbers[i - 1]), `packet ${i} is frame ${n}`));
  return s;
}

void test('an output slower than the packets: the reader pauses at its bound, the ring counts the rest; summary, pcapng statistics and exit status 3 say how many were lost', async (t) => {
  const frames = numberedFrames(20_000, 7502, 1400); // 28 MB at 50k frames/s: 70 MB/s, which nobody reading the text can take
  const file = path.join(tmp.dir, 'slow-output.pcapng');
  const r = runNetcap(['skb', '-f', 'tracepoint:net:netif_receive_skb', '-i', 'v1', '--netns', ns.name, '-e', 'udp port 7502', '--ring-size', '1', '-w', file, '--print', '--no-tcpdump', '-t', '-x'], world);
  await r.ready();
  const atStart = peakRssMiB(r.child.pid!);
  // Nobody reads the decoded text: the pipe fills and that output stops taking packets.
  r.child.stdout!.pause();
  let peak: number;
  try {
    assert.equal(await inject(ns, 'v0', frames, { rate: 50_000 }), frames.length);
    await sleep(500);
    peak = peakRssMiB(r.child.pid!);
  } finally {
    r.child.stdout!.resume();
  }
  await sleep(1000); // what was held and what the ring holds goes out
  const exit = await r.stop('SIGINT');
  assert.equal(exit.code, 3, `exit ${exit.code}\n${r.stderr()}`);
  const s = checkLossesVisible(file, r.stderr(), frames.length);
  t.diagnostic(`sent ${frames.length}, netcap took ${s.captured} (${((s.captured * 1400) / 2 ** 20).toFixed(1)} MiB of frames), lost ${s.lost}; peak RSS ${peak.toFixed(0)} MiB, ${atStart.toFixed(0)} MiB when ready`);
  // Held while the output was stuck: the 4 MiB bound crossed by at most one 1 MiB batch, then the 1 MiB ring read at the end; the text on its way (hex, -x: a few KiB a packet) fills the pipe after a hundred packets.
  assert.ok(s.captured * 1400 < 8 << 20, `netcap took ${s.captured} packets (${((s.captured * 1400) / 2 ** 20).toFixed(1)} MiB) of ${frames.length}; peak RSS ${peak.toFixed(0)} MiB, ${atStart.toFixed(0)} MiB at start`);
  assert.ok(peak - atStart < 64, `peak RSS ${peak.toFixed(0)} MiB, ${atStart.toFixed(0)} MiB at start: what an output that fell behind held stayed bounded (${s.captured} packets taken, ${s.lost} lost)`);
});

void test('--help documents exit status 3', async () => {
  const r = runNetcap(['skb', '--help']);
  await r.exited;
  assert.match(r.stdout().toString(), /Exit status:[^]*3 packets were lost in the ring\s+buffer/);
});
