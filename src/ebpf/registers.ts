// eBPF registers. r0: return value and helper result; r1-r5: helper
// arguments (clobbered by every call); r6-r9: callee-saved; r10: the
// read-only frame pointer (the stack grows down from it, 512 bytes).

export type Register = 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9 | 10;

export const R0: Register = 0;
export const R1: Register = 1;
export const R2: Register = 2;
export const R3: Register = 3;
export const R4: Register = 4;
export const R5: Register = 5;
export const R6: Register = 6;
export const R7: Register = 7;
export const R8: Register = 8;
export const R9: Register = 9;
export const R10: Register = 10;
/** The frame pointer, read-only. */
export const RFP: Register = R10;

export function isRegister(n: number): n is Register {
  return Number.isInteger(n) && n >= 0 && n <= 10;
}
