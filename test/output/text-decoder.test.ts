// The built-in decoder against tcpdump -nn: for the protocols it claims
// (Ethernet, ARP, IPv4, IPv6, TCP, UDP, ICMP echo, ICMPv6 echo/ND), its line
// must be tcpdump's line. Frames whose text tcpdump takes from decoders we
// do not have (TCP options, application protocols on well-known ports,
// truncated headers) are excluded by what their bytes hold, not by name.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PcapWriter } from '../../src/output/pcap-writer';
import { formatPacket, summarize, tcpFlags } from '../../src/output/text-decoder';
import { hexdump } from '../../src/output/hexdump';
import { formatIpv6 } from '../../src/output/addresses';
import { formatJsonLine } from '../../src/output/json-lines';
import { generatePackets, type GeneratedPacket } from '../filter/packets';
import { run, tcpdumpDump, tempDir } from './reference-tools';

const tmp = tempDir('decoder');
after(() => tmp.remove());

/** The transport header of an untagged, unfragmented IPv4/IPv6 frame, or undefined (proto -1: ICMP of the other IP version). */
function transportOf(p: GeneratedPacket): { proto: number; at: number } | undefined {
  const d = p.data;
  if (d.length < 14) return undefined;
  const type = d.readUInt16BE(12);
  if (type === 0x0800 && d.length >= 34 && d[14] === 0x45 && (d.readUInt16BE(20) & 0x3fff) === 0 && d.readUInt16BE(16) === d.length - 14) return { proto: d[23] === 58 ? -1 : d[23], at: 34 };
  if (type === 0x86dd && d.length >= 54 && d.readUInt16BE(18) === d.length - 54) return { proto: d[20] === 1 ? -1 : d[20], at: 54 };
  return undefined;
}

/** TCP options made only of kinds the decoder names (eol, nop, mss, wscale, sackOK, TS), or none. */
function commonOptionsOnly(d: Buffer, tcpAt: number): boolean {
  const end = tcpAt + (d[tcpAt + 12] >> 4) * 4;
  if (end < tcpAt + 20) return false;
  for (let at = tcpAt + 20; at < end; ) {
    const kind = d[at];
    if (kind === 0) return true;
    if (kind === 1) {
      at++;
      continue;
    }
    if (![2, 3, 4, 8].includes(kind)) return false;
    at += Math.max(2, d[at + 1] ?? 2);
  }
  return true;
}

// Ports above 1023 that tcpdump 4.99 hands to an application decoder.
const APPLICATION_PORTS = new Set([1645, 1646, 1701, 1812, 1813, 2049, 3503, 3784, 4341, 4789, 5060, 5353, 5555, 6081, 6633, 6653, 8080, 9000, ...Array.from({ length: 10 }, (_, i) => 7000 + i)]);

/** Frames whose tcpdump -nn line comes only from protocols the built-in decoder covers. */
function decodable(p: GeneratedPacket): boolean {
  if (p.data.length !== p.wirelen) return false;
  const d = p.data;
  if (d.length >= 14 && (d.readUInt16BE(12) === 0x0806 || d.readUInt16BE(12) === 0x8035)) return d.length >= 42;
  const t = transportOf(p);
  if (!t) return false;
  const highPorts = () => d.length >= t.at + 4 && [d.readUInt16BE(t.at), d.readUInt16BE(t.at + 2)].every((port) => port >= 1024 && !APPLICATION_PORTS.has(port));
  if (t.proto === 6) return d.length >= t.at + 20 && d.length >= t.at + (d[t.at + 12] >> 4) * 4 && commonOptionsOnly(d, t.at) && highPorts();
  if (t.proto === 17) return d.length >= t.at + 8 && d.readUInt16BE(t.at + 4) === d.length - t.at && highPorts();
  if (t.proto === 1) return d.length >= t.at + 8 && (d[t.at] === 0 || d[t.at] === 8) && d[t.at + 1] === 0;
  if (t.proto === 58) return d.length >= t.at + 8 && (d[t.at] === 128 || d[t.at] === 129);
  return false;
}

void test('one-line summaries equal tcpdump -nn for ARP, IPv4/IPv6 TCP, UDP, ICMP and ICMPv6 echo', async () => {
  const packets = generatePackets(6000, 21).filter(decodable);
  const file = path.join(tmp.dir, 'decode.pcap');
  const w = new PcapWriter(fs.createWriteStream(file), { linktype: 1, snaplen: 262144 });
  for (const p of packets) await w.writePacket({ ifIndex: 0, tsNs: 1_700_000_000_000_000_000n, data: p.data, wirelen: p.wirelen });
  await w.close();
  const dumped = tcpdumpDump(file, false);
  assert.equal(dumped.length, packets.length);
  const kinds = new Set<string>();
  packets.forEach((p, i) => {
    const ours = summarize(p.data, p.wirelen, 1, false).summary;
    assert.equal(ours, dumped[i].summary, `${p.name}`);
    kinds.add(ours.split(' ')[0] + (ours.includes('Flags') ? ' tcp' : ours.includes('UDP') ? ' udp' : ours.includes('ICMP') ? ' icmp' : ''));
  });
  for (const k of ['ARP,', 'IP tcp', 'IP udp', 'IP icmp', 'IP6 tcp', 'IP6 udp', 'IP6 icmp']) assert.ok(kinds.has(k), `covered ${k}`);
});

/** An Ethernet/IPv4/TCP frame with the given options (padded to 32 bits with nops). */
function tcpFrame(sport: number, flags: number, options: number[], payload = 0): Buffer {
  const opts = [...options];
  while (opts.length % 4) opts.push(1);
  const tcp = Buffer.alloc(20 + opts.length + payload);
  tcp.writeUInt16BE(sport, 0);
  tcp.writeUInt16BE(40000, 2);
  tcp.writeUInt32BE(0x10203040 + sport, 4);
  tcp.writeUInt32BE(flags & 0x10 ? 0x50607080 : 0, 8);
  tcp[12] = ((20 + opts.length) / 4) << 4;
  tcp[13] = flags;
  tcp.writeUInt16BE(65495, 14);
  Buffer.from(opts).copy(tcp, 20);
  const ip = Buffer.from('450000000000400040060000c0a80001c0a80002', 'hex');
  ip.writeUInt16BE(20 + tcp.length, 2);
  return Buffer.concat([Buffer.from('0200000000010200000000020800', 'hex'), ip, tcp]);
}

void test('TCP options print like tcpdump -nn: mss, sackOK, TS, nop, wscale, eol, bad lengths', async () => {
  const TS = [8, 10, 0xc9, 0x7f, 0xf8, 0xa2, 0, 0, 0, 0];
  const frames = [
    tcpFrame(41001, 0x02, [2, 4, 0xff, 0xd7, 4, 2, ...TS, 1, 3, 3, 10]),
    tcpFrame(41002, 0x12, [2, 4, 0x05, 0xb4, 1, 1, 4, 2, 1, 3, 3, 7]),
    tcpFrame(41003, 0x18, [1, 1, ...TS], 10),
    tcpFrame(41004, 0x10, [1, 1, 1, 0]),
    tcpFrame(41005, 0x02, [2, 1, 0, 0]), // length 1: bad
    tcpFrame(41006, 0x02, [3, 9, 7, 0]), // runs past the header: bad
    tcpFrame(41007, 0x10, [2, 4, 0x05, 0xb4, 0]), // eol ends the list
  ];
  const file = path.join(tmp.dir, 'options.pcap');
  const w = new PcapWriter(fs.createWriteStream(file), { linktype: 1, snaplen: 262144 });
  for (const f of frames) await w.writePacket({ ifIndex: 0, tsNs: 1_700_000_000_000_000_000n, data: f, wirelen: f.length });
  await w.close();
  const dumped = tcpdumpDump(file, false);
  assert.equal(dumped.length, frames.length);
  frames.forEach((f, i) => assert.equal(summarize(f, f.length, 1, false).summary, dumped[i].summary, `frame ${i}`));
});

void test('-e link header and -X hex dumps look like tcpdump -e -XX', async () => {
  const packets = generatePackets(400, 22).filter(decodable).slice(0, 40);
  const file = path.join(tmp.dir, 'hex.pcap');
  const w = new PcapWriter(fs.createWriteStream(file), { linktype: 1, snaplen: 262144 });
  for (const p of packets) await w.writePacket({ ifIndex: 0, tsNs: 1_700_000_000_123_456_000n, data: p.data, wirelen: p.wirelen });
  await w.close();
  const theirs = run(['tcpdump', '-r', file, '-nn', '-e', '-XX', '-tt']).trimEnd().split('\n');
  const ours = packets
    .map((p) => formatPacket({ ifIndex: 0, tsNs: 1_700_000_000_123_456_000n, data: p.data, wirelen: p.wirelen }, 1, { linkHeader: true, hex: 'XX' }))
    .join('\n')
    .split('\n')
    .map((l) => l.replace(/^\d\d:\d\d:\d\d\.\d{6}/, '1700000000.123456'));
  assert.deepEqual(ours, theirs);
});

void test('small pieces: TCP flag letters, IPv6 text, hex layout, JSON lines', () => {
  assert.equal(tcpFlags(0x12), 'S.');
  assert.equal(tcpFlags(0x18), 'P.');
  assert.equal(tcpFlags(0), 'none');
  assert.equal(formatIpv6(Buffer.from('20010db8000000000000000000000001', 'hex')), '2001:db8::1');
  assert.equal(formatIpv6(Buffer.from('20010db8000100000000000100000000', 'hex')), '2001:db8:1::1:0:0');
  assert.equal(formatIpv6(Buffer.from('00000000000000000000000000000000', 'hex')), '::');
  assert.equal(hexdump(Buffer.from('4520', 'hex'), true), '\t0x0000:  4520                                     E.');
  const line = JSON.parse(formatJsonLine({ ifIndex: 1, tsNs: 1_700_000_000_000_000_123n, data: Buffer.from('ffffffffffff', 'hex'), wirelen: 60, comment: 'pid 1', direction: 'in' }, { linktype: 1, snaplen: 100, name: 'eth0' })) as Record<string, unknown>;
  assert.deepEqual(line, { time: '2023-11-14T22:13:20.000000123Z', tsNs: '1700000000000000123', ifIndex: 1, ifName: 'eth0', caplen: 6, wirelen: 60, direction: 'in', comment: 'pid 1', summary: '[|ether] length 60', data: 'ffffffffffff' });
});
