// Drops instructions no path reaches. The verifier refuses programs with
// unreachable instructions ("unreachable insn N", check_cfg in
// kernel/bpf/verifier.c), and a builder that inlines a fragment often can't
// know whether the fragment uses its match / no-match tails (a filter that
// rejects everything never jumps to "match").
import type { Insn } from './instruction';
import { InsnClass, JumpOp, classOf, opOf } from './opcodes';
import { isJumpWithTarget, LinkError } from './link';

/**
 * Keeps the instructions reachable from the first. Jumps to labels listed in
 * `external` leave the list (a fragment's jumps to its caller's labels);
 * any other unknown label is an error.
 */
export function pruneUnreachable(insns: readonly Insn[], external: ReadonlySet<string> = new Set()): Insn[] {
  const labels = new Map<string, number>();
  insns.forEach((insn, i) => {
    if (insn.symbol !== undefined) labels.set(insn.symbol, i);
  });
  const seen = new Array<boolean>(insns.length).fill(false);
  const work = insns.length ? [0] : [];
  while (work.length) {
    const i = work.pop()!;
    if (i >= insns.length || seen[i]) continue;
    seen[i] = true;
    const insn = insns[i];
    const cls = classOf(insn.opcode);
    const isJmp = cls === InsnClass.JMP || cls === InsnClass.JMP32;
    if (isJmp && opOf(insn.opcode) === JumpOp.EXIT) continue;
    if (isJumpWithTarget(insn) && insn.target !== undefined) {
      const to = labels.get(insn.target);
      if (to === undefined && external.has(insn.target)) {
        if (opOf(insn.opcode) !== JumpOp.JA) work.push(i + 1);
        continue;
      }
      if (to === undefined) throw new LinkError(`instruction ${i} jumps to unknown label "${insn.target}"`);
      work.push(to);
      if (opOf(insn.opcode) === JumpOp.JA) continue;
    }
    work.push(i + 1);
  }
  return insns.filter((_, i) => seen[i]);
}
