// A reference that the kernel itself provides: a uprobe created through
// tracefs (uprobe_events, Documentation/trace/uprobetracer.rst) at PATH:OFFSET,
// whose hit count appears in uprobe_profile. If our file offset is a real
// function entry that the program executes, the count goes up.
import * as fs from 'node:fs';
import { tracefsRoot } from '../../src/tracefs/mount';

export interface TracefsUprobe {
  group: string;
  event: string;
  hits(): number;
  /** Disables and deletes the event (idempotent). */
  remove(): void;
}

export function addTracefsUprobe(objectPath: string, fileOffset: number): TracefsUprobe {
  const root = tracefsRoot();
  const group = `nc_res_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
  const event = 'p0';
  // O_APPEND: truncating uprobe_events would delete every other tool's probes.
  fs.appendFileSync(`${root}/uprobe_events`, `p:${group}/${event} ${objectPath}:0x${fileOffset.toString(16)}\n`);
  let removed = false;
  try {
    fs.writeFileSync(`${root}/events/${group}/${event}/enable`, '1');
  } catch (e) {
    fs.appendFileSync(`${root}/uprobe_events`, `-:${group}/${event}\n`);
    throw e;
  }
  return {
    group,
    event,
    hits() {
      for (const line of fs.readFileSync(`${root}/uprobe_profile`, 'utf8').split('\n')) {
        const cols = line.trim().split(/\s+/);
        if (cols.length >= 3 && cols[cols.length - 2] === event && line.includes(objectPath)) return Number(cols[cols.length - 1]);
      }
      return 0;
    },
    remove() {
      if (removed) return;
      removed = true;
      try {
        fs.writeFileSync(`${root}/events/${group}/${event}/enable`, '0');
      } finally {
        fs.appendFileSync(`${root}/uprobe_events`, `-:${group}/${event}\n`);
      }
    },
  };
}
