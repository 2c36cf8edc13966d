// One eBPF instruction as an immutable value. Modelled on cilium/ebpf's
// asm.Instruction: the encoded fields (opcode, dst, src, off, imm) make the
// value; a jump's target label, the instruction's own label (symbol) and a
// source comment ride along as metadata that equals() ignores.
import { InsnClass, Mode, PSEUDO_MAP_FD, Size, classOf, modeOf, sizeOf } from './opcodes';
import type { Register } from './registers';

export interface InsnFields {
  opcode: number;
  dst: Register;
  src: Register;
  /** Signed 16-bit: memory offset, or a resolved jump offset. */
  off: number;
  /** Signed 32-bit immediate; for the 64-bit load see `imm64`. */
  imm: number;
  /** The 64-bit immediate of a LD_IMM64 (two slots). */
  imm64?: bigint;
  /** The label a jump goes to; link() turns it into `off`. */
  target?: string;
  /** This instruction's own label. */
  symbol?: string;
  comment?: string;
}

export class Insn {
  readonly opcode: number;
  readonly dst: Register;
  readonly src: Register;
  readonly off: number;
  readonly imm: number;
  readonly imm64: bigint | undefined;
  readonly target: string | undefined;
  readonly symbol: string | undefined;
  readonly comment: string | undefined;

  constructor(f: InsnFields) {
    this.opcode = f.opcode & 0xff;
    this.dst = f.dst;
    this.src = f.src;
    this.off = f.off;
    this.imm = f.imm | 0;
    this.imm64 = f.imm64;
    this.target = f.target;
    this.symbol = f.symbol;
    this.comment = f.comment;
    Object.freeze(this);
  }

  /** The 64-bit immediate load takes two 8-byte slots; everything else one. */
  get slots(): 1 | 2 {
    return this.isLoadImm64() ? 2 : 1;
  }

  isLoadImm64(): boolean {
    return classOf(this.opcode) === InsnClass.LD && modeOf(this.opcode) === Mode.IMM && sizeOf(this.opcode) === Size.DW;
  }

  isMapFdLoad(): boolean {
    return this.isLoadImm64() && this.src === PSEUDO_MAP_FD;
  }

  /** A copy carrying `name` as its label (a jump target). */
  withSymbol(name: string): Insn {
    return new Insn({ ...this.fields(), symbol: name });
  }

  withComment(text: string): Insn {
    return new Insn({ ...this.fields(), comment: text });
  }

  /** A copy with its jump target resolved to `off` (the target label is kept for printing). */
  withOffset(off: number): Insn {
    return new Insn({ ...this.fields(), off });
  }

  fields(): InsnFields {
    return {
      opcode: this.opcode,
      dst: this.dst,
      src: this.src,
      off: this.off,
      imm: this.imm,
      imm64: this.imm64,
      target: this.target,
      symbol: this.symbol,
      comment: this.comment,
    };
  }

  /** Same encoding and same jump target; symbol and comment are ignored. */
  equals(other: Insn): boolean {
    return (
      this.opcode === other.opcode &&
      this.dst === other.dst &&
      this.src === other.src &&
      this.off === other.off &&
      this.imm === other.imm &&
      this.imm64 === other.imm64 &&
      this.target === other.target
    );
  }

  toString(): string {
    // Deferred import keeps instruction.ts free of the printer's tables.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return (require('./disassemble') as typeof import('./disassemble')).formatInsn(this);
  }
}
