// netcap raw: packets that functions of a running program take as a data
// pointer and a length (`func@N@M`), as AF_XDP programs and custom stacks
// do. Resolved and probed as every user-space mode (../uprobe-mode.ts);
// each point is a dispatcher on the function and probes/raw.ts's program in
// its slot.
import type { ModeContext, PreparedMode } from '../../capture/mode';
import { argRegOffset } from '../../targets/registers';
import { buildDispatcher } from '../../../probes/dispatch';
import { buildRawProgram } from '../../../probes/raw';
import { cbpfFilter } from '../../../probes/filter';
import { checkUserTarget, parseUserPoints, prepareUprobeMode, type UserTarget } from '../uprobe-mode';

export interface RawOptions extends UserTarget {
  /** -f: comma-separated func@DATA@LEN points. */
  points: string;
}

export function prepareRawMode(o: RawOptions, ctx: ModeContext): PreparedMode {
  checkUserTarget('raw', o);
  const specs = parseUserPoints('raw', o.points);
  return prepareUprobeMode('raw', o, specs, ctx, (_points, captureMaps) => ({
    resources: [],
    attached: (p, slotsFd) => ({ entry: buildDispatcher(slotsFd, p.index) }),
    judge: (p, cbpf, settings, maps) => {
      const c = p.resolved.point.capture;
      if (c.shape !== 'raw') throw new Error(`point ${p.name} is not a raw point`);
      return buildRawProgram({
        dataOffset: argRegOffset(c.dataArg),
        lengthOffset: argRegOffset(c.lengthArg),
        point: p.index,
        snaplen: settings.snaplen,
        filter: cbpfFilter(cbpf, settings.snaplen),
        ringFd: maps.ring.fd,
        countersFd: captureMaps.counters.fd,
        scratchFd: maps.scratch.fd,
        wakeupAt: maps.wakeupAt,
      });
    },
    judgeRole: () => 'uprobe',
  }));
}
