// Objects pinned in the BPF filesystem (bpffs): open one by its path
// (BPF_OBJ_GET) and tell what it is, pin one (BPF_OBJ_PIN), and find or
// mount bpffs. netcap itself pins nothing; the XDP example pins its hook
// map and its link, and `netcap xdp` opens a hook someone else pinned.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { isNativeError, native } from '../native';
import { UserError } from '../errors';
import { OwnedFd } from './fd';

/** BPF_FS_MAGIC (include/uapi/linux/magic.h): statfs f_type of bpffs. */
export const BPF_FS_MAGIC = 0xcafe4a11;
/** Where distributions mount bpffs (and where `ip netns exec` hides it by remounting /sys). */
export const BPFFS_MOUNT_POINT = '/sys/fs/bpf';

export type BpfObjectKind = 'map' | 'program' | 'link' | 'other';

/** True when `p` (a file or directory that exists) lies on a bpffs mount. */
export function onBpffs(p: string): boolean {
  try {
    return fs.statfsSync(p).type === BPF_FS_MAGIC;
  } catch {
    return false;
  }
}

/** Mounts bpffs at `dir` (default /sys/fs/bpf) unless it is there already. */
export function ensureBpffs(dir = BPFFS_MOUNT_POINT): void {
  if (onBpffs(dir)) return;
  // Node has no mount(2): mount(8) with an argument array, no shell.
  const r = spawnSync('mount', ['-t', 'bpf', 'bpf', dir], { encoding: 'utf8' });
  if (!onBpffs(dir)) {
    throw new UserError(
      `no BPF filesystem is mounted at ${dir} and mounting one failed`,
      `run \`mount -t bpf bpf ${dir}\` as root`,
      r.error ? r.error.message : `mount exited with ${r.status}: ${r.stderr.trim()}`,
    );
  }
}

/** What a BPF fd refers to, from /proc/self/fdinfo (map_type, prog_type or link_type lines). */
export function bpfObjectKind(fd: number): BpfObjectKind {
  let text: string;
  try {
    text = fs.readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8');
  } catch {
    return 'other';
  }
  if (/^link_type:/m.test(text)) return 'link';
  if (/^prog_type:/m.test(text)) return 'program';
  if (/^map_type:/m.test(text)) return 'map';
  return 'other';
}

export interface PinnedObject {
  /** Owned: close it (a pinned object lives on in bpffs whatever we do with the fd). */
  fd: OwnedFd;
  kind: BpfObjectKind;
}

/**
 * Opens the object pinned at `file`. Errors are UserErrors that say what
 * the path is instead: missing, not on bpffs (with the `ip netns exec`
 * hint: it remounts /sys and hides every pin), or refused.
 */
export function openPinned(file: string, what = 'BPF object'): PinnedObject {
  if (!fs.existsSync(file)) {
    const dir = path.dirname(file);
    if (!onBpffs(BPFFS_MOUNT_POINT) && file.startsWith(`${BPFFS_MOUNT_POINT}/`)) {
      throw new UserError(
        `${file}: no BPF filesystem is mounted at ${BPFFS_MOUNT_POINT}`,
        `mount it (\`mount -t bpf bpf ${BPFFS_MOUNT_POINT}\`) and pin the ${what} there; under \`ip netns exec\` /sys is remounted and pins are hidden: use \`nsenter --net=/run/netns/NAME\` instead`,
      );
    }
    throw new UserError(`${file}: no such file`, fs.existsSync(dir) ? `give the path where the ${what} is pinned (ls ${dir})` : `the directory ${dir} does not exist either: give the path where the ${what} is pinned`);
  }
  if (!onBpffs(file)) {
    throw new UserError(`${file} is not on a BPF filesystem (bpffs)`, `give the path where the ${what} is pinned, under a bpffs mount such as ${BPFFS_MOUNT_POINT}`);
  }
  let fd: number;
  try {
    fd = native().bpf.objGet(file);
  } catch (e) {
    if (isNativeError(e) && (e.code === 'EPERM' || e.code === 'EACCES')) {
      throw new UserError(`opening ${file} was refused (${e.code})`, 'run netcap as root (it needs CAP_BPF and CAP_SYS_ADMIN)', e.message);
    }
    if (isNativeError(e)) throw new UserError(`${file} cannot be opened as a pinned BPF object (${e.code})`, `give the path where the ${what} is pinned`, e.message);
    throw e;
  }
  const owned = new OwnedFd(fd, `pinned ${file}`);
  return { fd: owned, kind: bpfObjectKind(fd) };
}

/** Pins the object behind `fd` at `file` (on bpffs; the name must not exist yet). */
export function pinObject(fd: number, file: string): void {
  try {
    native().bpf.objPin(fd, file);
  } catch (e) {
    if (isNativeError(e) && e.code === 'EEXIST') throw new UserError(`${file} exists already`, 'remove the old pin first (rm), or choose another path');
    if (isNativeError(e) && e.code === 'EPERM' && !onBpffs(path.dirname(file))) {
      throw new UserError(`cannot pin at ${file}: ${path.dirname(file)} is not on a BPF filesystem`, `pin under a bpffs mount such as ${BPFFS_MOUNT_POINT} (mount -t bpf bpf ${BPFFS_MOUNT_POINT})`, e.message);
    }
    if (isNativeError(e)) throw new UserError(`cannot pin at ${file} (${e.code})`, 'pin under a bpffs mount, as root', e.message);
    throw e;
  }
}
