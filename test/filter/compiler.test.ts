// The compiler's edges: the cBPF printer against tcpdump -d itself, the C
// printer compiled by gcc against libpcap, the buffer model accepted by the
// verifier in a tracing program type, and every refusal with its message.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { compileCbpf, libpcapFilter, libpcapValidate } from '../../src/filter/libpcap';
import { formatCbpf, BPF_ALU, BPF_DIV, BPF_K, BPF_RET, BPF_JMP, BPF_JA, type CbpfInsn } from '../../src/filter/cbpf';
import { compileToEbpf, CompileError, type FragmentOptions } from '../../src/filter/compiler';
import { emitC } from '../../src/filter/c-emit';
import { Label, And, Call, Exit, Helper, JEq, LoadMapPtr, Mov, Add, StoreImm, R0, R1, R2, R3, R4, R6, R7, R8, R9, R10, type Insn } from '../../src/ebpf';
import { loadProgram } from '../../src/bpf/program';
import { ProgType } from '../../src/bpf/constants';
import { createMap } from '../../src/bpf/map';
import { closeAll } from '../../src/bpf/registry';
import { UserError } from '../../src/errors';
import { expressions } from './corpus';
import { generatePackets, Random } from './packets';
import { randomProgram } from './random-program';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nc-compiler-'));
after(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
  closeAll();
});

function tcpdumpListing(expr: string, optimize: boolean): string {
  // `--` so an expression starting with '-' ("-len < 0") is not an option.
  const args = ['-d', '-y', 'EN10MB', ...(optimize ? [] : ['-O']), '--', expr];
  const r = spawnSync('tcpdump', args, { encoding: 'utf8' });
  assert.equal(r.status, 0, `tcpdump ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

void test('the cBPF listing is byte-for-byte what tcpdump -d prints', (t) => {
  let compared = 0;
  for (const expr of expressions) {
    assert.equal(formatCbpf(compileCbpf(expr).insns), tcpdumpListing(expr, true), expr);
    compared++;
  }
  for (const expr of expressions.slice(0, 60)) {
    assert.equal(formatCbpf(compileCbpf(expr, { optimize: false }).insns), tcpdumpListing(expr, false), `${expr} (tcpdump -O)`);
    compared++;
  }
  t.diagnostic(`${compared} listings identical to tcpdump -d`);
});

/** Compiles the C rendering of `progs` with gcc and returns its verdicts, [packet][program]. */
function runC(progs: readonly (readonly CbpfInsn[])[], packets: readonly { data: Buffer; wirelen: number }[], titles: readonly string[] = []): number[][] {
  const source = [
    emitC(progs[0], { name: 'f0', prelude: true, title: titles[0] }),
    ...progs.slice(1).map((p, i) => emitC(p, { name: `f${i + 1}`, prelude: false, title: titles[i + 1] })),
    '#include <stdio.h>',
    `typedef u32 (*filter_fn)(const u8 *, u32, u32);`,
    `static const filter_fn filters[] = { ${progs.map((_, i) => `f${i}`).join(', ')} };`,
    // stdin: u32 caplen, u32 wirelen, bytes; one line of verdicts per packet.
    'int main(void) {',
    '\tu32 hdr[2]; static u8 buf[65536];',
    '\twhile (fread(hdr, 4, 2, stdin) == 2) {',
    '\t\tif (hdr[0] > sizeof buf || fread(buf, 1, hdr[0], stdin) != hdr[0]) return 2;',
    `\t\tfor (unsigned i = 0; i < ${progs.length}; i++) printf("%u ", filters[i](buf, hdr[0], hdr[1]));`,
    '\t\tputchar(10);',
    '\t}',
    '\treturn 0;',
    '}',
  ].join('\n');
  const src = path.join(tmp, `filters-${progs.length}.c`);
  const exe = src.replace(/\.c$/, '');
  fs.writeFileSync(src, source);
  const cc = spawnSync('gcc', ['-O1', '-Wall', '-Werror', '-Wno-unused-label', '-o', exe, src], { encoding: 'utf8' });
  assert.equal(cc.status, 0, cc.stderr);
  const input = Buffer.concat(
    packets.map((p) => {
      const h = Buffer.alloc(8);
      h.writeUInt32LE(p.data.length, 0);
      h.writeUInt32LE(p.wirelen, 4);
      return Buffer.concat([h, p.data]);
    }),
  );
  const run = spawnSync(exe, [], { input, encoding: 'utf8', maxBuffer: 64 << 20 });
  assert.equal(run.status, 0, run.stderr);
  const rows = run.stdout.trim().split('\n');
  assert.equal(rows.length, packets.length);
  return rows.map((row) => row.trim().split(' ').map(Number));
}

void test('the C rendering, compiled by gcc, gives libpcap verdicts', (t) => {
  const progs = expressions.filter((_, i) => i % 4 === 0).map((e) => compileCbpf(e));
  const packets = generatePackets(400, 77);
  const got = runC(
    progs.map((p) => p.insns),
    packets,
    progs.map((p) => p.expression),
  );
  let cases = 0;
  got.forEach((row, n) => {
    progs.forEach((p, i) => {
      assert.equal(row[i], libpcapFilter(p, packets[n].data, packets[n].wirelen), `"${p.expression}" on ${packets[n].name}`);
      cases++;
    });
  });
  t.diagnostic(`${cases} verdicts of gcc-compiled C equal libpcap's (${progs.length} expressions x ${packets.length} packets)`);
});

void test('the C rendering of random valid programs agrees with libpcap', (t) => {
  const r = new Random(0xc0de);
  const progs: CbpfInsn[][] = [];
  while (progs.length < 300) {
    const p = randomProgram(r);
    if (libpcapValidate(p)) progs.push(p);
  }
  const packets = generatePackets(200, 5);
  const got = runC(progs, packets);
  let cases = 0;
  got.forEach((row, n) => {
    progs.forEach((p, i) => {
      assert.equal(row[i], libpcapFilter(p, packets[n].data, packets[n].wirelen), `random program ${i} on ${packets[n].name}:\n${formatCbpf(p)}`);
      cases++;
    });
  });
  t.diagnostic(`${cases} verdicts of gcc-compiled C from random programs equal libpcap's`);
});

void test('the buffer model passes the verifier in a tracepoint program for every corpus expression', (t) => {
  // What a tracing probe does: bytes copied into a per-CPU map value, caplen
  // bounded by the copy. Loading is the test (tracepoints can't be test-run).
  const SIZE = 1024;
  const buffer = createMap({ type: 'percpu_array', name: 'nc_ct_buf', keySize: 4, valueSize: SIZE, maxEntries: 1 });
  try {
    let loaded = 0;
    for (const expr of expressions) {
      const prog = compileCbpf(expr);
      const opts: FragmentOptions = {
        model: { kind: 'buffer', data: R9, caplen: R7, bufferSize: SIZE },
        a: R0,
        x: R1,
        tmp: R2,
        wirelen: R8,
        result: R6,
        stackBase: -80,
        match: 'keep',
        noMatch: 'drop',
        prefix: 'flt',
      };
      const insns: Insn[] = [
        StoreImm(R10, -4, 0, 4),
        LoadMapPtr(R1, buffer.fd),
        Mov.reg(R2, R10),
        Add.imm(R2, -4),
        Call(Helper.map_lookup_elem),
        JEq.imm(R0, 0, 'drop'),
        Mov.reg(R9, R0),
        // caplen and wirelen: unknown values as a probe would read them, bounded like a probe bounds its copy.
        Call(Helper.get_prandom_u32),
        Mov.reg32(R7, R0),
        And.imm32(R7, SIZE - 1),
        Mov.reg32(R8, R0),
        ...compileToEbpf(prog.insns, opts),
        Label('keep'), Mov.reg(R0, R6),
        Exit(),
        Label('drop'), Mov.imm(R0, 0),
        Exit(),
      ];
      const p = loadProgram({ type: ProgType.TRACEPOINT, insns, name: 'nc_ct_trace' });
      p.close();
      loaded++;
    }
    t.diagnostic(`${loaded} tracepoint programs accepted by the verifier`);
  } finally {
    buffer.close();
  }
});

const fragmentOpts: FragmentOptions = {
  model: { kind: 'packet', data: R2, dataEnd: R3 },
  a: R0,
  x: R1,
  tmp: R6,
  wirelen: R4,
  result: R0,
  stackBase: -64,
  match: 'm',
  noMatch: 'n',
};

void test('refusals name the problem', () => {
  assert.throws(
    () => compileCbpf('tcp prot 80'),
    (e: unknown) => e instanceof UserError && /bad filter expression "tcp prot 80": .*syntax error/.test(e.message) && e.exitCode === 2,
  );
  assert.throws(() => compileCbpf('ip', { linktype: 'en10m' }), (e: unknown) => e instanceof UserError && /unknown link type/.test(e.message) && /EN10MB/.test(e.hint ?? ''));
  assert.throws(
    () => compileToEbpf(compileCbpf('ip protochain 6').insns, { ...fragmentOpts, maxLoopIterations: 0 }),
    (e: unknown) => e instanceof CompileError && /loops backwards/.test(e.message) && /protochain/.test(e.hint ?? ''),
  );
  const divZero: CbpfInsn[] = [
    { code: BPF_ALU | BPF_DIV | BPF_K, jt: 0, jf: 0, k: 0 },
    { code: BPF_RET | BPF_K, jt: 0, jf: 0, k: 1 },
  ];
  assert.throws(() => compileToEbpf(divZero, fragmentOpts), /divides by the constant 0/);
  const pastEnd: CbpfInsn[] = [{ code: BPF_JMP | BPF_JA, jt: 0, jf: 0, k: 5 }, { code: BPF_RET | BPF_K, jt: 0, jf: 0, k: 1 }];
  assert.throws(() => compileToEbpf(pastEnd, fragmentOpts), /outside the program/);
  assert.throws(() => compileToEbpf(divZero, { ...fragmentOpts, x: R0 }), /must be distinct/);
  assert.throws(() => compileToEbpf(divZero, { ...fragmentOpts, stackBase: -60 }), /stackBase/);
});

void test('a filter that rejects everything is a jump to no-match', () => {
  const prog = compileCbpf('ip and not ip');
  assert.deepEqual(prog.insns, [{ code: BPF_RET | BPF_K, jt: 0, jf: 0, k: 0 }]);
  const frag = compileToEbpf(prog.insns, fragmentOpts);
  assert.equal(frag[frag.length - 1].target, 'n');
  assert.ok(frag.every((i) => i.target !== 'm'), 'never jumps to match');
});

void test('unreachable cBPF instructions are dropped, and constants >= 2^31 need no register', () => {
  const prog: CbpfInsn[] = [
    { code: BPF_JMP | BPF_JA, jt: 0, jf: 0, k: 1 },
    { code: BPF_RET | BPF_K, jt: 0, jf: 0, k: 7 }, // skipped by the ja
    { code: 0x15, jt: 0, jf: 1, k: 0xfffffff0 }, // jeq #0xfffffff0
    { code: BPF_RET | BPF_K, jt: 0, jf: 0, k: 0x80000000 },
    { code: BPF_RET | BPF_K, jt: 0, jf: 0, k: 0 },
  ];
  const frag = compileToEbpf(prog, fragmentOpts);
  assert.ok(!frag.some((i) => i.imm === 7), 'the dead ret #7 is gone');
  const jeq = frag.find((i) => (i.opcode & 0x07) === 0x06 && (i.opcode & 0xf0) === 0x50);
  assert.ok(jeq, 'a JMP32 compare against the immediate');
  assert.equal(jeq.imm >>> 0, 0xfffffff0);
});

const NETCAP = path.join(__dirname, '..', '..', '..', 'bin', 'netcap');

void test('netcap compile prints tcpdump -d for --emit cbpf, counts for ebpf, and refuses bad input with exit 2', () => {
  const expr = 'tcp dst port 443 and ip[2:2] > 100';
  const cbpf = spawnSync(NETCAP, ['compile', '-e', expr, '--emit', 'cbpf'], { encoding: 'utf8' });
  assert.equal(cbpf.status, 0, cbpf.stderr);
  const [head, ...listing] = cbpf.stdout.split('\n');
  assert.match(head, /^; .*: \d+ cBPF instructions$/);
  assert.equal(listing.join('\n'), tcpdumpListing(expr, true));

  const ebpf = spawnSync(NETCAP, ['compile', '-e', expr], { encoding: 'utf8' });
  assert.equal(ebpf.status, 0, ebpf.stderr);
  const m = /(\d+) cBPF -> (\d+) eBPF instructions/.exec(ebpf.stdout);
  assert.ok(m, ebpf.stdout);
  const numbered = ebpf.stdout.split('\n').filter((l) => /^\d+: \([0-9a-f]{2}\) /.test(l));
  // The 64-bit load takes two slots; this program has none, so lines = slots.
  assert.equal(numbered.length, Number(m[2]));
  assert.match(numbered[numbered.length - 1], /exit$/);

  const bad = spawnSync(NETCAP, ['compile', '-e', 'tcp prot 80'], { encoding: 'utf8' });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /^netcap: bad filter expression "tcp prot 80"/);
  assert.doesNotMatch(bad.stderr, /\n\s+at /, 'no stack trace');

  const linktype = spawnSync(NETCAP, ['compile', '-e', 'ip', '--linktype', 'en10m'], { encoding: 'utf8' });
  assert.equal(linktype.status, 2);
  assert.match(linktype.stderr, /unknown link type "en10m"\n\s+did you mean EN10MB/);

  // protochain's backward loop is unrolled, not refused.
  const loop = spawnSync(NETCAP, ['compile', '-e', 'ip protochain 6'], { encoding: 'utf8' });
  assert.equal(loop.status, 0, loop.stderr);
});
