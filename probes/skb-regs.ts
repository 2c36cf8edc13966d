// Where the x86-64 SysV argument registers (rdi, rsi, rdx, rcx, r8, r9) sit
// in struct pt_regs, the context of a kprobe program, read from BTF so the
// offsets follow the kernel (arch/x86/include/asm/ptrace.h).
import { UserError } from '../src/errors';
import { loadKernelBtf } from '../src/btf/kernel';

const ARG_REGS = ['di', 'si', 'dx', 'cx', 'r8', 'r9'];

/** Byte offsets of the first six arguments in struct pt_regs. */
export function loadPtRegsArgOffsets(): number[] {
  if (process.arch !== 'x64') throw new UserError(`kprobe arguments are only mapped for x86-64 (this is ${process.arch})`, 'use a tracepoint');
  const btf = loadKernelBtf();
  return ARG_REGS.map((r) => btf.structMember('struct pt_regs', r).offsetBits / 8);
}
