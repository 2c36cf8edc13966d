// What `netcap iface` captures: interfaces (-i, by name or ifindex, in
// netcap's network namespace or --netns, or `any`) times directions (-Q).
// Each interface and direction is a capture point with its own counters and
// pcapng interface, named like "v1 ingress"; `-i any` has one point per
// direction ("any ingress"), whatever interfaces come and go.
import { UserError } from '../../errors';
import { listInterfaceInfo, noSuchInterface, type InterfaceInfo, type NetnsRef } from '../../kernel/interfaces';

export type Direction = 'ingress' | 'egress';

/** -Q in tcpdump's spelling or Polycube's, to the hooks it means. */
const DIRECTIONS: Record<string, Direction[]> = {
  in: ['ingress'],
  out: ['egress'],
  inout: ['ingress', 'egress'],
  ingress: ['ingress'],
  egress: ['egress'],
  bidirectional: ['ingress', 'egress'],
};

export function parseDirection(q: string | undefined): Direction[] {
  const value = (q ?? 'inout').toLowerCase();
  const directions = DIRECTIONS[value];
  if (directions) return directions;
  if (value === 'off') {
    throw new UserError('-Q off: "off" is a state of a running capture, not a direction to start with', 'start with -Q in, out or inout');
  }
  throw new UserError(`-Q ${q}: not a direction`, 'give in, out or inout (tcpdump), or ingress, egress or bidirectional (Polycube)');
}

/** Device types whose packets start with an Ethernet header at TC (iproute2's link_type names of ARPHRD_ETHER and ARPHRD_LOOPBACK). */
const ETHERNET_LINK_TYPES = new Set(['ether', 'loopback']);

/** Why netcap iface cannot capture on this interface, or undefined when it can. */
export function unsupportedReason(i: InterfaceInfo): string | undefined {
  if (ETHERNET_LINK_TYPES.has(i.linkType)) return undefined;
  return `its link type is ${i.linkType}: netcap iface captures Ethernet interfaces (link types ${[...ETHERNET_LINK_TYPES].join(', ')})`;
}

export interface IfacePoint {
  /** "v1 ingress", "any egress": the pcapng interface name and the summary line. */
  name: string;
  direction: Direction;
  /** Undefined for `-i any`. */
  iface?: InterfaceInfo;
}

export interface IfaceSelection {
  netns: NetnsRef;
  /** -i any: every interface of the namespace, now and later. */
  any: boolean;
  /** The interfaces named (for `any`: every one there now). */
  interfaces: InterfaceInfo[];
  directions: Direction[];
  points: IfacePoint[];
}

/** `-i IFACE[,IFACE...]` (names or ifindexes) or `-i any`, and -Q, in a namespace. */
export function selectPoints(spec: string | undefined, q: string | undefined, netns: NetnsRef): IfaceSelection {
  const directions = parseDirection(q);
  const wanted = (spec ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (wanted.length === 0) throw new UserError('netcap iface needs an interface', 'give -i IFACE (a name or an ifindex, several comma-separated) or -i any');
  const all = listInterfaceInfo(netns);
  if (wanted.includes('any')) {
    if (wanted.length > 1) throw new UserError(`-i ${spec}: "any" already names every interface`, 'give -i any alone, or a list of interfaces');
    return { netns, any: true, interfaces: all, directions, points: directions.map((direction) => ({ name: `any ${direction}`, direction })) };
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
  const points = interfaces.flatMap((iface) => directions.map((direction) => ({ name: `${iface.name} ${direction}`, direction, iface })));
  return { netns, any: false, interfaces, directions, points };
}
