// Peak memory and CPU time of a running process and its descendants, read
// from /proc while it runs (Node gives no getrusage for children it did not
// wait for itself, and `ip netns exec` execs into the command, so the pid we
// spawned is the tool's own pid).
//
// Peak RSS is the kernel's VmHWM ("high water mark" of resident memory) per
// process; CPU seconds are utime+stime from /proc/PID/stat (fields 14, 15)
// in clock ticks. We sample periodically because the numbers vanish with
// the process; the last sample before exit is at most one interval old.
import * as fs from 'node:fs';

/** USER_HZ: the unit of /proc/PID/stat times; 100 on every Linux architecture we run on. */
const CLOCK_TICKS_PER_SECOND = 100;

export interface Usage {
  /** Peak resident memory of the watched process itself, KiB (VmHWM). */
  peakRssKiB: number;
  /** Sum of the peaks of the process and every descendant seen, KiB (an upper bound of the tree's peak). */
  treePeakRssKiB: number;
  /** CPU seconds (user + system) of the process and its descendants. */
  cpuSeconds: number;
}

export interface UsageWatcher {
  /** Takes a last sample and stops. */
  stop(): Usage;
}

interface Sample {
  hwmKiB: number;
  cpuTicks: number;
}

function readSample(pid: number): Sample | undefined {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const hwm = /^VmHWM:\s+(\d+) kB/m.exec(status);
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: split after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields[0] is field 3 (state), so utime (14) and stime (15) are at 11 and 12.
    return { hwmKiB: hwm ? Number(hwm[1]) : 0, cpuTicks: Number(fields[11]) + Number(fields[12]) };
  } catch {
    return undefined; // gone
  }
}

function childrenOf(pid: number): number[] {
  // /proc/PID/task/TID/children lists the children of each thread.
  const out: number[] = [];
  try {
    for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
      const text = fs.readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim();
      if (text) out.push(...text.split(/\s+/).map(Number));
    }
  } catch {
    // gone
  }
  return out;
}

/** Starts sampling `pid` and its descendants every `intervalMs`. */
export function watchUsage(pid: number, intervalMs = 50): UsageWatcher {
  const last = new Map<number, Sample>();
  const sample = (): void => {
    const queue = [pid];
    const seen = new Set<number>();
    while (queue.length) {
      const p = queue.pop() as number;
      if (seen.has(p)) continue;
      seen.add(p);
      const s = readSample(p);
      if (!s) continue;
      const prev = last.get(p);
      last.set(p, { hwmKiB: Math.max(s.hwmKiB, prev?.hwmKiB ?? 0), cpuTicks: Math.max(s.cpuTicks, prev?.cpuTicks ?? 0) });
      queue.push(...childrenOf(p));
    }
  };
  sample();
  const timer = setInterval(sample, intervalMs);
  timer.unref();
  let result: Usage | undefined;
  return {
    stop(): Usage {
      if (result) return result;
      sample();
      clearInterval(timer);
      let tree = 0;
      let ticks = 0;
      for (const s of last.values()) {
        tree += s.hwmKiB;
        ticks += s.cpuTicks;
      }
      result = { peakRssKiB: last.get(pid)?.hwmKiB ?? NaN, treePeakRssKiB: tree, cpuSeconds: ticks / CLOCK_TICKS_PER_SECOND };
      return result;
    },
  };
}
