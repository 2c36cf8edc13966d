// netcap read hands the kept packets of a pcap file to the file outputs as
// columns (PcapColumns, the batch a capture hands them); the general path
// made a CapturedPacket of each. Both must write the same bytes: here the
// same kept records of the same files go through both into pcap and pcapng
// files side by side: little- and big-endian files, micro- and nanosecond
// precision, records longer than the file's snap length, -s cutting them,
// times at second boundaries and at the end of the u32 seconds, and a
// fraction out of range (a second or more), which only the general path
// writes back as the file has it.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { openCaptureStream } from '../../src/output/capture-stream';
import { openOutputs } from '../../src/output/outputs';
import type { CapturedPacket } from '../../src/output/packet';
import { joinNanoseconds, splitNanoseconds } from '../../src/output/packet-batch';
import { generatePackets } from '../filter/packets';
import { run, tempDir } from './reference-tools';

const tmp = tempDir('columns');
after(() => tmp.remove());

interface Rec {
  seconds: number;
  fraction: number;
  data: Buffer;
  wirelen: number;
}

/** A pcap file as bytes, in either byte order (PcapWriter writes little-endian only). */
function pcapFile(recs: Rec[], opts: { littleEndian: boolean; nanosecond: boolean; snaplen: number }): Buffer {
  const u32 = (v: number) => {
    const b = Buffer.alloc(4);
    if (opts.littleEndian) b.writeUInt32LE(v >>> 0);
    else b.writeUInt32BE(v >>> 0);
    return b;
  };
  const u16 = (v: number) => {
    const b = Buffer.alloc(2);
    if (opts.littleEndian) b.writeUInt16LE(v);
    else b.writeUInt16BE(v);
    return b;
  };
  const parts: Buffer[] = [u32(opts.nanosecond ? 0xa1b23c4d : 0xa1b2c3d4), u16(2), u16(4), u32(0), u32(0), u32(opts.snaplen), u32(1)];
  for (const r of recs) parts.push(u32(r.seconds), u32(r.fraction), u32(r.data.length), u32(r.wirelen), r.data);
  return Buffer.concat(parts);
}

const generated = generatePackets(400, 0xc01);

function records(nanosecond: boolean, outOfRange: boolean): Rec[] {
  const perSecond = nanosecond ? 1_000_000_000 : 1_000_000;
  return generated.map((p, i) => ({
    // Second boundaries, the last u32 second, and (when asked) one fraction of a whole second.
    seconds: i === 7 ? 0xffffffff : 1_700_000_000 + Math.floor(i / 3),
    fraction: outOfRange && i === 200 ? perSecond : i % 3 === 0 ? 0 : i % 3 === 1 ? perSecond - 1 : (i * 7919) % perSecond,
    data: p.data,
    wirelen: p.wirelen,
  }));
}

/** Writes the kept packets (those of even index) of `input` through both paths; returns the files [columns, packets]. */
async function writeBoth(input: string, ext: 'pcap' | 'pcapng', cut: number | undefined): Promise<{ files: [string, string]; columnBatches: number; packetBatches: number }> {
  const stream = await openCaptureStream(input, 4096);
  const files: [string, string] = [path.join(tmp.dir, `${path.basename(input)}-${cut}-columns.${ext}`), path.join(tmp.dir, `${path.basename(input)}-${cut}-packets.${ext}`)];
  const interfaces = stream.info.interfaces.map((i) => (cut === undefined ? i : { ...i, snaplen: Math.min(i.snaplen, cut) }));
  const [columnsSink] = openOutputs({ writeFile: files[0], nanosecond: stream.info.nanosecond }, interfaces);
  const [packetsSink] = openOutputs({ writeFile: files[1], nanosecond: stream.info.nanosecond }, interfaces);
  let columnBatches = 0;
  let packetBatches = 0;
  const kept = new Uint32Array(4096);
  let seen = 0;
  for await (const batch of stream.batches()) {
    // The packets of even index in the file (record 200, the out-of-range one, among them).
    let n = 0;
    for (let i = seen % 2; i < batch.count; i += 2) kept[n++] = i;
    seen += batch.count;
    if (n === 0) continue;
    // The general path: each packet made, then cut (what netcap read did before).
    const packets: CapturedPacket[] = [];
    for (let k = 0; k < n; k++) {
      const p = batch.packet(kept[k]);
      packets.push(cut !== undefined && p.data.length > cut ? { ...p, data: p.data.subarray(0, cut) } : p);
    }
    await packetsSink.write(packets);
    packetBatches++;
    const columns = batch.columns?.(kept, n, cut);
    if (columns) {
      assert.equal(columns.count, n);
      await columnsSink.writeBatch!(columns);
      columnBatches++;
    } else {
      await columnsSink.write(packets);
    }
  }
  await stream.close();
  await columnsSink.close([]);
  await packetsSink.close([]);
  return { files, columnBatches, packetBatches };
}

void test('joinNanoseconds is exact and splitNanoseconds undoes it', () => {
  const halves = new Uint32Array(2);
  const back = new Float64Array(2);
  for (const seconds of [0, 1, 4, 5, 65535, 65536, 1_700_000_000, 2 ** 31, 0xfffffffe, 0xffffffff]) {
    for (const ns of [0, 1, 999, 294_967_295, 294_967_296, 705_032_704, 999_999_999]) {
      joinNanoseconds(seconds, ns, halves);
      const total = BigInt(seconds) * 1_000_000_000n + BigInt(ns);
      assert.deepEqual([halves[0], halves[1]], [Number(total >> 32n), Number(total & 0xffffffffn)], `${seconds} s ${ns} ns`);
      splitNanoseconds(halves[0], halves[1], back);
      assert.deepEqual([back[0], back[1]], [seconds, ns]);
    }
  }
});

void test('kept pcap records as columns write what the general path writes, pcap and pcapng', async () => {
  for (const littleEndian of [true, false]) {
    for (const nanosecond of [false, true]) {
      for (const outOfRange of [false, true]) {
        const input = path.join(tmp.dir, `in-${littleEndian ? 'le' : 'be'}-${nanosecond ? 'ns' : 'us'}${outOfRange ? '-range' : ''}.pcap`);
        // A snap length below some packets' lengths: libpcap cuts them as it reads.
        fs.writeFileSync(input, pcapFile(records(nanosecond, outOfRange), { littleEndian, nanosecond, snaplen: 120 }));
        for (const ext of ['pcap', 'pcapng'] as const) {
          for (const cut of [undefined, 60]) {
            const what = `${path.basename(input)} -> ${ext}${cut ? ` -s ${cut}` : ''}`;
            const { files, columnBatches, packetBatches } = await writeBoth(input, ext, cut);
            const [a, b] = files.map((f) => fs.readFileSync(f));
            assert.ok(a.equals(b), `${what}: the two paths wrote different bytes`);
            // Only the batch holding the out-of-range fraction takes the general path.
            assert.equal(columnBatches, outOfRange ? packetBatches - 1 : packetBatches, what);
            assert.ok(packetBatches > 3, `${what}: several batches (${packetBatches})`);
            // tshark reads every kept packet of it.
            const frames = run(['tshark', '-r', files[0], '-T', 'fields', '-e', 'frame.number']).trim().split('\n');
            assert.equal(frames.length, records(nanosecond, outOfRange).length / 2, what);
          }
        }
      }
    }
  }
});
