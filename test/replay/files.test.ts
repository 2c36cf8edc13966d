// netcap replay into files, against tools nobody here wrote: the output of
// `-r A -w OUT --inject B@T` reads back (tcpdump -r --nano -xx) exactly like
// `mergecap A B'` where B' is B shifted by `editcap -t` to start at T;
// streamed packets appear exactly once, in time order, and a producer that
// stalls mid-record never holds up the background; hand-built packets have
// checksums tshark calls good. Every stop (-c, --duration, SIGTERM) leaves a
// complete file and a report; bad input is one clear line and exit 2.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { NETCAP } from '../capture/netcap-child';
import { run, tcpdumpDump, tempDir } from '../output/reference-tools';
import { readCaptureFile } from '../../src/output/read-capture';
import type { CapturedPacket } from '../../src/output/packet';
import { LINKTYPE_RAW } from '../../src/output/linktypes';
import { frameSeq, numberedFrame, STREAM_PORT, TRACE_START_NS, writeTrace } from './traces';

const tmp = tempDir('replay-files');
after(() => tmp.remove());
const file = (name: string): string => path.join(tmp.dir, name);

function netcap(args: string[]): { status: number | null; stderr: string } {
  const r = spawnSync(process.execPath, [NETCAP, 'replay', ...args], { encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stderr: r.stderr };
}

/** numbered frames to `port`, `gapNs` apart from `startNs`. */
function frames(count: number, gapNs: number, port: number, startNs: bigint): CapturedPacket[] {
  return Array.from({ length: count }, (_, seq) => {
    const data = numberedFrame(seq, { dstPort: port, size: 60 + (seq % 7) * 50 });
    return { ifIndex: 0, tsNs: startNs + BigInt(seq * gapNs), data, wirelen: data.length };
  });
}

const A_COUNT = 200;
const A_GAP_NS = 10_000_000; // 2 s of background
const B_START_NS = 1_600_000_000_123_456_789n; // another epoch: only its own spacing counts
const background = file('a.pcap');
const injected = file('b.pcap');

before(async () => {
  await writeTrace(background, frames(A_COUNT, A_GAP_NS, 5001, TRACE_START_NS));
  await writeTrace(injected, frames(20, 7_000_001, 6001, B_START_NS));
});

/** "S.NNNNNNNNN" seconds for editcap -t. */
function seconds(ns: bigint): string {
  const neg = ns < 0n;
  const a = neg ? -ns : ns;
  return `${neg ? '-' : ''}${a / 1_000_000_000n}.${(a % 1_000_000_000n).toString().padStart(9, '0')}`;
}

const noStack = (stderr: string): boolean => !/\n\s+at .+\(.*:\d+:\d+\)/.test(stderr) && !/node:internal/.test(stderr);

describe('netcap replay -w', { timeout: 180_000 }, () => {
  it('-r A --inject B@T equals mergecap of A and B shifted to T (editcap -t), at top speed and at -x 8', () => {
    const atNs = 503_100_000n; // between two background packets: no timestamp ties for mergecap to order
    const shifted = file('b-shifted.pcap');
    run(['editcap', '-F', 'nsecpcap', '-t', seconds(TRACE_START_NS + atNs - B_START_NS), injected, shifted]);
    const ref = file('merged-ref.pcap');
    run(['mergecap', '-F', 'nsecpcap', '-w', ref, background, shifted]);
    const want = tcpdumpDump(ref, true);
    assert.equal(want.length, A_COUNT + 20);
    for (const speed of [['--topspeed'], ['-x', '8']]) {
      const out = file(`merged${speed[0]}.pcap`);
      const t0 = Date.now();
      const r = netcap(['-r', background, '-w', out, '--inject', `${injected}@0.5031s`, ...speed]);
      const ms = Date.now() - t0;
      assert.equal(r.status, 0, r.stderr);
      assert.deepEqual(tcpdumpDump(out, true), want, `${speed.join(' ')}: packets, timestamps and bytes as mergecap's`);
      assert.match(r.stderr, new RegExp(`wrote ${A_COUNT + 20} packets to .*: ${A_COUNT} of ${A_COUNT} read from .*, 20 from .*b\\.pcap@0\\.5031s`));
      if (speed[0] === '-x') {
        assert.ok(ms >= (A_COUNT - 1) * A_GAP_NS / 8 / 1e6, `-x 8 keeps the schedule: ${ms} ms for ${((A_COUNT - 1) * A_GAP_NS) / 8 / 1e6} ms of trace`);
        assert.match(r.stderr, /lateness against the schedule: p50 .* p99 .* max .*; total drift/);
      }
    }
  });

  it('-e filters the background like tcpdump -r, with both engines; --loop repeats it, one pass after the other', () => {
    const mixed = file('mixed.pcap');
    run(['mergecap', '-F', 'nsecpcap', '-w', mixed, background, injected]);
    const ref = file('mixed-ref.pcap');
    run(['tcpdump', '--time-stamp-precision', 'nano', '-r', mixed, '-w', ref, 'udp port 6001']);
    for (const engine of ['interp', 'kernel']) {
      const out = file(`filtered-${engine}.pcap`);
      const r = netcap(['-r', mixed, '-w', out, '--topspeed', '--engine', engine, 'udp', 'port', '6001']);
      assert.equal(r.status, 0, r.stderr);
      assert.deepEqual(tcpdumpDump(out, true), tcpdumpDump(ref, true), engine);
    }
    const looped = file('looped.pcap');
    const r = netcap(['-r', background, '-w', looped, '--topspeed', '--loop', '3']);
    assert.equal(r.status, 0, r.stderr);
    const got = tcpdumpDump(looped, true);
    assert.equal(got.length, 3 * A_COUNT);
    const ts = got.map((p) => BigInt(p.time.replace('.', '')));
    for (let i = 1; i < ts.length; i++) assert.ok(ts[i] > ts[i - 1], `timestamps rise across passes (packet ${i})`);
    // Pass k starts one mean gap after pass k-1 ended.
    assert.equal(ts[A_COUNT] - ts[A_COUNT - 1], BigInt(A_GAP_NS));
    const pass = (k: number): string[] => got.slice(k * A_COUNT, (k + 1) * A_COUNT).map((p) => p.bytes.toString('hex'));
    assert.deepEqual(pass(1), pass(0));
    assert.deepEqual(pass(2), pass(0));
  });

  it('hand-built packets (UDP, TCP, ICMP, IPv4 and IPv6, from a spec and from JSON) have checksums tshark calls good', async () => {
    const json = file('packets.json');
    fs.writeFileSync(json, JSON.stringify([{ kind: 'udp', src: '2001:db8::1', dst: '2001:db8::2', dport: 53, payload: 'hex:00010203' }, { kind: 'icmp-reply', src: '198.51.100.1', dst: '198.51.100.2', seq: 7, size: 31 }]));
    const specs = ['udp,dport=9999,payload=hello,count=3,gap=1ms', 'tcp,src=2001:db8::1,dst=2001:db8::2,flags=PA,seq=1000,payload=odd', 'icmp-echo,src=192.0.2.1,dst=192.0.2.2', 'icmp-echo,src=2001:db8::a,dst=2001:db8::b,size=57', 'tcp,dport=443,flags=S'];
    const out = file('built.pcapng');
    const r = netcap(['-r', background, '-w', out, '--topspeed', ...specs.flatMap((s) => ['--inject', `${s}@1.2345s`]), '--inject', `${json}@0.3s`]);
    assert.equal(r.status, 0, r.stderr);
    const fields = run(['tshark', '-r', out, '-o', 'ip.check_checksum:TRUE', '-o', 'udp.check_checksum:TRUE', '-o', 'tcp.check_checksum:TRUE', '-Y', 'not udp.port == 5001', '-T', 'fields', '-E', 'separator=,', '-e', 'ip.checksum.status', '-e', 'udp.checksum.status', '-e', 'tcp.checksum.status', '-e', 'icmp.checksum.status', '-e', 'icmpv6.checksum.status'])
      .trim()
      .split('\n');
    assert.equal(fields.length, 9, fields.join('\n'));
    for (const f of fields) {
      const statuses = f.split(',').filter((s) => s !== '');
      assert.ok(statuses.length >= 1 && statuses.every((s) => s === '1'), `every checksum good (1): ${f}`);
    }
    const written = (await readCaptureFile(out)).packets.filter((p) => p.comment?.startsWith('injected: '));
    assert.equal(written.length, 9);
    const at = written.filter((p) => p.comment!.includes('@1.2345s'));
    // Stamped with the moment they were woven in: count=3 gap=1ms spreads the UDP copies out.
    assert.deepEqual(at.map((p) => p.tsNs - TRACE_START_NS), [...Array<bigint>(5).fill(1_234_500_000n), 1_235_500_000n, 1_236_500_000n]);
  });

  for (const format of ['json', 'pcap'] as const) {
    it(`--inject-stream - (${format} from a slow producer${format === 'pcap' ? ' that stalls mid-record' : ''}): each streamed packet exactly once, in time order, the background on time`, async () => {
      const out = file(`streamed-${format}.pcap`);
      const producer = spawn(process.execPath, [path.join(__dirname, 'fixtures', 'stream-producer.js'), '--format', format, '--count', '12', '--interval-ms', '80', ...(format === 'pcap' ? ['--stall-after', '5', '--stall-ms', '600'] : [])], { stdio: ['ignore', 'pipe', 'inherit'] });
      const child = spawn(process.execPath, [NETCAP, 'replay', '-r', background, '-w', out, '--inject-stream', '-', '--stamp', 'now'], { stdio: ['pipe', 'ignore', 'pipe'] });
      producer.stdout.pipe(child.stdin); // through us: nothing written before the spawn is lost
      let stderr = '';
      child.stderr.setEncoding('utf8');
      child.stderr.on('data', (s: string) => (stderr += s));
      const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
      producer.kill();
      assert.equal(code, 0, stderr);
      const packets = (await readCaptureFile(out)).packets;
      const streamed = packets.filter((p) => p.data.readUInt16BE(36) === STREAM_PORT).map((p) => frameSeq(p.data));
      assert.deepEqual(streamed, Array.from({ length: 12 }, (_, i) => i), 'every streamed packet once, in order');
      for (let i = 1; i < packets.length; i++) assert.ok(packets[i].tsNs >= packets[i - 1].tsNs, `time order at packet ${i}`);
      const bg = packets.filter((p) => p.data.readUInt16BE(36) === 5001);
      assert.deepEqual(bg.map((p) => frameSeq(p.data)), Array.from({ length: A_COUNT }, (_, i) => i), 'the whole background');
      // --stamp now: when each background packet was written. Node's timers
      // are ms-grained; a stalled producer would show as one gap of 600 ms.
      const worst = Math.max(...bg.slice(1).map((p, i) => Math.abs(Number(p.tsNs - bg[i].tsNs) - A_GAP_NS)));
      assert.ok(worst < 200e6, `background gaps within 200 ms of the trace's (Node timers on a busy machine) while the producer stalls for 600 ms (worst ${worst / 1e6} ms)`);
      assert.match(stderr, /, 12 streamed from stdin/);
    });
  }

  it('-w - into a pipe: tcpdump -r - reads the whole replay', () => {
    const r = spawnSync('bash', ['-c', `"${process.execPath}" "${NETCAP}" replay -r "${background}" -w - --topspeed | tcpdump -r - -nn 2>/dev/null | wc -l`], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(Number(r.stdout.trim()), A_COUNT);
  });

  it('--add-ethernet gives raw IP packets an Ethernet header; without it raw IP into Ethernet is refused', async () => {
    const raw = file('raw.pcap');
    await writeTrace(raw, frames(5, 1_000_000, 5001, TRACE_START_NS).map((p) => ({ ...p, data: p.data.subarray(14), wirelen: p.wirelen - 14 })), { linktype: LINKTYPE_RAW });
    const out = file('ether.pcap');
    const r = netcap(['-r', raw, '-w', out, '--topspeed', '--add-ethernet', '02:00:00:00:00:99']);
    assert.equal(r.status, 0, r.stderr);
    const text = run(['tcpdump', '-r', out, '-nn', '-e']);
    assert.equal(text.trim().split('\n').length, 5);
    assert.match(text, /02:00:00:00:00:01 > 02:00:00:00:00:99, ethertype IPv4 \(0x0800\).*192\.0\.2\.1\.40000 > 192\.0\.2\.2\.5001: UDP/);
    const refused = netcap(['-r', background, '-w', file('no.pcap'), '--inject', `${raw}@0.1s`]);
    assert.equal(refused.status, 2);
    assert.match(refused.stderr, /holds raw IP packets and the output is Ethernet\n.*--add-ethernet/);
    assert.ok(!fs.existsSync(file('no.pcap')), 'nothing written');
  });

  it('stops on -c, --duration and SIGTERM with a complete file and the report', async () => {
    const c = netcap(['-r', background, '-w', file('c.pcap'), '-c', '7', '--inject', `${injected}@0s`, '--topspeed']);
    assert.equal(c.status, 0, c.stderr);
    assert.equal(tcpdumpDump(file('c.pcap'), true).length, 7);
    assert.match(c.stderr, /wrote 7 packets .*\(stopped by -c 7\)/);
    const d = netcap(['-r', background, '-w', file('d.pcap'), '--duration', '300ms']);
    assert.equal(d.status, 0, d.stderr);
    assert.equal(tcpdumpDump(file('d.pcap'), true).length, 31, 'the packets due in the first 300 ms');
    assert.match(d.stderr, /stopped by --duration/);
    const out = file('term.pcap');
    const child = spawn(process.execPath, [NETCAP, 'replay', '-r', background, '-w', out, '-x', '0.5'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (s: string) => (stderr += s));
    while (!/replaying/.test(stderr)) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 600));
    child.kill('SIGTERM');
    const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
    assert.equal(code, 0, stderr);
    const kept = tcpdumpDump(out, true).length;
    assert.ok(kept > 5 && kept < A_COUNT, `a complete file with what was due before the signal (${kept} packets)`);
    assert.match(stderr, new RegExp(`wrote ${kept} packets .*\\(stopped by a signal\\)`));
  });

  it('bad input: one clear line, exit 2, nothing written (a damaged trace: what came before the damage)', () => {
    const damaged = file('damaged.pcap');
    const whole = fs.readFileSync(background);
    fs.writeFileSync(damaged, whole.subarray(0, whole.length - 30));
    const out = file('bad.pcap');
    const r = netcap(['-r', damaged, '-w', out, '--topspeed']);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /damaged\.pcap is damaged: truncated dump file: the record at offset \d+.*\n\s+the 199 packets before it were replayed/);
    assert.match(r.stderr, /wrote 199 packets/);
    assert.equal(tcpdumpDump(out, true).length, A_COUNT - 1, 'the file holds what came before the damage');
    fs.rmSync(out);
    const cases: [string[], RegExp][] = [
      [['-r', background, '-w', out, '--inject', `${injected}@2.5s`], /--inject .*b\.pcap@2\.5s: 2\.50 s is after the end of .*a\.pcap \(it spans 1\.99 s\)/],
      [['-r', background, '-w', out, '--inject', `${injected}`], /--inject .*: no moment given/],
      [['-r', background, '-w', out, '--inject', 'udp,dport=70000@1s'], /dport=70000 is not a whole number from 0 to 65535/],
      [['-r', background, '-w', out, '--inject', 'nosuch.pcap@1s'], /--inject nosuch\.pcap@1s: no file nosuch\.pcap/],
      [['-r', background, '-w', out, '-x', '2', '--pps', '100'], /two speed options: -x and --pps/],
      [['-r', background, '-w', out, '--topspeed', '--mbps', '5'], /two speed options: --mbps and --topspeed/],
      [['-r', background], /nowhere to replay to/],
      [['-r', background, '-w', out, '-i', 'lo'], /both -w and -i/],
      [['-r', file('nope.pcap'), '-w', out], /cannot read .*nope\.pcap: no such file/],
      [['-r', background, '-w', out, '-e', 'tcp port'], /bad filter expression "tcp port": can't parse filter expression: syntax error/],
      [['-r', background, '-w', out, '--duration', 'soon'], /--duration: "soon" is not a time/],
      [['-r', background, '-w', out, '--add-ethernet', 'zz'], /--add-ethernet zz: not a MAC address/],
    ];
    for (const [args, message] of cases) {
      const bad = netcap(args);
      assert.equal(bad.status, 2, `${args.join(' ')}: ${bad.stderr}`);
      assert.match(bad.stderr, message, args.join(' '));
      assert.ok(bad.stderr.startsWith('netcap: ') && noStack(bad.stderr), `one clear line: ${bad.stderr}`);
      assert.ok(!fs.existsSync(out), `${args.join(' ')}: nothing written`);
    }
  });
});
