// Interfaces and network namespaces as the kernel names them. An sk_buff's
// device is known in the kernel by ifindex, which is only unique inside one
// network namespace (every container's veth may be ifindex 2), so `-i IF`
// becomes the pair (ifindex, netns inode); the inode is what
// `stat -L /proc/PID/ns/net` shows and what the kernel keeps in
// net->ns.inum.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { OwnedFd } from '../bpf/fd';
import { interfacesIn, openNetns, runInNetns, type NamespaceInterfaces } from '../bpf/netns';
import { UserError, closeNames } from '../errors';

/** Where `ip netns add NAME` bind-mounts named namespaces (iproute2's NETNS_RUN_DIR). */
export const NETNS_RUN_DIR = '/var/run/netns';

export interface NetnsRef {
  /** What the user wrote, or "current" for netcap's own namespace. */
  label: string;
  /** A file whose inode is the namespace (/proc/self/ns/net or a bind mount). */
  path: string;
  inode: number;
}

export interface InterfaceRef {
  name: string;
  ifindex: number;
  netns: NetnsRef;
}

/** netcap's own network namespace. */
export function currentNetns(): NetnsRef {
  return { label: 'current', path: '/proc/self/ns/net', inode: fs.statSync('/proc/self/ns/net').ino };
}

/** --netns NAME (a name `ip netns` knows) or PATH (/proc/PID/ns/net, a bind mount). */
export function resolveNetns(spec: string | undefined): NetnsRef {
  if (spec === undefined || spec === '') return currentNetns();
  const file = spec.includes('/') ? spec : path.join(NETNS_RUN_DIR, spec);
  if (!spec.includes('/') && !/^[A-Za-z0-9_.-]+$/.test(spec)) {
    throw new UserError(`"${spec}" is not a network namespace name`, `give a name from \`ip netns list\` or a path such as /proc/PID/ns/net`);
  }
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch {
    const known = listNamedNetns();
    const near = closeNames(spec, known);
    throw new UserError(
      `no network namespace ${spec} (${file} does not exist)`,
      near.length ? `did you mean ${near.join(', ')}?` : known.length ? `named namespaces: ${known.slice(0, 8).join(', ')}` : 'give a name from `ip netns list` or a path such as /proc/PID/ns/net',
    );
  }
  return { label: spec, path: file, inode: st.ino };
}

function listNamedNetns(): string[] {
  try {
    return fs.readdirSync(NETNS_RUN_DIR);
  } catch {
    return [];
  }
}

/** iproute2's names (`ip -d link`'s link/TYPE) of the ARPHRD_* device types netcap meets; others print as iproute2 prints them, "[N]". */
const LINK_TYPE_NAMES = new Map<number, string>([
  [1, 'ether'],
  [32, 'infiniband'],
  [280, 'can'],
  [512, 'ppp'],
  [768, 'ipip'],
  [769, 'tunnel6'],
  [772, 'loopback'],
  [776, 'sit'],
  [778, 'gre'],
  [801, 'ieee802.11'],
  [803, 'ieee802.11/radiotap'],
  [823, 'ip6gre'],
  [824, 'netlink'],
  [0xfffe, 'none'],
  [0xffff, 'void'],
]);

/** IFF_UP of <linux/if.h>. */
const IFF_UP = 0x1;

/**
 * The interfaces of a namespace from getifaddrs(3), with this thread inside
 * the namespace for the call (setns, src/bpf/netns.ts): no process is run.
 * Running `ip` (through nsenter for another namespace) cost a capture's
 * start-up two forks and execs, ~10 ms (issue 18).
 */
function interfacesOf(netns: NetnsRef): NamespaceInterfaces {
  try {
    return interfacesIn(netns.label === 'current' ? undefined : netns.path);
  } catch (e) {
    if (e instanceof UserError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EPERM') throw new UserError(`cannot enter network namespace ${netns.label}: permission denied`, 'run as root (CAP_SYS_ADMIN to enter a namespace)', String(e));
    throw new UserError(`cannot list the interfaces of network namespace ${netns.label}`, 'check that the namespace still exists (ip netns list)', String(e));
  }
}

/** Every interface of a namespace: ifindex -> name. */
export function listInterfaces(netns: NetnsRef = currentNetns()): Map<number, string> {
  return new Map(interfacesOf(netns).links.map((l) => [l.ifindex, l.name]));
}

/** An interface with what a capture on it needs to know. */
export interface InterfaceInfo extends InterfaceRef {
  /** iproute2's name for the device type (ARPHRD_*): "ether", "loopback", "none", ... */
  linkType: string;
  /** IFF_UP. */
  up: boolean;
  /** Prefix length of its first IPv4 address (the one SIOCGIFNETMASK, and so pcap_lookupnet, reports), if any. */
  ipv4Prefix?: number;
}

/** Every interface of a namespace with its type, state and IPv4 prefix (as `ip -j addr show` gives them). */
export function listInterfaceInfo(netns: NetnsRef = currentNetns()): InterfaceInfo[] {
  const { links, inet } = interfacesOf(netns);
  return links.map((l) => ({
    name: l.name,
    ifindex: l.ifindex,
    netns,
    linkType: LINK_TYPE_NAMES.get(l.hatype) ?? `[${l.hatype}]`,
    up: (l.flags & IFF_UP) !== 0,
    // An address labelled with another name (eth0:1) is an alias, not the device's own.
    ipv4Prefix: inet.find((a) => a.label === l.name)?.prefixlen,
  }));
}

/** The UserError for an interface that is not there, listing the ones that are. */
export function noSuchInterface(name: string, names: string[], netns: NetnsRef): UserError {
  const near = closeNames(name, names);
  return new UserError(
    `no interface ${name} in network namespace ${netns.label}`,
    `${near.length ? `did you mean ${near.join(', ')}? ` : ''}interfaces there: ${names.join(', ')}${netns.label === 'current' ? ' (use --netns for another namespace)' : ''}`,
  );
}

/** `-i IF` in a namespace (`all`: its listInterfaces() when the caller has it already); an unknown name is a UserError with the names that exist. */
export function resolveInterface(name: string, netns: NetnsRef = currentNetns(), all = listInterfaces(netns)): InterfaceRef {
  for (const [ifindex, ifname] of all) if (ifname === name) return { name, ifindex, netns };
  throw noSuchInterface(name, [...all.values()], netns);
}

/**
 * Names interfaces seen in records, by (netns inode, ifindex). Namespaces
 * other than the ones registered print as "ifindex N".
 */
export class InterfaceNames {
  private readonly byNetns = new Map<number, Map<number, string>>();

  /** Learns every interface name of a namespace (best effort), from `listing` when the caller has listed it already (each listing runs ip). */
  add(netns: NetnsRef, listing?: Map<number, string>): void {
    if (this.byNetns.has(netns.inode)) return;
    try {
      this.byNetns.set(netns.inode, listing ?? listInterfaces(netns));
    } catch {
      // Names are a convenience; records still carry the ifindex.
    }
  }

  name(netnsInode: number, ifindex: number): string | undefined {
    return this.byNetns.get(netnsInode)?.get(ifindex);
  }
}

/** The device names of /proc/net/dev's text (the reader's network namespace). */
function deviceNames(text: string): Set<string> {
  const names = new Set<string>();
  for (const line of text.split('\n').slice(2)) {
    const colon = line.indexOf(':');
    if (colon > 0) names.add(line.slice(0, colon).trim());
  }
  return names;
}

/**
 * Notices a device going away (deleted, or its namespace deleted) cheaply
 * enough to be asked a few times a second. /proc/thread-self/net/dev lists
 * the devices of the reading thread's namespace, so another namespace's are
 * read with this thread inside it for that one read (setns, at most once a
 * second), not by running a process there: forking a capture of 100 MiB
 * copied its page tables, then every page it wrote (issue 18).
 *
 * The namespace is held open while watched: the kernel reuses a freed
 * namespace's inode number, which is what the probes match, so a namespace
 * deleted and made again under the same name (`ip netns del` and `add`, a
 * restarted container) could otherwise be captured from as if it were the
 * same one. A name that now names another namespace counts as deleted.
 */
export class DeviceWatch {
  private lastCheck = 0;
  private why: string | undefined;
  private readonly held: OwnedFd | undefined;

  constructor(private readonly ref: InterfaceRef) {
    this.held = ref.netns.label === 'current' ? undefined : openNetns(ref.netns.path);
  }

  /** Why the device is gone, or undefined while it is there (as far as is known). */
  gone(): string | undefined {
    if (this.why) return this.why;
    const { name, netns } = this.ref;
    if (this.held) {
      const named = fs.statSync(netns.path, { throwIfNoEntry: false });
      if (named?.ino !== netns.inode) return (this.why = `network namespace ${netns.label} (of ${name}) was deleted`);
      const now = Date.now();
      if (now - this.lastCheck < 1000) return undefined;
      this.lastCheck = now;
    }
    try {
      const devices = runInNetns(this.held, () => fs.readFileSync('/proc/thread-self/net/dev', 'utf8'));
      if (!deviceNames(devices).has(name)) this.why = this.held ? `device ${name} was removed from network namespace ${netns.label}` : `device ${name} was removed`;
    } catch {
      // cannot tell: keep capturing
    }
    return this.why;
  }

  /** Lets the namespace go. Idempotent. */
  close(): void {
    this.held?.close();
  }
}
