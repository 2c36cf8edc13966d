// Every expression of the corpus x every generated packet: libpcap's own
// bpf_filter, the TypeScript interpreter, and our eBPF translation run by the
// kernel in both memory models must give the same verdict (match length, 0 =
// no match). Each expression runs optimized and unoptimized (longer programs
// with ja, st/ld M[] and more blocks to prune).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { compileCbpf, libpcapFilter, type CbpfProgram } from '../../src/filter/libpcap';
import { interpret } from '../../src/filter/interpreter';
import { closeAll } from '../../src/bpf/registry';
import { expressions, rejectsAll, refused } from './corpus';
import { generatePackets } from './packets';
import { BufferMaps, KernelFilter } from './kernel-verdict';

const PACKETS = 1000;
const SEED = 0x5eed;

let maps: BufferMaps | undefined;
after(() => {
  maps?.close();
  closeAll();
});

interface Tally {
  programs: number;
  cases: number;
  packetModelRuns: number;
  bufferModelRuns: number;
  matches: number;
}

function check(prog: CbpfProgram, label: string, packets: ReturnType<typeof generatePackets>, tally: Tally, failures: string[]): void {
  const kf = new KernelFilter(prog.insns, maps!);
  try {
    tally.programs++;
    for (const p of packets) {
      const want = libpcapFilter(prog, p.data, p.wirelen);
      const interp = interpret(prog.insns, p.data, p.wirelen);
      const kernel = kf.run(p.data, p.wirelen);
      tally.cases++;
      if (want !== 0) tally.matches++;
      if (kernel.packet !== undefined) tally.packetModelRuns++;
      if (kernel.buffer !== undefined) tally.bufferModelRuns++;
      const bad =
        interp !== want || (kernel.packet !== undefined && kernel.packet !== want) || (kernel.buffer !== undefined && kernel.buffer !== want);
      if (bad && failures.length < 20) {
        failures.push(
          `${label} on ${p.name} (caplen ${p.data.length}, wirelen ${p.wirelen}): libpcap ${want}, interpreter ${interp}, ` +
            `kernel packet ${kernel.packet}, kernel buffer ${kernel.buffer}; bytes ${p.data.toString('hex')}`,
        );
      }
    }
  } finally {
    kf.close();
  }
}

void test('corpus x packets: libpcap, interpreter, kernel packet model and kernel buffer model agree', (t) => {
  maps = new BufferMaps();
  const packets = generatePackets(PACKETS, SEED);
  const tally: Tally = { programs: 0, cases: 0, packetModelRuns: 0, bufferModelRuns: 0, matches: 0 };
  const failures: string[] = [];
  const started = process.hrtime.bigint();
  for (const expr of expressions) {
    check(compileCbpf(expr), `"${expr}" (optimized)`, packets, tally, failures);
    check(compileCbpf(expr, { optimize: false }), `"${expr}" (unoptimized)`, packets, tally, failures);
  }
  // protochain loops backwards: unrolled (8 copies by default).
  for (const expr of refused) {
    check(compileCbpf(expr), `"${expr}" (optimized, unrolled)`, packets, tally, failures);
    check(compileCbpf(expr, { optimize: false }), `"${expr}" (unoptimized, unrolled)`, packets, tally, failures);
  }
  for (const expr of rejectsAll) {
    const optimized = compileCbpf(expr);
    assert.equal(optimized.insns.length, 1, `"${expr}" reduces to a single ret #0`);
    check(optimized, `"${expr}" (optimized: rejects all)`, packets, tally, failures);
    check(compileCbpf(expr, { optimize: false }), `"${expr}" (unoptimized)`, packets, tally, failures);
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  t.diagnostic(
    `${tally.programs} programs, ${tally.cases} cases (${tally.matches} matches), ` +
      `${tally.packetModelRuns} packet-model and ${tally.bufferModelRuns} buffer-model kernel runs in ${seconds.toFixed(1)} s`,
  );
  assert.deepEqual(failures, []);
  // The corpus must exercise both outcomes and both kernel models substantially.
  assert.ok(tally.matches > tally.cases / 20, 'enough matching cases');
  assert.ok(tally.packetModelRuns > tally.cases / 2 && tally.bufferModelRuns > tally.cases * 0.9, 'kernel models ran on most cases');
});

void test('protochain: unrolled copies agree with libpcap on IPv6 extension-header chains of every length up to the limit', (t) => {
  maps ??= new BufferMaps();
  // Ethernet + IPv6 + n hop-by-hop/destination options headers (8 bytes
  // each) + TCP: libpcap walks the chain with its backward loop.
  const frame = (n: number): Buffer => {
    const eth = Buffer.from('02000000000102000000000286dd', 'hex');
    const ip6 = Buffer.alloc(40);
    ip6[0] = 0x60;
    ip6[6] = n === 0 ? 6 : 0; // next header: TCP, or hop-by-hop
    ip6[7] = 64;
    const exts = Array.from({ length: n }, (_, i) => {
      const h = Buffer.alloc(8);
      h[0] = i === n - 1 ? 6 : 60; // then destination options ... then TCP
      return h;
    });
    const tcp = Buffer.alloc(20);
    tcp[12] = 0x50;
    const body = Buffer.concat([...exts, tcp]);
    ip6.writeUInt16BE(body.length, 4);
    return Buffer.concat([eth, ip6, body]);
  };
  const prog = compileCbpf('ip6 protochain 6');
  const kf = new KernelFilter(prog.insns, maps);
  try {
    for (let n = 0; n <= 7; n++) {
      const data = frame(n);
      const want = libpcapFilter(prog, data, data.length);
      assert.notEqual(want, 0, `libpcap finds TCP after ${n} extension headers`);
      assert.deepEqual(kf.run(data, data.length), { packet: want, buffer: want }, `${n} extension headers`);
    }
    // Beyond the unrolled copies: no match, where libpcap walks on. Documented limit.
    const long = frame(12);
    assert.notEqual(libpcapFilter(prog, long, long.length), 0);
    assert.deepEqual(kf.run(long, long.length), { packet: 0, buffer: 0 });
    t.diagnostic('chains of 0..7 extension headers agree; 12 exceeds the 8 unrolled copies and is no match');
  } finally {
    kf.close();
  }
});
