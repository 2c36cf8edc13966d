// The stable part of one interface's capture: a program array with a slot
// per hook direction, and per direction a dispatcher (probes/dispatch.ts)
// that tail-calls its slot and returns TC_NEXT when the slot is empty, put
// on the device's TC hook in its namespace (tcx, or cls_bpf on clsact) for
// the whole capture. What judges packets sits in the slots and changes with
// each generation (generation.ts). close() detaches and unloads what this
// made, and nothing else.
import { loadPrograms, type LoadedProgram } from '../../capture/generation';
import { ProgramSlots } from '../../capture/slots';
import { ProgType } from '../../bpf/constants';
import { attachTc, type TcDirection, type TcPosition } from '../../bpf/link/tc';
import type { Link } from '../../bpf/link/link';
import { closeQuietly } from '../../bpf/link/link';
import type { InterfaceInfo } from '../../kernel/interfaces';
import { buildDispatcher } from '../../../probes/dispatch';
import { TC_NEXT, tcProgramName } from '../../../probes/tc';

export interface HookPlacement {
  mechanism: 'tcx' | 'cls_bpf';
  /** --position; default: first at ingress, last at egress (where tcpdump sees packets). */
  position?: TcPosition;
  /** The namespace path for attaching (undefined: netcap's own). */
  netnsPath?: string;
}

/** Where tcpdump sees packets: before the other TC programs at ingress (AF_PACKET taps run first), after them at egress (the tap runs at transmit). */
export function defaultPosition(direction: TcDirection): TcPosition {
  return direction === 'ingress' ? 'first' : 'last';
}

/** One capture point of an interface: its hook direction and its index in the capture's points. */
export interface HookPoint {
  direction: TcDirection;
  point: number;
}

export class InterfaceHooks {
  readonly slots: ProgramSlots;
  /** A dispatcher per point, in `points` order. */
  readonly dispatchers: LoadedProgram[];
  readonly links: Link[] = [];

  /** Makes the slots and loads a dispatcher per point; throws (closing what it made) on failure. */
  constructor(
    readonly iface: InterfaceInfo,
    readonly points: readonly HookPoint[],
    private readonly placement: HookPlacement,
  ) {
    this.slots = new ProgramSlots(`nc_slots_${iface.name}`.replace(/[^A-Za-z0-9_.]/g, '_').slice(0, 15), points.length);
    try {
      this.dispatchers = loadPrograms(
        points.map((p, slot) => ({
          point: p.point,
          role: 'dispatcher',
          spec: { type: ProgType.SCHED_CLS, name: tcProgramName(iface.name, p.direction), insns: buildDispatcher(this.slots.fd, slot, TC_NEXT) },
        })),
      );
    } catch (e) {
      this.slots.close();
      throw e;
    }
  }

  /** The slot that judges packets of capture point `point`. */
  slotOf(point: number): number {
    const slot = this.points.findIndex((p) => p.point === point);
    if (slot < 0) throw new RangeError(`point ${point} is not one of ${this.iface.name}'s`);
    return slot;
  }

  /** Puts every dispatcher on its hook; on failure detaches what it attached and throws. */
  attach(): Link[] {
    try {
      this.points.forEach((p, i) => {
        this.links.push(
          attachTc(this.dispatchers[i].program, {
            ifindex: this.iface.ifindex,
            direction: p.direction,
            position: this.placement.position ?? defaultPosition(p.direction),
            netnsPath: this.placement.netnsPath,
            mechanism: this.placement.mechanism,
          }),
        );
      });
    } catch (e) {
      this.detach();
      throw e;
    }
    return this.links;
  }

  detach(): void {
    closeQuietly(this.links.splice(0));
  }

  /** Detaches, unloads the dispatchers and empties and closes the slots. Idempotent. */
  close(): void {
    this.detach();
    for (const d of this.dispatchers.splice(0).reverse()) d.program.close();
    this.slots.close();
  }
}
