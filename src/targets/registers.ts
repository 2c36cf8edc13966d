// Where a uprobe/kprobe program finds function arguments: the x86-64 SysV
// ABI passes the first six integer arguments in rdi, rsi, rdx, rcx, r8, r9
// and returns in rax; a BPF program attached to a uprobe or kprobe gets a
// struct pt_regs * (arch/x86/include/asm/ptrace.h). One table of offsets
// serves every mode: the layout is the ABI tracers rely on, unchanged for
// x86-64 since 2.6.25, and reading it from BTF instead would cost the
// parser's start-up (the registers test compares the table with this
// kernel's BTF through gcc).
import { UserError } from '../errors';

const ARG_REGISTERS = ['di', 'si', 'dx', 'cx', 'r8', 'r9'] as const;
export type PtRegsField = (typeof ARG_REGISTERS)[number] | 'ax' | 'sp' | 'ip';

/** struct pt_regs offsets from arch/x86/include/asm/ptrace.h (64-bit). */
export const X86_64_PT_REGS: Readonly<Record<PtRegsField, number>> = {
  r9: 64, r8: 72, ax: 80, cx: 88, dx: 96, si: 104, di: 112, ip: 128, sp: 152,
};

function requireX86(): void {
  if (process.arch !== 'x64') {
    throw new UserError(`argument registers are only known for x86-64, not ${process.arch}`, 'run netcap on an x86-64 machine');
  }
}

/** The offset of a pt_regs field (x86-64: the table above; test/targets checks it against this kernel's BTF with gcc). */
export function ptRegsOffset(field: PtRegsField): number {
  requireX86();
  return X86_64_PT_REGS[field];
}

/** The pt_regs register name of 1-based argument n ('di' for 1). */
export function argRegister(n: number): PtRegsField {
  if (!Number.isInteger(n) || n < 1 || n > ARG_REGISTERS.length) {
    throw new UserError(`argument ${n} is not passed in a register`, `arguments 1 to ${ARG_REGISTERS.length} are (x86-64 SysV ABI)`);
  }
  return ARG_REGISTERS[n - 1];
}

/** Offset in struct pt_regs of 1-based argument n. */
export function argRegOffset(n: number): number {
  return ptRegsOffset(argRegister(n));
}

/** Offset in struct pt_regs of the return value (rax), for uretprobes. */
export function retRegOffset(): number {
  return ptRegsOffset('ax');
}
