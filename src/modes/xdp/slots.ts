// The only writes netcap makes to someone else's map: filling the slots of
// the selected actions with its capture programs, and putting them back as
// they were. A slot in use (another xdpcap or netcap, or a program that
// someone put there) is refused unless --force; with --force netcap holds
// the program it displaced and puts it back afterwards.
//
// Putting back is "compare, then restore": only a slot that still holds
// netcap's own program is touched, so restoring twice (netcap on its way
// out, then its watchdog) is harmless, and a slot someone else changed
// meanwhile is left as they made it.
import { UserError } from '../../errors';
import { openProgramById, type Program } from '../../bpf/program';
import type { ProgArraySlots } from '../../bpf/prog-array';
import { actionName } from './actions';
import type { XdpHook } from './hook';

export interface SlotPlan {
  /** The XDP action: the slot's key. */
  key: number;
  /** What the slot held when netcap looked (--force only): held open until it is back. */
  previous?: Program;
}

/** Looks at each selected slot: an empty one is netcap's to fill; one in use is refused unless `force`. */
export function planSlots(hook: XdpHook, actions: readonly number[], force: boolean): SlotPlan[] {
  const plans: SlotPlan[] = [];
  try {
    for (const key of actions) {
      const id = hook.slots.programId(key);
      if (id === undefined) {
        plans.push({ key });
        continue;
      }
      if (!force) {
        throw new UserError(
          `${hook.path}: the ${actionName(key)} slot is in use (program ${id}): another capture (xdpcap, netcap) may be running on this hook`,
          `stop it, or give --force to put netcap's program there while it runs and program ${id} back afterwards`,
        );
      }
      plans.push({ key, previous: openProgramById(id) });
    }
  } catch (e) {
    for (const p of plans) p.previous?.close();
    throw e;
  }
  return plans;
}

/** Puts `ours` into slot `key` if the slot still holds what planSlots saw; a UserError otherwise. */
export function fillSlot(hook: XdpHook, plan: SlotPlan, ours: Program): void {
  const now = hook.slots.programId(plan.key);
  if (now !== plan.previous?.id) {
    throw new UserError(
      `${hook.path}: the ${actionName(plan.key)} slot changed while netcap was starting (it holds ${now === undefined ? 'nothing' : `program ${now}`} now)`,
      'another capture started on this hook at the same time: try again',
    );
  }
  hook.slots.set(plan.key, ours.fd);
}

export type RestoreResult = 'restored' | 'emptied' | 'changed' | 'untouched';

/**
 * Undoes fillSlot when the slot still holds program `oursId`: puts the
 * program behind `previousFd` back, or empties the slot. 'changed' when
 * something else is there now (left alone); 'untouched' when the slot was
 * never filled or is empty already.
 */
export function restoreSlot(slots: ProgArraySlots, key: number, oursId: number, previousFd?: number): RestoreResult {
  const now = slots.programId(key);
  if (now === undefined) return 'untouched';
  if (now !== oursId) return 'changed';
  if (previousFd !== undefined) {
    slots.set(key, previousFd);
    return 'restored';
  }
  slots.clear(key);
  return 'emptied';
}
