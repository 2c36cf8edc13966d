// netcap mbuf: packets inside a running DPDK process, read from the
// struct rte_mbuf arguments of its functions through uprobes. The points
// are resolved and probed as every user-space mode does (../uprobe-mode.ts);
// this mode adds the DPDK release and its rte_mbuf layout (src/dpdk), the
// maps burst and return points need (probes/mbuf.ts), and port points
// (port:ID[:rx|tx][/qN], ./ports.ts), numbered after the function points.
import { UserError } from '../../errors';
import { createMap, type BpfMap } from '../../bpf/map';
import { requireDpdkRelease, type DpdkRelease } from '../../dpdk/release';
import { mbufLayout, type MbufLayout } from '../../dpdk/mbuf-layout';
import { processExists } from '../../proc/process';
import { argRegOffset, retRegOffset } from '../../targets/registers';
import type { UserCapture, UserFunctionPoint } from '../../targets/spec';
import type { ModeContext, PreparedMode } from '../../capture/mode';
import { startupMark } from '../../capture/startup-trace';
import { BURST_STATE_SIZE, buildMbufAttached, buildMbufJudge, type MbufOffsets, type MbufPointKind, type MbufPointSpec } from '../../../probes/mbuf';
import { cbpfFilter } from '../../../probes/filter';
import { checkUserTarget, parseUserPoints, prepareUprobeMode, type UserPoint, type UserTarget } from '../uprobe-mode';
import { withNamespaceIds } from './namespace-ids';
import { PortCapture } from './ports';
import { splitPortPoints, withPorts } from './with-ports';
import type { CaptureDirection } from './port-plan';

export interface MbufOptions extends UserTarget {
  /** -f: comma-separated points (func@N, func@N@M, func@N@ret, with lib: or /path: before; port:ID|NAME[:rx|tx][/qN]). */
  points: string;
  /** --dpdk-version YY.MM: overrides detection. */
  dpdkVersion?: string;
  /**
   * -Q: the directions of port points without :rx/:tx (default inout). Not
   * `direction`: that is the library's run-time setting of modes whose every
   * point has a direction (iface).
   */
  portDirection?: CaptureDirection;
}

function layoutOffsets(l: MbufLayout): MbufOffsets {
  return { bufAddr: l.buf_addr.offset, dataOff: l.data_off.offset, port: l.port.offset, pktLen: l.pkt_len.offset, dataLen: l.data_len.offset, next: l.next.offset };
}

function kindOf(c: UserCapture): MbufPointKind {
  return c.shape === 'one' ? 'single' : c.shape === 'array' ? 'burst' : 'return';
}

export function prepareMbufMode(o: MbufOptions, ctx: ModeContext): PreparedMode {
  checkUserTarget('mbuf', o);
  const { functions, ports: portPoints } = splitPortPoints(o.points);
  if (o.portDirection !== undefined && portPoints.length === 0) throw new UserError('-Q applies to port points only', 'add a point such as port:0, or leave -Q out');
  const specs = functions.length ? parseUserPoints('mbuf', functions.join(',')) : [];
  // The process first (is it there, is it DPDK), then its functions.
  if (o.pid !== undefined && !processExists(o.pid)) throw new UserError(`no process with pid ${o.pid}`, 'check the pid (ps -e or pidof); the process may have exited');
  const release = requireDpdkRelease(o);
  const layout = mbufLayout(release.release);
  startupMark('DPDK release known');
  // Port points read the process's ethdev tables: checked before anything is made.
  const ports = portPoints.length ? PortCapture.plan({ pid: o.pid, release: release.release, points: portPoints, direction: o.portDirection }) : undefined;
  let functionMode: PreparedMode | undefined;
  try {
    // The counters for every point, the port points' included (the first call makes them).
    const maps = ctx.maps(specs.length + (ports?.selections.length ?? 0));
    functionMode = specs.length ? prepareFunctionPoints(o, specs, ctx, layout, release) : undefined;
    if (!ports) return withNamespaceIds(functionMode!);
    ports.prepare(specs.length, maps.counters.fd);
    return withNamespaceIds(withPorts(functionMode, ports, layoutOffsets(layout), o.pid!, describeRelease(release, layout)));
  } catch (e) {
    functionMode?.close();
    ports?.close();
    throw e;
  }
}

function describeRelease(release: DpdkRelease, layout: MbufLayout): string {
  return `DPDK ${release.release} (${release.evidence}); rte_mbuf layout of ${layout.since}+: buf_addr ${layout.buf_addr.offset}, data_off ${layout.data_off.offset}, port ${layout.port.offset}, pkt_len ${layout.pkt_len.offset}, data_len ${layout.data_len.offset}, next ${layout.next.offset}`;
}

/** The function points (func@N...) as every user-space mode prepares them. */
function prepareFunctionPoints(o: MbufOptions, specs: UserFunctionPoint[], ctx: ModeContext, layout: MbufLayout, release: DpdkRelease): PreparedMode {
  return prepareUprobeMode('mbuf', o, specs, ctx, (points, captureMaps) => {
    const resources: BpfMap[] = [];
    const shapes = points.map((p) => p.resolved.point.capture.shape);
    const savedArgs = shapes.includes('array-at-return') ? createMap({ type: 'lru_hash', name: 'netcap_args', keySize: 8, valueSize: 8, maxEntries: 16384 }) : undefined;
    if (savedArgs) resources.push(savedArgs);
    const bursts = shapes.some((s) => s === 'array' || s === 'array-at-return');
    const burstState = bursts ? createMap({ type: 'percpu_array', name: 'netcap_burst', keySize: 4, valueSize: BURST_STATE_SIZE, maxEntries: points.length }) : undefined;
    if (burstState) resources.push(burstState);
    const pointSpec = (p: UserPoint, slotsFd: number, countersFd: number): MbufPointSpec => {
      const c = p.resolved.point.capture;
      return {
        kind: kindOf(c),
        argOffset: argRegOffset(c.shape === 'one' ? c.arg : c.shape === 'raw' ? c.dataArg : c.arrayArg),
        countOffset: c.shape === 'array' ? argRegOffset(c.countArg) : undefined,
        retOffset: c.shape === 'array-at-return' ? retRegOffset() : undefined,
        point: p.index,
        countersFd,
        slotsFd,
        savedArgsFd: savedArgs?.fd,
        burstStateFd: burstState?.fd,
      };
    };
    // The attached programs of bursts count every mbuf as seen.
    const countersFd = captureMaps.counters.fd;
    return {
      resources,
      attached: (p, slotsFd) => buildMbufAttached(pointSpec(p, slotsFd, countersFd)),
      judge: (p, cbpf, settings, maps, slotsFd) =>
        buildMbufJudge(pointSpec(p, slotsFd, countersFd), {
          layout: layoutOffsets(layout),
          snaplen: settings.snaplen,
          filter: cbpfFilter(cbpf, settings.snaplen),
          ringFd: maps.ring.fd,
          scratchFd: maps.scratch.fd,
          wakeupAt: maps.wakeupAt,
        }),
      judgeRole: (p) => (kindOf(p.resolved.point.capture) === 'single' ? 'uprobe' : 'tail-called worker'),
      describe: () => [describeRelease(release, layout)],
    };
  });
}
