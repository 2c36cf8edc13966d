// Where a uprobe/kprobe program finds function arguments: the x86-64 SysV
// ABI passes the first six integer arguments in rdi, rsi, rdx, rcx, r8, r9
// and returns in rax; a BPF program attached to a probe gets a struct pt_regs
// * (arch/x86/include/asm/ptrace.h). The offsets are read from the running
// kernel's BTF when it has it, and fall back to the header's layout, which
// has been stable for x86-64 since 2.6.
import { UserError } from '../errors';

const ARG_REGISTERS = ['di', 'si', 'dx', 'cx', 'r8', 'r9'] as const;
export type PtRegsField = (typeof ARG_REGISTERS)[number] | 'ax' | 'sp' | 'ip';

/** struct pt_regs offsets from arch/x86/include/asm/ptrace.h (64-bit). */
export const X86_64_PT_REGS: Readonly<Record<PtRegsField, number>> = {
  r9: 64, r8: 72, ax: 80, cx: 88, dx: 96, si: 104, di: 112, ip: 128, sp: 152,
};

let fromBtf: Partial<Record<PtRegsField, number>> | undefined;

function requireX86(): void {
  if (process.arch !== 'x64') {
    throw new UserError(`argument registers are only known for x86-64, not ${process.arch}`, 'run netcap on an x86-64 machine');
  }
}

/** The offset of a pt_regs field: the kernel's BTF when readable, else the x86-64 header layout. */
export function ptRegsOffset(field: PtRegsField): number {
  requireX86();
  if (!fromBtf) {
    fromBtf = {};
    try {
      // Required here, not at the top: mbuf and raw modes use the table
      // directly and should not pay for loading the BTF parser at start-up.
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { loadKernelBtf } = require('../btf/kernel') as typeof import('../btf/kernel');
      const btf = loadKernelBtf();
      for (const f of Object.keys(X86_64_PT_REGS) as PtRegsField[]) fromBtf[f] = btf.structMember('pt_regs', f).offsetBits / 8;
    } catch {
      // No BTF: the fixed layout is the ABI the kernel exports to tracers anyway.
    }
  }
  return fromBtf[field] ?? X86_64_PT_REGS[field];
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
