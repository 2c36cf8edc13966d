// The container's view of a traced thread, for packet metadata: a DPDK app
// in a container is traced by its host pid (what bpf_get_current_pid_tgid()
// gives and --pid takes); its own PID namespace knows it by another number,
// the one its logs and tools show. Read once per thread from /proc.
import { namespacePids } from '../../proc/pid-namespace';
import type { PreparedMode } from '../../capture/mode';

/** ["pid_in_ns=1", "tid_in_ns=1"] for a thread in another PID namespace, [] otherwise. */
export function namespaceIds(): (pid: number, tid: number) => string[] {
  const cache = new Map<number, string[]>();
  return (pid, tid) => {
    let flags = cache.get(tid);
    if (flags === undefined) {
      const p = namespacePids(pid);
      const t = namespacePids(pid, tid);
      // One entry: the thread lives in our own PID namespace; nothing to add.
      flags = p.length > 1 && t.length > 1 ? [`pid_in_ns=${p[p.length - 1]}`, `tid_in_ns=${t[t.length - 1]}`] : [];
      cache.set(tid, flags);
    }
    return flags;
  };
}

/** `mode` with the container's pid and tid in each packet's metadata flags, when the thread is in another PID namespace. */
export function withNamespaceIds(mode: PreparedMode): PreparedMode {
  const ids = namespaceIds();
  return {
    ...mode,
    packet: (rec) => {
      const p = mode.packet(rec);
      const flags = ids(rec.pid, rec.tid);
      return flags.length ? { ...p, meta: { ...p.meta, flags: [...(p.meta.flags ?? []), ...flags] } } : p;
    },
  };
}
