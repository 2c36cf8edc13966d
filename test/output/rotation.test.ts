// Rotation of -w files (-C, -W, --rotate-seconds = tcpdump's -G), checked
// against tcpdump itself: `netcap read -C/-W` writes the same file names and
// the same bytes as `tcpdump -r IN -w OUT -C/-W`; live `netcap skb` captures
// of numbered frames in a namespace made here keep exactly N files within the
// size bound, start new files on time, and lose or repeat no packet across
// files (the union, read back by tcpdump, equals a single-file capture of the
// same traffic taken at the same time).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PcapWriter } from '../../src/output/pcap-writer';
import { strftime } from '../../src/output/strftime';
import { fileNumberWidth, rotatedFileName } from '../../src/output/rotation';
import { World, type Namespace } from '../../lab/netns';
import { inject } from '../../lab/inject';
import { NETCAP, runNetcap, type NetcapRun } from '../capture/netcap-child';
import { RECEIVER_MAC, SENDER_MAC, filesStartingWith, frameNumber, numberedFrames, numbersByTcpdump, packetsByTcpdump, sleep } from '../capture/numbered-frames';
import { run, tempDir, tcpdumpDump } from './reference-tools';

const tmp = tempDir('rotation');
const world = new World('rotate');
let ns: Namespace;

before(() => {
  ns = world.addNamespace();
  ns.addVeth('v0', 'v1', { local: { mac: SENDER_MAC }, peer: { mac: RECEIVER_MAC, address: '192.0.2.2/24' } });
});

after(async () => {
  await world.destroy();
  tmp.remove();
});

void test('strftime formats file names like date(1) (glibc strftime) for every conversion', () => {
  const formats = ['%Y%m%d-%H%M%S', '%a %A %b %B %h', '%C %d %D %e %F', '%g %G %V %U %W %u %w', '%H %I %j %k %l %m %M', '%p %r %R %s %S %T', '%y %Y %z %%', '%c', '%x %X', 'plain-name'];
  // New year edges for the week numbers, a leap day, midday and midnight.
  const times = [0, 951782400, 1230681600, 1262217600, 1704067199, 1704110400, 1735603200, 1767225599, 1798761600];
  for (const t of times) {
    for (const f of formats) {
      const expected = execFileSync('date', ['-d', `@${t}`, `+${f}`], { env: process.env }).toString().replace(/\n$/, '');
      assert.equal(strftime(f, new Date(t * 1000)), expected, `strftime("${f}") at ${t}`);
    }
  }
});

void test('file numbers: widths of N-1 digits like tcpdump -W, none without -W', () => {
  assert.equal(fileNumberWidth(undefined), 0);
  assert.equal(fileNumberWidth(1), 0);
  assert.equal(fileNumberWidth(3), 1);
  assert.equal(fileNumberWidth(10), 1);
  assert.equal(fileNumberWidth(11), 2);
  assert.equal(rotatedFileName('out', 0, 0), 'out');
  assert.equal(rotatedFileName('out', 2, 0), 'out2');
  assert.equal(rotatedFileName('out', 3, 2), 'out03');
});

/** A pcap of `n` packets of varied sizes (200..1499 bytes), as input for netcap read and tcpdump -r. */
async function inputPcap(file: string, n: number): Promise<void> {
  const w = new PcapWriter(fs.createWriteStream(file), { linktype: 1, snaplen: 65535 });
  for (let i = 0; i < n; i++) {
    const data = numberedFrames(1, 7000, 200 + ((i * 37) % 1300), i)[0];
    await w.writePacket({ ifIndex: 0, tsNs: 1_700_000_000_000_000_000n + BigInt(i) * 1_000_000n, data, wirelen: data.length });
  }
  await w.close();
}

for (const [label, flags] of [
  ['-C 1', ['-C', '1']],
  ['-C 1 -W 3 (a ring that wraps)', ['-C', '1', '-W', '3']],
  ['-C 1 -W 12 (two-digit names)', ['-C', '1', '-W', '12']],
] as const) {
  void test(`netcap read ${label} writes the same files, byte for byte, as tcpdump -r -w ${label}`, async () => {
    const dir = path.join(tmp.dir, `read-${flags.join('')}`);
    const ours = path.join(dir, 'ours');
    const theirs = path.join(dir, 'theirs');
    fs.mkdirSync(ours, { recursive: true });
    fs.mkdirSync(theirs, { recursive: true });
    const input = path.join(dir, 'in.pcap');
    await inputPcap(input, 5000); // ~4.3 MB: five files of 1 MB
    execFileSync(process.execPath, [NETCAP, 'read', '-r', input, '-w', path.join(ours, 'out'), ...flags], { stdio: 'ignore' });
    // -Z root: tcpdump would otherwise drop to user tcpdump before opening the next files.
    execFileSync('tcpdump', ['-Z', 'root', '-r', input, '-w', path.join(theirs, 'out'), ...flags], { stdio: 'ignore' });
    const names = fs.readdirSync(theirs).sort();
    assert.ok(names.length >= 3, `tcpdump wrote ${names.join(', ')}`);
    assert.deepEqual(fs.readdirSync(ours).sort(), names);
    for (const n of names) assert.ok(fs.readFileSync(path.join(ours, n)).equals(fs.readFileSync(path.join(theirs, n))), `${n} differs from tcpdump's`);
  });
}

void test('netcap read -C with pcapng: every file has its own section and interface (capinfos), the union is the single file', async () => {
  const dir = path.join(tmp.dir, 'pcapng');
  fs.mkdirSync(dir);
  const input = path.join(dir, 'in.pcap');
  await inputPcap(input, 2000);
  const single = path.join(dir, 'single.pcapng');
  execFileSync(process.execPath, [NETCAP, 'read', '-r', input, '-w', single, '--format', 'pcapng', 'udp'], { stdio: 'ignore' });
  execFileSync(process.execPath, [NETCAP, 'read', '-r', input, '-w', path.join(dir, 'part.pcapng'), '--format', 'pcapng', '-C', '0.3', 'udp'], { stdio: 'ignore' });
  const parts = byNumber(filesStartingWith(dir, 'part.pcapng'), 'part.pcapng');
  assert.ok(parts.length >= 4, `${parts.length} files`);
  for (const p of parts) {
    const info = run(['capinfos', p]);
    assert.match(info, /Capture application:\s+netcap/, p);
    assert.match(info, /Number of interfaces in file: 1/, p);
    // The bound: larger than 0.3 MB only by the last packet block (at most 32 + 1500 + options bytes).
    assert.ok(fs.statSync(p).size <= 300_000 + 2048, `${p} is ${fs.statSync(p).size} bytes`);
  }
  const union = parts.flatMap(packetsByTcpdump);
  const whole = packetsByTcpdump(single);
  assert.equal(union.length, 2000);
  assert.deepEqual(union.map((b) => b.toString('hex')), whole.map((b) => b.toString('hex')));
});

/** Files named TEMPLATE, TEMPLATE1, TEMPLATE2, ... in numeric order (a name sort puts 10 before 2). */
function byNumber(files: string[], template: string): string[] {
  const n = (f: string) => Number(path.basename(f).slice(template.length) || '0');
  return files.filter((f) => /^\d*$/.test(path.basename(f).slice(template.length))).sort((a, b) => n(a) - n(b));
}

void test('live netcap skb: -C, -C -W, --rotate-seconds and --rotate-seconds -W against a single-file capture of the same traffic', async () => {
  const dir = path.join(tmp.dir, 'live');
  fs.mkdirSync(dir);
  const frames = numberedFrames(1500, 7201, 1000);
  const common = ['skb', '-f', 'tracepoint:net:netif_receive_skb', '-i', 'v1', '--netns', ns.name, '-e', 'udp port 7201'];
  const single = path.join(dir, 'single.pcap');
  const runs: Record<string, NetcapRun> = {
    single: runNetcap([...common, '-w', single], world),
    size: runNetcap([...common, '-w', path.join(dir, 'size.pcap'), '-C', '0.2'], world),
    ring: runNetcap([...common, '-w', path.join(dir, 'ring.pcap'), '-C', '0.2', '-W', '3'], world),
    time: runNetcap([...common, '-w', path.join(dir, 'time-%Y%m%d-%H%M%S.pcap'), '--rotate-seconds', '1'], world),
    limit: runNetcap([...common, '-w', path.join(dir, 'limit-%H%M%S.pcap'), '--rotate-seconds', '1', '-W', '2'], world),
  };
  for (const r of Object.values(runs)) await r.ready(30_000);
  // 400 frames a second for 3.75 s: ~1.5 MB, seven 0.2 MB files, four or five one-second files.
  const started = Date.now();
  assert.equal(await inject(ns, 'v0', frames, { rate: 400 }), frames.length);
  const injectMs = Date.now() - started;
  await sleep(500);
  const exits: Record<string, { code: number | null }> = {};
  for (const [name, r] of Object.entries(runs)) exits[name] = await r.stop('SIGINT'); // the limit run has ended by itself (checked below)
  for (const [name, r] of Object.entries(runs)) assert.equal(exits[name].code, 0, `${name}: ${r.stderr()}`);

  // The reference: the single file holds every frame sent, in order.
  const whole = packetsByTcpdump(single);
  assert.deepEqual(whole.map((b) => b.toString('hex')), frames.map((b) => b.toString('hex')), 'the single-file capture equals what was sent');
  const recordMax = 16 + 1000;

  // -C 0.2: FILE, FILE1, ...; each larger than 0.2 MB by at most one packet; the union is the single file.
  const sizeFiles = byNumber(filesStartingWith(dir, 'size.pcap'), 'size.pcap');
  assert.ok(sizeFiles.length >= 7, `${sizeFiles.length} -C files`);
  sizeFiles.forEach((f, i) => {
    const size = fs.statSync(f).size;
    assert.ok(size <= 200_000 + recordMax, `${f}: ${size} bytes`);
    if (i < sizeFiles.length - 1) assert.ok(size > 200_000, `${f} was closed before reaching the bound (${size} bytes)`);
  });
  assert.deepEqual(sizeFiles.flatMap(numbersByTcpdump), frames.map(frameNumber), 'no packet lost or repeated across -C files');

  // -C 0.2 -W 3: exactly three files (ring.pcap0..2), holding the newest packets without gaps.
  const ringFiles = filesStartingWith(dir, 'ring.pcap');
  assert.deepEqual(ringFiles.map((f) => path.basename(f)), ['ring.pcap0', 'ring.pcap1', 'ring.pcap2']);
  const ringParts = ringFiles.map(numbersByTcpdump).sort((a, b) => a[0] - b[0]);
  const ringNumbers = ringParts.flat();
  const tail = frames.map(frameNumber).slice(-ringNumbers.length);
  assert.deepEqual(ringNumbers, tail, 'the ring holds the last packets, contiguous');
  for (const f of ringFiles) assert.ok(fs.statSync(f).size <= 200_000 + recordMax, `${f}: ${fs.statSync(f).size} bytes`);
  // The same partition as the -C run's last three files (slot k holds file j with j mod 3 = k).
  const lastThree = sizeFiles.slice(-3);
  for (const f of lastThree) {
    const j = sizeFiles.indexOf(f);
    assert.deepEqual(numbersByTcpdump(path.join(dir, `ring.pcap${j % 3}`)), numbersByTcpdump(f), `ring slot ${j % 3} = ${path.basename(f)}`);
  }

  // --rotate-seconds 1: strftime names, a new file about every second of traffic, each spanning at most a second.
  const timeFiles = filesStartingWith(dir, 'time-');
  for (const f of timeFiles) assert.match(path.basename(f), /^time-\d{8}-\d{6}\.pcap$/);
  const withPackets = timeFiles.map((f) => ({ f, dump: tcpdumpDump(f, false) })).filter((x) => x.dump.length > 0);
  const seconds = injectMs / 1000;
  assert.ok(withPackets.length >= Math.floor(seconds) && withPackets.length <= Math.ceil(seconds) + 1, `${withPackets.length} files with packets over ${seconds} s`);
  // tcpdump's "seconds.micros" as whole microseconds (exact, unlike a float of the text).
  const micros = (time: string) => Number(time.split('.')[0]) * 1e6 + Number(time.split('.')[1]);
  const firstTimes = withPackets.map((x) => micros(x.dump[0].time));
  for (const x of withPackets) {
    const span = micros(x.dump[x.dump.length - 1].time) - micros(x.dump[0].time);
    assert.ok(span <= 1e6, `${x.f} spans ${span} µs`); // < 1 s in ns; the µs truncation can add one
  }
  // Named by the time it was opened: for rotated files, the time of their first packet.
  for (const x of withPackets.slice(1)) {
    const first = Number(x.dump[0].time.split('.')[0]);
    assert.equal(path.basename(x.f), `time-${strftime('%Y%m%d-%H%M%S', new Date(first * 1000))}.pcap`);
  }
  // From the second file on, each was opened by the first packet at least a second after the
  // previous opening, and by the first one: the previous file's last packet is less than a
  // second after its opening (the first file was opened at start, before the traffic).
  for (let i = 2; i < firstTimes.length; i++) {
    assert.ok(firstTimes[i] - firstTimes[i - 1] >= 1e6, `file ${i} started ${firstTimes[i] - firstTimes[i - 1]} µs after the previous one`);
    const prev = withPackets[i - 1].dump;
    assert.ok(micros(prev[prev.length - 1].time) - firstTimes[i - 1] <= 1e6, `file ${i - 1} holds a packet from its next second`);
  }
  assert.deepEqual(withPackets.flatMap((x) => x.dump.map((p) => frameNumber(p.bytes))), frames.map(frameNumber), 'no packet lost or repeated across time files');

  // --rotate-seconds 1 -W 2: two files, then netcap ends by itself (exit 0), like tcpdump -G 1 -W 2.
  assert.equal(filesStartingWith(dir, 'limit-').length, 2, filesStartingWith(dir, 'limit-').join(', '));
  assert.match(runs.limit.stderr(), /maximum file limit reached/);
  const limited = filesStartingWith(dir, 'limit-').flatMap(numbersByTcpdump);
  assert.ok(limited.length > 0 && limited.length < frames.length, `${limited.length} packets before the limit`);
  assert.deepEqual(limited, frames.map(frameNumber).slice(0, limited.length), 'the files hold the first packets, contiguous');
});
