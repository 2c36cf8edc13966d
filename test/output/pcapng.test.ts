// pcapng files: what PcapngWriter writes, tshark, capinfos and tcpdump read
// with the same interfaces, comments, directions, bytes and ns timestamps;
// what editcap (Wireshark's writer) writes, readPcapng reads back.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PcapngWriter } from '../../src/output/pcapng-writer';
import { openCaptureFile } from '../../src/output/file-writer';
import { readPcapng } from '../../src/output/pcapng-reader';
import { encodeBlock } from '../../src/output/pcapng-format';
import type { CaptureInterface, CapturedPacket } from '../../src/output/packet';
import { formatJsonLine } from '../../src/output/json-lines';
import { generatePackets } from '../filter/packets';
import { epochText, run, tcpdumpDump, tempDir } from './reference-tools';

const tmp = tempDir('pcapng');
after(() => tmp.remove());

const interfaces: CaptureInterface[] = [
  { linktype: 1, snaplen: 262144, name: 'mbuf:l2fwd_simple_forward@1', description: 'tcp port 80', filter: 'tcp port 80' },
  { linktype: 1, snaplen: 128, name: 'skb:tracepoint:net:netif_receive_skb', description: 'udp or icmp' },
];

function samplePackets(count: number, seed: number): CapturedPacket[] {
  let ts = 1_700_000_000_987_654_321n;
  return generatePackets(count, seed)
    .filter((p) => p.data.length > 0)
    .map((p, i) => {
      ts += 1_000_003n * BigInt(1 + (i % 5));
      const pkt: CapturedPacket = { ifIndex: i % 2, tsNs: ts, data: p.data, wirelen: p.wirelen };
      if (i % 3 !== 0) pkt.comment = `pid ${1000 + i} comm l2fwd cpu ${i % 2} func l2fwd_simple_forward`;
      if (i % 4 === 1) pkt.direction = 'in';
      if (i % 4 === 2) pkt.direction = 'out';
      return pkt;
    });
}

async function writeSample(file: string, packets: CapturedPacket[], ifaces = interfaces): Promise<void> {
  const w = new PcapngWriter(fs.createWriteStream(file), { comment: 'netcap mbuf -f l2fwd_simple_forward@1 -e "tcp port 80"', interfaces: ifaces });
  for (const p of packets) await w.writePacket(p);
  await w.writeStatistics(0, { received: 1000n, interfaceDropped: 3n, osDropped: 4n, filterAccepted: 150n, delivered: 150n, comment: 'ring buffer: 4 lost' });
  await w.writeStatistics(1, { received: 77n, filterAccepted: 150n });
  await w.close();
}

const packets = samplePackets(300, 11);
const file = path.join(tmp.dir, 'sample.pcapng');

void test('tshark reads interfaces, comments, directions, lengths and ns timestamps', async () => {
  await writeSample(file, packets);
  const rows = run(['tshark', '-r', file, '-T', 'fields', '-E', 'separator=|', '-e', 'frame.interface_id', '-e', 'frame.interface_name', '-e', 'frame.interface_description', '-e', 'frame.len', '-e', 'frame.cap_len', '-e', 'frame.time_epoch', '-e', 'frame.comment', '-e', 'frame.packet_flags_direction'])
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => l.split('|'));
  assert.equal(rows.length, packets.length);
  packets.forEach((p, i) => {
    const iface = interfaces[p.ifIndex];
    const [id, name, description, len, caplen, time, comment, direction] = rows[i];
    assert.equal(Number(id), p.ifIndex, `packet ${i}`);
    assert.equal(name, iface.name);
    assert.equal(description, iface.description);
    assert.equal(Number(len), p.wirelen);
    assert.equal(Number(caplen), Math.min(p.data.length, iface.snaplen));
    assert.equal(time, epochText(p.tsNs, true));
    assert.equal(comment, p.comment ?? '');
    assert.equal(direction, p.direction === 'in' ? '0x00000001' : p.direction === 'out' ? '0x00000002' : '');
  });
});

void test('capinfos sees the section (application, comment) and both interfaces with statistics', () => {
  const info = run(['capinfos', file]);
  assert.match(info, /Capture application:\s+netcap/);
  assert.match(info, /Capture comment:\s+netcap mbuf -f l2fwd_simple_forward@1 -e "tcp port 80"/);
  assert.match(info, /Number of interfaces in file: 2/);
  assert.match(info, /Name = mbuf:l2fwd_simple_forward@1/);
  assert.match(info, /Description = tcp port 80/);
  assert.match(info, /Capture length = 128/);
  assert.match(info, /Time precision = nanoseconds \(9\)/);
  assert.equal((info.match(/Number of stat entries = 1/g) ?? []).length, 2);
  assert.match(info, new RegExp(`Number of packets:\\s+${packets.length}`));
});

// libpcap 1.10 refuses a pcapng whose interfaces differ in snaplen or link
// type ("an interface has a snapshot length 128 different from the snapshot
// length of the first interface"), so tcpdump gets a file with one snaplen.
const sameSnaplen = interfaces.map((i) => ({ ...i, snaplen: 262144 }));
const tcpdumpFile = path.join(tmp.dir, 'same-snaplen.pcapng');

void test('tcpdump (libpcap reading pcapng) sees the same bytes and timestamps', async () => {
  await writeSample(tcpdumpFile, packets, sameSnaplen);
  const dumped = tcpdumpDump(tcpdumpFile, true);
  assert.equal(dumped.length, packets.length);
  packets.forEach((p, i) => {
    assert.equal(dumped[i].time, epochText(p.tsNs, true));
    assert.ok(dumped[i].bytes.equals(p.data), `packet ${i}`);
  });
});

void test('readPcapng round-trips our file, statistics included', () => {
  const back = readPcapng(fs.readFileSync(file));
  assert.deepEqual(back.interfaces, interfaces);
  assert.deepEqual(back.sections, [{ comment: 'netcap mbuf -f l2fwd_simple_forward@1 -e "tcp port 80"', application: 'netcap' }]);
  assert.equal(back.packets.length, packets.length);
  back.packets.forEach((p, i) => {
    const want = packets[i];
    assert.equal(p.ifIndex, want.ifIndex);
    assert.equal(p.tsNs, want.tsNs);
    assert.ok(p.data.equals(want.data.subarray(0, interfaces[want.ifIndex].snaplen)));
    assert.equal(p.wirelen, want.wirelen);
    assert.equal(p.comment, want.comment);
    assert.equal(p.direction, want.direction);
  });
  assert.equal(back.statistics.length, 2);
  const s0 = back.statistics[0];
  assert.equal(s0.ifIndex, 0);
  assert.deepEqual([s0.stats.received, s0.stats.interfaceDropped, s0.stats.osDropped, s0.stats.filterAccepted, s0.stats.delivered, s0.stats.comment], [1000n, 3n, 4n, 150n, 150n, 'ring buffer: 4 lost']);
  assert.equal(back.statistics[1].stats.received, 77n);
  assert.deepEqual(back.warnings, []);
});

void test('readPcapng reads what Wireshark writes: editcap conversions, microsecond resolution, added comments', () => {
  // editcap rewrites our file with Wireshark's own pcapng writer, adding a comment to frame 1.
  const converted = path.join(tmp.dir, 'editcap.pcapng');
  run(['editcap', '-F', 'pcapng', '-a', '1:added by editcap', file, converted]);
  const back = readPcapng(fs.readFileSync(converted));
  assert.equal(back.packets.length, packets.length);
  assert.equal(back.interfaces.length, 2);
  assert.equal(back.interfaces[0].name, interfaces[0].name);
  back.packets.forEach((p, i) => {
    assert.equal(p.tsNs, packets[i].tsNs, `packet ${i}`);
    assert.ok(p.data.equals(packets[i].data.subarray(0, interfaces[packets[i].ifIndex].snaplen)));
    assert.equal(p.direction, packets[i].direction);
  });
  assert.match(back.packets[0].comment ?? '', /added by editcap/);
  // A microsecond pcapng (editcap from a microsecond pcap: if_tsresol absent = 10^-6).
  const pcap = path.join(tmp.dir, 'micro.pcap');
  run(['tcpdump', '-r', tcpdumpFile, '-w', pcap]);
  const micro = path.join(tmp.dir, 'micro.pcapng');
  run(['editcap', '-F', 'pcapng', pcap, micro]);
  const m = readPcapng(fs.readFileSync(micro));
  assert.equal(m.packets.length, packets.length);
  m.packets.forEach((p, i) => {
    assert.equal(p.tsNs, (packets[i].tsNs / 1000n) * 1000n);
    assert.ok(p.data.equals(packets[i].data));
  });
});

void test('Simple and obsolete Packet Blocks and a big-endian section are read', () => {
  // Hand-built: SHB (big-endian), IDB, SPB, OPB. tshark is the reference.
  const be = (type: number, body: Buffer) => {
    const le = encodeBlock(type, body);
    const out = Buffer.from(le);
    out.writeUInt32BE(le.readUInt32LE(0), 0);
    out.writeUInt32BE(le.readUInt32LE(4), 4);
    out.writeUInt32BE(le.readUInt32LE(le.length - 4), le.length - 4);
    return out;
  };
  const shb = Buffer.alloc(16);
  shb.writeUInt32BE(0x1a2b3c4d, 0);
  shb.writeUInt16BE(1, 4);
  shb.writeBigInt64BE(-1n, 8);
  const idb = Buffer.alloc(8);
  idb.writeUInt16BE(1, 0);
  idb.writeUInt32BE(64, 4);
  const frame = generatePackets(40, 12).find((p) => p.data.length > 80 && p.data.length === p.wirelen)!.data;
  const spb = Buffer.alloc(4);
  spb.writeUInt32BE(frame.length, 0);
  const opb = Buffer.alloc(20);
  opb.writeUInt16BE(0, 0);
  opb.writeUInt32BE(0, 4);
  opb.writeUInt32BE(1_500_000, 8); // 1.5 s in the default microsecond units
  opb.writeUInt32BE(60, 12);
  opb.writeUInt32BE(frame.length, 16);
  const built = Buffer.concat([be(0x0a0d0d0a, shb), be(1, idb), be(3, Buffer.concat([spb, frame.subarray(0, 64)])), be(2, Buffer.concat([opb, frame.subarray(0, 60)]))]);
  const f = path.join(tmp.dir, 'spb-opb.pcapng');
  fs.writeFileSync(f, built);
  const tshark = run(['tshark', '-r', f, '-T', 'fields', '-e', 'frame.len', '-e', 'frame.cap_len', '-e', 'frame.time_epoch']).trim().split('\n');
  const back = readPcapng(built);
  assert.equal(back.packets.length, 2);
  assert.deepEqual(tshark.map((l) => l.split('\t').slice(0, 2).map(Number)), back.packets.map((p) => [p.wirelen, p.data.length]));
  assert.equal(back.packets[1].tsNs, 1_500_000_000n);
  assert.ok(back.packets[0].data.equals(frame.subarray(0, 64)));
});

void test('concatenated pcapng files (several sections) read as one, interfaces numbered across sections', async () => {
  const a = path.join(tmp.dir, 'a.pcapng');
  const b = path.join(tmp.dir, 'b.pcapng');
  const first = samplePackets(40, 13);
  const second = samplePackets(30, 14);
  await writeSample(a, first, sameSnaplen);
  await writeSample(b, second, [{ linktype: 1, snaplen: 262144, name: 'third' }, { linktype: 1, snaplen: 262144, name: 'fourth' }]);
  const both = Buffer.concat([fs.readFileSync(a), fs.readFileSync(b)]);
  const joined = path.join(tmp.dir, 'joined.pcapng');
  fs.writeFileSync(joined, both);
  const back = readPcapng(both);
  assert.equal(back.sections.length, 2);
  assert.deepEqual(back.interfaces.map((i) => i.name), [...sameSnaplen.map((i) => i.name), 'third', 'fourth']);
  assert.equal(back.packets.length, first.length + second.length);
  assert.deepEqual(back.packets.slice(first.length).map((p) => p.ifIndex), second.map((p) => p.ifIndex + 2));
  // libpcap (tcpdump) as the reference: it starts a new interface list at
  // each section (tshark 4.0 keeps the first section's interface names).
  const dumped = tcpdumpDump(joined, true);
  assert.equal(dumped.length, back.packets.length);
  back.packets.forEach((p, i) => {
    assert.ok(p.data.equals(dumped[i].bytes), `packet ${i}`);
    assert.equal(epochText(p.tsNs, true), dumped[i].time);
  });
  // A file cut inside a block keeps every whole packet and says what happened.
  const cut = readPcapng(both.subarray(0, both.length - 10));
  assert.ok(cut.packets.length >= first.length + second.length - 1);
  assert.match(cut.damage ?? '', /truncated pcapng file/);
});

void test('epb_verdict: tshark shows each XDP and TC verdict; readPcapng and --json give them back', async () => {
  const verdicts: CapturedPacket['verdict'][] = [
    { type: 'xdp', value: 0 },
    { type: 'xdp', value: 1 },
    { type: 'xdp', value: 2 },
    { type: 'xdp', value: 3 },
    { type: 'xdp', value: 4 },
    { type: 'tc', value: -1 },
    { type: 'tc', value: 2 },
    undefined,
  ];
  const base = samplePackets(verdicts.length, 5);
  const withVerdicts = base.map((p, i) => ({ ...p, ifIndex: 0, verdict: verdicts[i] }));
  const verdictFile = path.join(tmp.dir, 'verdicts.pcapng');
  await writeSample(verdictFile, withVerdicts);
  const rows = run(['tshark', '-r', verdictFile, '-T', 'fields', '-E', 'separator=|', '-e', 'frame.verdict.ebpf_xdp', '-e', 'frame.verdict.ebpf_tc', '-e', 'frame.comment'])
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => l.split('|'));
  assert.deepEqual(
    rows.map(([xdp, tc]) => [xdp, tc]),
    verdicts.map((v) => [v?.type === 'xdp' ? String(v.value) : '', v?.type === 'tc' ? String(v.value) : '']),
  );
  // The comment after the verdict option is still read: the option is padded right.
  assert.deepEqual(rows.map((r) => r[2]), withVerdicts.map((p) => p.comment ?? ''));
  // Wireshark's own words for the verdict (4.0 prints "Verdict: , eBPF_XDP (2)" after the first frame).
  const text = run(['tshark', '-r', verdictFile, '-V', '-c', '2']);
  assert.match(text, /Verdict: eBPF_XDP \(2\)\s+eBPF XDP: XDP_ABORTED \(0\)/);
  assert.match(text, /eBPF XDP: XDP_DROP \(1\)/);
  assert.deepEqual(readPcapng(fs.readFileSync(verdictFile)).packets.map((p) => p.verdict), verdicts);
  const json = JSON.parse(formatJsonLine(withVerdicts[1], interfaces[0])) as { verdict: unknown };
  assert.deepEqual(json.verdict, { type: 'xdp', value: 1, name: 'XDP_DROP' });
});

void test('a file continued with append: cut after its last whole block, then a new section; tcpdump reads both parts', async () => {
  const file = path.join(tmp.dir, 'continued.pcapng');
  const first = samplePackets(20, 21);
  const second = samplePackets(15, 22);
  await writeSample(file, first, sameSnaplen);
  // A process killed in the middle of a write leaves part of a block.
  const whole = fs.statSync(file).size;
  fs.appendFileSync(file, encodeBlock(6, Buffer.alloc(40, 0xee)).subarray(0, 30));
  const w = openCaptureFile(file, { format: 'pcapng', interfaces: sameSnaplen, append: true });
  for (const p of second) await w.writePacket(p);
  await w.close();
  const back = readPcapng(fs.readFileSync(file));
  assert.equal(back.damage, undefined, 'the partial block is gone');
  assert.equal(back.sections.length, 2);
  assert.ok(fs.readFileSync(file).subarray(whole, whole + 4).readUInt32LE(0) === 0x0a0d0d0a, 'the new section starts where the last whole block ended');
  const dumped = tcpdumpDump(file, true);
  assert.deepEqual(dumped.map((d) => d.bytes.toString('hex')), [...first, ...second].map((p) => p.data.toString('hex')));
  // A file that is not pcapng is refused, not overwritten.
  const other = path.join(tmp.dir, 'not-pcapng.pcapng');
  fs.writeFileSync(other, 'hello, this is text and no capture');
  assert.throws(() => openCaptureFile(other, { format: 'pcapng', interfaces: sameSnaplen, append: true }), /not a pcapng file/);
  assert.equal(fs.readFileSync(other, 'utf8'), 'hello, this is text and no capture');
  // noFollow refuses a symbolic link.
  const link = path.join(tmp.dir, 'link.pcapng');
  fs.symlinkSync(file, link);
  assert.throws(() => openCaptureFile(link, { format: 'pcapng', interfaces: sameSnaplen, noFollow: true }), /symbolic link/);
});

void test('-C counts what the writer writes: the size of a pcapng file with directions, verdicts and comments is its bytes', async () => {
  const file = path.join(tmp.dir, 'sized.pcapng');
  const packets = samplePackets(30, 31).map((p, i) => ({ ...p, ifIndex: 0, ...(i % 3 === 0 ? { verdict: { type: 'xdp' as const, value: i % 5 } } : {}) }));
  const w = openCaptureFile(file, { format: 'pcapng', interfaces: sameSnaplen });
  for (const p of packets) await w.writePacket(p);
  await w.flush();
  assert.equal(w.size(), fs.statSync(file).size);
  await w.close();
  assert.deepEqual(readPcapng(fs.readFileSync(file)).packets.map((p) => p.verdict), packets.map((p) => p.verdict));
});
