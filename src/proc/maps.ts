// /proc/PID/maps (proc(5)): "start-end perms offset dev inode path". The path
// is everything after the inode column and may contain spaces; the kernel
// appends " (deleted)" when the file was unlinked or replaced on disk while
// mapped (fs/proc/task_mmu.c, d_path()).
import * as fs from 'node:fs';
import { UserError } from '../errors';

export interface MapEntry {
  start: bigint;
  end: bigint;
  /** 'r-xp' and friends. */
  perms: string;
  /** Offset in the file of `start`. */
  offset: bigint;
  /** 'major:minor' in hex, as the kernel prints it. */
  dev: string;
  inode: number;
  /** The path without ' (deleted)'; '' for anonymous memory; '[heap]', '[stack]', '[vdso]' kept as is. */
  path: string;
  deleted: boolean;
}

const DELETED = ' (deleted)';
const LINE = /^([0-9a-f]+)-([0-9a-f]+) (\S{4}) ([0-9a-f]+) ([0-9a-f]+:[0-9a-f]+) (\d+)\s*(.*)$/;

export function parseMaps(text: string): MapEntry[] {
  const out: MapEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    const m = LINE.exec(line);
    if (!m) throw new Error(`unexpected line in /proc/PID/maps: ${line}`);
    let path = m[7];
    const deleted = path.startsWith('/') && path.endsWith(DELETED);
    if (deleted) path = path.slice(0, -DELETED.length);
    out.push({
      start: BigInt(`0x${m[1]}`),
      end: BigInt(`0x${m[2]}`),
      perms: m[3],
      offset: BigInt(`0x${m[4]}`),
      dev: m[5],
      inode: Number(m[6]),
      path,
      deleted,
    });
  }
  return out;
}

/** The parsed maps of a process; a missing process is a UserError. */
export function readMaps(pid: number): MapEntry[] {
  try {
    return parseMaps(fs.readFileSync(`/proc/${pid}/maps`, 'utf8'));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'ESRCH') {
      throw new UserError(`no process with pid ${pid}`, 'check the pid (ps -e), the process may have exited');
    }
    if ((e as NodeJS.ErrnoException).code === 'EACCES' || (e as NodeJS.ErrnoException).code === 'EPERM') {
      // Even root is refused when the process belongs to another user
      // namespace or is protected by ptrace rules (kernel: ptrace_may_access).
      throw new UserError(
        `cannot read the mapped files of pid ${pid} (/proc/${pid}/maps: permission denied)`,
        'run netcap as root in the same user namespace as the process, or give --binary PATH',
      );
    }
    throw e;
  }
}
