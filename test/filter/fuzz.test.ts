// Random classic BPF programs (only ones libpcap's bpf_validate accepts) on
// random packets: libpcap's bpf_filter, the interpreter and both kernel
// models of our translation must agree on every case. The programs use every
// opcode bpf_filter runs, offsets near and far (k >= 2^31 included), shifts
// by 0..40, divisions by X that may be 0, and returns of any u32.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as c from '../../src/filter/cbpf';
import type { CbpfInsn } from '../../src/filter/cbpf';
import { libpcapFilter, libpcapValidate } from '../../src/filter/libpcap';
import { interpret } from '../../src/filter/interpreter';
import { closeAll } from '../../src/bpf/registry';
import { Random } from './packets';
import { BufferMaps, KernelFilter } from './kernel-verdict';

const PROGRAMS = 2000;
const PACKETS_PER_PROGRAM = 60;
const SEED = 0xf22;

let maps: BufferMaps | undefined;
after(() => {
  maps?.close();
  closeAll();
});

const insn = (code: number, k = 0, jt = 0, jf = 0): CbpfInsn => ({ code, jt, jf, k: k >>> 0 });

function offset(r: Random): number {
  const roll = r.below(20);
  if (roll === 0) return r.u32(); // anywhere, mostly >= 2^31
  if (roll === 1) return 0xffffffff - r.below(8);
  if (roll === 2) return 100 + r.below(4000);
  return r.below(70);
}

function constant(r: Random): number {
  const roll = r.below(6);
  if (roll === 0) return r.u32();
  if (roll === 1) return 0x80000000 + r.below(16);
  return r.below(roll === 2 ? 2 : 300);
}

const ALU_OPS = [c.BPF_ADD, c.BPF_SUB, c.BPF_MUL, c.BPF_DIV, c.BPF_MOD, c.BPF_AND, c.BPF_OR, c.BPF_XOR, c.BPF_LSH, c.BPF_RSH];
const JMP_OPS = [c.BPF_JEQ, c.BPF_JGT, c.BPF_JGE, c.BPF_JSET];
const SIZES = [c.BPF_W, c.BPF_H, c.BPF_B];

/** A program of forward jumps whose M[] reads only touch slots the prologue wrote. */
export function randomProgram(r: Random): CbpfInsn[] {
  const prog: CbpfInsn[] = [];
  const slots = Array.from({ length: 1 + r.below(4) }, () => r.below(c.BPF_MEMWORDS));
  for (const s of slots) prog.push(insn(c.BPF_LD | c.BPF_IMM, constant(r)), insn(c.BPF_ST, s));
  const bodyLen = 2 + r.below(30);
  const last = prog.length + bodyLen; // index of the final ret
  for (let i = prog.length; i < last; i++) {
    const forward = (): number => r.below(Math.min(last - i, 256)); // target = i + 1 + off <= last
    const roll = r.below(24);
    if (roll < 4) prog.push(insn(c.BPF_LD | r.pick(SIZES) | c.BPF_ABS, offset(r)));
    else if (roll < 6) prog.push(insn(c.BPF_LD | r.pick(SIZES) | c.BPF_IND, offset(r)));
    else if (roll === 6) prog.push(insn(c.BPF_LDX | c.BPF_B | c.BPF_MSH, offset(r)));
    else if (roll === 7) prog.push(insn(c.BPF_LDX | c.BPF_W | c.BPF_IMM, r.chance(0.2) ? 0 : constant(r)));
    else if (roll === 8) prog.push(insn(r.chance(0.5) ? c.BPF_LD | c.BPF_W | c.BPF_LEN : c.BPF_LDX | c.BPF_W | c.BPF_LEN));
    else if (roll === 9) prog.push(insn(c.BPF_LD | c.BPF_IMM, constant(r)));
    else if (roll === 10) prog.push(insn(r.chance(0.5) ? c.BPF_LD | c.BPF_MEM : c.BPF_LDX | c.BPF_W | c.BPF_MEM, r.pick(slots)));
    else if (roll === 11) prog.push(insn(r.chance(0.5) ? c.BPF_ST : c.BPF_STX, r.pick(slots)));
    else if (roll < 16) {
      const op = r.pick(ALU_OPS);
      if (r.chance(0.5)) prog.push(insn(c.BPF_ALU | op | c.BPF_X));
      else {
        let k = op === c.BPF_LSH || op === c.BPF_RSH ? r.below(40) : constant(r);
        if ((op === c.BPF_DIV || op === c.BPF_MOD) && k === 0) k = 1 + r.below(9);
        prog.push(insn(c.BPF_ALU | op | c.BPF_K, k));
      }
    } else if (roll === 16) prog.push(insn(c.BPF_ALU | c.BPF_NEG));
    else if (roll === 17) prog.push(insn(c.BPF_MISC | (r.chance(0.5) ? c.BPF_TAX : c.BPF_TXA)));
    else if (roll < 22) {
      const src = r.chance(0.3) ? c.BPF_X : c.BPF_K;
      prog.push(insn(c.BPF_JMP | r.pick(JMP_OPS) | src, constant(r), forward(), forward()));
    } else if (roll === 22) prog.push(insn(c.BPF_JMP | c.BPF_JA, forward()));
    else prog.push(r.chance(0.5) ? insn(c.BPF_RET | c.BPF_A) : insn(c.BPF_RET | c.BPF_K, constant(r)));
  }
  prog.push(r.chance(0.5) ? insn(c.BPF_RET | c.BPF_A) : insn(c.BPF_RET | c.BPF_K, constant(r)));
  return prog;
}

function randomPacket(r: Random): { data: Buffer; wirelen: number } {
  const len = r.chance(0.1) ? r.below(14) : r.below(120);
  const data = Buffer.alloc(len);
  for (let i = 0; i < len; i++) data[i] = r.chance(0.3) ? r.pick([0, 0xff, 0x45, 0x08]) : r.below(256);
  const wirelen = r.chance(0.3) ? len + r.below(2000) : len;
  return { data, wirelen };
}

void test(`${PROGRAMS} random valid programs x ${PACKETS_PER_PROGRAM} packets: libpcap, interpreter and both kernel models agree`, (t) => {
  maps = new BufferMaps();
  const r = new Random(SEED);
  let cases = 0;
  let invalid = 0;
  let matches = 0;
  const failures: string[] = [];
  const started = process.hrtime.bigint();
  for (let n = 0; n < PROGRAMS; n++) {
    const prog = randomProgram(r);
    if (!libpcapValidate(prog)) {
      invalid++;
      continue;
    }
    const kf = new KernelFilter(prog, maps);
    try {
      for (let p = 0; p < PACKETS_PER_PROGRAM; p++) {
        const { data, wirelen } = randomPacket(r);
        const want = libpcapFilter(prog, data, wirelen);
        const interp = interpret(prog, data, wirelen);
        const kernel = kf.run(data, wirelen);
        cases++;
        if (want !== 0) matches++;
        if (interp !== want || (kernel.packet !== undefined && kernel.packet !== want) || (kernel.buffer !== undefined && kernel.buffer !== want)) {
          if (failures.length < 10) {
            failures.push(
              `program ${n}: libpcap ${want}, interpreter ${interp}, kernel packet ${kernel.packet}, buffer ${kernel.buffer}; ` +
                `packet ${data.toString('hex')} wirelen ${wirelen}\n${c.formatCbpf(prog)}`,
            );
          }
        }
      }
    } finally {
      kf.close();
    }
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  t.diagnostic(`${cases} cases (${matches} matches) from ${PROGRAMS - invalid} programs (${invalid} refused by bpf_validate) in ${seconds.toFixed(1)} s`);
  assert.deepEqual(failures, []);
  assert.ok(cases >= 100_000, `at least 100k cases (got ${cases})`);
  assert.ok(matches > cases / 10, 'a fair share of matches');
});
