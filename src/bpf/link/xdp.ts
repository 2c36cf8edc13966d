// XDP through a BPF link (Linux 5.9, BPF_LINK_CREATE with BPF_XDP): owned by
// its fd, so the program leaves with us, and the kernel refuses (EBUSY) to
// replace a program someone else attached rather than silently taking over.
import { isNativeError, native } from '../../native';
import { UserError } from '../../errors';
import { AttachType } from '../constants';
import { OwnedFd } from '../fd';
import type { Program } from '../program';
import { Link } from './link';

// XDP_FLAGS_* (include/uapi/linux/if_link.h).
const XDP_FLAGS_SKB_MODE = 1 << 1;
const XDP_FLAGS_DRV_MODE = 1 << 2;

export interface XdpOptions {
  ifindex: number;
  /** native (driver), generic (skb) or whatever the driver supports (default). */
  mode?: 'auto' | 'native' | 'generic';
}

export function attachXdp(prog: Program, opts: XdpOptions): Link {
  const target = `ifindex ${opts.ifindex}`;
  const flags = opts.mode === 'generic' ? XDP_FLAGS_SKB_MODE : opts.mode === 'native' ? XDP_FLAGS_DRV_MODE : 0;
  let fd: number;
  try {
    fd = native().bpf.linkCreate(prog.fd, opts.ifindex, AttachType.XDP, { flags });
  } catch (e) {
    if (isNativeError(e) && e.code === 'EBUSY') {
      throw new UserError(`cannot attach XDP to ${target}: another XDP program is attached`, 'netcap does not replace programs it did not attach; use tc capture instead', e.message);
    }
    if (isNativeError(e) && e.code === 'ENODEV') throw new UserError(`cannot attach XDP to ${target}: no such interface`, 'check the interface name', e.message);
    if (isNativeError(e)) throw new UserError(`cannot attach XDP to ${target}: ${e.message}`, opts.mode === 'native' ? 'the driver may lack native XDP: try generic mode' : 'run with --verbose for details', e.stack);
    throw e;
  }
  const owned = new OwnedFd(fd, `xdp link ${target}`);
  return new Link('xdp', target, [owned], owned.value);
}
