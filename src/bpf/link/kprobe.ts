// Kprobes and kretprobes through the perf "kprobe" PMU (Linux 4.17+,
// kernel/trace/trace_kprobe.c create_local_trace_kprobe): config1 points at
// the symbol name, config2 is the offset into it. Kernels built without
// CONFIG_KPROBES (like the one netcap is developed on) have no such PMU;
// there we fail up front and name the tracepoints that see the same skbs.
import { UserError } from '../../errors';
import { describeStatus, probeFeature } from '../features';
import type { Program } from '../program';
import { alternativesHint } from './alternatives';
import type { Link } from './link';
import { attachPerfEvent } from './perf-event';
import { pmuType, retprobeBit } from './pmu';

export interface KprobeOptions {
  /** Kernel function name, as in /proc/kallsyms. */
  symbol: string;
  /** Byte offset into the function (0: its entry). */
  offset?: number;
  cookie?: bigint;
}

/** Throws a UserError naming the tracepoint alternatives when this kernel has no kprobes. */
export function requireKprobes(what = 'kprobes'): number {
  const status = probeFeature('kprobes');
  const type = pmuType('kprobe');
  if (status.status !== 'supported' || type === undefined) {
    throw new UserError(`${what} are not available on this kernel`, alternativesHint(), describeStatus('kprobes', status));
  }
  return type;
}

function attach(prog: Program, opts: KprobeOptions, ret: boolean): Link {
  const kind = ret ? 'kretprobe' : 'kprobe';
  const type = requireKprobes(`${kind}s`);
  const config = ret ? 1n << BigInt(retprobeBit('kprobe')) : 0n;
  return attachPerfEvent(
    prog,
    { type, config, config1Str: opts.symbol, config2: BigInt(opts.offset ?? 0), pid: -1 },
    kind,
    opts.offset ? `${opts.symbol}+${opts.offset}` : opts.symbol,
    opts.cookie,
  );
}

/** Runs a KPROBE-type program at the kernel function's entry (+offset). */
export function attachKprobe(prog: Program, opts: KprobeOptions): Link {
  return attach(prog, opts, false);
}

/** Runs a KPROBE-type program when the kernel function returns. */
export function attachKretprobe(prog: Program, opts: KprobeOptions): Link {
  return attach(prog, opts, true);
}
