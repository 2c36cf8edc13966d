// The mbuf mode with port points: the function points (prepared as every
// user-space mode prepares them, ../uprobe-mode.ts) and the port points
// (./ports.ts) as one prepared mode. The function points come first in the
// point list; each part loads, attaches, lists and closes its own programs,
// and a record goes to the part whose point it is.
import { compileCbpf } from '../../filter/libpcap';
import { processAlive } from '../../proc/process';
import { parseMbufPoints, type PointSpec } from '../../targets/spec';
import type { PortPoint } from '../../targets/port-point';
import type { Link } from '../../bpf/link/link';
import type { Generation, PreparedMode } from '../../capture/mode';
import type { MbufOffsets } from '../../../probes/mbuf';
import type { PortCapture } from './ports';

/** The -f list's function points (as written, for parseUserPoints) and its port points. */
export function splitPortPoints(list: string): { functions: string[]; ports: PortPoint[] } {
  const all = parseMbufPoints(list);
  return {
    functions: all.filter((p): p is PointSpec => p.kind !== 'dpdk-port').map((p) => p.text),
    ports: all.filter((p): p is PortPoint => p.kind === 'dpdk-port'),
  };
}

/** Two generations as one: installed, listed and closed together. */
function bothGenerations(a: Generation | undefined, b: Generation): Generation {
  if (!a) return b;
  return {
    settings: b.settings,
    programs: [...a.programs, ...b.programs],
    ready: async () => {
      await a.ready?.();
      await b.ready?.();
    },
    install: () => {
      a.install();
      b.install();
    },
    close: () => {
      b.close();
      a.close();
    },
  };
}

export function withPorts(fn: PreparedMode | undefined, ports: PortCapture, layout: MbufOffsets, pid: number, releaseLine: string): PreparedMode {
  const points = [...(fn?.points ?? []), ...ports.points()];
  return {
    points,
    readiness: `${points.map((p) => p.name).join(', ')} (pid ${pid})`,
    notes: fn?.notes ?? [],
    metadataOnStdout: false,
    attachedPrograms: [...(fn?.attachedPrograms ?? []), ...ports.attachedPrograms()],
    check: (settings) => (fn ? fn.check(settings) : void (settings.expression && compileCbpf(settings.expression, { linktype: 'EN10MB', snaplen: settings.snaplen }))),
    load: (settings, maps) => {
      const a = fn?.load(settings, maps);
      try {
        return bothGenerations(a, ports.load(settings, maps, layout));
      } catch (e) {
        a?.close();
        throw e;
      }
    },
    attach: (): Link[] => {
      const links = fn?.attach() ?? [];
      try {
        links.push(ports.attach());
      } catch (e) {
        for (const l of links.reverse()) l.close();
        throw e;
      }
      return links;
    },
    packet: (rec) => (ports.owns(rec.point) || !fn ? ports.packet(rec) : fn.packet(rec)),
    describe: (gen) => [fn ? fn.describe(gen).trimEnd() : releaseLine, ...ports.describe(gen)].join('\n') + '\n',
    vanished: fn?.vanished ?? (() => (processAlive(pid) ? undefined : `process ${pid} exited`)),
    report: (perPoint) => [...(fn?.report?.(perPoint) ?? []), ...ports.report()],
    onMessage: (listener) => ports.onMessage(listener),
    close: () => {
      ports.close();
      fn?.close();
    },
  };
}
