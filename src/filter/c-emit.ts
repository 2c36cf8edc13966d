// The filter as readable C, for people who want to see what a tcpdump
// expression does (`netcap compile --emit c`). It is a faithful rendering of
// the cBPF semantics our eBPF translation implements (big-endian loads,
// out-of-bounds = no match, unsigned 32-bit arithmetic, division by zero =
// no match) — the tests compile it with gcc and compare it with libpcap.
import * as c from './cbpf';
import type { CbpfInsn } from './cbpf';
import { reachable } from './compiler';

export interface CEmitOptions {
  /** Function name; default "filter". */
  name?: string;
  /** A comment line above the function (e.g. the expression). */
  title?: string;
  /** Print the helper prelude (types and load macros). Default true. */
  prelude?: boolean;
}

export const C_PRELUDE = `#include <stdint.h>
typedef uint8_t u8;
typedef uint32_t u32;
typedef uint64_t u64;
/* Network byte order loads; the caller has checked the bounds. */
#define LOAD8(p)  ((u32)(p)[0])
#define LOAD16(p) ((u32)(p)[0] << 8 | (u32)(p)[1])
#define LOAD32(p) ((u32)(p)[0] << 24 | (u32)(p)[1] << 16 | (u32)(p)[2] << 8 | (u32)(p)[3])
`;

const hex = (k: number): string => `0x${(k >>> 0).toString(16)}`;

function loadExpr(width: number, at: string): string {
  return `LOAD${width * 8}(pkt + ${at})`;
}

/** Returns C source of `u32 name(const u8 *pkt, u32 caplen, u32 wirelen)`: the snap length to keep, 0 = no match. */
export function emitC(prog: readonly CbpfInsn[], opts: CEmitOptions = {}): string {
  const live = reachable(prog);
  const name = opts.name ?? 'filter';
  const targets = new Set<number>();
  let usesMem = false;
  prog.forEach((insn, i) => {
    if (!live[i]) return;
    const cls = c.bpfClass(insn.code);
    if (cls === c.BPF_ST || cls === c.BPF_STX || c.bpfMode(insn.code) === c.BPF_MEM) usesMem = true;
    if (cls !== c.BPF_JMP) return;
    if (c.bpfOp(insn.code) === c.BPF_JA) targets.add(i + 1 + insn.k);
    else targets.add(i + 1 + insn.jt).add(i + 1 + insn.jf);
  });
  const lines: string[] = [];
  if (opts.prelude ?? true) lines.push(C_PRELUDE);
  if (opts.title) lines.push(`/* ${opts.title.replace(/\*\//g, '* /')} */`);
  lines.push(`u32 ${name}(const u8 *pkt, u32 caplen, u32 wirelen)`, '{');
  lines.push('\tu32 A = 0, X = 0;');
  if (usesMem) lines.push('\tu32 M[16] = {0};');
  // Not every filter uses every input; keep compilers' unused warnings quiet.
  lines.push(`\t(void)pkt; (void)caplen; (void)wirelen; (void)A; (void)X;${usesMem ? ' (void)M;' : ''}`);
  const next = (i: number): number => {
    for (let n = i + 1; n < prog.length; n++) if (live[n]) return n;
    return -1;
  };
  for (let i = 0; i < prog.length; i++) {
    if (!live[i]) continue;
    const insn = prog[i];
    const label = targets.has(i) ? `L${i}:` : '';
    lines.push(`${label}\t/* ${c.formatCbpfInsn(insn, i).replace(/^\(\d+\) /, '').replace(/\s+/g, ' ').trim()} */`);
    for (const stmt of statements(insn, i, next(i))) lines.push(`\t${stmt}`);
  }
  lines.push('}');
  return lines.join('\n') + '\n';
}

function statements(insn: CbpfInsn, i: number, following: number): string[] {
  const k = insn.k >>> 0;
  const code = insn.code;
  const width = c.bpfSize(code) === c.BPF_B ? 1 : c.bpfSize(code) === c.BPF_H ? 2 : 4;
  switch (code) {
    case c.BPF_RET | c.BPF_K:
      return [`return ${k};`];
    case c.BPF_RET | c.BPF_A:
      return ['return A;'];
    case c.BPF_LD | c.BPF_W | c.BPF_ABS:
    case c.BPF_LD | c.BPF_H | c.BPF_ABS:
    case c.BPF_LD | c.BPF_B | c.BPF_ABS:
      return [`if ((u64)${k} + ${width} > caplen) return 0;`, `A = ${loadExpr(width, String(k))};`];
    case c.BPF_LD | c.BPF_W | c.BPF_IND:
    case c.BPF_LD | c.BPF_H | c.BPF_IND:
    case c.BPF_LD | c.BPF_B | c.BPF_IND:
      return [`if ((u64)X + ${k} + ${width} > caplen) return 0;`, `A = ${loadExpr(width, `X + ${k}`)};`];
    case c.BPF_LD | c.BPF_W | c.BPF_LEN:
      return ['A = wirelen;'];
    case c.BPF_LDX | c.BPF_W | c.BPF_LEN:
      return ['X = wirelen;'];
    case c.BPF_LD | c.BPF_IMM:
      return [`A = ${hex(k)};`];
    case c.BPF_LDX | c.BPF_W | c.BPF_IMM:
      return [`X = ${hex(k)};`];
    case c.BPF_LDX | c.BPF_B | c.BPF_MSH:
      return [`if ((u64)${k} + 1 > caplen) return 0;`, `X = (pkt[${k}] & 0xf) << 2;`];
    case c.BPF_LD | c.BPF_MEM:
      return [`A = M[${k}];`];
    case c.BPF_LDX | c.BPF_W | c.BPF_MEM:
      return [`X = M[${k}];`];
    case c.BPF_ST:
      return [`M[${k}] = A;`];
    case c.BPF_STX:
      return [`M[${k}] = X;`];
    case c.BPF_MISC | c.BPF_TAX:
      return ['X = A;'];
    case c.BPF_MISC | c.BPF_TXA:
      return ['A = X;'];
    case c.BPF_ALU | c.BPF_NEG:
      return ['A = -A;'];
    case c.BPF_JMP | c.BPF_JA:
      return [`goto L${i + 1 + insn.k};`];
  }
  const byX = c.bpfSrc(code) === c.BPF_X;
  const operand = byX ? 'X' : hex(k);
  if (c.bpfClass(code) === c.BPF_ALU) {
    const op = c.bpfOp(code);
    const sym = ({ [c.BPF_ADD]: '+', [c.BPF_SUB]: '-', [c.BPF_MUL]: '*', [c.BPF_AND]: '&', [c.BPF_OR]: '|', [c.BPF_XOR]: '^' } as Record<number, string>)[op];
    if (sym) return [`A ${sym}= ${operand};`];
    if (op === c.BPF_DIV || op === c.BPF_MOD) {
      const s = op === c.BPF_DIV ? '/' : '%';
      return byX ? ['if (X == 0) return 0;', `A ${s}= X;`] : [`A ${s}= ${hex(k)};`];
    }
    if (op === c.BPF_LSH || op === c.BPF_RSH) {
      const s = op === c.BPF_LSH ? '<<' : '>>';
      // libpcap: shifts by X >= 32 give 0; constant shifts take k modulo 32.
      return byX ? [`A = X < 32 ? A ${s} X : 0;`] : [`A ${s}= ${k & 31};`];
    }
  }
  if (c.bpfClass(code) === c.BPF_JMP) {
    const op = c.bpfOp(code);
    const cond = ({ [c.BPF_JEQ]: `A == ${operand}`, [c.BPF_JGT]: `A > ${operand}`, [c.BPF_JGE]: `A >= ${operand}`, [c.BPF_JSET]: `A & ${operand}` } as Record<number, string>)[op];
    const inverse = ({ [c.BPF_JEQ]: `A != ${operand}`, [c.BPF_JGT]: `A <= ${operand}`, [c.BPF_JGE]: `A < ${operand}`, [c.BPF_JSET]: `!(A & ${operand})` } as Record<number, string>)[op];
    if (cond) {
      const jt = i + 1 + insn.jt;
      const jf = i + 1 + insn.jf;
      if (jt === jf) return jt === following ? [] : [`goto L${jt};`];
      if (jf === following) return [`if (${cond}) goto L${jt};`];
      if (jt === following) return [`if (${inverse}) goto L${jf};`];
      return [`if (${cond}) goto L${jt};`, `goto L${jf};`];
    }
  }
  throw new Error(`emitC: instruction ${i} has opcode 0x${code.toString(16)}, which libpcap's bpf_filter does not run`);
}
