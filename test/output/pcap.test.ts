// pcap files: what PcapWriter writes, tcpdump and tshark read back with the
// same bytes, lengths and timestamps; what tcpdump writes, readPcap reads.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PcapWriter } from '../../src/output/pcap-writer';
import { readPcap } from '../../src/output/pcap-reader';
import { readCaptureFile } from '../../src/output/read-capture';
import { UserError } from '../../src/errors';
import type { CapturedPacket } from '../../src/output/packet';
import { generatePackets } from '../filter/packets';
import { epochText, run, tcpdumpDump, tempDir } from './reference-tools';

const tmp = tempDir('pcap');
after(() => tmp.remove());

/** Generated frames with nanosecond timestamps that are not multiples of 1000. */
function samplePackets(count: number, seed: number): CapturedPacket[] {
  let ts = 1_700_000_000_000_000_000n + BigInt(seed) * 7_777_777n;
  return generatePackets(count, seed)
    .filter((p) => p.data.length > 0) // tcpdump prints nothing useful for a 0-byte capture
    .map((p, i) => {
      ts += 1_234_567n + BigInt(i % 7) * 999n;
      return { ifIndex: 0, tsNs: ts, data: p.data, wirelen: p.wirelen };
    });
}

async function writePcap(file: string, packets: CapturedPacket[], nanosecond: boolean, snaplen = 262144): Promise<void> {
  const w = new PcapWriter(fs.createWriteStream(file), { linktype: 1, snaplen, nanosecond });
  for (const p of packets) await w.writePacket(p);
  await w.close();
}

for (const nanosecond of [false, true]) {
  void test(`${nanosecond ? 'nanosecond' : 'microsecond'} pcap: tcpdump reads back the same bytes and timestamps`, async () => {
    const packets = samplePackets(300, nanosecond ? 2 : 1);
    const file = path.join(tmp.dir, `w-${nanosecond}.pcap`);
    await writePcap(file, packets, nanosecond);
    const dumped = tcpdumpDump(file, nanosecond);
    assert.equal(dumped.length, packets.length);
    for (let i = 0; i < packets.length; i++) {
      assert.equal(dumped[i].time, epochText(packets[i].tsNs, nanosecond), `packet ${i} time`);
      assert.ok(dumped[i].bytes.equals(packets[i].data), `packet ${i} bytes`);
    }
    // tshark: frame and captured lengths.
    const fields = run(['tshark', '-r', file, '-T', 'fields', '-e', 'frame.len', '-e', 'frame.cap_len'])
      .trim()
      .split('\n')
      .map((l) => l.split('\t').map(Number));
    assert.deepEqual(fields, packets.map((p) => [p.wirelen, p.data.length]));
    // Our own reader agrees with what we wrote (timestamps at the file's precision).
    const back = readPcap(fs.readFileSync(file));
    assert.equal(back.nanosecond, nanosecond);
    assert.deepEqual(back.interfaces, [{ linktype: 1, snaplen: 262144 }]);
    assert.equal(back.packets.length, packets.length);
    back.packets.forEach((p, i) => {
      assert.equal(p.tsNs, nanosecond ? packets[i].tsNs : (packets[i].tsNs / 1000n) * 1000n);
      assert.ok(p.data.equals(packets[i].data));
      assert.equal(p.wirelen, packets[i].wirelen);
    });
  });
}

void test('snaplen cuts captured bytes and keeps the wire length', async () => {
  const packets = samplePackets(50, 3);
  const file = path.join(tmp.dir, 'snap.pcap');
  await writePcap(file, packets, false, 64);
  const fields = run(['tshark', '-r', file, '-T', 'fields', '-e', 'frame.len', '-e', 'frame.cap_len']).trim().split('\n');
  assert.deepEqual(fields, packets.map((p) => `${p.wirelen}\t${Math.min(64, p.data.length)}`));
});

void test('readPcap reads files tcpdump wrote, in both precisions', async () => {
  const packets = samplePackets(200, 4);
  const ours = path.join(tmp.dir, 'ours.pcap');
  await writePcap(ours, packets, true);
  for (const nano of [false, true]) {
    // tcpdump re-writes the packets with libpcap's own pcap writer.
    const theirs = path.join(tmp.dir, `tcpdump-${nano}.pcap`);
    run(['tcpdump', '-r', ours, '-w', theirs, ...(nano ? ['--time-stamp-precision=nano'] : [])]);
    const back = readPcap(fs.readFileSync(theirs));
    assert.equal(back.nanosecond, nano);
    assert.equal(back.packets.length, packets.length);
    back.packets.forEach((p, i) => {
      assert.equal(p.tsNs, nano ? packets[i].tsNs : (packets[i].tsNs / 1000n) * 1000n, `packet ${i}`);
      assert.ok(p.data.equals(packets[i].data));
      assert.equal(p.wirelen, packets[i].wirelen);
    });
  }
});

void test('readPcap reads a big-endian file (editcap cannot write one, so it is byte-swapped here)', async () => {
  const packets = samplePackets(20, 5);
  const le = path.join(tmp.dir, 'le.pcap');
  await writePcap(le, packets, true);
  const buf = fs.readFileSync(le);
  const be = Buffer.from(buf);
  for (const at of [0, 8, 12, 16, 20]) be.writeUInt32BE(buf.readUInt32LE(at), at);
  be.writeUInt16BE(buf.readUInt16LE(4), 4);
  be.writeUInt16BE(buf.readUInt16LE(6), 6);
  for (let at = 24; at < buf.length; ) {
    const caplen = buf.readUInt32LE(at + 8);
    for (let f = 0; f < 16; f += 4) be.writeUInt32BE(buf.readUInt32LE(at + f), at + f);
    at += 16 + caplen;
  }
  // tcpdump (libpcap) is the reference for the swapped file too.
  const beFile = path.join(tmp.dir, 'be.pcap');
  fs.writeFileSync(beFile, be);
  const dumped = tcpdumpDump(beFile, true);
  const back = readPcap(be);
  assert.equal(back.packets.length, dumped.length);
  back.packets.forEach((p, i) => {
    assert.equal(epochText(p.tsNs, true), dumped[i].time);
    assert.ok(p.data.equals(dumped[i].bytes));
  });
});

void test('bad files are UserErrors naming the problem', async () => {
  const notCapture = path.join(tmp.dir, 'text.txt');
  fs.writeFileSync(notCapture, 'hello, this is not a capture file\n');
  await assert.rejects(readCaptureFile(notCapture), (e: unknown) => e instanceof UserError && /not a capture file/.test(e.message));
  await assert.rejects(readCaptureFile(path.join(tmp.dir, 'missing.pcap')), (e: unknown) => e instanceof UserError && /no such file/.test(e.message));
  await assert.rejects(readCaptureFile(tmp.dir), (e: unknown) => e instanceof UserError && /directory/.test(e.message));
  // A file cut in the middle of a packet: the whole packets are kept, and the damage is said.
  const packets = samplePackets(10, 6);
  const whole = path.join(tmp.dir, 'whole.pcap');
  await writePcap(whole, packets, false);
  const cut = fs.readFileSync(whole);
  const truncated = readPcap(cut.subarray(0, cut.length - 5));
  assert.equal(truncated.packets.length, packets.length - 1);
  assert.match(truncated.damage ?? '', /truncated dump file: the record at offset \d+ announces/);
});

void test('flush() resolves once the bytes are in the file; close() closes it', async () => {
  const packets = samplePackets(200, 7);
  const file = path.join(tmp.dir, 'flush.pcap');
  const stream = fs.createWriteStream(file);
  const w = new PcapWriter(stream, { linktype: 1, snaplen: 262144 });
  for (const p of packets) await w.writePacket(p);
  await w.flush();
  const expected = 24 + packets.reduce((n, p) => n + 16 + p.data.length, 0);
  assert.equal(fs.statSync(file).size, expected, 'everything written is in the file before close');
  // tcpdump reads the flushed file while we still hold it open.
  assert.equal(tcpdumpDump(file, false).length, packets.length);
  await w.close();
  assert.equal(stream.closed, true);
  await w.close(); // idempotent
});
