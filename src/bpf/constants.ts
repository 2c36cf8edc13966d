// Numbers from the kernel's include/uapi/linux/bpf.h (checked against the
// bookworm uapi header; the tcx attach types came in 6.6). Helper ids live
// with the instruction model (src/ebpf/helpers.ts) and are re-exported here.
export { Helper, helperName } from '../ebpf/helpers';

/** enum bpf_prog_type */
export const enum ProgType {
  SOCKET_FILTER = 1,
  KPROBE = 2,
  SCHED_CLS = 3,
  SCHED_ACT = 4,
  TRACEPOINT = 5,
  XDP = 6,
  PERF_EVENT = 7,
  RAW_TRACEPOINT = 17,
  TRACING = 26,
  /** Run only through BPF_PROG_TEST_RUN; sleepable, so it may copy from user memory (5.14+). */
  SYSCALL = 31,
}

/** BPF_PROG_LOAD prog_flags. */
export const enum ProgFlag {
  /** BPF_F_SLEEPABLE: the program may sleep (copy from user memory); syscall programs must be. */
  SLEEPABLE = 1 << 4,
}

/** enum bpf_attach_type */
export const enum AttachType {
  TRACE_RAW_TP = 23,
  TRACE_FENTRY = 24,
  TRACE_FEXIT = 25,
  XDP = 37,
  PERF_EVENT = 41,
  TRACE_KPROBE_MULTI = 42,
  TCX_INGRESS = 46,
  TCX_EGRESS = 47,
}

/** enum bpf_map_type */
export const enum MapType {
  HASH = 1,
  ARRAY = 2,
  PROG_ARRAY = 3,
  PERF_EVENT_ARRAY = 4,
  PERCPU_HASH = 5,
  PERCPU_ARRAY = 6,
  STACK_TRACE = 7,
  LRU_HASH = 9,
  RINGBUF = 27,
}

/** Map update flags (BPF_ANY, BPF_NOEXIST, BPF_EXIST). */
export const enum MapUpdate {
  ANY = 0,
  NOEXIST = 1,
  EXIST = 2,
}

/** XDP verdicts (enum xdp_action). */
export const enum XdpAction {
  ABORTED = 0,
  DROP = 1,
  PASS = 2,
  TX = 3,
  REDIRECT = 4,
}

/** TC verdicts (TC_ACT_* in include/uapi/linux/pkt_cls.h). */
export const enum TcAction {
  UNSPEC = -1,
  OK = 0,
  SHOT = 2,
}

const progTypeNames: Record<number, string> = {
  1: 'socket_filter',
  2: 'kprobe',
  3: 'sched_cls',
  4: 'sched_act',
  5: 'tracepoint',
  6: 'xdp',
  7: 'perf_event',
  17: 'raw_tracepoint',
  26: 'tracing',
  31: 'syscall',
};

export function progTypeName(t: number): string {
  return progTypeNames[t] ?? `prog type ${t}`;
}
