// A classic BPF interpreter with exactly libpcap's userland semantics
// (libpcap 1.10, pcap/bpf_filter.c: pcap_filter_with_aux_data called with no
// aux data, as bpf_filter() does). It is the reference the tests hold the
// eBPF compiler to without a kernel, and the `--engine interp` of `netcap read`.
//
// The rules it reproduces:
// - the captured length bounds every packet load; a load past it ends the
//   program with 0 ("no match"), it does not fault;
// - BPF_LEN is the wire length, which may exceed the captured length;
// - A and X start at 0; arithmetic is unsigned 32-bit;
// - M[0..15] start at 0 here. libpcap 1.10.3 leaves them uninitialised (stack
//   garbage, measured) and the kernel's cBPF checker refuses programs that
//   read a slot before writing it; libpcap's compiler never does, so only
//   hand-written programs can tell the difference;
// - division or modulo by X == 0 ends the program with 0;
// - shifts by X >= 32 give 0 (libpcap 1.10 checks `X < 32` to avoid C's
//   undefined behaviour); shifts by a constant k >= 32 are not checked there
//   (bpf_validate accepts them) and the hardware takes k modulo 32 — both
//   measured against the library on this machine (see the tests);
// - jumps are relative to the next instruction; `ret` returns the snap
//   length to keep (0 = drop);
// - `ja` takes k as a signed offset (libpcap's protochain jumps backwards).

/** The fields of one classic BPF instruction (struct bpf_insn). */
export interface CbpfInstruction {
  readonly code: number;
  readonly jt: number;
  readonly jf: number;
  readonly k: number;
}

// Instruction classes and fields, from <pcap/bpf.h> (the same numbers as
// <linux/filter.h>).
const BPF_LD = 0x00;
const BPF_LDX = 0x01;
const BPF_ST = 0x02;
const BPF_STX = 0x03;
const BPF_ALU = 0x04;
const BPF_JMP = 0x05;
const BPF_RET = 0x06;
const BPF_MISC = 0x07;

const BPF_W = 0x00;
const BPF_H = 0x08;
const BPF_B = 0x10;

const BPF_IMM = 0x00;
const BPF_ABS = 0x20;
const BPF_IND = 0x40;
const BPF_MEM = 0x60;
const BPF_LEN = 0x80;
const BPF_MSH = 0xa0;

const BPF_ADD = 0x00;
const BPF_SUB = 0x10;
const BPF_MUL = 0x20;
const BPF_DIV = 0x30;
const BPF_OR = 0x40;
const BPF_AND = 0x50;
const BPF_LSH = 0x60;
const BPF_RSH = 0x70;
const BPF_NEG = 0x80;
const BPF_MOD = 0x90;
const BPF_XOR = 0xa0;

const BPF_JA = 0x00;
const BPF_JEQ = 0x10;
const BPF_JGT = 0x20;
const BPF_JGE = 0x30;
const BPF_JSET = 0x40;

const BPF_K = 0x00;
const BPF_X = 0x08;
const BPF_A = 0x10;

const BPF_TAX = 0x00;
const BPF_TXA = 0x80;

// libpcap has no step limit: a `ja` loop that never reaches a failing load
// would spin forever. Real protochain loops end within a packet's length of
// iterations, so this bound only turns a hang into an error.
const MAX_STEPS = 1 << 20;

/** Scratch memory words (BPF_MEMWORDS). */
export const CBPF_MEMWORDS = 16;

const scratch = new Uint32Array(CBPF_MEMWORDS);

/** Raised for programs libpcap's bpf_validate would refuse (unknown opcode, jump out of the program, M[] out of range). */
export class CbpfRuntimeError extends Error {
  constructor(message: string, readonly pc: number) {
    super(`cBPF instruction ${pc}: ${message}`);
    this.name = 'CbpfRuntimeError';
  }
}

/**
 * Runs a classic BPF program over one packet like libpcap's bpf_filter().
 * `packet` holds the captured bytes (its length is the captured length);
 * `wirelen` is the original length on the wire (what BPF_LEN loads).
 * Returns the snap length the program asks for: 0 means "drop".
 */
export function interpret(insns: readonly CbpfInstruction[], packet: Uint8Array, wirelen: number): number {
  return interpretAt(insns, packet, 0, packet.length, wirelen);
}

/**
 * The same over the `caplen` captured bytes at `start` in `buf` (a packet
 * in a buffer of many, without a view made of it).
 */
export function interpretAt(insns: readonly CbpfInstruction[], buf: Uint8Array, start: number, caplen: number, wirelen: number): number {
  // libpcap: "No filter means accept all" (a NULL program returns (u_int)-1).
  if (insns.length === 0) return 0xffffffff;
  // One scratch memory for every call (the interpreter never re-enters),
  // cleared instead of allocated: this runs once per packet.
  const mem = scratch.fill(0);
  let A = 0;
  let X = 0;
  let pc = 0;
  let jumpsTaken = 0;
  for (;;) {
    if (pc < 0 || pc >= insns.length) throw new CbpfRuntimeError('ran past the end of the program (no ret)', pc);
    const insn = insns[pc];
    const code = insn.code;
    const k = insn.k >>> 0;
    pc++;
    switch (code & 0x07) {
      case BPF_RET:
        switch (code & 0x18) {
          case BPF_K:
            return k;
          case BPF_A:
            return A;
          default:
            throw new CbpfRuntimeError(`unknown ret source in opcode 0x${code.toString(16)}`, pc - 1);
        }

      case BPF_LD:
      case BPF_LDX: {
        const isX = (code & 0x07) === BPF_LDX;
        const mode = code & 0xe0;
        const size = code & 0x18;
        let value: number;
        if (mode === BPF_IMM) {
          value = k;
        } else if (mode === BPF_LEN && size === BPF_W) {
          value = wirelen >>> 0;
        } else if (mode === BPF_MEM && size === BPF_W) {
          if (k >= CBPF_MEMWORDS) throw new CbpfRuntimeError(`M[${k}] is out of range`, pc - 1);
          value = mem[k];
        } else if (isX && mode === BPF_MSH && size === BPF_B) {
          // ldx 4*([k]&0xf): the IPv4 header length idiom.
          if (k >= caplen) return 0;
          value = (buf[start + k] & 0x0f) << 2;
        } else if (!isX && (mode === BPF_ABS || mode === BPF_IND)) {
          // Plain JS numbers cannot overflow here, so "offset + X + width <=
          // captured length" is exactly libpcap's overflow-safe u_int checks.
          const offset = mode === BPF_ABS ? k : k + X;
          const width = size === BPF_W ? 4 : size === BPF_H ? 2 : size === BPF_B ? 1 : 0;
          if (width === 0) throw new CbpfRuntimeError(`unknown load size in opcode 0x${code.toString(16)}`, pc - 1);
          if (offset + width > caplen) return 0;
          value = readBigEndian(buf, start + offset, width);
        } else {
          throw new CbpfRuntimeError(`unknown load opcode 0x${code.toString(16)}`, pc - 1);
        }
        if (isX) X = value;
        else A = value;
        break;
      }

      case BPF_ST:
      case BPF_STX:
        if (k >= CBPF_MEMWORDS) throw new CbpfRuntimeError(`M[${k}] is out of range`, pc - 1);
        mem[k] = (code & 0x07) === BPF_ST ? A : X;
        break;

      case BPF_ALU: {
        const op = code & 0xf0;
        if (op === BPF_NEG) {
          A = -A >>> 0;
          break;
        }
        const operand = (code & 0x08) === BPF_X ? X : k;
        switch (op) {
          case BPF_ADD:
            A = (A + operand) >>> 0;
            break;
          case BPF_SUB:
            A = (A - operand) >>> 0;
            break;
          case BPF_MUL:
            A = Math.imul(A, operand) >>> 0;
            break;
          case BPF_DIV:
            // libpcap: X == 0 returns 0; bpf_validate refuses a constant 0.
            if (operand === 0) return 0;
            A = Math.floor(A / operand) >>> 0;
            break;
          case BPF_MOD:
            if (operand === 0) return 0;
            A = A % operand >>> 0;
            break;
          case BPF_AND:
            A = (A & operand) >>> 0;
            break;
          case BPF_OR:
            A = (A | operand) >>> 0;
            break;
          case BPF_XOR:
            A = (A ^ operand) >>> 0;
            break;
          case BPF_LSH:
            A = shift(A, operand, (code & 0x08) === BPF_X, (a, n) => a << n);
            break;
          case BPF_RSH:
            A = shift(A, operand, (code & 0x08) === BPF_X, (a, n) => a >>> n);
            break;
          default:
            throw new CbpfRuntimeError(`unknown ALU opcode 0x${code.toString(16)}`, pc - 1);
        }
        break;
      }

      case BPF_JMP: {
        const op = code & 0xf0;
        if (op === BPF_JA) {
          // libpcap sign-extends k here ("ip6 protochain" loops backwards),
          // and its bpf_validate accepts such a program.
          pc += k | 0;
          if (++jumpsTaken > MAX_STEPS) throw new CbpfRuntimeError('the program loops (too many jumps)', pc);
          break;
        }
        const operand = (code & 0x08) === BPF_X ? X : k;
        let taken: boolean;
        switch (op) {
          case BPF_JEQ:
            taken = A === operand;
            break;
          case BPF_JGT:
            taken = A > operand;
            break;
          case BPF_JGE:
            taken = A >= operand;
            break;
          case BPF_JSET:
            taken = (A & operand) !== 0;
            break;
          default:
            throw new CbpfRuntimeError(`unknown jump opcode 0x${code.toString(16)}`, pc - 1);
        }
        pc += taken ? insn.jt : insn.jf;
        break;
      }

      case BPF_MISC:
        if ((code & 0xf8) === BPF_TAX) X = A;
        else if ((code & 0xf8) === BPF_TXA) A = X;
        else throw new CbpfRuntimeError(`unknown misc opcode 0x${code.toString(16)}`, pc - 1);
        break;
    }
  }
}

function readBigEndian(packet: Uint8Array, offset: number, width: number): number {
  if (width === 1) return packet[offset];
  if (width === 2) return (packet[offset] << 8) | packet[offset + 1];
  return ((packet[offset] << 24) | (packet[offset + 1] << 16) | (packet[offset + 2] << 8) | packet[offset + 3]) >>> 0;
}

// Shift counts >= 32: libpcap 1.10 guards only the X forms ("if (X < 32)
// A <<= X; else A = 0;"); the K forms run the plain C shift, which x86-64 and
// arm64 perform with the count taken modulo 32, as JavaScript's << and >>> do.
function shift(a: number, count: number, byX: boolean, op: (a: number, n: number) => number): number {
  if (byX && count >= 32) return 0;
  return op(a, count & 31) >>> 0;
}
