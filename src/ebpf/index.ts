// The eBPF instruction model: registers, immutable instructions, builders,
// labels and link(), encoding, and a verifier-style disassembler. Pure data:
// nothing here talks to the kernel (that is src/bpf/program.ts).
export * from './registers';
export * from './opcodes';
export { Insn, type InsnFields } from './instruction';
export * from './builders';
export { Helper, helperName } from './helpers';
export { link, LinkedProgram, LinkError, isJumpWithTarget } from './link';
export { encode, decode } from './encode';
export { disassemble, formatInsn } from './disassemble';
export { pruneUnreachable } from './prune';
