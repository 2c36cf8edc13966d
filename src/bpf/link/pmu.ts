// Dynamic perf PMUs (uprobe, kprobe): their type number and the config bit
// that makes a return probe, from sysfs (kernel/events/core.c registers them;
// kernel/trace/trace_event_perf.c reads the attr). Present since Linux 4.17.
import * as fs from 'node:fs';

const DEVICES = '/sys/bus/event_source/devices';

/** The PMU's perf_event_attr.type, or undefined when the kernel lacks it. */
export function pmuType(pmu: 'uprobe' | 'kprobe'): number | undefined {
  try {
    return Number.parseInt(fs.readFileSync(`${DEVICES}/${pmu}/type`, 'utf8').trim(), 10);
  } catch {
    return undefined;
  }
}

/** The config bit that selects a return probe: format/retprobe reads "config:0". */
export function retprobeBit(pmu: 'uprobe' | 'kprobe'): number {
  const text = fs.readFileSync(`${DEVICES}/${pmu}/format/retprobe`, 'utf8').trim();
  const m = /^config:(\d+)$/.exec(text);
  if (!m) throw new Error(`unexpected ${DEVICES}/${pmu}/format/retprobe: "${text}"`);
  return Number(m[1]);
}
