// Feature probes (cilium/ebpf's features package): does this kernel have
// what a hook needs? Each probe asks the kernel the cheapest way that gives a
// definite answer (sysfs, a tiny program load, a link create aimed at
// nothing), is cached for the process, and answers supported, unsupported
// (with what is needed), or inconclusive (the probe itself failed).
import * as fs from 'node:fs';
import { isNativeError, native } from '../native';
import { Call, Exit, Mov } from '../ebpf/builders';
import { Helper } from '../ebpf/helpers';
import { R0, R1, R2, R3, R4 } from '../ebpf/registers';
import type { Insn } from '../ebpf/instruction';
import { loadKernelBtf } from '../btf/kernel';
import { funcProtoOf, tracepointProtoOf } from '../btf/functions';
import { AttachType, ProgType } from './constants';
import { createMap } from './map';
import { loadProgram, VerifierError, type Program } from './program';
import { pmuType } from './link/pmu';

export type Feature = 'ringbuf' | 'uprobes' | 'kprobes' | 'fentry' | 'tp_btf' | 'tcx' | 'bpf_loop' | 'bpf_link_perf_event';

export type FeatureStatus =
  | { status: 'supported' }
  | { status: 'unsupported'; reason: string; needs: string }
  | { status: 'inconclusive'; reason: string };

const SUPPORTED: FeatureStatus = { status: 'supported' };
const cache = new Map<Feature, FeatureStatus>();

/** bpf_loop's helper id (include/uapi/linux/bpf.h, Linux 5.17). */
const HELPER_BPF_LOOP = 181;

function errorText(e: unknown): string {
  if (e instanceof VerifierError) return `${e.code}: ${e.summary}`;
  if (isNativeError(e)) return `${e.code}: ${e.message}`;
  return e instanceof Error ? e.message : String(e);
}

function errorCode(e: unknown): string | undefined {
  if (e instanceof VerifierError) return e.code;
  if (isNativeError(e)) return e.code;
  // loadProgram wraps log-less refusals in a UserError; its detail holds the native message.
  const m = /\((E[A-Z0-9]+)\)/.exec(e instanceof Error ? e.message : '');
  return m?.[1];
}

function withProgram<T>(spec: Parameters<typeof loadProgram>[0], use: (p: Program) => T): T {
  const prog = loadProgram(spec);
  try {
    return use(prog);
  } finally {
    prog.close();
  }
}

const returnZero: Insn[] = [Mov.imm(R0, 0), Exit()];

const probes: Record<Feature, () => FeatureStatus> = {
  ringbuf() {
    try {
      createMap({ type: 'ringbuf', name: 'nc_probe_ring', keySize: 0, valueSize: 0, maxEntries: 4096 }).close();
      return SUPPORTED;
    } catch (e) {
      return { status: 'unsupported', reason: `creating a ring buffer map failed (${errorText(e)})`, needs: 'Linux 5.8' };
    }
  },

  uprobes() {
    if (pmuType('uprobe') !== undefined) return SUPPORTED;
    return { status: 'unsupported', reason: 'no /sys/bus/event_source/devices/uprobe', needs: 'Linux 4.17 / CONFIG_UPROBE_EVENTS' };
  },

  kprobes() {
    if (pmuType('kprobe') !== undefined) return SUPPORTED;
    const configured = fs.existsSync('/sys/kernel/tracing/kprobe_events') || fs.existsSync('/sys/kernel/debug/tracing/kprobe_events');
    return {
      status: 'unsupported',
      reason: configured ? 'no kprobe perf PMU (/sys/bus/event_source/devices/kprobe)' : 'this kernel has no kprobes (no kprobe PMU, no kprobe_events in tracefs)',
      needs: 'Linux 4.17 / CONFIG_KPROBES and CONFIG_KPROBE_EVENTS',
    };
  },

  fentry() {
    // Loading is where fentry fails (the trampoline needs ftrace; a locked
    // ftrace gives EPERM, CONFIG_DYNAMIC_FTRACE_WITH_DIRECT_CALLS missing
    // gives ENOTSUPP): load a do-nothing fentry on a function every kernel
    // has with BTF.
    let btfId: number;
    try {
      btfId = funcProtoOf(loadKernelBtf(), 'tcp_v4_rcv').btfId;
    } catch (e) {
      return { status: 'inconclusive', reason: `no BTF id for tcp_v4_rcv (${errorText(e)})` };
    }
    try {
      withProgram({ type: ProgType.TRACING, name: 'nc_probe_fent', insns: returnZero, expectedAttachType: AttachType.TRACE_FENTRY, attachBtfId: btfId }, () => undefined);
      return SUPPORTED;
    } catch (e) {
      const code = errorCode(e);
      if (code === 'EPERM' || code === 'ENOTSUPP' || code === 'EOPNOTSUPP' || code === 'EINVAL' || code === 'E2BIG' || code === 'EBUSY') {
        return {
          status: 'unsupported',
          reason: `loading an fentry program failed (${errorText(e)})`,
          needs: 'Linux 5.5 / CONFIG_FUNCTION_TRACER, CONFIG_DYNAMIC_FTRACE_WITH_DIRECT_CALLS, BPF trampolines usable (not locked down)',
        };
      }
      return { status: 'inconclusive', reason: `loading an fentry program failed (${errorText(e)})` };
    }
  },

  tp_btf() {
    let btfId: number;
    try {
      btfId = tracepointProtoOf(loadKernelBtf(), 'netif_receive_skb').btfId;
    } catch (e) {
      return { status: 'unsupported', reason: `no BTF for raw tracepoints (${errorText(e)})`, needs: 'Linux 5.5 / CONFIG_DEBUG_INFO_BTF' };
    }
    try {
      withProgram({ type: ProgType.TRACING, name: 'nc_probe_tpbtf', insns: returnZero, expectedAttachType: AttachType.TRACE_RAW_TP, attachBtfId: btfId }, () => undefined);
      return SUPPORTED;
    } catch (e) {
      return { status: 'unsupported', reason: `loading a tp_btf program failed (${errorText(e)})`, needs: 'Linux 5.5 / CONFIG_DEBUG_INFO_BTF' };
    }
  },

  tcx() {
    // As cilium/ebpf does: a tcx link aimed at ifindex 0 fails with ENODEV
    // when the kernel knows tcx (Linux 6.6, kernel/bpf/tcx.c), EINVAL when
    // the attach type is unknown. Nothing gets attached either way.
    try {
      return withProgram({ type: ProgType.SCHED_CLS, name: 'nc_probe_tcx', insns: returnZero }, (prog) => {
        try {
          native().bpf.close(native().bpf.linkCreate(prog.fd, 0, AttachType.TCX_INGRESS, {}));
          return { status: 'inconclusive', reason: 'a tcx link to ifindex 0 unexpectedly succeeded' } as FeatureStatus;
        } catch (e) {
          if (isNativeError(e) && e.code === 'ENODEV') return SUPPORTED;
          if (isNativeError(e) && e.code === 'EINVAL') return { status: 'unsupported', reason: 'BPF_LINK_CREATE does not know BPF_TCX_INGRESS', needs: 'Linux 6.6' } as FeatureStatus;
          return { status: 'inconclusive', reason: `tcx probe: ${errorText(e)}` } as FeatureStatus;
        }
      });
    } catch (e) {
      return { status: 'inconclusive', reason: `loading a sched_cls program failed (${errorText(e)})` };
    }
  },

  bpf_loop() {
    // cilium/ebpf's helper probe: call the helper with whatever is in the
    // registers. An unknown helper is refused as "invalid func"/"unknown
    // func"; a known one is refused for its arguments (or accepted).
    const insns = [Mov.imm(R1, 0), Mov.imm(R2, 0), Mov.imm(R3, 0), Mov.imm(R4, 0), Call(HELPER_BPF_LOOP as Helper), Mov.imm(R0, 0), Exit()];
    try {
      withProgram({ type: ProgType.SOCKET_FILTER, name: 'nc_probe_loop', insns }, () => undefined);
      return SUPPORTED;
    } catch (e) {
      if (e instanceof VerifierError) {
        if (/invalid func|unknown func/.test(e.log)) return { status: 'unsupported', reason: 'the verifier does not know bpf_loop', needs: 'Linux 5.17' };
        return SUPPORTED;
      }
      return { status: 'inconclusive', reason: `bpf_loop probe: ${errorText(e)}` };
    }
  },

  bpf_link_perf_event() {
    // BPF_LINK_CREATE on a perf event came in Linux 5.15; probing it needs
    // a perf event first (a uprobe on ourselves), so the release number is
    // the cheaper, dependable signal.
    const [major, minor] = fs.readFileSync('/proc/sys/kernel/osrelease', 'utf8').split('.').map((x) => parseInt(x, 10));
    if (major > 5 || (major === 5 && minor >= 15)) return SUPPORTED;
    return { status: 'unsupported', reason: `kernel ${major}.${minor} has no BPF links for perf events`, needs: 'Linux 5.15' };
  },
};

/** The cached answer for `feature`, probing the kernel on first use. */
export function probeFeature(feature: Feature): FeatureStatus {
  let answer = cache.get(feature);
  if (!answer) {
    try {
      answer = probes[feature]();
    } catch (e) {
      answer = { status: 'inconclusive', reason: errorText(e) };
    }
    cache.set(feature, answer);
  }
  return answer;
}

/** A one-line explanation of a status that is not 'supported'. */
export function describeStatus(feature: Feature, s: FeatureStatus): string {
  if (s.status === 'supported') return `${feature}: supported`;
  if (s.status === 'unsupported') return `${feature} unsupported: ${s.reason} (needs ${s.needs})`;
  return `${feature} inconclusive: ${s.reason}`;
}

/** For tests: undefined when supported, else the reason to skip. */
export function skipReason(feature: Feature): string | undefined {
  const s = probeFeature(feature);
  return s.status === 'supported' ? undefined : describeStatus(feature, s);
}

/** For tests: skips `t` when the feature is missing; true when it did. */
export function skipUnless(t: { skip(message?: string): void }, feature: Feature): boolean {
  const reason = skipReason(feature);
  if (reason !== undefined) t.skip(reason);
  return reason !== undefined;
}
