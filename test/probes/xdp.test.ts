// The hook capture programs (probes/xdp.ts) in the kernel, entered the way
// an XDP program enters them: the example firewall (examples/xdp-firewall)
// is run with BPF_PROG_TEST_RUN, picks its verdict by port and tail-calls
// into its hook, where netcap's program for that action sits. For a corpus
// of expressions and generated frames: every run returns the firewall's
// verdict, and the records are exactly the frames libpcap's filter selects
// (as the hook saw them: a bounced frame has its MACs swapped), each on
// the point of its action, whole, with its wire length. Multi-buffer
// frames (XDP frags) are captured whole and filtered on every byte; a full
// ring loses records, never a verdict.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { ProgType } from '../../src/bpf/constants';
import { createMap } from '../../src/bpf/map';
import { closeAll } from '../../src/bpf/registry';
import { loadProgram, type Program } from '../../src/bpf/program';
import { compatibleVariant, progArrayOwnerType } from '../../src/bpf/prog-array';
import { RingReader } from '../../src/bpf/ringbuf';
import { readPointStats } from '../../src/capture/stats';
import { CaptureMaps } from '../../src/capture/maps';
import { decodeRecord, type PacketRecord } from '../../src/capture/record';
import { compileCbpf, libpcapFilter } from '../../src/filter/libpcap';
import { HOOK_VARIANTS } from '../../src/modes/xdp/hook-mode';
import { buildXdpHookProgram } from '../../probes/xdp';
import { Firewall } from '../../examples/xdp-firewall/firewall';
import { expressions } from '../filter/corpus';
import { generatePackets } from '../filter/packets';
import { MAX_TEST_RUN_BYTES, MIN_TEST_RUN_BYTES } from '../filter/kernel-verdict';
import { tcpFrame, udpFrame } from '../../lab/frames';
import { asHookSees, firewallVerdict } from './xdp-frames';
import { Exit, LoadMapPtr, Mov, R0, R1 } from '../../src/ebpf';

const SNAPLEN = 262144;
const RULES = { drop: [53], bounce: [7], abort: [9], redirect: [{ port: 8, ifindex: 1 }] };
let fw: Firewall;
let maps: CaptureMaps;

before(() => {
  fw = Firewall.load(RULES);
  maps = CaptureMaps.create({ points: 5, ringBytes: 64 << 20 });
});

after(() => {
  closeAll();
});

const verdictOf = (frame: Buffer): number => firewallVerdict(RULES, frame);

/** Loads one capture program per action (the variant the firewall's hook takes) and fills the hook. */
function fillHook(expression: string, opts: { maps?: CaptureMaps } = {}): Program[] {
  const m = opts.maps ?? maps;
  const variant = compatibleVariant(fw.hook, ProgType.XDP, HOOK_VARIANTS);
  assert.ok(variant, 'the firewall hook takes some variant');
  const filter = expression ? compileCbpf(expression, { linktype: 'EN10MB', snaplen: SNAPLEN }).insns : undefined;
  return [0, 1, 2, 3, 4].map((action) => {
    const prog = loadProgram({
      type: ProgType.XDP,
      name: `nc_t_xdp${action}`,
      insns: buildXdpHookProgram({ action, point: action, filter, snaplen: SNAPLEN, maps: { ring: m.ring.fd, counters: m.counters.fd, scratch: m.scratchFor(SNAPLEN).fd } }),
      ...variant,
    });
    fw.hook.update(Buffer.from([action, 0, 0, 0]), Buffer.from(new Uint32Array([prog.fd]).buffer));
    return prog;
  });
}

function emptyHook(programs: Program[]): void {
  for (let action = 0; action < 5; action++) fw.hook.delete(Buffer.from([action, 0, 0, 0]));
  for (const p of programs) p.close();
}

/** Runs every frame through the firewall; returns the records and asserts every verdict. */
function runFrames(frames: Buffer[], m = maps): PacketRecord[] {
  const records: PacketRecord[] = [];
  const reader = new RingReader(m.ring, (batch) => {
    for (const r of batch) records.push(decodeRecord(r));
  });
  try {
    frames.forEach((f, i) => {
      const { retval } = fw.program.testRun(f);
      assert.equal(retval, verdictOf(f), `frame ${i}: the verdict stands`);
    });
    reader.drain();
  } finally {
    reader.close();
  }
  return records;
}

const special = [
  udpFrame({ dstPort: 53 }),
  udpFrame({ dstPort: 7, srcMac: '02:00:00:00:00:aa', dstMac: '02:00:00:00:00:bb' }),
  tcpFrame({ dstPort: 9 }),
  udpFrame({ dstPort: 8 }),
  tcpFrame({ dstPort: 80, flags: 0x18, payload: Buffer.from('GET / HTTP/1.1\r\n\r\n') }),
  tcpFrame({ dstPort: 53, srcIp: '10.1.2.3' }),
];
const frames = [...special, ...generatePackets(300, 12).map((p) => p.data)].filter((f) => f.length >= MIN_TEST_RUN_BYTES && f.length <= MAX_TEST_RUN_BYTES);
const corpus = ['', 'udp', 'tcp port 80', 'ether src 02:00:00:00:00:bb', 'udp port 53 or tcp port 9', ...expressions.filter((_, i) => i % 9 === 0)];

void test('an empty hook: the firewall gives every verdict itself', () => {
  const before = fw.counts();
  runFrames(special);
  const after = fw.counts();
  assert.deepEqual(after.map((n, i) => n - before[i]), [1n, 2n, 1n, 1n, 1n], 'aborted, drop (53 twice), pass, tx, redirect');
});

void test(`${corpus.length} expressions x ${frames.length} frames: records = libpcap's selection, on the point of the verdict; verdicts unchanged`, () => {
  for (const expression of corpus) {
    const programs = fillHook(expression);
    try {
      const countsBefore = readPointStats(maps.counters, 5, []);
      const records = runFrames(frames);
      const cbpf = compileCbpf(expression, { linktype: 'EN10MB', snaplen: SNAPLEN });
      const expected = frames
        .map((f) => ({ action: verdictOf(f), frame: asHookSees(f, verdictOf(f)) }))
        .filter((e) => libpcapFilter(cbpf, e.frame, e.frame.length) > 0);
      assert.deepEqual(
        records.map((r) => ({ action: r.point, frame: r.data.toString('hex'), wirelen: r.wirelen })),
        expected.map((e) => ({ action: e.action, frame: e.frame.toString('hex'), wirelen: e.frame.length })),
        `"${expression}"`,
      );
      const counts = readPointStats(maps.counters, 5, []);
      for (let a = 0; a < 5; a++) {
        const seen = frames.filter((f) => verdictOf(f) === a).length;
        assert.equal(counts[a].seen - countsBefore[a].seen, BigInt(seen), `"${expression}": ${a} seen`);
        assert.equal(counts[a].matched - countsBefore[a].matched, BigInt(expected.filter((e) => e.action === a).length), `"${expression}": ${a} matched`);
      }
    } finally {
      emptyHook(programs);
    }
  }
});

void test('multi-buffer frames (XDP frags): captured whole, filtered on bytes past the first buffer', () => {
  const big = (port: number, fill: number) => udpFrame({ dstPort: port, payload: Buffer.alloc(9000, fill) });
  const bigFrames = [big(80, 7), big(53, 7), big(80, 8), big(7, 7)];
  for (const expression of ['udp[5000] = 7', 'udp and len > 9000', '']) {
    const programs = fillHook(expression);
    try {
      const records = runFrames(bigFrames);
      const cbpf = compileCbpf(expression, { linktype: 'EN10MB', snaplen: SNAPLEN });
      const expected = bigFrames.map((f) => asHookSees(f, verdictOf(f))).filter((f) => libpcapFilter(cbpf, f, f.length) > 0);
      assert.ok(expected.length > 0);
      assert.deepEqual(records.map((r) => r.data.toString('hex')), expected.map((f) => f.toString('hex')), `"${expression}"`);
      assert.ok(records.every((r) => r.wirelen === 9042 && !r.readFailed));
    } finally {
      emptyHook(programs);
    }
  }
});

void test('a full ring loses records, counted, and never a verdict', () => {
  const small = CaptureMaps.create({ points: 5, ringBytes: 4096 });
  const programs = fillHook('', { maps: small });
  try {
    const many = Array.from({ length: 200 }, (_, i) => udpFrame({ dstPort: i % 2 ? 53 : 80, payload: Buffer.alloc(200) }));
    const records = runFrames(many, small);
    const counts = readPointStats(small.counters, 5, []);
    const lost = counts.reduce((s, c) => s + c.lost, 0n);
    assert.ok(lost > 0n, 'some records found the ring full');
    assert.equal(BigInt(records.length) + lost, 200n, 'every match is written or counted as lost');
  } finally {
    emptyHook(programs);
    small.close();
  }
});

void test('a hook map owned by a program of another kind takes no capture program', () => {
  // A prog array first used by a socket filter: its owner is not XDP.
  const other = createMap({ type: 'prog_array', name: 'nc_t_sockhook', keySize: 4, valueSize: 4, maxEntries: 5 });
  loadProgram({ type: ProgType.SOCKET_FILTER, name: 'nc_t_owner', insns: [LoadMapPtr(R1, other.fd), Mov.imm(R0, 0), Exit()] }).close();
  assert.equal(compatibleVariant(other, ProgType.XDP, HOOK_VARIANTS), undefined);
  other.close();
});

void test('a hook map nobody uses yet: the first variant, and looking leaves it without an owner', () => {
  const fresh = createMap({ type: 'prog_array', name: 'nc_t_fresh', keySize: 4, valueSize: 4, maxEntries: 5 });
  try {
    assert.equal(progArrayOwnerType(fresh), undefined);
    assert.deepEqual(compatibleVariant(fresh, ProgType.XDP, HOOK_VARIANTS), HOOK_VARIANTS[0]);
    assert.equal(progArrayOwnerType(fresh), undefined, 'still no owner');
    assert.equal(progArrayOwnerType(fw.hook), ProgType.XDP, "the firewall's hook is owned by an XDP program");
  } finally {
    fresh.close();
  }
});
