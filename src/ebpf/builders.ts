// Builders for every eBPF instruction the project emits, in the spirit of
// cilium/ebpf's asm package (`asm.JEq.Imm(dst, v, "label")`). Each doc
// comment shows the instruction as the verifier log prints it.
import { Insn } from './instruction';
import { AluOp, InsnClass, JumpOp, Mode, PSEUDO_MAP_FD, Size, Source, type Width, sizeForWidth } from './opcodes';
import { R0, type Register } from './registers';
import type { Helper } from './helpers';

const INT32_MIN = -0x80000000;
const UINT32_MAX = 0xffffffff;

/** Accepts -2^31..2^32-1 and returns the 32-bit pattern as a signed int32 (the kernel sign-extends it). */
function imm32(v: number, what: string): number {
  if (!Number.isInteger(v) || v < INT32_MIN || v > UINT32_MAX) throw new RangeError(`${what}: immediate ${v} does not fit in 32 bits`);
  return v | 0;
}

function off16(v: number): number {
  if (!Number.isInteger(v) || v < -0x8000 || v > 0x7fff) throw new RangeError(`offset ${v} does not fit in a signed 16-bit field`);
  return v;
}

function alu(cls: InsnClass, op: AluOp, src: Source, dst: Register, srcReg: Register, imm: number): Insn {
  return new Insn({ opcode: op | src | cls, dst, src: srcReg, off: 0, imm });
}

/** One ALU operation in its four forms. */
export class AluBuilder {
  constructor(readonly op: AluOp, readonly name: string) {}
  /** 64-bit, immediate: `r1 += 5` (the imm is sign-extended to 64 bits). */
  imm(dst: Register, value: number): Insn {
    return alu(InsnClass.ALU64, this.op, Source.K, dst, R0, imm32(value, this.name));
  }
  /** 64-bit, register: `r1 += r2`. */
  reg(dst: Register, src: Register): Insn {
    return alu(InsnClass.ALU64, this.op, Source.X, dst, src, 0);
  }
  /** 32-bit, immediate: `w1 += 5`; the upper half of dst becomes zero. */
  imm32(dst: Register, value: number): Insn {
    return alu(InsnClass.ALU, this.op, Source.K, dst, R0, imm32(value, this.name));
  }
  /** 32-bit, register: `w1 += w2`; the upper half of dst becomes zero. */
  reg32(dst: Register, src: Register): Insn {
    return alu(InsnClass.ALU, this.op, Source.X, dst, src, 0);
  }
}

export const Add = new AluBuilder(AluOp.ADD, 'add');
export const Sub = new AluBuilder(AluOp.SUB, 'sub');
export const Mul = new AluBuilder(AluOp.MUL, 'mul');
/** Unsigned division; the kernel defines x / 0 = 0 (since 4.x, see do_div in kernel/bpf/core.c). */
export const Div = new AluBuilder(AluOp.DIV, 'div');
export const Or = new AluBuilder(AluOp.OR, 'or');
export const And = new AluBuilder(AluOp.AND, 'and');
export const LSh = new AluBuilder(AluOp.LSH, 'lsh');
export const RSh = new AluBuilder(AluOp.RSH, 'rsh');
/** Unsigned modulo; the kernel defines x % 0 = x. */
export const Mod = new AluBuilder(AluOp.MOD, 'mod');
export const Xor = new AluBuilder(AluOp.XOR, 'xor');
export const Mov = new AluBuilder(AluOp.MOV, 'mov');
export const ArSh = new AluBuilder(AluOp.ARSH, 'arsh');

/** `r1 = -r1` (64-bit). */
export function Neg(dst: Register): Insn {
  return alu(InsnClass.ALU64, AluOp.NEG, Source.K, dst, R0, 0);
}

/** `w1 = -w1` (32-bit; upper half zeroed). */
export function Neg32(dst: Register): Insn {
  return alu(InsnClass.ALU, AluOp.NEG, Source.K, dst, R0, 0);
}

/** `r1 = be16 r1`: convert between host order and big-endian, keeping the low `bits` bits (zero-extended). On a little-endian host this swaps. */
export function ToBE(dst: Register, bits: 16 | 32 | 64): Insn {
  return alu(InsnClass.ALU, AluOp.END, Source.X, dst, R0, bits);
}

/** `r1 = le16 r1`: convert between host order and little-endian (truncates to `bits`; a no-op swap on x86). */
export function ToLE(dst: Register, bits: 16 | 32 | 64): Insn {
  return alu(InsnClass.ALU, AluOp.END, Source.K, dst, R0, bits);
}

/** `r1 = 0x1122334455667788 ll` (two slots). Accepts -2^63..2^64-1. */
export function LoadImm64(dst: Register, value: bigint | number): Insn {
  const v = BigInt.asUintN(64, BigInt(value));
  return new Insn({ opcode: InsnClass.LD | Mode.IMM | Size.DW, dst, src: R0, off: 0, imm: Number(BigInt.asIntN(32, v)), imm64: v });
}

/** `r1 = map[fd:5]`: the kernel replaces the fd with the map's address at load time (BPF_PSEUDO_MAP_FD). */
export function LoadMapPtr(dst: Register, mapFd: number): Insn {
  if (!Number.isInteger(mapFd) || mapFd < 0) throw new RangeError(`bad map fd ${mapFd}`);
  return new Insn({ opcode: InsnClass.LD | Mode.IMM | Size.DW, dst, src: PSEUDO_MAP_FD, off: 0, imm: mapFd, imm64: BigInt(mapFd) });
}

/** `r0 = *(u8 *)(r4 +0)`: load `width` bytes at src+off, zero-extended. */
export function LoadMem(dst: Register, src: Register, off: number, width: Width): Insn {
  return new Insn({ opcode: InsnClass.LDX | Mode.MEM | sizeForWidth(width), dst, src, off: off16(off), imm: 0 });
}

/** `*(u32 *)(r10 -8) = r1`: store the low `width` bytes of src at dst+off. */
export function StoreMem(dst: Register, off: number, src: Register, width: Width): Insn {
  return new Insn({ opcode: InsnClass.STX | Mode.MEM | sizeForWidth(width), dst, src, off: off16(off), imm: 0 });
}

/** `*(u32 *)(r10 -8) = 0`: store an immediate (sign-extended for 8 bytes). */
export function StoreImm(dst: Register, off: number, value: number, width: Width): Insn {
  return new Insn({ opcode: InsnClass.ST | Mode.MEM | sizeForWidth(width), dst, src: R0, off: off16(off), imm: imm32(value, 'store') });
}

function jump(cls: InsnClass, op: JumpOp, src: Source, dst: Register, srcReg: Register, imm: number, label: string): Insn {
  if (!label) throw new Error('a jump needs a target label');
  return new Insn({ opcode: op | src | cls, dst, src: srcReg, off: 0, imm, target: label });
}

/** One conditional jump in its four forms; all go to a label resolved by link(). */
export class JumpBuilder {
  constructor(readonly op: JumpOp, readonly name: string) {}
  /** `if r1 > 0x4 goto label` (64-bit compare; the imm is sign-extended, so unsigned values >= 2^31 need a register). */
  imm(dst: Register, value: number, label: string): Insn {
    return jump(InsnClass.JMP, this.op, Source.K, dst, R0, imm32(value, this.name), label);
  }
  /** `if r1 > r2 goto label`. */
  reg(dst: Register, src: Register, label: string): Insn {
    return jump(InsnClass.JMP, this.op, Source.X, dst, src, 0, label);
  }
  /** `if w1 > 0x4 goto label`: compares the low 32 bits (JMP32, kernel 5.1+). */
  imm32(dst: Register, value: number, label: string): Insn {
    return jump(InsnClass.JMP32, this.op, Source.K, dst, R0, imm32(value, this.name), label);
  }
  /** `if w1 > w2 goto label` (JMP32, kernel 5.1+). */
  reg32(dst: Register, src: Register, label: string): Insn {
    return jump(InsnClass.JMP32, this.op, Source.X, dst, src, 0, label);
  }
}

export const JEq = new JumpBuilder(JumpOp.JEQ, 'jeq');
export const JNE = new JumpBuilder(JumpOp.JNE, 'jne');
/** Unsigned >. */
export const JGT = new JumpBuilder(JumpOp.JGT, 'jgt');
export const JGE = new JumpBuilder(JumpOp.JGE, 'jge');
/** Unsigned < (kernel 4.14+). */
export const JLT = new JumpBuilder(JumpOp.JLT, 'jlt');
export const JLE = new JumpBuilder(JumpOp.JLE, 'jle');
/** Jump if (dst & src) != 0: `if r1 & 0x4 goto`. */
export const JSet = new JumpBuilder(JumpOp.JSET, 'jset');
/** Signed >. */
export const JSGT = new JumpBuilder(JumpOp.JSGT, 'jsgt');
export const JSGE = new JumpBuilder(JumpOp.JSGE, 'jsge');
export const JSLT = new JumpBuilder(JumpOp.JSLT, 'jslt');
export const JSLE = new JumpBuilder(JumpOp.JSLE, 'jsle');

/** `goto label`. */
export function Ja(label: string): Insn {
  return jump(InsnClass.JMP, JumpOp.JA, Source.K, R0, R0, 0, label);
}

/**
 * `may_goto label`: goes to label once the run's loop budget (BPF_MAX_LOOPS,
 * 8M passes) is spent, otherwise falls through. The verifier checks a loop
 * through a may_goto by the convergence of its states there (RANGE_WITHIN)
 * instead of walking every iteration (kernel 6.9+; costs 8 bytes of stack).
 */
export function MayGoto(label: string): Insn {
  return jump(InsnClass.JMP, JumpOp.JCOND, Source.K, R0, R0, 0, label);
}

/** `call bpf_ktime_get_ns#5`: arguments in r1-r5, result in r0, r1-r5 clobbered. */
export function Call(helper: Helper | number): Insn {
  return new Insn({ opcode: InsnClass.JMP | JumpOp.CALL, dst: R0, src: R0, off: 0, imm: helper });
}

/** `exit`: return r0. */
export function Exit(): Insn {
  return new Insn({ opcode: InsnClass.JMP | JumpOp.EXIT, dst: R0, src: R0, off: 0, imm: 0 });
}

/**
 * `name:` — a label for the next real instruction (jumps to `name` land
 * there). It emits no code: listings show it on a line of its own, and
 * link() refuses one that no instruction follows.
 */
export function Label(name: string): Insn {
  return Insn.label(name);
}
