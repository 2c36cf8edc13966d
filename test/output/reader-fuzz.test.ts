// Damaged files: flipping, cutting and splicing bytes of valid pcap and
// pcapng files must give either a readable result (with warnings) or a
// CaptureFormatError naming the problem — never another exception, a hang,
// or a packet that claims bytes the file does not hold.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { PcapWriter } from '../../src/output/pcap-writer';
import { PcapngWriter } from '../../src/output/pcapng-writer';
import { parseCapture } from '../../src/output/read-capture';
import { CaptureFormatError } from '../../src/output/capture-file';
import type { CapturedPacket } from '../../src/output/packet';
import { generatePackets, Random } from '../filter/packets';

async function collect(write: (sink: PassThrough) => Promise<void>): Promise<Buffer> {
  const sink = new PassThrough();
  const chunks: Buffer[] = [];
  sink.on('data', (c: Buffer) => chunks.push(c));
  await write(sink);
  return Buffer.concat(chunks);
}

const packets: CapturedPacket[] = generatePackets(60, 41).map((p, i) => ({ ifIndex: i % 2, tsNs: 1_700_000_000_000_000_000n + BigInt(i), data: p.data, wirelen: p.wirelen, comment: i % 3 ? `c${i}` : undefined }));

void test('damaged pcap and pcapng files never throw anything but CaptureFormatError', async () => {
  const pcap = await collect(async (sink) => {
    const w = new PcapWriter(sink, { linktype: 1, snaplen: 262144 });
    for (const p of packets) await w.writePacket(p);
    await w.close();
  });
  const pcapng = await collect(async (sink) => {
    const w = new PcapngWriter(sink, { interfaces: [{ linktype: 1, snaplen: 262144, name: 'a' }, { linktype: 1, snaplen: 1000, name: 'b' }] });
    for (const p of packets) await w.writePacket(p);
    await w.writeStatistics(0, { received: 5n });
    await w.close();
  });
  const rng = new Random(99);
  let refused = 0;
  let read = 0;
  for (const original of [pcap, pcapng]) {
    assert.equal(parseCapture(original).packets.length, packets.length);
    for (let n = 0; n < 1500; n++) {
      const damaged = Buffer.from(original);
      const kind = rng.below(3);
      if (kind === 0) for (let f = 0; f < 1 + rng.below(8); f++) damaged[rng.below(damaged.length)] = rng.below(256);
      let input = damaged;
      if (kind === 1) input = damaged.subarray(0, rng.below(damaged.length));
      if (kind === 2) {
        const at = rng.below(damaged.length);
        input = Buffer.concat([damaged.subarray(0, at), rng.bytes(rng.below(64)), damaged.subarray(at)]);
      }
      try {
        const result = parseCapture(input);
        read++;
        for (const p of result.packets) {
          assert.ok(p.data.length <= input.length, 'a packet cannot hold more bytes than the file');
          assert.ok(p.ifIndex < result.interfaces.length, 'packets name existing interfaces');
        }
      } catch (e) {
        if (!(e instanceof CaptureFormatError)) throw new Error(`damage kind ${kind} threw ${(e as Error).stack}`);
        assert.ok(e.message.length > 10);
        refused++;
      }
    }
  }
  assert.ok(read > 0 && refused > 0, `read ${read}, refused ${refused}`);
});

void test('pcapng blocks too short for their fixed fields are refused, not read past', async () => {
  const pcapng = await collect(async (sink) => {
    const w = new PcapngWriter(sink, { interfaces: [{ linktype: 1, snaplen: 262144 }] });
    await w.writePacket(packets[0]);
    await w.close();
  });
  const shb = pcapng.readUInt32LE(4);
  const idb = pcapng.readUInt32LE(shb + 4);
  for (const type of [1, 2, 3, 5, 6]) {
    const tiny = Buffer.alloc(12);
    tiny.writeUInt32LE(type, 0);
    tiny.writeUInt32LE(12, 4);
    tiny.writeUInt32LE(12, 8);
    const input = Buffer.concat([pcapng.subarray(0, shb + idb), tiny, pcapng.subarray(shb + idb)]);
    assert.throws(() => parseCapture(input), (e: unknown) => e instanceof CaptureFormatError && /too short/.test(e.message), `block type ${type}`);
  }
});
