// A process's ids as its own PID namespace sees them (a container's pid 1 is
// a larger number on the host): the NSpid line of /proc/PID/status (Linux
// 4.1+), the pid in each namespace from the one of our /proc down to the
// process's own.
import * as fs from 'node:fs';

/** NSpid of a process (or of thread `tid` of it): [as we see it, ..., as its own namespace sees it]; [] when unknown. */
export function namespacePids(pid: number, tid?: number): number[] {
  const file = tid === undefined || tid === pid ? `/proc/${pid}/status` : `/proc/${pid}/task/${tid}/status`;
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  const m = /^NSpid:\s*(.*)$/m.exec(text);
  return m ? m[1].trim().split(/\s+/).map(Number) : [];
}
