// Where tracefs lives. Tracepoint ids and formats are files under
// events/<category>/<name>/ of tracefs; on a fresh boot of a minimal system
// nothing mounts it, so we do (only when no mount exists, never unmounting:
// other tools may start using it once it is there).
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { UserError } from '../errors';

/** Where the kernel documents tracefs to be mounted since Linux 4.1. */
export const TRACEFS_MOUNT_POINT = '/sys/kernel/tracing';

let cachedRoot: string | undefined;

/** The first tracefs mount point listed in /proc/self/mounts, if any. */
export function findTracefs(mountsText = fs.readFileSync('/proc/self/mounts', 'utf8')): string | undefined {
  for (const line of mountsText.split('\n')) {
    const [, mountPoint, fsType] = line.split(' ');
    if (fsType === 'tracefs' && mountPoint) return unescapeMountPath(mountPoint);
  }
  // Older systems expose tracefs only through debugfs (debugfs automounts it
  // at tracing/ when it is itself mounted).
  for (const line of mountsText.split('\n')) {
    const [, mountPoint, fsType] = line.split(' ');
    if (fsType === 'debugfs' && mountPoint) {
      const candidate = `${unescapeMountPath(mountPoint)}/tracing`;
      if (fs.existsSync(`${candidate}/events`)) return candidate;
    }
  }
  return undefined;
}

/** /proc/self/mounts escapes space, tab, newline and backslash as octal. */
function unescapeMountPath(p: string): string {
  return p.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

/**
 * The tracefs root, mounting tracefs at /sys/kernel/tracing when no mount
 * exists. Cached for the life of the process.
 */
export function tracefsRoot(): string {
  if (cachedRoot && fs.existsSync(`${cachedRoot}/events`)) return cachedRoot;
  let root = findTracefs();
  if (!root) {
    // Node has no mount(2); mount(8) with an argument array, no shell.
    const r = spawnSync('mount', ['-t', 'tracefs', 'tracefs', TRACEFS_MOUNT_POINT], { encoding: 'utf8' });
    // Another process may have mounted it in the meantime: look again
    // rather than trusting our exit status.
    root = findTracefs();
    if (!root) {
      throw new UserError(
        `tracefs is not mounted and mounting it at ${TRACEFS_MOUNT_POINT} failed`,
        `run \`mount -t tracefs tracefs ${TRACEFS_MOUNT_POINT}\` as root (the kernel needs CONFIG_TRACING)`,
        r.error ? r.error.message : `mount exited with ${r.status}: ${r.stderr.trim()}`,
      );
    }
  }
  cachedRoot = root;
  return root;
}
