// Random classic BPF programs for the fuzz tests: forward jumps only, every
// opcode libpcap's bpf_filter runs, offsets near and far (k >= 2^31
// included), shifts by 0..40, divisions by X that may be 0, returns of any
// u32, and M[] reads only of slots a prologue wrote (libpcap leaves M[]
// uninitialised, so reading an unwritten slot has no reference verdict).
import * as c from '../../src/filter/cbpf';
import type { CbpfInsn } from '../../src/filter/cbpf';
import type { Random } from './packets';

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

