// `netcap iface` from options to the shared capture session
// (src/capture/session.ts): select the points (interface x direction),
// compile the filter as a live capture means it, build and load one TC
// program per point (probes/tc.ts), and hand the session an attach step that
// puts them on the hooks (tcx, or cls_bpf on clsact) in the interfaces'
// namespace. Everything is checked and loaded before anything is attached;
// on an error what was made so far is closed.
import { defaultTcMechanism, type TcPosition } from '../../bpf/link/tc';
import { Link } from '../../bpf/link/link';
import type { PacketRecord } from '../../capture/record';
import type { CaptureSpec, SessionPoint } from '../../capture/session';
import { currentNetns, resolveNetns } from '../../kernel/interfaces';
import { LINKTYPE_ETHERNET } from '../../output/packet';
import { CaptureMaps, wakeupThreshold } from '../../../probes/common';
import { AnyInterfaces } from './any';
import { IfaceFilters } from './filter';
import { InterfaceHooks, type HookSettings } from './hooks';
import { selectPoints, type IfaceSelection } from './points';

export type TcMechanismChoice = 'auto' | 'tcx' | 'cls_bpf';

export interface IfaceCaptureOptions {
  /** -i: names or ifindexes, comma-separated, or "any". */
  interfaces: string;
  /** -Q: in, out, inout (default) or ingress, egress, bidirectional. */
  direction?: string;
  netns?: string;
  expression: string;
  snaplen: number;
  ringBytes: number;
  /** --position (default: first at ingress, last at egress). */
  position?: TcPosition;
  /** --hook (default auto: tcx where the kernel has it). */
  mechanism?: TcMechanismChoice;
  /** Where notes go (interfaces skipped or added under -i any). */
  note?: (message: string) => void;
}

export interface PreparedIfaceCapture {
  selection: IfaceSelection;
  mechanism: 'tcx' | 'cls_bpf';
  /** Per interface, its loaded programs (for -i any: the interfaces there at start). */
  hooks: InterfaceHooks[];
  spec: CaptureSpec;
  close(): void;
}

export function prepareIfaceCapture(o: IfaceCaptureOptions): PreparedIfaceCapture {
  const netns = o.netns !== undefined ? resolveNetns(o.netns) : currentNetns();
  const selection = selectPoints(o.interfaces, o.direction, netns);
  const mechanism = !o.mechanism || o.mechanism === 'auto' ? defaultTcMechanism() : o.mechanism;
  const note = o.note ?? ((m: string) => process.stderr.write(`netcap: ${m}\n`));
  const maps = CaptureMaps.create({ points: selection.points.length, snaplen: o.snaplen, ringBytes: o.ringBytes });
  const settings: HookSettings = {
    filters: new IfaceFilters(o.expression, o.snaplen),
    snaplen: o.snaplen,
    maps,
    wakeupAt: wakeupThreshold(o.ringBytes),
    mechanism,
    position: o.position,
    netnsPath: netns.label === 'current' ? undefined : netns.path,
  };
  const hooks: InterfaceHooks[] = [];
  let any: AnyInterfaces | undefined;
  const closeAll = () => {
    any?.close();
    for (const h of hooks.splice(0).reverse()) h.close();
    maps.close();
  };
  try {
    if (selection.any) {
      any = new AnyInterfaces(netns, selection.directions, settings, note);
      any.prepare(selection.interfaces);
      hooks.push(...any.hooks);
    } else {
      // Points are numbered interface by interface, directions in -Q order.
      selection.interfaces.forEach((iface, i) => {
        hooks.push(new InterfaceHooks(iface, selection.directions, (d) => i * selection.directions.length + selection.directions.indexOf(d), settings));
      });
    }
  } catch (e) {
    closeAll();
    throw e;
  }

  const names = any?.names ?? new Map(selection.interfaces.map((i) => [i.ifindex, i.name]));
  const sessionPoints: SessionPoint[] = selection.points.map((p) => ({ name: p.name, linktype: LINKTYPE_ETHERNET }));
  const attach = (): Link[] => {
    if (any) {
      const dynamic = any;
      dynamic.start();
      // One link for all of them: the interfaces come and go, the session closes this once.
      return [new Link('tc', `every interface of ${netns.label === 'current' ? 'this namespace' : `netns ${netns.label}`}`, [{ close: () => dynamic.close() }])];
    }
    const links: Link[] = [];
    try {
      for (const h of hooks) {
        h.attach();
        links.push(...h.links);
      }
    } catch (e) {
      for (const h of hooks) h.detach();
      throw e;
    }
    return links;
  };
  const describe = (rec: PacketRecord, point: SessionPoint): string => {
    const ifname = names.get(rec.ifindex);
    const parts = [
      `point=${point.name}`, `ifindex=${rec.ifindex}${ifname ? ` (${ifname})` : ''}`, `netns=${rec.netns}`, `cpu=${rec.cpu}`,
      `pid=${rec.pid}`, `comm=${rec.comm}`, `skb=0x${rec.addr.toString(16)}`, `mark=0x${rec.mark.toString(16)}`,
    ];
    return parts.join(' ');
  };
  const where = [netns.label === 'current' ? undefined : `netns ${netns.label}`, mechanism].filter((x) => x !== undefined).join(', ');
  const anyText = any ? `; interfaces ${any.interfaces.map((i) => i.name).join(', ') || '(none yet)'} and any that appear` : '';
  const spec: CaptureSpec = {
    points: sessionPoints,
    ring: maps.ring,
    counters: maps.counters,
    attach,
    resources: [{ close: closeAll }],
    readiness: `${selection.points.map((p) => p.name).join(', ')} (${where}${anyText})`,
    snaplen: o.snaplen,
    filter: o.expression,
    describe,
  };
  return { selection, mechanism, hooks, spec, close: closeAll };
}
