// Facts about a running process from /proc, and the objects it has mapped.
//
// Paths in /proc/PID/maps are relative to the process's own mount namespace
// (a container's /usr/lib/... is not ours), so objects are opened through
// /proc/PID/root/<path>. A file deleted or replaced on disk while mapped can
// still be opened as /proc/PID/map_files/<start>-<end> (needs CAP_SYS_ADMIN,
// proc(5)); a uprobe attached through that path lands on the mapped inode.
import * as fs from 'node:fs';
import { UserError } from '../errors';
import { readMaps, type MapEntry } from './maps';

export interface MappedObject {
  /** The path as the process sees it (without ' (deleted)'). */
  path: string;
  /** A path this process can open: /proc/PID/root/<path>, or map_files for a deleted file. */
  openPath: string;
  deleted: boolean;
  dev: string;
  inode: number;
  /** Every mapping of the object, in address order. */
  mappings: MapEntry[];
}

/** True while process `pid` runs (signal 0 reaches it, or it exists but belongs to someone else). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function processExists(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  return fs.existsSync(`/proc/${pid}`);
}

function requireProcess(pid: number): void {
  if (!Number.isInteger(pid) || pid <= 0) throw new UserError(`'${pid}' is not a process id`, 'give a positive number, e.g. --pid $(pidof l2fwd)');
  if (!processExists(pid)) throw new UserError(`no process with pid ${pid}`, 'check the pid (ps -e), the process may have exited');
}

/** The process's command name (/proc/PID/comm, at most 15 characters). */
export function comm(pid: number): string {
  requireProcess(pid);
  return fs.readFileSync(`/proc/${pid}/comm`, 'utf8').replace(/\n$/, '');
}

/** The executable's path as the process sees it (readlink /proc/PID/exe), without ' (deleted)'. */
export function exePath(pid: number): string {
  requireProcess(pid);
  try {
    return fs.readlinkSync(`/proc/${pid}/exe`).replace(/ \(deleted\)$/, '');
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'ENOENT') throw new UserError(`process ${pid} has no executable (/proc/${pid}/exe): a kernel thread, or it exited`, 'give the pid of a running program (ps -e or pidof)');
    throw new UserError(
      `cannot read the executable of pid ${pid} (/proc/${pid}/exe: ${err.code === 'EACCES' || err.code === 'EPERM' ? 'permission denied' : err.code})`,
      'netcap needs ptrace access to the process: run it as root in the same user and PID namespace as the process, or give --binary PATH',
      err.message,
    );
  }
}

/** The path to open for a file the process sees at `path` (through its root: other mount namespaces). */
export function pathInProcess(pid: number, path: string): string {
  return `/proc/${pid}/root${path.startsWith('/') ? '' : '/'}${path}`;
}

/** The file objects (executable, shared libraries) the process has mapped executable, in address order. */
export function mappedObjects(pid: number): MappedObject[] {
  requireProcess(pid);
  const byFile = new Map<string, MappedObject>();
  for (const m of readMaps(pid)) {
    if (!m.path.startsWith('/') || m.inode === 0) continue; // anonymous, [heap], [vdso], ...
    const key = `${m.dev}:${m.inode}:${m.path}`;
    let obj = byFile.get(key);
    if (!obj) {
      const openPath = m.deleted ? `/proc/${pid}/map_files/${m.start.toString(16)}-${m.end.toString(16)}` : pathInProcess(pid, m.path);
      obj = { path: m.path, openPath, deleted: m.deleted, dev: m.dev, inode: m.inode, mappings: [] };
      byFile.set(key, obj);
    }
    obj.mappings.push(m);
  }
  return [...byFile.values()].filter((o) => o.mappings.some((m) => m.perms[2] === 'x'));
}
