// Program arrays (BPF_MAP_TYPE_PROG_ARRAY) seen as tail-call tables: from
// user space a slot reads as the id of the program in it
// (prog_fd_array_sys_lookup_elem, kernel/bpf/arraymap.c), is filled with a
// program fd and emptied with a delete. And which load options a program
// needs to be accepted into someone else's array.
import * as fs from 'node:fs';
import { Exit, LoadMapPtr, Mov } from '../ebpf/builders';
import { R0, R1 } from '../ebpf/registers';
import { u32, type BpfMap } from './map';
import { loadProgram } from './program';

export class ProgArraySlots {
  constructor(readonly map: BpfMap) {
    if (map.spec.type !== 'prog_array') throw new Error(`map ${map.name} is not a program array`);
  }

  /** Id of the program in slot `key`, or undefined when the slot is empty. */
  programId(key: number): number | undefined {
    return this.map.lookup(u32(key))?.readUInt32LE(0);
  }

  /** Puts the program behind `progFd` in slot `key` (atomically replacing what was there). */
  set(key: number, progFd: number): void {
    this.map.update(u32(key), u32(progFd));
  }

  /** Empties slot `key`; false when it was empty already. */
  clear(key: number): boolean {
    return this.map.delete(u32(key));
  }
}

/** A refused load with EINVAL: a VerifierError carries the code, a log-less UserError names it in its message. */
function refusedAsIncompatible(e: unknown): boolean {
  const err = e as { code?: unknown; message?: unknown };
  return err?.code === 'EINVAL' || (typeof err?.message === 'string' && err.message.includes('(EINVAL)'));
}

/** Load options that must equal the array owner's for a program to go in (kernel/bpf/core.c, __bpf_prog_map_compatible). */
export interface TailCallVariant {
  expectedAttachType: number;
  progFlags: number;
}

/**
 * The program type of a prog array's owner (the first program that used
 * it), or undefined while it has none: the `owner_prog_type` line of the
 * map's fdinfo (bpf_map_show_fdinfo, kernel/bpf/syscall.c), there once an
 * owner is set.
 */
export function progArrayOwnerType(map: BpfMap): number | undefined {
  const m = /^owner_prog_type:\s*(\d+)$/m.exec(fs.readFileSync(`/proc/self/fdinfo/${map.fd}`, 'utf8'));
  return m ? Number(m[1]) : undefined;
}

/**
 * The first of `variants` whose programs the kernel accepts into `map`.
 * The kernel fixes a prog array's "owner" (program type, JIT, expected
 * attach type, BPF_F_XDP_HAS_FRAGS, sleepable) from the first program that
 * uses it, and refuses (EINVAL) loads of programs that reference the map,
 * and updates with programs, that differ. A do-nothing program referencing
 * the map is loaded per variant until one loads; nothing is put in the map.
 * An array nobody uses yet takes any: the first is returned without a load
 * (which would make it the owner), so looking changes nothing.
 * Undefined when none fits.
 */
export function compatibleVariant(map: BpfMap, progType: number, variants: readonly TailCallVariant[]): TailCallVariant | undefined {
  if (progArrayOwnerType(map) === undefined) return variants[0];
  for (const v of variants) {
    try {
      loadProgram({
        type: progType,
        name: 'nc_probe_owner',
        insns: [LoadMapPtr(R1, map.fd), Mov.imm(R0, 0), Exit()],
        expectedAttachType: v.expectedAttachType,
        progFlags: v.progFlags,
        logLevel: 1,
      }).close();
      return v;
    } catch (e) {
      // EINVAL from bpf_check_tail_call: another owner; try the next.
      // Anything else (EPERM, ...) is the caller's problem.
      if (!refusedAsIncompatible(e)) throw e;
    }
  }
  return undefined;
}
