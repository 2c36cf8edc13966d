// The streaming reader gives exactly what the whole-file readers give
// (themselves checked against tcpdump and tshark), whatever the chunk size,
// for pcap and pcapng, several sections, and files cut short.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { openCaptureStream } from '../../src/output/capture-stream';
import { parseCapture } from '../../src/output/read-capture';
import { PcapWriter } from '../../src/output/pcap-writer';
import { PcapngWriter } from '../../src/output/pcapng-writer';
import type { CapturedPacket } from '../../src/output/packet';
import { UserError } from '../../src/errors';
import { generatePackets } from '../filter/packets';
import { tempDir } from './reference-tools';

const tmp = tempDir('stream');
after(() => tmp.remove());

const packets: CapturedPacket[] = generatePackets(300, 51).map((p, i) => ({
  ifIndex: i % 2,
  tsNs: 1_700_000_000_000_000_000n + BigInt(i) * 1_234_567n,
  data: p.data,
  wirelen: p.wirelen,
  ...(i % 3 ? { comment: `packet ${i}` } : {}),
}));

async function files(): Promise<string[]> {
  const pcap = path.join(tmp.dir, 'a.pcap');
  const w = new PcapWriter(fs.createWriteStream(pcap), { linktype: 1, snaplen: 262144, nanosecond: true });
  for (const p of packets) await w.writePacket(p);
  await w.close();
  const ng = path.join(tmp.dir, 'a.pcapng');
  const n = new PcapngWriter(fs.createWriteStream(ng), { comment: 'stream test', interfaces: [{ linktype: 1, snaplen: 262144, name: 'x' }, { linktype: 1, snaplen: 200, name: 'y' }] });
  for (const p of packets) await n.writePacket(p);
  await n.writeStatistics(1, { received: 9n, comment: 'isb' });
  await n.close();
  const two = path.join(tmp.dir, 'two.pcapng');
  fs.writeFileSync(two, Buffer.concat([fs.readFileSync(ng), fs.readFileSync(ng)]));
  const cutPcap = path.join(tmp.dir, 'cut.pcap');
  fs.writeFileSync(cutPcap, fs.readFileSync(pcap).subarray(0, fs.statSync(pcap).size - 7));
  const cutNg = path.join(tmp.dir, 'cut.pcapng');
  fs.writeFileSync(cutNg, fs.readFileSync(ng).subarray(0, fs.statSync(ng).size - 30));
  return [pcap, ng, two, cutPcap, cutNg];
}

void test('streamed packets, interfaces, statistics, warnings and damage equal the whole-file reader', async () => {
  for (const file of await files()) {
    const whole = parseCapture(fs.readFileSync(file));
    for (const chunk of [7, 100, 4096, 1 << 20]) {
      const stream = await openCaptureStream(file, chunk);
      const got: CapturedPacket[] = [];
      try {
        for await (const p of stream.packets()) got.push(p);
      } finally {
        await stream.close();
      }
      const what = `${path.basename(file)} in ${chunk}-byte chunks`;
      assert.equal(got.length, whole.packets.length, what);
      got.forEach((p, i) => {
        const w = whole.packets[i];
        assert.ok(p.data.equals(w.data), `${what}: packet ${i}`);
        assert.deepEqual({ ...p, data: null }, { ...w, data: null }, `${what}: packet ${i}`);
      });
      assert.deepEqual(stream.info.interfaces, whole.interfaces, what);
      assert.deepEqual(stream.info.statistics, whole.statistics, what);
      assert.deepEqual(stream.info.sections, whole.sections, what);
      assert.deepEqual(stream.info.warnings, whole.warnings, what);
      assert.equal(stream.info.damage, whole.damage, what);
    }
  }
});

void test('foreign, missing and damaged files are UserErrors', async () => {
  const text = path.join(tmp.dir, 'text');
  fs.writeFileSync(text, 'hello world, not a capture');
  await assert.rejects(openCaptureStream(text), (e: unknown) => e instanceof UserError && /not a capture file/.test(e.message));
  await assert.rejects(openCaptureStream(path.join(tmp.dir, 'nope')), (e: unknown) => e instanceof UserError && /no such file/.test(e.message));
  const ng = fs.readFileSync(path.join(tmp.dir, 'a.pcapng'));
  const bad = Buffer.from(ng);
  const shb = bad.readUInt32LE(4);
  bad.writeUInt32LE(13, shb + 4); // IDB length not a multiple of 4
  const badFile = path.join(tmp.dir, 'bad.pcapng');
  fs.writeFileSync(badFile, bad);
  // Damage part way ends the packets, and info.damage says what was wrong
  // (netcap read writes what came before and exits non-zero, as tcpdump does).
  const stream = await openCaptureStream(badFile);
  for await (const _ of stream.packets()) void _;
  assert.match(stream.info.damage ?? '', /bad length 13/);
  await stream.close();
});
