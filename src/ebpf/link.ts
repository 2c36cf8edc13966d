// Turns jump labels into offsets. Offsets count 8-byte slots from the
// instruction after the jump (the 64-bit immediate load is two slots), as
// the kernel's interpreter does (kernel/bpf/core.c: `insn += insn->off`
// after the jump's own increment).
import type { Insn } from './instruction';
import { InsnClass, JumpOp, classOf, opOf } from './opcodes';

export class LinkError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LinkError';
  }
}

/** Instructions whose jumps carry resolved offsets, ready to encode or load. */
export class LinkedProgram {
  constructor(
    readonly insns: readonly Insn[],
    /** Slot index of each instruction (the 64-bit load takes two). */
    readonly slotOf: readonly number[],
    /** Total 8-byte slots, the kernel's insn_cnt. */
    readonly slots: number,
  ) {}
}

export function isJumpWithTarget(insn: Insn): boolean {
  const cls = classOf(insn.opcode);
  if (cls !== InsnClass.JMP && cls !== InsnClass.JMP32) return false;
  const op = opOf(insn.opcode);
  return op !== JumpOp.CALL && op !== JumpOp.EXIT;
}

/**
 * Resolves every jump's label (a label names the slot of the next real
 * instruction). Throws LinkError on unknown or duplicate labels, a label
 * with no instruction after it, and offsets beyond int16.
 */
export function link(insns: readonly Insn[]): LinkedProgram {
  const slotOf: number[] = [];
  const labels = new Map<string, number>();
  let slot = 0;
  insns.forEach((insn, i) => {
    slotOf.push(slot);
    if (insn.symbol !== undefined) {
      if (labels.has(insn.symbol)) {
        throw new LinkError(`duplicate label "${insn.symbol}" at instructions ${insns.findIndex((x) => x.symbol === insn.symbol)} and ${i}`);
      }
      labels.set(insn.symbol, slot);
    }
    slot += insn.slots;
  });
  const last = insns[insns.length - 1];
  if (last?.isLabel) throw new LinkError(`label "${last.symbol}" ends the program: it names no instruction`);
  const out = insns.map((insn, i) => {
    if (!isJumpWithTarget(insn)) return insn;
    if (insn.target === undefined) return insn; // raw offset given by the caller
    const to = labels.get(insn.target);
    if (to === undefined) throw new LinkError(`instruction ${i} jumps to unknown label "${insn.target}"`);
    const off = to - (slotOf[i] + 1);
    if (off < -0x8000 || off > 0x7fff) {
      throw new LinkError(`instruction ${i} jumps to "${insn.target}" ${off} slots away: beyond the signed 16-bit offset field`);
    }
    return insn.withOffset(off);
  });
  return new LinkedProgram(out, slotOf, slot);
}
