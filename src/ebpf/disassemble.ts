// Prints instructions the way the kernel verifier log does
// (kernel/bpf/disasm.c, print_bpf_insn), so our listings and kernel logs
// line up: `r0 = *(u8 *)(r4 +0)`, `if r1 > 0x4 goto pc+2`, `w1 += 5`.
import type { Insn } from './instruction';
import { helperName } from './helpers';
import { AluOp, InsnClass, JumpOp, Mode, Size, Source, classOf, modeOf, opOf, sizeOf, sourceOf } from './opcodes';
import { LinkedProgram, isJumpWithTarget } from './link';

const aluOps: Record<number, string> = {
  [AluOp.ADD]: '+=',
  [AluOp.SUB]: '-=',
  [AluOp.MUL]: '*=',
  [AluOp.DIV]: '/=',
  [AluOp.OR]: '|=',
  [AluOp.AND]: '&=',
  [AluOp.LSH]: '<<=',
  [AluOp.RSH]: '>>=',
  [AluOp.MOD]: '%=',
  [AluOp.XOR]: '^=',
  [AluOp.MOV]: '=',
  [AluOp.ARSH]: 's>>=',
};

const jumpOps: Record<number, string> = {
  [JumpOp.JEQ]: '==',
  [JumpOp.JGT]: '>',
  [JumpOp.JGE]: '>=',
  [JumpOp.JSET]: '&',
  [JumpOp.JNE]: '!=',
  [JumpOp.JSGT]: 's>',
  [JumpOp.JSGE]: 's>=',
  [JumpOp.JLT]: '<',
  [JumpOp.JLE]: '<=',
  [JumpOp.JSLT]: 's<',
  [JumpOp.JSLE]: 's<=',
};

const sizeNames: Record<number, string> = { [Size.B]: 'u8', [Size.H]: 'u16', [Size.W]: 'u32', [Size.DW]: 'u64' };

function signed(n: number): string {
  return n >= 0 ? `+${n}` : `${n}`;
}

function hex(n: number): string {
  return `0x${(n >>> 0).toString(16)}`;
}

/** Where a jump goes: `pc+2` once linked, the label name before. */
function jumpTarget(insn: Insn, linked: boolean): string {
  if (linked || insn.target === undefined) return `pc${signed(insn.off)}`;
  return `<${insn.target}>`;
}

/** One instruction in verifier syntax (without the "N: (op) " prefix). */
export function formatInsn(insn: Insn, linked = false): string {
  const code = insn.opcode;
  const cls = classOf(code);
  const dst = insn.dst;
  const src = insn.src;
  switch (cls) {
    case InsnClass.ALU:
    case InsnClass.ALU64: {
      const r = cls === InsnClass.ALU64 ? 'r' : 'w';
      const op = opOf(code);
      if (op === AluOp.END) {
        if (cls === InsnClass.ALU64) return `r${dst} = bswap${insn.imm} r${dst}`;
        return `r${dst} = ${sourceOf(code) === Source.X ? 'be' : 'le'}${insn.imm} r${dst}`;
      }
      if (op === AluOp.NEG) return `${r}${dst} = -${r}${dst}`;
      const sym = aluOps[op] ?? `alu?${hex(op)}`;
      return sourceOf(code) === Source.X ? `${r}${dst} ${sym} ${r}${src}` : `${r}${dst} ${sym} ${insn.imm}`;
    }
    case InsnClass.STX:
      return `*(${sizeNames[sizeOf(code)]} *)(r${dst} ${signed(insn.off)}) = r${src}`;
    case InsnClass.ST:
      return `*(${sizeNames[sizeOf(code)]} *)(r${dst} ${signed(insn.off)}) = ${insn.imm}`;
    case InsnClass.LDX:
      return `r${dst} = *(${sizeNames[sizeOf(code)]} *)(r${src} ${signed(insn.off)})`;
    case InsnClass.LD:
      if (insn.isMapFdLoad()) return `r${dst} = map[fd:${insn.imm}]`;
      if (insn.isLoadImm64()) return `r${dst} = 0x${(insn.imm64 ?? BigInt(insn.imm >>> 0)).toString(16)}`;
      if (modeOf(code) === Mode.ABS) return `r0 = *(${sizeNames[sizeOf(code)]} *)skb[${insn.imm}]`;
      if (modeOf(code) === Mode.IND) return `r0 = *(${sizeNames[sizeOf(code)]} *)skb[r${src} + ${insn.imm}]`;
      return `ld? ${hex(code)}`;
    case InsnClass.JMP:
    case InsnClass.JMP32: {
      const op = opOf(code);
      if (op === JumpOp.CALL) return `call ${helperName(insn.imm)}#${insn.imm}`;
      if (op === JumpOp.EXIT) return 'exit';
      if (op === JumpOp.JA) return `goto ${jumpTarget(insn, linked)}`;
      if (op === JumpOp.JCOND && cls === InsnClass.JMP) return `may_goto ${jumpTarget(insn, linked)}`;
      const r = cls === InsnClass.JMP ? 'r' : 'w';
      const sym = jumpOps[op] ?? `jmp?${hex(op)}`;
      const rhs = sourceOf(code) === Source.X ? `${r}${src}` : hex(insn.imm);
      return `if ${r}${dst} ${sym} ${rhs} goto ${jumpTarget(insn, linked)}`;
    }
  }
  return `(${hex(code)})?`;
}

/**
 * A listing: "N: (op) text" per instruction, as the verifier log prints it,
 * with labels on their own line and comments after "; ". Accepts linked
 * programs (offsets, slot numbers) or plain lists (label names, indexes).
 */
export function disassemble(prog: LinkedProgram | readonly Insn[], opts: { metadata?: boolean } = {}): string {
  const linked = prog instanceof LinkedProgram;
  const insns = linked ? prog.insns : prog;
  const metadata = opts.metadata ?? true;
  const lines: string[] = [];
  insns.forEach((insn, i) => {
    if (insn.isLabel) {
      if (metadata) lines.push(`${insn.symbol}:`);
      return;
    }
    const n = linked ? prog.slotOf[i] : i;
    let line = `${n}: (${insn.opcode.toString(16).padStart(2, '0')}) ${formatInsn(insn, linked)}`;
    if (metadata && linked && isJumpWithTarget(insn) && insn.target !== undefined) line += ` <${insn.target}>`;
    if (metadata && insn.comment !== undefined) line += `  ; ${insn.comment}`;
    lines.push(line);
  });
  return lines.join('\n') + (lines.length ? '\n' : '');
}
