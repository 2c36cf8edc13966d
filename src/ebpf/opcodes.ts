// The eBPF opcode byte, split into its fields as in the kernel's
// include/uapi/linux/bpf_common.h and include/uapi/linux/bpf.h.
//
//   ALU/JMP:  | op (4 bits) | source (1 bit) | class (3 bits) |
//   LD/ST:    | mode (3 bits) | size (2 bits) | class (3 bits) |

export const enum InsnClass {
  LD = 0x00,
  LDX = 0x01,
  ST = 0x02,
  STX = 0x03,
  ALU = 0x04,
  JMP = 0x05,
  JMP32 = 0x06,
  ALU64 = 0x07,
}

/** BPF_K (the immediate) or BPF_X (the source register). For BPF_END: TO_LE / TO_BE. */
export const enum Source {
  K = 0x00,
  X = 0x08,
}

export const enum AluOp {
  ADD = 0x00,
  SUB = 0x10,
  MUL = 0x20,
  DIV = 0x30,
  OR = 0x40,
  AND = 0x50,
  LSH = 0x60,
  RSH = 0x70,
  NEG = 0x80,
  MOD = 0x90,
  XOR = 0xa0,
  MOV = 0xb0,
  ARSH = 0xc0,
  END = 0xd0,
}

export const enum JumpOp {
  JA = 0x00,
  JEQ = 0x10,
  JGT = 0x20,
  JGE = 0x30,
  JSET = 0x40,
  JNE = 0x50,
  JSGT = 0x60,
  JSGE = 0x70,
  CALL = 0x80,
  EXIT = 0x90,
  JLT = 0xa0,
  JLE = 0xb0,
  JSLT = 0xc0,
  JSLE = 0xd0,
  /** BPF_JCOND: with src_reg BPF_MAY_GOTO (0), `may_goto` (kernel 6.9+). */
  JCOND = 0xe0,
}

export const enum Size {
  W = 0x00,
  H = 0x08,
  B = 0x10,
  DW = 0x18,
}

export const enum Mode {
  IMM = 0x00,
  ABS = 0x20,
  IND = 0x40,
  MEM = 0x60,
}

/** src_reg of a 64-bit immediate load whose imm is a map fd (BPF_PSEUDO_MAP_FD). */
export const PSEUDO_MAP_FD = 1;

export function classOf(opcode: number): InsnClass {
  return (opcode & 0x07) as InsnClass;
}

export function sizeOf(opcode: number): Size {
  return (opcode & 0x18) as Size;
}

export function modeOf(opcode: number): Mode {
  return (opcode & 0xe0) as Mode;
}

export function opOf(opcode: number): number {
  return opcode & 0xf0;
}

export function sourceOf(opcode: number): Source {
  return (opcode & 0x08) as Source;
}

/** Access width in bytes: 1, 2, 4 or 8. */
export type Width = 1 | 2 | 4 | 8;

export function sizeForWidth(width: Width): Size {
  switch (width) {
    case 1:
      return Size.B;
    case 2:
      return Size.H;
    case 4:
      return Size.W;
    case 8:
      return Size.DW;
  }
}

export function widthOf(size: Size): Width {
  switch (size) {
    case Size.B:
      return 1;
    case Size.H:
      return 2;
    case Size.W:
      return 4;
    case Size.DW:
      return 8;
  }
}
