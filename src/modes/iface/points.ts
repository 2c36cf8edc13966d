// What `netcap iface` captures: interfaces (-i, by name or ifindex, in
// netcap's network namespace or --netns, or `any`) times the directions of
// their TC hooks. Each interface and hook direction is a capture point with
// its own counters and pcapng interface, named like "v1 ingress"; under
// `-i any` an interface that appears while capturing brings its own points.
//
// Which hooks are attached: those the capture's first direction selects
// (the command line's -Q: -Q in attaches only ingress hooks), or both when
// the capture is asked to allow direction changes (netcap serve): a
// direction a capture has no hooks for cannot be switched to later.
import { UserError } from '../../errors';
import { selectsPoint, type CaptureDirection, type PointDirection } from '../../capture/direction';
import { listInterfaceInfo, noSuchInterface, type InterfaceInfo, type NetnsRef } from '../../kernel/interfaces';
import type { TcDirection } from '../../bpf/link/tc';

export const HOOK_DIRECTIONS: readonly TcDirection[] = ['ingress', 'egress'];

/** The packet direction a hook sees (pcapng epb_flags, JudgeSettings.direction). */
export function pointDirection(hook: TcDirection): PointDirection {
  return hook === 'ingress' ? 'in' : 'out';
}

/** The hooks a capture attaches on each interface. */
export function hooksToAttach(direction: CaptureDirection | undefined, directionChanges: boolean): TcDirection[] {
  if (directionChanges) return [...HOOK_DIRECTIONS];
  if (direction === 'off') {
    throw new UserError('direction off: "off" is a state of a running capture, not a direction to start with', 'start with in, out or inout (or allow direction changes, which attaches both hooks, to start off)');
  }
  return HOOK_DIRECTIONS.filter((h) => selectsPoint(direction, pointDirection(h)));
}

/** A direction the capture can take: every hook it selects is attached. */
export function checkDirectionAttached(direction: CaptureDirection | undefined, attached: readonly TcDirection[]): void {
  const missing = HOOK_DIRECTIONS.filter((h) => selectsPoint(direction, pointDirection(h)) && !attached.includes(h));
  if (missing.length === 0) return;
  throw new UserError(
    `direction ${direction ?? 'inout'}: this capture has no ${missing.join(' or ')} hooks (it attached ${attached.join(' and ')} only)`,
    'start the capture with direction changes allowed (both hooks attached) to switch between directions',
  );
}

/** Device types whose packets start with an Ethernet header at TC (iproute2's link_type names of ARPHRD_ETHER and ARPHRD_LOOPBACK). */
const ETHERNET_LINK_TYPES = new Set(['ether', 'loopback']);

/** Why netcap iface cannot capture on this interface, or undefined when it can. */
export function unsupportedReason(i: InterfaceInfo): string | undefined {
  if (ETHERNET_LINK_TYPES.has(i.linkType)) return undefined;
  return `its link type is ${i.linkType}: netcap iface captures Ethernet interfaces (link types ${[...ETHERNET_LINK_TYPES].join(', ')})`;
}

export interface IfaceSelection {
  netns: NetnsRef;
  /** -i any: every interface of the namespace, now and later. */
  any: boolean;
  /** The interfaces named; for `any`: every one there now (those it cannot capture on too: the mode notes and skips them). */
  interfaces: InterfaceInfo[];
}

/** `-i IFACE[,IFACE...]` (names or ifindexes) or `-i any`, in a namespace. */
export function selectInterfaces(spec: string | undefined, netns: NetnsRef): IfaceSelection {
  const wanted = (spec ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (wanted.length === 0) throw new UserError('netcap iface needs an interface', 'give -i IFACE (a name or an ifindex, several comma-separated) or -i any');
  const all = listInterfaceInfo(netns);
  if (wanted.includes('any')) {
    if (wanted.length > 1) throw new UserError(`-i ${spec}: "any" already names every interface`, 'give -i any alone, or a list of interfaces');
    return { netns, any: true, interfaces: all };
  }
  const interfaces: InterfaceInfo[] = [];
  for (const w of wanted) {
    const found = all.find((i) => i.name === w) ?? (/^\d+$/.test(w) ? all.find((i) => i.ifindex === Number(w)) : undefined);
    if (!found) throw noSuchInterface(w, all.map((i) => i.name), netns);
    const reason = unsupportedReason(found);
    if (reason) throw new UserError(`cannot capture on ${found.name}: ${reason}`, 'pick another interface');
    if (interfaces.some((i) => i.ifindex === found.ifindex)) throw new UserError(`-i ${spec} names ${found.name} twice`, 'name each interface once');
    interfaces.push(found);
  }
  return { netns, any: false, interfaces };
}
