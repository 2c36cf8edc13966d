// An xdpcap hook as `--hook PATH` names it: the BPF_MAP_TYPE_PROG_ARRAY an
// XDP program tail-calls into, pinned in bpffs, with 4-byte keys (the XDP
// action) and 4-byte values (program fds), and 5 entries (XDP_ABORTED ..
// XDP_REDIRECT) or 4 (xdpcap's README once said so: then there is no
// REDIRECT slot). Everything that is not such a map is refused with what
// it is instead; nothing is changed in it here.
import * as path from 'node:path';
import { UserError } from '../../errors';
import { adoptMap, mapInfo, mapTypeName, type BpfMap, type MapInfo } from '../../bpf/map';
import { MapType } from '../../bpf/constants';
import { openPinned } from '../../bpf/pinned';
import { ProgArraySlots } from '../../bpf/prog-array';

const WHAT = 'xdpcap hook (a BPF_MAP_TYPE_PROG_ARRAY)';
const HOOK_HINT = 'an xdpcap hook is the BPF_MAP_TYPE_PROG_ARRAY (key and value 4 bytes, 5 entries) the XDP program tail-calls into with its action; see `netcap xdp --help`';

export interface XdpHook {
  /** As given on the command line. */
  path: string;
  /** Short name for points and pcapng interfaces ("lb" for /sys/fs/bpf/lb/xdpcap_hook). */
  name: string;
  map: BpfMap;
  slots: ProgArraySlots;
  info: MapInfo;
  /** 4 or 5: the actions 0..entries-1 have a slot. */
  entries: number;
}

/** Opens and checks the hook pinned at `file` (called `name`); a UserError (exit 2) for anything else. */
export function openHook(file: string, name = hookNames([file])[0]): XdpHook {
  const pinned = openPinned(file, WHAT);
  if (pinned.kind !== 'map') {
    pinned.fd.close();
    const is = pinned.kind === 'program' ? 'a pinned BPF program' : pinned.kind === 'link' ? 'a pinned BPF link' : 'not a BPF map';
    throw new UserError(`${file} is ${is}, not a hook map`, `give the path of the program's hook map instead: ${HOOK_HINT}`);
  }
  let info: MapInfo;
  try {
    info = mapInfo(pinned.fd.value);
  } catch (e) {
    pinned.fd.close();
    throw e;
  }
  const refuse = (what: string, hint = HOOK_HINT): never => {
    pinned.fd.close();
    throw new UserError(`${file} ${what}`, hint);
  };
  if (info.type !== MapType.PROG_ARRAY) {
    refuse(`is a ${mapTypeName(info.type)} map${info.name ? ` (${info.name})` : ''}, not a BPF_MAP_TYPE_PROG_ARRAY`, `a plain array cannot hold programs: ${HOOK_HINT}`);
  }
  if (info.keySize !== 4 || info.valueSize !== 4) refuse(`has ${info.keySize}-byte keys and ${info.valueSize}-byte values; an xdpcap hook has 4 and 4`);
  if (info.maxEntries !== 4 && info.maxEntries !== 5) refuse(`has ${info.maxEntries} entries; an xdpcap hook has 5 (XDP_ABORTED .. XDP_REDIRECT) or 4`);
  const map = adoptMap(pinned.fd.release(), info);
  return { path: file, name, map, slots: new ProgArraySlots(map), info, entries: info.maxEntries };
}

/**
 * Names for the hooks' points: the pin's directory for xdpcap's
 * conventional file name (/sys/fs/bpf/lb/xdpcap_hook -> "lb"), else the
 * file name; the whole path when two hooks would share a name.
 */
export function hookNames(paths: readonly string[]): string[] {
  const short = paths.map((p) => {
    const base = path.basename(p);
    return base === 'xdpcap_hook' || base === 'hook' ? path.basename(path.dirname(p)) || base : base.replace(/_?xdpcap_hook$|_hook$/, '') || base;
  });
  return short.map((n, i) => (short.indexOf(n) !== i || short.lastIndexOf(n) !== i ? paths[i] : n));
}
