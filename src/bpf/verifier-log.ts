// Summarising a verifier log into one line a user can read. The kernel
// prints the instruction trace first and the reason last, followed by
// statistics ("processed 12 insns (limit 1000000) ...", kernel/bpf/verifier.c
// print_verification_stats), so the useful part is the last lines that are
// neither statistics nor trace.

const NOISE = [
  /^processed \d+ insns/,
  /^verification time/,
  /^stack depth/,
  /^max_states_per_insn/,
  /^-- END PROG LOAD LOG --/,
  /^mark_precise:/,
  /^last_idx \d+ first_idx/,
  /^regs=/,
];

/** Lines of the instruction trace: "12: (bf) r1 = r6 ; R1_w=..." or a register state dump "12: R1=ctx()". */
const TRACE = /^(\d+: |from \d+ to \d+:|; )/;

function isNoise(line: string): boolean {
  return line.trim() === '' || NOISE.some((re) => re.test(line));
}

/**
 * The reason the verifier gave, as one line: the last non-trace lines
 * (at most `maxLines`, joined with ": "), e.g.
 * "invalid access to packet, off=14 size=1, R3(id=0,off=14,r=0): R3 offset is outside of the packet".
 */
export function summarizeVerifierLog(log: string, maxLines = 2): string {
  const lines = log.split('\n').map((l) => l.trimEnd());
  while (lines.length && isNoise(lines[lines.length - 1])) lines.pop();
  const picked: string[] = [];
  for (let i = lines.length - 1; i >= 0 && picked.length < maxLines; i--) {
    const l = lines[i];
    if (isNoise(l)) continue;
    if (TRACE.test(l)) {
      if (picked.length) break;
      // The reason may follow a trace line on its own; if all we have is
      // trace, the last trace line is the best pointer we can give.
      picked.unshift(l);
      break;
    }
    picked.unshift(l);
  }
  return picked.join(': ') || 'the verifier gave no reason (empty log)';
}

/** The index of the instruction the verifier stopped at (the last "N: (op)" line), if any. */
export function failingInsnIndex(log: string): number | undefined {
  const m = [...log.matchAll(/^(\d+): \([0-9a-f]{2}\)/gm)];
  return m.length ? Number(m[m.length - 1][1]) : undefined;
}
