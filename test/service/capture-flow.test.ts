// Packets through netcap serve, checked with tools nobody here wrote: run-
// time changes over the API while numbered frames flow (one frame splits
// old and new settings, none lost, the dump read by tcpdump), the local
// dump against `tcpdump -i` on the same interface with the same settings,
// the live stream read by `tcpdump -r -` (through netcap remote) against the
// dump, a client joining late, and the mode switched to network and back.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { once } from 'node:events';
import { World, type Namespace } from '../../lab/netns';
import { inject } from '../../lab/inject';
import { tcpFrame } from '../../lab/frames';
import { frameNumber, numberedFrames, numbersByTcpdump, packetsByTcpdump, RECEIVER_MAC, SENDER_MAC, sleep } from '../capture/numbered-frames';
import { NETCAP } from '../capture/netcap-child';
import { readPcapng } from '../../src/output/pcapng-reader';
import { api, startServe, tempDir, type Served } from './serve-process';

const world = new World('srvflow');
let ns: Namespace;
let served: Served;
let tmp: string;
const POINT = 'tracepoint:net:netif_receive_skb';

before(async () => {
  ns = world.addNamespace();
  ns.addVeth('v0', 'v1', { local: { mac: SENDER_MAC }, peer: { mac: RECEIVER_MAC, address: '192.0.2.2/24' } });
  tmp = tempDir('flow');
  served = await startServe({ world });
});

after(async () => {
  await served?.stop();
  if (served) fs.rmSync(served.stateDir, { recursive: true, force: true });
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  await world.destroy();
});

interface View {
  status: string;
  counters: { points: { seen: number; matched: number; lost: number; captured: number }[]; captured: number };
  dump: { files: { name: string }[]; written?: number; flushed?: number };
  stream: { clients: { packets: number; missed: number }[] };
}

async function create(body: Record<string, unknown>): Promise<void> {
  const r = await api(served.url, 'POST', '/captures', { kind: 'skb', points: POINT, iface: 'v1', netns: ns.name, ...body });
  assert.equal(r.status, 201, JSON.stringify(r.body));
}

const view = async (name: string) => (await api<View>(served.url, 'GET', `/captures/${name}`)).body;

async function until(name: string, ok: (v: View) => boolean, what: string, ms = 10_000): Promise<View> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await view(name);
    if (ok(v)) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(v.counters)}`);
    await sleep(50);
  }
}

/** Stops the capture (its dump is closed) and returns the dump's path. */
async function stopAndDump(name: string): Promise<string> {
  const r = await api<View>(served.url, 'POST', `/captures/${name}/stop`);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal(r.body.status, 'stopped');
  return path.join(served.stateDir, 'dumps', name, `${name}.pcapng`);
}

const portOf = (i: number) => 1000 + 1000 * (i % 3);
/** Frames 0..n-1 in turn to ports 1000, 2000 and 3000. */
const mixed = (n: number, size: number) => Array.from({ length: n }, (_, i) => numberedFrames(1, portOf(i), size, i)[0]);

/** The K at which the captured numbers are `before`'s frames below K and `after`'s from K on (see test/capture/library.test.ts). */
function splitPoint(captured: number[], sent: number, wanted: { before: (i: number) => boolean; after: (i: number) => boolean }): number {
  for (let k = 0; k <= sent; k++) {
    const expected: number[] = [];
    for (let i = 0; i < sent; i++) if (i < k ? wanted.before(i) : wanted.after(i)) expected.push(i);
    if (expected.length === captured.length && expected.every((n, j) => n === captured[j])) return k;
  }
  assert.fail(`no frame splits the dump into old and new settings: ${captured.join(',')}`);
}

void test('a filter change over the API while frames flow: one frame splits the dump into old and new filter, none lost', async () => {
  const sent = 3000;
  await create({ name: 'split', filter: 'udp port 1000' });
  const sending = inject(ns, 'v0', mixed(sent, 120), { rate: 3000 });
  await until('split', (v) => v.counters.captured >= 200, 'the first frames of the old filter');
  const r = await api(served.url, 'PATCH', '/captures/split', { filter: 'udp port 2000' });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal(await sending, sent);
  const v = await until('split', (x) => x.counters.points[0].seen === sent, 'every frame seen');
  const file = await stopAndDump('split');
  const numbers = numbersByTcpdump(file);
  const k = splitPoint(numbers, sent, { before: (i) => portOf(i) === 1000, after: (i) => portOf(i) === 2000 });
  assert.ok(k > 0 && k < sent, `the switch happened while frames flowed (frame ${k})`);
  const p = v.counters.points[0];
  assert.equal(p.lost, 0);
  assert.equal(p.matched, numbers.length, 'every match is in the dump');
});

void test('filter and snap length in one change: whole port-1000 frames before one frame, port-2000 frames cut to 64 bytes from it', async () => {
  const sent = 2000;
  await create({ name: 'both', filter: 'udp port 1000' });
  const sending = inject(ns, 'v0', mixed(sent, 300), { rate: 3000 });
  await until('both', (v) => v.counters.captured >= 150, 'the first frames');
  const r = await api(served.url, 'PATCH', '/captures/both', { filter: 'udp port 2000', snaplen: 64 });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  await sending;
  await until('both', (x) => x.counters.points[0].seen === sent, 'every frame seen');
  const packets = packetsByTcpdump(await stopAndDump('both'));
  const numbers = packets.map(frameNumber);
  const k = splitPoint(numbers, sent, { before: (i) => portOf(i) === 1000, after: (i) => portOf(i) === 2000 });
  assert.ok(k > 0 && k < sent, `frame ${k} splits`);
  packets.forEach((p, j) => assert.equal(p.length, numbers[j] < k ? 300 : 64, `frame ${numbers[j]}: ${p.length} bytes`));
});

/** A process's stdout into a file; resolves when it exits. */
function spawnTo(argv: string[], file: string, input?: NodeJS.ReadableStream): { child: ChildProcess; done: Promise<number | null> } {
  const child = spawn(argv[0], argv.slice(1), { stdio: [input ? 'pipe' : 'ignore', fs.openSync(file, 'w'), 'pipe'] });
  world.track(child);
  if (input) input.pipe(child.stdin!);
  return { child, done: once(child, 'close').then(([code]) => code as number | null) };
}

void test('the dump equals what tcpdump -i saw; the stream read live by tcpdump -r - equals the dump; a client joining late gets the interfaces first', async () => {
  const ref = path.join(tmp, 'tcpdump-i.pcap');
  const tcpdump = ns.spawn(['tcpdump', '--immediate-mode', '-i', 'v1', '-Q', 'in', '-U', '-s', '128', '-w', ref, 'udp'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let tcpdumpErr = '';
  tcpdump.stderr!.on('data', (d: Buffer) => (tcpdumpErr += d.toString()));
  while (!/listening on/.test(tcpdumpErr)) await sleep(20);
  await create({ name: 'same', filter: 'udp', snaplen: 128 });
  // Client 1: netcap remote stream | tcpdump -r - -w (libpcap reading the live stream).
  const remote = spawn(process.execPath, [NETCAP, 'remote', 'stream', 'same', '--url', served.url], { stdio: ['ignore', 'pipe', 'pipe'] });
  world.track(remote);
  const viaTcpdump = path.join(tmp, 'stream.pcap');
  const reader = spawnTo(['tcpdump', '-r', '-', '-U', '-w', viaTcpdump], '/dev/null', remote.stdout!);
  await until('same', (v) => v.stream.clients.length === 1, 'the first stream client');
  const frames = [...numberedFrames(150, 5000, 200), tcpFrame({ srcMac: SENDER_MAC, dstMac: RECEIVER_MAC, dstIp: '192.0.2.2', dstPort: 80 })];
  await inject(ns, 'v0', frames.slice(0, 100), { rate: 1000 });
  await until('same', (v) => v.counters.captured === 100, 'the first hundred frames');
  // Client 2 joins in the middle.
  const late = path.join(tmp, 'late.pcapng');
  const curl = spawnTo(['curl', '-sN', `${served.url}/captures/same/stream`], late);
  await until('same', (v) => v.stream.clients.length === 2, 'the late client');
  await inject(ns, 'v0', frames.slice(100), { rate: 1000 });
  const v = await until('same', (x) => x.counters.captured === 150 && x.stream.clients.every((c) => c.missed === 0), 'every udp frame');
  assert.equal(v.counters.points[0].seen, 151);
  await sleep(300);
  tcpdump.kill('SIGINT');
  await once(tcpdump, 'close');
  const dump = await stopAndDump('same');
  assert.equal(await reader.done, 0, 'tcpdump -r - read the stream to its end');
  assert.equal(await curl.done, 0);
  const fromDump = packetsByTcpdump(dump).map((b) => b.toString('hex'));
  const fromTcpdump = packetsByTcpdump(ref).map((b) => b.toString('hex'));
  assert.equal(fromDump.length, 150);
  assert.deepEqual(fromDump, fromTcpdump, 'the dump holds what tcpdump -i saw, byte for byte');
  assert.deepEqual(packetsByTcpdump(viaTcpdump).map((b) => b.toString('hex')), fromDump, 'the stream read by tcpdump -r - equals the dump');
  const lateFile = readPcapng(fs.readFileSync(late));
  assert.equal(lateFile.damage, undefined);
  assert.equal(lateFile.interfaces.length, 1, 'the late client got the interface first');
  const lateHex = lateFile.packets.map((p) => p.data.toString('hex'));
  assert.ok(lateHex.length >= 50 && lateHex.length < 150, `the late client has the frames from when it joined (${lateHex.length})`);
  assert.deepEqual(lateHex, fromDump.slice(fromDump.length - lateHex.length), 'and those are the dump\'s last ones');
  assert.ok(lateFile.statistics.length >= 1, 'the stream ended with statistics');
  assert.equal(lateFile.statistics[0].stats.filterAccepted, 150n);
  assert.match(lateFile.statistics[0].stats.comment ?? "", /this client was sent \d+ and missed 0/);
  const tshark = spawnTo(['tshark', '-r', late], path.join(tmp, 'late.txt'));
  assert.equal(await tshark.done, 0, 'tshark reads the late client\'s stream');
});

void test('an interface capture (Polycube\'s names): the dump equals tcpdump -i -Q in; the direction changes while frames flow, off included, splitting them at one frame each time', async () => {
  const ref = path.join(tmp, 'tcpdump-q-in.pcap');
  const tcpdump = ns.spawn(['tcpdump', '--immediate-mode', '-i', 'v1', '-Q', 'in', '-U', '-s', '262144', '-w', ref, 'udp port 7000'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let tcpdumpErr = '';
  tcpdump.stderr!.on('data', (d: Buffer) => (tcpdumpErr += d.toString()));
  while (!/listening on/.test(tcpdumpErr)) await sleep(20);
  const r = await api<View & { definition: Record<string, unknown> }>(served.url, 'POST', '/captures', { name: 'ifc', iface: 'v1', netns: ns.name, capture: 'ingress', filter: 'udp port 7000', networkmode: false });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  assert.equal(r.body.definition.kind, 'iface', 'an interface and no points is an interface capture, as in Polycube');
  assert.equal(r.body.definition.direction, 'ingress');
  await inject(ns, 'v0', numberedFrames(50, 7000, 150));
  await until('ifc', (v) => v.counters.captured === 50, 'the first frames');
  tcpdump.kill('SIGINT');
  await once(tcpdump, 'close');
  const dumpNow = path.join(tmp, 'ifc-first.pcapng');
  const download = await fetch(`${served.url}/captures/ifc/dump`);
  fs.writeFileSync(dumpNow, Buffer.from(await download.arrayBuffer()));
  assert.deepEqual(packetsByTcpdump(dumpNow).map((b) => b.toString('hex')), packetsByTcpdump(ref).map((b) => b.toString('hex')), 'the dump holds what tcpdump -i v1 -Q in saw');
  // Frames keep coming into v1; the direction goes ingress -> egress (none of them) -> off -> bidirectional.
  const sent = 3000;
  const sending = inject(ns, 'v0', numberedFrames(sent, 7000, 120, 1000), { rate: 3000 });
  const changeTo = async (capture: string, after: number) => {
    await until('ifc', (v) => v.counters.captured >= after, `${after} frames before ${capture}`);
    const c = await api(served.url, 'PATCH', '/captures/ifc', { capture });
    assert.equal(c.status, 200, JSON.stringify(c.body));
  };
  await changeTo('egress', 300);
  await sleep(300);
  await changeTo('off', 0);
  assert.equal((await view('ifc')).status, 'paused', 'off: attached, capturing nothing');
  await sleep(300);
  await changeTo('bidirectional', 0);
  assert.equal(await sending, sent);
  await until('ifc', (v) => v.counters.points.reduce((n, p) => n + p.seen, 0) >= 50 + sent, 'every frame seen');
  const numbers = numbersByTcpdump(await stopAndDump('ifc')).filter((n) => n >= 1000).map((n) => n - 1000);
  // Captured: frames 0..a-1 (ingress), none while egress or off, then b..sent-1 (bidirectional).
  const a = numbers.findIndex((n, i) => n !== i);
  assert.ok(a > 0, `ingress frames first (${a})`);
  const b = numbers[a];
  assert.ok(b > a + 100, `a gap while the direction was egress or off (frames ${a} to ${b - 1})`);
  assert.deepEqual(numbers, [...Array.from({ length: a }, (_, i) => i), ...Array.from({ length: sent - b }, (_, i) => b + i)], 'one frame splits each change, none lost around them');
});

void test('mode network writes nothing on disk; back to local, the dump goes on in a new section', async () => {
  await create({ name: 'modes', filter: 'udp' });
  await inject(ns, 'v0', numberedFrames(10, 5000, 100, 0));
  await until('modes', (v) => v.dump.written === 10, 'ten frames in the dump');
  assert.equal((await api(served.url, 'PATCH', '/captures/modes', { networkmode: true })).status, 200);
  await inject(ns, 'v0', numberedFrames(10, 5000, 100, 10));
  let v = await until('modes', (x) => x.counters.captured === 20, 'ten frames in network mode');
  assert.equal(v.dump.written, undefined, 'no dump is written in network mode');
  assert.equal((await api(served.url, 'PATCH', '/captures/modes', { mode: 'local' })).status, 200);
  await inject(ns, 'v0', numberedFrames(10, 5000, 100, 20));
  v = await until('modes', (x) => x.dump.written === 10 && x.counters.captured === 30, 'ten more in the dump');
  const file = await stopAndDump('modes');
  const back = readPcapng(fs.readFileSync(file));
  assert.equal(back.sections.length, 2, 'the dump was continued by a new section');
  assert.deepEqual(back.packets.map((p) => frameNumber(p.data)), [...Array.from({ length: 10 }, (_, i) => i), ...Array.from({ length: 10 }, (_, i) => 20 + i)]);
  assert.deepEqual(numbersByTcpdump(file), back.packets.map((p) => frameNumber(p.data)), 'tcpdump reads both sections');
});

void test('netcap remote: add with Polycube\'s names, set, show, dump, stop, del', async () => {
  const run = (args: string[]) => {
    const child = spawn(process.execPath, [NETCAP, 'remote', ...args, '--url', served.url], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString('latin1')));
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    return once(child, 'close').then(([code]) => ({ code: code as number, out, err }));
  };
  let r = await run(['add', 'cli', '--kind', 'skb', '-f', POINT, '--iface', 'v1', '--netns', ns.name, 'filter=all', 'snaplen=96', 'networkmode=false']);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /^cli {2}skb .* running .*filter all {2}snaplen 96 {2}mode local/);
  r = await run(['set', 'cli', 'filter=udp port 5000', 'snaplen=80']);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /filter "udp port 5000" {2}snaplen 80/);
  await inject(ns, 'v0', [...numberedFrames(5, 5000, 200), ...numberedFrames(5, 6000, 200, 5)]);
  await until('cli', (v) => v.counters.captured === 5, 'five frames');
  r = await run(['show', 'cli']);
  assert.match(r.out, /seen 10, matched 5, lost 0, captured 5, 400 bytes/);
  r = await run(['set', 'cli', 'snaplen=big']);
  assert.equal(r.code, 2);
  assert.match(r.err, /snaplen=big: not a whole number/);
  r = await run(['set', 'cli', 'filter=udp port']);
  assert.equal(r.code, 2);
  assert.match(r.err, /netcap: bad filter expression "udp port".*\(field filter\)/);
  const dumpFile = path.join(tmp, 'cli.pcapng');
  r = await run(['dump', 'cli', '-w', dumpFile]);
  assert.equal(r.code, 0, r.err);
  assert.deepEqual(numbersByTcpdump(dumpFile), [0, 1, 2, 3, 4], 'the download holds every packet so far');
  r = await run(['stop', 'cli']);
  assert.match(r.out, /stopped/);
  r = await run(['del', 'cli']);
  assert.equal(r.code, 0, r.err);
  r = await run(['show', 'cli']);
  assert.equal(r.code, 2);
  assert.match(r.err, /netcap: no capture named 'cli'/);
});
