// A classic BPF program turned into one JavaScript function with exactly the
// interpreter's semantics (src/filter/interpreter.ts, which is libpcap's
// bpf_filter): each instruction becomes a case of a switch on the program
// counter, with its constants, widths and jump targets written in, so V8
// compiles the filter itself instead of a loop that decodes it again for
// every packet. `netcap read` runs every packet of a file through its
// filter: this makes that several times cheaper (interpretAt stays the
// reference, and the engine for programs this does not take).
//
// Only programs whose every instruction the interpreter knows are compiled:
// for any other (a hand-written program with an unknown opcode or M[] out of
// range) compileCbpfToJs returns undefined and the caller interprets it,
// which raises the interpreter's error at the instruction, as before.
import { CBPF_MEMWORDS, CbpfRuntimeError, type CbpfInstruction } from './interpreter';

/** A compiled filter: the verdict on the `caplen` captured bytes at `start` in `buf` (0 = drop). */
export type CbpfFunction = (buf: Uint8Array, start: number, caplen: number, wirelen: number) => number;

/** The interpreter's bound on `ja` jumps (a loop that never ends becomes an error). */
const MAX_STEPS = 1 << 20;

/** The program as a function, or undefined when an instruction is one the interpreter would refuse. */
export function compileCbpfToJs(insns: readonly CbpfInstruction[]): CbpfFunction | undefined {
  // libpcap: "No filter means accept all".
  if (insns.length === 0) return () => 0xffffffff;
  const cases: string[] = [];
  const memory = new Set<number>();
  for (let pc = 0; pc < insns.length; pc++) {
    const code = insnCode(insns[pc], pc, memory);
    if (code === undefined) return undefined;
    cases.push(`case ${pc}: ${code}`);
  }
  const slots = [...memory].map((k) => `m${k} = 0`);
  const body = `
    return function cbpf(buf, start, caplen, wirelen) {
      let A = 0, X = 0, pc = 0, jumps = 0${slots.length ? `, ${slots.join(', ')}` : ''};
      for (;;) {
        switch (pc) {
          ${cases.join('\n          ')}
          default: throw new CbpfRuntimeError('ran past the end of the program (no ret)', pc);
        }
        throw new CbpfRuntimeError('ran past the end of the program (no ret)', ${insns.length});
      }
    };`;
  return new Function('CbpfRuntimeError', body)(CbpfRuntimeError) as CbpfFunction;
}

/** The JavaScript of one instruction (the interpreter's case for its opcode), or undefined for one it refuses. */
function insnCode(insn: CbpfInstruction, pc: number, memory: Set<number>): string | undefined {
  const code = insn.code;
  const k = insn.k >>> 0;
  switch (code & 0x07) {
    case 0x06: // RET
      if ((code & 0x18) === 0x00) return `return ${k};`;
      if ((code & 0x18) === 0x10) return 'return A;';
      return undefined;
    case 0x00: // LD
    case 0x01: {
      // LDX
      const reg = (code & 0x07) === 0x01 ? 'X' : 'A';
      const mode = code & 0xe0;
      const size = code & 0x18;
      if (mode === 0x00) return `${reg} = ${k};`;
      if (mode === 0x80 && size === 0x00) return `${reg} = wirelen >>> 0;`;
      if (mode === 0x60 && size === 0x00) {
        if (k >= CBPF_MEMWORDS) return undefined;
        memory.add(k);
        return `${reg} = m${k};`;
      }
      if (reg === 'X' && mode === 0xa0 && size === 0x10) return `if (${k} >= caplen) return 0; X = (buf[start + ${k}] & 0x0f) << 2;`;
      if (reg === 'A' && (mode === 0x20 || mode === 0x40)) {
        const width = size === 0x00 ? 4 : size === 0x08 ? 2 : size === 0x10 ? 1 : 0;
        if (width === 0) return undefined;
        // Plain numbers cannot overflow: "offset + width <= caplen" is libpcap's check.
        const offset = mode === 0x20 ? `${k}` : `(${k} + X)`;
        return `if (${offset} + ${width} > caplen) return 0; A = ${bigEndian(`start + ${offset}`, width)};`;
      }
      return undefined;
    }
    case 0x02: // ST
    case 0x03: // STX
      if (k >= CBPF_MEMWORDS) return undefined;
      memory.add(k);
      return `m${k} = ${(code & 0x07) === 0x02 ? 'A' : 'X'};`;
    case 0x04: {
      // ALU
      const op = code & 0xf0;
      if (op === 0x80) return 'A = -A >>> 0;';
      const byX = (code & 0x08) === 0x08;
      const operand = byX ? 'X' : `${k}`;
      switch (op) {
        case 0x00:
          return `A = (A + ${operand}) >>> 0;`;
        case 0x10:
          return `A = (A - ${operand}) >>> 0;`;
        case 0x20:
          return `A = Math.imul(A, ${operand}) >>> 0;`;
        case 0x30: // division by 0 ends the program with 0
          return byX ? 'if (X === 0) return 0; A = Math.floor(A / X) >>> 0;' : k === 0 ? 'return 0;' : `A = Math.floor(A / ${k}) >>> 0;`;
        case 0x90:
          return byX ? 'if (X === 0) return 0; A = A % X >>> 0;' : k === 0 ? 'return 0;' : `A = A % ${k} >>> 0;`;
        case 0x50:
          return `A = (A & ${operand}) >>> 0;`;
        case 0x40:
          return `A = (A | ${operand}) >>> 0;`;
        case 0xa0:
          return `A = (A ^ ${operand}) >>> 0;`;
        // Shifts by X >= 32 give 0; by a constant, the count modulo 32 (see the interpreter).
        case 0x60:
          return byX ? 'A = X >= 32 ? 0 : (A << (X & 31)) >>> 0;' : `A = (A << ${k & 31}) >>> 0;`;
        case 0x70:
          return byX ? 'A = X >= 32 ? 0 : (A >>> (X & 31)) >>> 0;' : `A = (A >>> ${k & 31}) >>> 0;`;
        default:
          return undefined;
      }
    }
    case 0x05: {
      // JMP: targets relative to the next instruction; falling into the next case needs no jump, and
      // a target beyond the program is the switch's default (the interpreter's error).
      const op = code & 0xf0;
      const go = (target: number) => (target === pc + 1 ? '' : `pc = ${target}; continue;`);
      if (op === 0x00) {
        return `if (++jumps > ${MAX_STEPS}) throw new CbpfRuntimeError('the program loops (too many jumps)', ${pc + 1 + (insn.k | 0)}); pc = ${pc + 1 + (insn.k | 0)}; continue;`;
      }
      const operand = (code & 0x08) === 0x08 ? 'X' : `${k}`;
      const test = op === 0x10 ? `A === ${operand}` : op === 0x20 ? `A > ${operand}` : op === 0x30 ? `A >= ${operand}` : op === 0x40 ? `(A & ${operand}) !== 0` : undefined;
      if (test === undefined) return undefined;
      const t = pc + 1 + insn.jt;
      const f = pc + 1 + insn.jf;
      if (t === f) return go(t);
      if (t === pc + 1) return `if (!(${test})) { pc = ${f}; continue; }`;
      if (f === pc + 1) return `if (${test}) { pc = ${t}; continue; }`;
      return `if (${test}) { pc = ${t}; continue; } pc = ${f}; continue;`;
    }
    case 0x07: // MISC
      if ((code & 0xf8) === 0x00) return 'X = A;';
      if ((code & 0xf8) === 0x80) return 'A = X;';
      return undefined;
  }
  return undefined;
}

/** A big-endian load of `width` bytes at the index expression `at`. */
function bigEndian(at: string, width: number): string {
  if (width === 1) return `buf[${at}]`;
  if (width === 2) return `(buf[${at}] << 8) | buf[${at} + 1]`;
  return `((buf[${at}] << 24) | (buf[${at} + 1] << 16) | (buf[${at} + 2] << 8) | buf[${at} + 3]) >>> 0`;
}
