// The programs of one interface, one per direction captured, each built
// for its capture point (probes/tc.ts) and loaded, then attached to the
// device's TC hook in its namespace and detached again. Owned: close()
// detaches and unloads what this made, and nothing else.
import { loadProgram, type Program } from '../../bpf/program';
import { ProgType } from '../../bpf/constants';
import { attachTc, type TcPosition } from '../../bpf/link/tc';
import type { Link } from '../../bpf/link/link';
import { closeQuietly } from '../../bpf/link/link';
import type { Insn } from '../../ebpf/instruction';
import type { InterfaceInfo } from '../../kernel/interfaces';
import { LINKTYPE_ETHERNET } from '../../capture/record';
import type { CaptureMaps } from '../../../probes/common';
import { buildTcProgram, tcProgramName } from '../../../probes/tc';
import type { Direction } from './points';
import type { IfaceFilters } from './filter';

export interface HookSettings {
  filters: IfaceFilters;
  snaplen: number;
  maps: CaptureMaps;
  wakeupAt: number;
  mechanism: 'tcx' | 'cls_bpf';
  /** --position; default: first at ingress, last at egress (where tcpdump sees packets). */
  position?: TcPosition;
  /** The namespace path for attaching (undefined: netcap's own). */
  netnsPath?: string;
}

export interface HookProgram {
  direction: Direction;
  /** The capture point the records name. */
  point: number;
  insns: Insn[];
  program: Program;
}

/** Where tcpdump sees packets: before the other TC programs at ingress (AF_PACKET taps run first), after them at egress (the tap runs at transmit). */
export function defaultPosition(direction: Direction): TcPosition {
  return direction === 'ingress' ? 'first' : 'last';
}

export class InterfaceHooks {
  readonly programs: HookProgram[] = [];
  readonly links: Link[] = [];

  /** Builds and loads a program per direction; `pointOf` numbers the capture points. Throws (closing what it loaded) on failure. */
  constructor(
    readonly iface: InterfaceInfo,
    directions: Direction[],
    pointOf: (direction: Direction) => number,
    private readonly s: HookSettings,
  ) {
    try {
      const filter = s.filters.forInterface(iface)?.insns;
      for (const direction of directions) {
        const point = pointOf(direction);
        const insns = buildTcProgram({
          point,
          direction,
          filter,
          snaplen: s.snaplen,
          maps: { ring: s.maps.ring.fd, counters: s.maps.counters.fd, scratch: s.maps.scratch.fd },
          wakeupAt: s.wakeupAt,
          netnsInode: iface.netns.inode,
          linktype: LINKTYPE_ETHERNET,
        });
        const program = loadProgram({ type: ProgType.SCHED_CLS, name: tcProgramName(iface.name, direction), insns });
        this.programs.push({ direction, point, insns, program });
      }
    } catch (e) {
      this.close();
      throw e;
    }
  }

  /** Puts every program on its hook; on failure detaches what it attached and throws. */
  attach(): void {
    try {
      for (const p of this.programs) {
        this.links.push(
          attachTc(p.program, {
            ifindex: this.iface.ifindex,
            direction: p.direction,
            position: this.s.position ?? defaultPosition(p.direction),
            netnsPath: this.s.netnsPath,
            mechanism: this.s.mechanism,
          }),
        );
      }
    } catch (e) {
      this.detach();
      throw e;
    }
  }

  detach(): void {
    closeQuietly(this.links.splice(0));
  }

  /** Detaches and unloads. Idempotent. */
  close(): void {
    this.detach();
    for (const p of this.programs.splice(0).reverse()) p.program.close();
  }
}
