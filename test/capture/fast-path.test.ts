// The fast path writes the same files as the general one. A capture whose
// mode's packets are its records as they are (plainPackets) hands its
// batches to outputs that take them (writeBatch: pcap and pcapng files)
// without making a CapturedPacket per packet; the general path decodes each
// record and writes packet by packet (writePacket). Here the same records
// go through both, into pcap and pcapng files side by side, and the files
// must be byte for byte the same: from crafted records (raw-IP packets
// behind a synthesised Ethernet header, snap lengths, directions, read
// failures, times at second boundaries and beyond 2^53 ns, several
// points), and from a live skb capture on a veth. tcpdump and tshark read
// them.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Capture } from '../../src/capture/capture';
import { WallClock } from '../../src/capture/clock';
import type { PacketSink } from '../../src/output/outputs';
import { openOutputs } from '../../src/output/outputs';
import { RecordBatch } from '../../src/bpf/ringbuf';
import { RECORD, FLAG_DIRECTION_KNOWN, FLAG_OUTBOUND, FLAG_READ_FAILED, type PacketRecord } from '../../src/capture/record';
import type { ModePacket, PrepareMode, PreparedMode } from '../../src/capture/mode';
import { LINKTYPE_ETHERNET, LINKTYPE_RAW } from '../../src/output/linktypes';
import { splitNanoseconds } from '../../src/output/packet-batch';
import { BLOCK, decodeOptions, encodeBlock, pad4 } from '../../src/output/pcapng-format';
import { openCapture } from '../../src/index';
import { World } from '../../lab/netns';
import { inject } from '../../lab/inject';
import { numberedFrames, RECEIVER_MAC, SENDER_MAC, waitFor } from './numbered-frames';
import { run, tempDir } from '../output/reference-tools';

const tmp = tempDir('fastpath');
const world = new World('fastpath');
after(async () => {
  await world.destroy();
  tmp.remove();
});

/** The same sink without its batch method: the capture gives it CapturedPackets (the general path). */
function general(sink: PacketSink): PacketSink {
  return { write: (b) => sink.write(b), addInterface: (i) => sink.addInterface(i), flush: () => sink.flush(), close: (s) => sink.close(s) };
}

interface Rec {
  tsNs: bigint;
  point: number;
  data: Buffer;
  wirelen?: number;
  /** The caplen field when it claims more than the record holds. */
  caplenField?: number;
  linktype?: number;
  protocol?: number;
  flags?: number;
  addr?: bigint;
  comm?: string;
}

function record(r: Rec): Buffer {
  const b = Buffer.alloc(RECORD.headerSize + r.data.length);
  b.writeBigUInt64LE(r.tsNs, RECORD.tsNs);
  b.writeBigUInt64LE(r.addr ?? 0xffff888004a1b2c0n, RECORD.addr);
  b.writeUInt32LE(4242, RECORD.pid);
  b.writeUInt32LE(4243, RECORD.tid);
  b.writeUInt32LE(1, RECORD.cpu);
  b.writeUInt32LE(r.point, RECORD.point);
  b.writeUInt32LE(r.wirelen ?? r.data.length, RECORD.wirelen);
  b.writeUInt32LE(r.caplenField ?? r.data.length, RECORD.caplen);
  b.writeUInt32LE(7, RECORD.ifindex);
  b.writeUInt32LE(4026531840, RECORD.netns);
  b.writeUInt32LE(0x2a, RECORD.mark);
  b.writeInt32LE(-1, RECORD.stackId);
  b.writeUInt16BE(r.protocol ?? 0, RECORD.protocol);
  b[RECORD.linktype] = r.linktype ?? LINKTYPE_ETHERNET;
  b[RECORD.flags] = r.flags ?? 0;
  b.write(r.comm ?? 'inject', RECORD.comm, 'latin1');
  r.data.copy(b, RECORD.headerSize);
  return b;
}

/** The records laid out as the ring holds them: each after an 8-byte header of garbage, padded to 8 bytes. */
function batchOf(records: Buffer[]): RecordBatch {
  const starts = new Uint32Array(records.length);
  const ends = new Uint32Array(records.length);
  const parts: Buffer[] = [];
  let at = 0;
  records.forEach((r, i) => {
    const header = Buffer.alloc(8, 0xa5);
    const padding = Buffer.alloc((8 - (r.length % 8)) % 8, 0x5a);
    starts[i] = at + 8;
    ends[i] = at + 8 + r.length;
    at = ends[i] + padding.length;
    parts.push(header, r, padding);
  });
  return new RecordBatch(Buffer.concat(parts), starts, ends);
}

/** A mode over crafted records, shaped like skb's: point 1 knows its direction, raw-IP records are marked l3-start. */
function craftedMode(plain: boolean): PrepareMode {
  const direction = (point: number) => (point === 1 ? ('in' as const) : undefined);
  return (): PreparedMode => ({
    points: [{ name: 'p0' }, { name: 'p1' }, { name: 'p2' }],
    readiness: 'crafted records',
    notes: [],
    metadataOnStdout: false,
    check: () => undefined,
    load: (settings) => ({ settings, programs: [], install: () => undefined, close: () => undefined }),
    attachedPrograms: [],
    attach: () => [],
    packet: (rec: PacketRecord): ModePacket => ({
      data: rec.data,
      wirelen: rec.wirelen,
      linktype: rec.linktype,
      ...((direction(rec.point) ?? rec.direction) ? { direction: direction(rec.point) ?? rec.direction } : {}),
      meta: {
        pid: rec.pid, tid: rec.tid, comm: rec.comm, cpu: rec.cpu, point: `p${rec.point}`, object: { kind: 'skb', address: rec.addr }, ifindex: rec.ifindex,
        netns: rec.netns, mark: rec.mark, ...(rec.linktype !== LINKTYPE_ETHERNET ? { flags: ['l3-start'] } : {}), ...(rec.readFailed ? { flags: ['truncated=read-error'] } : {}),
      },
    }),
    ...(plain ? { plainPackets: { direction } } : {}),
    describe: () => '',
    close: () => undefined,
  });
}

/** Ethernet + IPv4 + UDP, `size` bytes, numbered. */
const ether = (n: number, size = 60) => numberedFrames(1, 9, size, n)[0];
/** The same frame from its IP header on (a raw-IP record). */
const rawIp = (n: number, size = 60) => ether(n, size).subarray(14);

const boundary = 1_700_000_000_999_999_999n;
const crafted: Rec[] = [
  { tsNs: 5_000_000_000n, point: 0, data: ether(0) },
  { tsNs: 5_000_000_001n, point: 1, data: ether(1, 1514), wirelen: 1514 },
  { tsNs: 5_999_999_999n, point: 2, data: rawIp(2), protocol: 0x0800, linktype: LINKTYPE_RAW },
  { tsNs: 6_000_000_000n, point: 2, data: rawIp(3), linktype: LINKTYPE_RAW },
  { tsNs: 6_000_000_500n, point: 0, data: Buffer.from('6' + '0'.repeat(79), 'hex'), linktype: LINKTYPE_RAW },
  { tsNs: 6_000_001_000n, point: 0, data: ether(5, 200), wirelen: 9000 },
  { tsNs: 6_000_002_000n, point: 0, data: ether(6, 100), caplenField: 5000 },
  { tsNs: 6_000_003_000n, point: 2, data: ether(7), flags: FLAG_DIRECTION_KNOWN | FLAG_OUTBOUND },
  { tsNs: 6_000_004_000n, point: 2, data: ether(8), flags: FLAG_DIRECTION_KNOWN },
  { tsNs: 6_000_005_000n, point: 0, data: ether(9).subarray(0, 20), wirelen: 60, flags: FLAG_READ_FAILED },
  { tsNs: 6_000_006_000n, point: 1, data: Buffer.alloc(0), wirelen: 0 },
  { tsNs: 6_000_007_000n, point: 0, data: ether(11), comm: 'kworker/1:2-événement'.slice(0, 15), addr: 0n },
  // Monotonic times after years of uptime: beyond 2^53 ns, where a Number loses nanoseconds.
  { tsNs: 2n ** 53n + 1n, point: 0, data: ether(12) },
  { tsNs: 2n ** 60n + 999_999_999n, point: 1, data: ether(13) },
  { tsNs: boundary, point: 2, data: rawIp(14, 1500), linktype: LINKTYPE_RAW, protocol: 0x86dd },
];

/** Writes `batches` through a capture of the crafted mode into old- and new-path files of each kind; returns their paths. */
async function writeBoth(tag: string, batches: Rec[][], opts: { snaplen: number; plain?: boolean; nanosecond?: boolean }) {
  const capture = new Capture(craftedMode(opts.plain ?? true), { expression: '', snaplen: opts.snaplen, ringBytes: 1 << 16 });
  // One wall clock for every capture here, so files of different captures compare too.
  Object.assign(capture, { clock });
  const files = { pcapNew: '', pcapOld: '', pcapngNew: '', pcapngOld: '' };
  for (const [key, ext, wrap] of [['pcapNew', 'pcap', false], ['pcapOld', 'pcap', true], ['pcapngNew', 'pcapng', false], ['pcapngOld', 'pcapng', true]] as const) {
    files[key] = path.join(tmp.dir, `${tag}-${key}.${ext}`);
    const [sink] = openOutputs({ writeFile: files[key], nanosecond: opts.nanosecond, comment: 'netcap test' }, capture.interfaces);
    capture.addOutput(wrap ? general(sink) : sink);
  }
  // The records as the ring reader hands them over (deliver is what it calls).
  const deliver = (capture as unknown as { deliver(b: RecordBatch): void }).deliver.bind(capture);
  for (const b of batches) deliver(batchOf(b.map(record)));
  await capture.stop('test');
  return files;
}

const clock = new WallClock();

/** A pcapng file's blocks without its Interface Statistics Blocks (which hold the time the capture ended). */
function withoutStatistics(file: Buffer): Buffer {
  const blocks: Buffer[] = [];
  for (let at = 0; at < file.length; at += file.readUInt32LE(at + 4)) {
    if (file.readUInt32LE(at) !== BLOCK.interfaceStatistics) blocks.push(file.subarray(at, at + file.readUInt32LE(at + 4)));
  }
  return Buffer.concat(blocks);
}

/**
 * Both paths write their Enhanced Packet Blocks through one encoder
 * (pcapng-blocks.ts): each block is checked against the generic block
 * encoder (encodeBlock over the body and its decoded options), which is how
 * the writer made them before there was a fast path.
 */
function sameAsGenericEncoder(file: string, what: string): void {
  const bytes = fs.readFileSync(file);
  let packets = 0;
  for (let at = 0; at < bytes.length; at += bytes.readUInt32LE(at + 4)) {
    if (bytes.readUInt32LE(at) !== BLOCK.enhancedPacket) continue;
    const total = bytes.readUInt32LE(at + 4);
    const caplen = bytes.readUInt32LE(at + 20);
    const options = decodeOptions(bytes, at + 28 + pad4(caplen), at + total - 4, true);
    const generic = encodeBlock(BLOCK.enhancedPacket, bytes.subarray(at + 8, at + 28 + caplen), options);
    assert.ok(generic.equals(bytes.subarray(at, at + total)), `${what}: packet ${packets} differs from the generic encoder's block`);
    packets++;
  }
  assert.ok(packets > 0, `${what}: no packets`);
}

const same = (a: string, b: string, what: string, acrossCaptures = false) => {
  const read = (f: string) => (acrossCaptures && f.endsWith('.pcapng') ? withoutStatistics(fs.readFileSync(f)) : fs.readFileSync(f));
  const x = read(a);
  const y = read(b);
  assert.ok(x.length > 100, `${what}: ${x.length} bytes`);
  assert.ok(x.equals(y), `${what}: the fast path's ${x.length} bytes differ from the general path's ${y.length} bytes (first at ${x.findIndex((v, i) => v !== y[i])})`);
};

void test('crafted records: the fast path writes the same pcap and pcapng bytes as the general path', async () => {
  for (const snaplen of [262144, 64, 10]) {
    for (const nanosecond of [false, true]) {
      const f = await writeBoth(`s${snaplen}${nanosecond ? 'n' : 'u'}`, [crafted.slice(0, 6), crafted.slice(6)], { snaplen, nanosecond });
      same(f.pcapNew, f.pcapOld, `pcap, snaplen ${snaplen}${nanosecond ? ', ns' : ''}`);
      same(f.pcapngNew, f.pcapngOld, `pcapng, snaplen ${snaplen}`);
      sameAsGenericEncoder(f.pcapngOld, `pcapng, snaplen ${snaplen}`);
    }
  }
  // A batch of megabytes, written in slices.
  const many = Array.from({ length: 6000 }, (_, i) => ({ ...crafted[i % crafted.length], tsNs: 7_000_000_000n + 1000n * BigInt(i) }));
  const big = await writeBoth('big', [many], { snaplen: 262144 });
  assert.ok(fs.statSync(big.pcapngNew).size > 1 << 20, 'more than 1 MiB in one batch');
  same(big.pcapNew, big.pcapOld, 'pcap, 6000 packets in one batch');
  same(big.pcapngNew, big.pcapngOld, 'pcapng, 6000 packets in one batch');
  sameAsGenericEncoder(big.pcapngNew, 'pcapng, 6000 packets in one batch');
  // And against a mode that does not declare plain packets (every record decoded, as before the fast path).
  const plain = await writeBoth('plain', [crafted], { snaplen: 262144 });
  const decoded = await writeBoth('decoded', [crafted], { snaplen: 262144, plain: false });
  same(plain.pcapNew, decoded.pcapNew, 'pcap, plain mode against a decoding one', true);
  same(plain.pcapngNew, decoded.pcapngNew, 'pcapng, plain mode against a decoding one', true);
  // tcpdump and tshark read every packet of them.
  const lines = run(['tcpdump', '-r', plain.pcapNew, '-nn', '--nano', '-tt']).trim().split('\n');
  assert.equal(lines.length, crafted.length);
  assert.equal(run(['tshark', '-r', plain.pcapngNew, '-T', 'fields', '-e', 'frame.comment']).trim().split('\n').length, crafted.length);
});

void test('splitNanoseconds is exact over the whole u64 range', () => {
  const out = new Float64Array(2);
  for (const ns of [0n, 1n, 999_999_999n, 1_000_000_000n, 2n ** 32n - 1n, 2n ** 32n, 2n ** 53n + 1n, boundary, 2n ** 63n + 12345n, 2n ** 64n - 1n]) {
    splitNanoseconds(Number(ns >> 32n), Number(ns & 0xffffffffn), out);
    assert.deepEqual([BigInt(out[0]), BigInt(out[1])], [ns / 1_000_000_000n, ns % 1_000_000_000n], `${ns}`);
  }
});

void test('a live skb capture on a veth: both paths write the same files from the same records', async () => {
  const ns = world.addNamespace();
  ns.addVeth('v0', 'v1', { local: { mac: SENDER_MAC }, peer: { mac: RECEIVER_MAC, address: '192.0.2.2/24' } });
  const files: string[] = [];
  const capture = openCapture({ mode: 'skb', points: 'tracepoint:net:netif_receive_skb', iface: 'v1', netns: ns.name, filter: 'udp port 9', snaplen: 100 });
  try {
    assert.ok(capture.mode.plainPackets, 'skb without -G declares plain packets');
    for (const [ext, wrap] of [['pcap', false], ['pcap', true], ['pcapng', false], ['pcapng', true]] as const) {
      const file = path.join(tmp.dir, `live-${files.length}.${ext}`);
      files.push(file);
      const [sink] = openOutputs({ writeFile: file, comment: 'netcap live' }, capture.interfaces);
      capture.addOutput(wrap ? general(sink) : sink);
    }
    await capture.start();
    await inject(ns, 'v0', numberedFrames(300, 9, 150), { rate: 5000 });
    await waitFor(() => capture.stats()[0].captured >= 300n, 10_000, '300 frames captured');
  } finally {
    await capture.stop('test');
  }
  same(files[0], files[1], 'live pcap');
  same(files[2], files[3], 'live pcapng');
  assert.equal(run(['tcpdump', '-r', files[0], '-nn']).trim().split('\n').length, 300);
});
