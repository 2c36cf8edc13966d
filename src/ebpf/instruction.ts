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
  /** The name a jump targets. On a label (see `label`) it names the next real instruction. */
  symbol?: string;
  comment?: string;
  /** A label: a name for the next real instruction, no code of its own (0 slots). */
  label?: boolean;
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
  readonly isLabel: boolean;

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
    this.isLabel = f.label === true;
    Object.freeze(this);
  }

  /** A label: names the next real instruction for jumps and listings; takes no slot. */
  static label(name: string): Insn {
    return new Insn({ opcode: 0, dst: 0, src: 0, off: 0, imm: 0, symbol: name, label: true });
  }

  /** The 64-bit immediate load takes two 8-byte slots, a label none, everything else one. */
  get slots(): 0 | 1 | 2 {
    if (this.isLabel) return 0;
    return this.isLoadImm64() ? 2 : 1;
  }

  isLoadImm64(): boolean {
    return !this.isLabel && classOf(this.opcode) === InsnClass.LD && modeOf(this.opcode) === Mode.IMM && sizeOf(this.opcode) === Size.DW;
  }

  isMapFdLoad(): boolean {
    return this.isLoadImm64() && this.src === PSEUDO_MAP_FD;
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
      label: this.isLabel,
    };
  }

  /** Same encoding and same jump target (labels: same name); comments are ignored. */
  equals(other: Insn): boolean {
    if (this.isLabel || other.isLabel) return this.isLabel === other.isLabel && this.symbol === other.symbol;
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
