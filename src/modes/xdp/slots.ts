// The only writes netcap makes to someone else's map: putting its capture
// programs into the slots of the selected actions (the first generation
// fills them, each filter or snap-length change replaces its programs in
// one map update per slot), and putting the slots back as they were. A slot
// in use (another xdpcap or netcap, or a program that someone put there) is
// refused unless --force; with --force netcap holds the program it
// displaced and puts it back afterwards.
//
// Every write compares first: a generation goes in only where the slot
// still holds what netcap left there, and putting back touches only a slot
// that holds one of netcap's programs (any generation's), so restoring
// twice (netcap on its way out, then its watchdog) is harmless, and a slot
// someone else changed meanwhile is left as they made it (and said so).
import { UserError } from '../../errors';
import { openProgramById, type Program } from '../../bpf/program';
import type { ProgArraySlots } from '../../bpf/prog-array';
import { actionName } from './actions';
import type { XdpHook } from './hook';

export type RestoreResult = 'restored' | 'emptied' | 'changed' | 'untouched';

/**
 * Undoes netcap's writes to slot `key` when it holds one of `ours` (program
 * ids): puts the program behind `previousFd` back, or empties the slot.
 * 'changed' when something else is there now (left alone); 'untouched' when
 * the slot is empty.
 */
export function restoreSlot(slots: ProgArraySlots, key: number, ours: ReadonlySet<number>, previousFd?: number): RestoreResult {
  const now = slots.programId(key);
  if (now === undefined) return 'untouched';
  if (!ours.has(now)) return 'changed';
  if (previousFd !== undefined) {
    slots.set(key, previousFd);
    return 'restored';
  }
  slots.clear(key);
  return 'emptied';
}

/** One selected slot of one hook: a capture point of `netcap xdp`. */
export class HookSlot {
  /** Ids of every program netcap loaded for this slot (the watchdog knows the same set). */
  readonly ours = new Set<number>();
  /** What netcap put in the slot last; undefined before the first fill and after putting it back. */
  private current: Program | undefined;
  /** Someone else changed the slot while netcap ran: netcap leaves it alone from then on. */
  private givenUp = false;

  private constructor(
    readonly hook: XdpHook,
    /** The XDP action: the slot's key. */
    readonly key: number,
    /** What the slot held when netcap looked (--force only): held open until it is back. */
    readonly previous: Program | undefined,
    /** Where a slot someone else changed is reported (the end-of-capture lines). */
    private readonly notes: string[],
  ) {}

  /** Looks at each selected slot of `hook`: an empty one is netcap's to fill; one in use is refused unless `force`. */
  static plan(hook: XdpHook, actions: readonly number[], force: boolean, notes: string[]): HookSlot[] {
    const plans: HookSlot[] = [];
    try {
      for (const key of actions) {
        const id = hook.slots.programId(key);
        if (id === undefined) {
          plans.push(new HookSlot(hook, key, undefined, notes));
          continue;
        }
        if (!force) {
          throw new UserError(
            `${hook.path}: the ${actionName(key)} slot is in use (program ${id}): another capture (xdpcap, netcap) may be running on this hook`,
            `stop it, or give --force to put netcap's program there while it runs and program ${id} back afterwards`,
          );
        }
        plans.push(new HookSlot(hook, key, openProgramById(id), notes));
      }
    } catch (e) {
      for (const p of plans) p.previous?.close();
      throw e;
    }
    return plans;
  }

  get action(): string {
    return actionName(this.key);
  }

  /**
   * Puts `program` into the slot if it still holds what netcap left there
   * (what plan() saw, before the first fill). A slot that changed before the
   * first fill is a UserError (another capture started at the same time); one
   * that changed later is left to whoever changed it.
   */
  install(program: Program): void {
    this.ours.add(program.id);
    if (this.givenUp) return;
    const now = this.hook.slots.programId(this.key);
    const expected = this.current ? this.current.id : this.previous?.id;
    if (now !== expected) {
      const holds = now === undefined ? 'nothing' : `program ${now}`;
      if (!this.current) {
        throw new UserError(`${this.hook.path}: the ${this.action} slot changed while netcap was starting (it holds ${holds} now)`, 'another capture started on this hook at the same time: try again');
      }
      this.leave();
      return;
    }
    this.hook.slots.set(this.key, program.fd);
    this.current = program;
  }

  /** Puts the slot back (the program --force displaced, or empty) if it holds one of netcap's programs. Idempotent. */
  restore(): void {
    if (!this.current || this.givenUp) return;
    this.current = undefined;
    if (restoreSlot(this.hook.slots, this.key, this.ours, this.previous?.fd) === 'changed') this.leave();
  }

  private leave(): void {
    this.givenUp = true;
    this.current = undefined;
    this.notes.push(`${this.hook.path}: the ${this.action} slot was changed by someone else while netcap ran; left as it is`);
  }
}
