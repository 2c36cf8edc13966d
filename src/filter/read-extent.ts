// How far into the packet a cBPF program can read: the largest end offset
// of any load it makes, on any path, from upper bounds of A, X and M[] that
// follow the program forward (its jumps go forward; a backward one, from
// `protochain`, makes the answer unbounded). A probe that copies packet
// bytes before filtering copies only this many first, and the rest on a
// match: a filter can never tell the difference, since it never looks
// further (a load past the copy means "no match", as one past the packet).
//
// Bounds are unsigned 32-bit values or Infinity ("anything"): a load's
// result, the wire length, and any arithmetic that could wrap are Infinity.
// Metadata loads (SKF_AD_OFF + n) read no packet bytes.
import * as c from './cbpf';
import type { CbpfInsn } from './cbpf';
import { SKF_AD_OFF } from './compiler';

const U32_LIMIT = 2 ** 32;

interface Bounds {
  a: number;
  x: number;
  m: number[];
}

const unknown = (): Bounds => ({ a: 0, x: 0, m: new Array<number>(c.BPF_MEMWORDS).fill(Infinity) });

function merge(into: Bounds | undefined, from: Bounds): Bounds {
  if (!into) return { a: from.a, x: from.x, m: [...from.m] };
  return { a: Math.max(into.a, from.a), x: Math.max(into.x, from.x), m: into.m.map((v, i) => Math.max(v, from.m[i])) };
}

const width = (code: number): number => (c.bpfSize(code) === c.BPF_B ? 1 : c.bpfSize(code) === c.BPF_H ? 2 : 4);
const fits = (v: number): number => (v < U32_LIMIT ? v : Infinity);

/** The ALU result's bound, from the bounds of A and of the operand. */
function aluBound(op: number, a: number, operand: number): number {
  switch (op) {
    case c.BPF_ADD:
      return fits(a + operand);
    case c.BPF_AND:
      return Math.min(a, operand);
    case c.BPF_RSH:
    case c.BPF_DIV:
      return a;
    case c.BPF_MOD:
      return Math.min(a, operand);
    case c.BPF_MUL:
      return fits(a * operand);
    case c.BPF_LSH:
      return operand < 32 ? fits(a * 2 ** operand) : Infinity;
    default:
      return Infinity;
  }
}

/** The largest packet offset + 1 any load of `prog` can reach; Infinity when it cannot be bounded. */
export function readExtent(prog: readonly CbpfInsn[]): number {
  const states: (Bounds | undefined)[] = new Array(prog.length).fill(undefined);
  states[0] = unknown();
  let extent = 0;
  for (let i = 0; i < prog.length; i++) {
    const s = states[i];
    if (!s) continue;
    const insn = prog[i];
    const k = insn.k >>> 0;
    const next = { a: s.a, x: s.x, m: [...s.m] };
    const code = insn.code;
    switch (c.bpfClass(code)) {
      case c.BPF_RET:
        continue;
      case c.BPF_LD: {
        const mode = c.bpfMode(code);
        if (mode === c.BPF_IMM) next.a = k;
        else if (mode === c.BPF_MEM) next.a = s.m[k] ?? Infinity;
        else {
          if (mode === c.BPF_ABS && !(k >= SKF_AD_OFF)) extent = Math.max(extent, k + width(code));
          if (mode === c.BPF_IND) extent = Math.max(extent, s.x + k + width(code));
          next.a = Infinity;
        }
        break;
      }
      case c.BPF_LDX: {
        const mode = c.bpfMode(code);
        if (mode === c.BPF_IMM) next.x = k;
        else if (mode === c.BPF_MEM) next.x = s.m[k] ?? Infinity;
        else if (mode === c.BPF_MSH) {
          extent = Math.max(extent, k + 1);
          next.x = 60;
        } else next.x = Infinity;
        break;
      }
      case c.BPF_ST:
        next.m[k] = s.a;
        break;
      case c.BPF_STX:
        next.m[k] = s.x;
        break;
      case c.BPF_ALU:
        next.a = c.bpfOp(code) === c.BPF_NEG ? Infinity : aluBound(c.bpfOp(code), s.a, c.bpfSrc(code) === c.BPF_X ? s.x : k);
        break;
      case c.BPF_MISC:
        if (code === (c.BPF_MISC | c.BPF_TAX)) next.x = s.a;
        else next.a = s.x;
        break;
      case c.BPF_JMP:
        if (c.bpfOp(code) === c.BPF_JA) {
          const to = i + 1 + (insn.k | 0);
          if (to <= i) return Infinity;
          states[to] = merge(states[to], next);
        } else {
          for (const to of [i + 1 + insn.jt, i + 1 + insn.jf]) states[to] = merge(states[to], next);
        }
        continue;
    }
    if (i + 1 < prog.length) states[i + 1] = merge(states[i + 1], next);
  }
  return extent;
}
