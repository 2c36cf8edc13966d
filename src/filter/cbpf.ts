// Classic BPF as libpcap emits it (pcap/bpf.h): 8-byte instructions
// {u16 code; u8 jt; u8 jf; u32 k} in host order, and a printer whose output
// is identical to `tcpdump -d` (libpcap's bpf_image()).

export interface CbpfInsn {
  code: number;
  jt: number;
  jf: number;
  k: number;
}

// Opcode fields (pcap/bpf.h).
export const BPF_LD = 0x00;
export const BPF_LDX = 0x01;
export const BPF_ST = 0x02;
export const BPF_STX = 0x03;
export const BPF_ALU = 0x04;
export const BPF_JMP = 0x05;
export const BPF_RET = 0x06;
export const BPF_MISC = 0x07;

export const BPF_W = 0x00;
export const BPF_H = 0x08;
export const BPF_B = 0x10;

export const BPF_IMM = 0x00;
export const BPF_ABS = 0x20;
export const BPF_IND = 0x40;
export const BPF_MEM = 0x60;
export const BPF_LEN = 0x80;
export const BPF_MSH = 0xa0;

export const BPF_ADD = 0x00;
export const BPF_SUB = 0x10;
export const BPF_MUL = 0x20;
export const BPF_DIV = 0x30;
export const BPF_OR = 0x40;
export const BPF_AND = 0x50;
export const BPF_LSH = 0x60;
export const BPF_RSH = 0x70;
export const BPF_NEG = 0x80;
export const BPF_MOD = 0x90;
export const BPF_XOR = 0xa0;

export const BPF_JA = 0x00;
export const BPF_JEQ = 0x10;
export const BPF_JGT = 0x20;
export const BPF_JGE = 0x30;
export const BPF_JSET = 0x40;

export const BPF_K = 0x00;
export const BPF_X = 0x08;
/** RET's source: BPF_K, BPF_X or BPF_A. */
export const BPF_A = 0x10;

export const BPF_TAX = 0x00;
export const BPF_TXA = 0x80;

/** Scratch memory words M[0..15] (BPF_MEMWORDS). */
export const BPF_MEMWORDS = 16;

export const bpfClass = (code: number): number => code & 0x07;
export const bpfSize = (code: number): number => code & 0x18;
export const bpfMode = (code: number): number => code & 0xe0;
export const bpfOp = (code: number): number => code & 0xf0;
export const bpfSrc = (code: number): number => code & 0x08;
export const bpfRval = (code: number): number => code & 0x18;
export const bpfMiscOp = (code: number): number => code & 0xf8;

/** Decodes libpcap's program buffer (host order, as pcap_compile leaves it). */
export function decodeCbpf(buf: Buffer): CbpfInsn[] {
  if (buf.length % 8 !== 0) throw new RangeError(`cBPF code is ${buf.length} bytes, not a multiple of 8`);
  const out: CbpfInsn[] = [];
  for (let at = 0; at < buf.length; at += 8) {
    out.push({ code: buf.readUInt16LE(at), jt: buf.readUInt8(at + 2), jf: buf.readUInt8(at + 3), k: buf.readUInt32LE(at + 4) });
  }
  return out;
}

export function encodeCbpf(insns: readonly CbpfInsn[]): Buffer {
  const buf = Buffer.alloc(insns.length * 8);
  insns.forEach((i, n) => {
    buf.writeUInt16LE(i.code, n * 8);
    buf.writeUInt8(i.jt, n * 8 + 2);
    buf.writeUInt8(i.jf, n * 8 + 3);
    buf.writeUInt32LE(i.k >>> 0, n * 8 + 4);
  });
  return buf;
}

const hex = (v: number): string => `#0x${(v >>> 0).toString(16)}`;
/** C's %d on an unsigned value: libpcap prints k >= 2^31 as negative. */
const dec = (v: number): string => `${v | 0}`;

/** [mnemonic, operand] as bpf_image() formats them. */
function image(insn: CbpfInsn, n: number): [string, string] {
  const k = insn.k;
  switch (insn.code) {
    case BPF_RET | BPF_K:
      return ['ret', `#${dec(k)}`];
    case BPF_RET | BPF_A:
      return ['ret', ''];
    case BPF_LD | BPF_W | BPF_ABS:
      return ['ld', `[${dec(k)}]`];
    case BPF_LD | BPF_H | BPF_ABS:
      return ['ldh', `[${dec(k)}]`];
    case BPF_LD | BPF_B | BPF_ABS:
      return ['ldb', `[${dec(k)}]`];
    case BPF_LD | BPF_W | BPF_LEN:
      return ['ld', '#pktlen'];
    case BPF_LD | BPF_W | BPF_IND:
      return ['ld', `[x + ${dec(k)}]`];
    case BPF_LD | BPF_H | BPF_IND:
      return ['ldh', `[x + ${dec(k)}]`];
    case BPF_LD | BPF_B | BPF_IND:
      return ['ldb', `[x + ${dec(k)}]`];
    case BPF_LD | BPF_IMM:
      return ['ld', hex(k)];
    case BPF_LDX | BPF_IMM:
      return ['ldx', hex(k)];
    case BPF_LDX | BPF_MSH | BPF_B:
      return ['ldxb', `4*([${dec(k)}]&0xf)`];
    case BPF_LD | BPF_MEM:
      return ['ld', `M[${dec(k)}]`];
    case BPF_LDX | BPF_MEM:
      return ['ldx', `M[${dec(k)}]`];
    case BPF_ST:
      return ['st', `M[${dec(k)}]`];
    case BPF_STX:
      return ['stx', `M[${dec(k)}]`];
    case BPF_JMP | BPF_JA:
      return ['ja', dec(n + 1 + k)];
    case BPF_MISC | BPF_TAX:
      return ['tax', ''];
    case BPF_MISC | BPF_TXA:
      return ['txa', ''];
    case BPF_ALU | BPF_NEG:
      return ['neg', ''];
  }
  const cls = bpfClass(insn.code);
  if (cls === BPF_JMP) {
    const name = ({ [BPF_JEQ]: 'jeq', [BPF_JGT]: 'jgt', [BPF_JGE]: 'jge', [BPF_JSET]: 'jset' } as Record<number, string>)[bpfOp(insn.code)];
    if (name && (insn.code & ~0xf8) === BPF_JMP) return [name, bpfSrc(insn.code) === BPF_X ? 'x' : hex(k)];
  }
  if (cls === BPF_ALU && (insn.code & 0x07) === BPF_ALU) {
    const op = bpfOp(insn.code);
    const name = (
      { [BPF_ADD]: 'add', [BPF_SUB]: 'sub', [BPF_MUL]: 'mul', [BPF_DIV]: 'div', [BPF_MOD]: 'mod', [BPF_AND]: 'and', [BPF_OR]: 'or', [BPF_XOR]: 'xor', [BPF_LSH]: 'lsh', [BPF_RSH]: 'rsh' } as Record<number, string>
    )[op];
    if (name) {
      if (bpfSrc(insn.code) === BPF_X) return [name, 'x'];
      // libpcap prints the bitwise constants in hex, the arithmetic ones in decimal.
      return [name, op === BPF_AND || op === BPF_OR || op === BPF_XOR ? hex(k) : `#${dec(k)}`];
    }
  }
  return ['unimp', `0x${insn.code.toString(16)}`];
}

/** One line of `tcpdump -d`: "(001) jeq      #0x800           jt 2\tjf 5". */
export function formatCbpfInsn(insn: CbpfInsn, n: number): string {
  const [op, operand] = image(insn, n);
  const idx = String(n).padStart(3, '0');
  if (bpfClass(insn.code) === BPF_JMP && bpfOp(insn.code) !== BPF_JA && op !== 'unimp') {
    return `(${idx}) ${op.padEnd(8)} ${operand.padEnd(16)} jt ${n + 1 + insn.jt}\tjf ${n + 1 + insn.jf}`;
  }
  return `(${idx}) ${op.padEnd(8)} ${operand}`;
}

/** The whole program as `tcpdump -d` prints it (one line per instruction, trailing newline). */
export function formatCbpf(insns: readonly CbpfInsn[]): string {
  return insns.map((insn, n) => formatCbpfInsn(insn, n) + '\n').join('');
}
