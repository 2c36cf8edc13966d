// The shared path of every perf-event hook (uprobe, kprobe, tracepoint):
// perf_event_open, then BPF_LINK_CREATE with BPF_PERF_EVENT (Linux 5.15+,
// kernel/bpf/syscall.c bpf_perf_link_attach) so the attachment is a BPF link
// bpftool can list and closing the fd detaches it, then enable the event.
import { isNativeError, native, type PerfEventAttr } from '../../native';
import { UserError } from '../../errors';
import { AttachType } from '../constants';
import { OwnedFd } from '../fd';
import type { Program } from '../program';
import type { Closer } from '../registry';
import { closeQuietly, Link } from './link';

/** perf_event_attr.type for tracepoints (include/uapi/linux/perf_event.h). */
export const PERF_TYPE_TRACEPOINT = 2;

/**
 * Opens the event, links `prog` to it and enables it. System-wide events
 * (pid -1) are opened on CPU 0 only: perf refuses pid -1 with cpu -1, and a
 * BPF program on a trace event runs on whichever CPU hits it (trace_call_bpf
 * runs the event's prog_array without looking at the perf event's CPU), so
 * one event covers every CPU — libbpf opens probes the same way. The test
 * suite checks this with a process pinned to another CPU.
 */
export function attachPerfEvent(prog: Program, attr: PerfEventAttr, kind: string, target: string, cookie?: bigint): Link {
  const pid = attr.pid ?? -1;
  const full: PerfEventAttr = { ...attr, pid, cpu: pid === -1 ? 0 : -1 };
  const parts: Closer[] = [];
  try {
    const perfFd = new OwnedFd(native().perf.open(full), `${kind} perf event ${target}`);
    parts.push(perfFd);
    const linkFd = new OwnedFd(
      native().bpf.linkCreate(prog.fd, perfFd.value, AttachType.PERF_EVENT, cookie === undefined ? {} : { cookie }),
      `${kind} link ${target}`,
    );
    parts.push(linkFd);
    native().perf.enable(perfFd.value);
    return new Link(kind, target, parts, linkFd.value);
  } catch (e) {
    closeQuietly(parts);
    throw explainAttachError(e, kind, target, pid);
  }
}

function explainAttachError(e: unknown, kind: string, target: string, pid: number): unknown {
  if (!isNativeError(e)) return e;
  const where = `${kind} ${target}${pid === -1 ? '' : ` in process ${pid}`}`;
  switch (e.code) {
    case 'ESRCH':
      return new UserError(`cannot attach ${where}: no process ${pid}`, 'check the --pid value (the process may have exited)', e.message);
    case 'ENOENT':
      return new UserError(`cannot attach ${where}: the file or symbol does not exist`, 'check the path and the function name', e.message);
    case 'EPERM':
    case 'EACCES':
      return new UserError(`cannot attach ${where}: permission denied (${e.code})`, 'run netcap as root (CAP_PERFMON and CAP_BPF)', e.message);
    case 'EINVAL':
      return new UserError(
        `cannot attach ${where}: the kernel refused it (EINVAL)`,
        kind.startsWith('u') ? 'the offset must be the file offset of an instruction in an executable segment' : 'check that the program type matches the hook',
        e.message,
      );
    default:
      return new UserError(`cannot attach ${where}: ${e.message}`, 'run with --verbose for details', e.stack);
  }
}
