// TC hooks on an interface's ingress or egress. tcx (Linux 6.6,
// kernel/bpf/tcx.c) is a BPF link: owned by its fd, gone when we exit, and it
// never disturbs other tc users. Older kernels get classic cls_bpf in
// direct-action mode on a clsact qdisc (libbpf bpf_tc_*): removed by close(),
// but left behind on SIGKILL, as the tc filter is not tied to our fd.
import { isNativeError, native } from '../../native';
import { UserError } from '../../errors';
import { AttachType } from '../constants';
import { OwnedFd } from '../fd';
import { probeFeature } from '../features';
import type { Program } from '../program';
import { Link } from './link';

export type TcDirection = 'ingress' | 'egress';

export interface TcOptions {
  ifindex: number;
  direction: TcDirection;
  /** Force the mechanism; by default tcx where the kernel has it. */
  mechanism?: 'tcx' | 'cls_bpf';
}

function explain(e: unknown, target: string): unknown {
  if (!isNativeError(e)) return e;
  if (e.code === 'ENODEV') return new UserError(`cannot attach tc ${target}: no such interface`, 'check the interface name (and its network namespace)', e.message);
  return new UserError(`cannot attach tc ${target}: ${e.message}`, 'run with --verbose for details', e.stack);
}

/** Attaches a SCHED_CLS program; its verdict should be TC_ACT_UNSPEC/TCX_NEXT (-1) so the datapath is untouched. */
export function attachTc(prog: Program, opts: TcOptions): Link {
  const target = `ifindex ${opts.ifindex} ${opts.direction}`;
  const mechanism = opts.mechanism ?? (probeFeature('tcx').status === 'supported' ? 'tcx' : 'cls_bpf');
  const bpf = native().bpf;
  if (mechanism === 'tcx') {
    const type = opts.direction === 'ingress' ? AttachType.TCX_INGRESS : AttachType.TCX_EGRESS;
    let fd: number;
    try {
      fd = bpf.linkCreate(prog.fd, opts.ifindex, type, {});
    } catch (e) {
      throw explain(e, target);
    }
    const owned = new OwnedFd(fd, `tcx link ${target}`);
    return new Link('tcx', target, [owned], owned.value);
  }
  const egress = opts.direction === 'egress' ? 1 : 0;
  let filter: { handle: number; priority: number };
  try {
    filter = bpf.tcAttach(opts.ifindex, egress, prog.fd);
  } catch (e) {
    throw explain(e, target);
  }
  const detach = {
    close: () => {
      try {
        bpf.tcDetach(opts.ifindex, egress, filter.handle, filter.priority);
      } catch (e) {
        // The interface went away (namespace deleted): the filter went with it.
        if (!(isNativeError(e) && (e.code === 'ENODEV' || e.code === 'ENOENT' || e.code === 'EINVAL'))) throw e;
      }
    },
  };
  return new Link('cls_bpf', target, [detach]);
}
