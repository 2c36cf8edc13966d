// What a measured process costs, read from the kernel: its CPU time so far
// (/proc/PID/stat) and the run-time statistics of the BPF programs it holds
// (kernel.bpf_stats_enabled: run_time_ns and run_cnt per program, off by
// default because it costs two clock reads per run).
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import { bpfObjectsOf } from '../../test/capture/netcap-child';

/** utime + stime of a live process, in seconds (USER_HZ = 100). */
export function cpuSecondsOf(pid: number): number {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return NaN;
  }
}

/**
 * CPU time of a live process so far, in seconds, to the nanosecond: the
 * scheduler's run time of each of its threads (/proc/PID/task/TID/schedstat,
 * first field), summed. Where /proc/PID/stat counts 10 ms ticks, this tells
 * 0.02 s from 0.01 s.
 */
export function runTimeOf(pid: number): number {
  let ns = 0;
  try {
    for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
      try {
        ns += Number(fs.readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
      } catch {
        // the thread ended
      }
    }
  } catch {
    return NaN;
  }
  return ns / 1e9;
}

const BPF_STATS = '/proc/sys/kernel/bpf_stats_enabled';

/** Whether the kernel keeps BPF run-time statistics now (someone else may have turned them off meanwhile). */
export function bpfStatsEnabled(): boolean {
  return fs.readFileSync(BPF_STATS, 'utf8').trim() !== '0';
}

/** Turns the kernel's BPF run-time statistics on; returns the undo (or nothing to undo). */
export function enableBpfStats(): () => void {
  const before = fs.readFileSync(BPF_STATS, 'utf8').trim();
  if (before !== '0') return () => undefined;
  fs.writeFileSync(BPF_STATS, '1');
  return () => fs.writeFileSync(BPF_STATS, before);
}

/** Name, run time and run count of one program (bpftool reads them with BPF_OBJ_GET_INFO_BY_FD). */
export function programRunStats(id: number): { name: string; runTimeNs: number; runCount: number } {
  const info = JSON.parse(execFileSync('bpftool', ['-j', 'prog', 'show', 'id', String(id)]).toString()) as { name?: string; run_time_ns?: number; run_cnt?: number };
  return { name: info.name ?? '', runTimeNs: info.run_time_ns ?? 0, runCount: info.run_cnt ?? 0 };
}

/** Summed run time and run count of the programs process `pid` holds whose name matches. */
export function programStats(pid: number, name: RegExp): { runTimeNs: number; runCount: number } {
  let runTimeNs = 0;
  let runCount = 0;
  for (const id of bpfObjectsOf(pid).programs) {
    const info = programRunStats(id);
    if (!name.test(info.name)) continue;
    runTimeNs += info.runTimeNs;
    runCount += info.runCount;
  }
  return { runTimeNs, runCount };
}
