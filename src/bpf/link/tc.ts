// TC hooks on an interface's ingress or egress. tcx (Linux 6.6,
// kernel/bpf/tcx.c) is a BPF link: owned by its fd, gone when we exit (even
// by SIGKILL), and it never disturbs other tc users. Older kernels get
// classic cls_bpf in direct-action mode on a clsact qdisc (libbpf
// bpf_tc_*): removed by close(), together with the qdisc when this process
// created it and no filter is left on it, but left behind on SIGKILL, as a
// tc filter is not tied to our fd (nothing in the kernel can remove it when
// we die: `tc filter del` it by hand). netcap iface attaches dispatchers
// there, whose program array the kernel empties once no fd refers to it
// (prog_array_map_clear, kernel/bpf/arraymap.c): what a SIGKILL leaves
// returns TC_ACT_UNSPEC and captures nothing.
//
// Position among the other programs on the hook: tcx runs its programs in
// order (BPF_F_BEFORE / BPF_F_AFTER with no relative program put ours at the
// front or the end, kernel/bpf/mprog.c); cls_bpf runs filters by ascending
// priority, so "first" lets the kernel pick one below the lowest in use
// (tcf_auto_prio) and "last" takes one above the highest.
import * as fs from 'node:fs';
import { isNativeError, native } from '../../native';
import { UserError } from '../../errors';
import { AttachType } from '../constants';
import { OwnedFd } from '../fd';
import { probeFeature } from '../features';
import { openNetns, runInNetns } from '../netns';
import type { Program } from '../program';
import { Link } from './link';

export type TcDirection = 'ingress' | 'egress';
export type TcPosition = 'first' | 'last';

export interface TcOptions {
  ifindex: number;
  direction: TcDirection;
  /** Before or after the programs already on the hook (default last). */
  position?: TcPosition;
  /** The device's network namespace (a /var/run/netns or /proc/PID/ns/net path); netcap's own when absent. */
  netnsPath?: string;
  /** Force the mechanism; by default tcx where the kernel has it. */
  mechanism?: 'tcx' | 'cls_bpf';
}

// Generic attach flags (include/uapi/linux/bpf.h, Linux 6.6).
const BPF_F_BEFORE = 1 << 3;
const BPF_F_AFTER = 1 << 4;
/** The highest cls_bpf priority (tc "pref" is 16 bits). */
const MAX_TC_PRIORITY = 0xffff;

function explain(e: unknown, target: string): unknown {
  if (!isNativeError(e)) return e;
  if (e.code === 'ENODEV') return new UserError(`cannot attach tc ${target}: no such interface`, 'check the interface name (and its network namespace)', e.message);
  if (e.code === 'EPERM' || e.code === 'EACCES') return new UserError(`cannot attach tc ${target}: permission denied`, 'run as root (CAP_NET_ADMIN and CAP_BPF)', e.message);
  if (e.code === 'ENOENT' || e.code === 'EOPNOTSUPP') {
    return new UserError(`cannot attach tc ${target}: this kernel has neither tcx nor the clsact qdisc`, 'tcx needs Linux 6.6; older kernels need CONFIG_NET_SCH_INGRESS and CONFIG_NET_CLS_BPF (modprobe sch_ingress cls_bpf)', e.message);
  }
  return new UserError(`cannot attach tc ${target}: ${e.message}`, 'run with --verbose for details', e.stack);
}

/** The mechanism attachTc uses by default: tcx where the kernel has it. */
export function defaultTcMechanism(): 'tcx' | 'cls_bpf' {
  return probeFeature('tcx').status === 'supported' ? 'tcx' : 'cls_bpf';
}

/** Attaches a SCHED_CLS program; its verdict should be TC_ACT_UNSPEC/TCX_NEXT (-1) so the datapath is untouched. */
export function attachTc(prog: Program, opts: TcOptions): Link {
  const target = `ifindex ${opts.ifindex} ${opts.direction}`;
  const mechanism = opts.mechanism ?? defaultTcMechanism();
  const position = opts.position ?? 'last';
  const bpf = native().bpf;
  if (mechanism === 'tcx') {
    const type = opts.direction === 'ingress' ? AttachType.TCX_INGRESS : AttachType.TCX_EGRESS;
    const flags = position === 'first' ? BPF_F_BEFORE : BPF_F_AFTER;
    let fd: number;
    const netns = opts.netnsPath !== undefined ? openNetns(opts.netnsPath) : undefined;
    try {
      fd = runInNetns(netns, () => bpf.linkCreate(prog.fd, opts.ifindex, type, { flags }));
    } catch (e) {
      throw explain(e, target);
    } finally {
      netns?.close();
    }
    const owned = new OwnedFd(fd, `tcx link ${target}`);
    return new Link('tcx', target, [owned], owned.value);
  }
  return attachClsBpf(prog, opts, target, position);
}

/** Devices whose clsact qdisc this process created: "netns inode:ifindex". */
const qdiscsCreated = new Set<string>();

function attachClsBpf(prog: Program, opts: TcOptions, target: string, position: TcPosition): Link {
  const bpf = native().bpf;
  const egress = opts.direction === 'egress' ? 1 : 0;
  // Held until the filter is gone: the detach must run in the same namespace.
  const netns = opts.netnsPath !== undefined ? openNetns(opts.netnsPath) : undefined;
  const device = `${fs.statSync(opts.netnsPath ?? '/proc/self/ns/net').ino}:${opts.ifindex}`;
  let filter: { handle: number; priority: number; createdQdisc: boolean };
  try {
    filter = runInNetns(netns, () => {
      const priorities = bpf.tcPriorities(opts.ifindex, egress);
      let priority = 0;
      if (position === 'last' && priorities.length > 0) {
        priority = Math.max(...priorities) + 1;
        if (priority > MAX_TC_PRIORITY) throw new UserError(`cannot attach tc ${target} last: a filter already has the highest priority (${MAX_TC_PRIORITY})`, 'use --position first');
      }
      if (position === 'first' && priorities.includes(1)) throw new UserError(`cannot attach tc ${target} first: a filter already has priority 1`, 'use --position last');
      return bpf.tcAttach(opts.ifindex, egress, prog.fd, priority);
    });
  } catch (e) {
    netns?.close();
    throw explain(e, target);
  }
  if (filter.createdQdisc) qdiscsCreated.add(device);
  const detach = {
    close: () =>
      runInNetns(netns, () => {
        try {
          bpf.tcDetach(opts.ifindex, egress, filter.handle, filter.priority);
        } catch (e) {
          // The interface went away (namespace deleted): the filter went with it.
          if (!(isNativeError(e) && (e.code === 'ENODEV' || e.code === 'ENOENT' || e.code === 'EINVAL'))) throw e;
        }
        removeQdiscIfOurs(device, opts.ifindex);
      }),
  };
  return new Link('cls_bpf', target, netns ? [netns, detach] : [detach], undefined);
}

/** Deletes a clsact qdisc this process created once neither of its hooks holds a filter. */
function removeQdiscIfOurs(device: string, ifindex: number): void {
  if (!qdiscsCreated.has(device)) return;
  const bpf = native().bpf;
  try {
    if (bpf.tcPriorities(ifindex, 0).length > 0 || bpf.tcPriorities(ifindex, 1).length > 0) return;
    bpf.tcDeleteQdisc(ifindex);
  } catch (e) {
    if (!(isNativeError(e) && (e.code === 'ENODEV' || e.code === 'ENOENT' || e.code === 'EINVAL'))) throw e;
  }
  qdiscsCreated.delete(device);
}
