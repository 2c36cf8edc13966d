// Uprobes and uretprobes through the perf "uprobe" PMU (Linux 4.17+,
// kernel/trace/trace_uprobe.c create_local_trace_uprobe): config1 points at
// the file path, config2 is the file offset of the probed instruction
// (src/elf turns a symbol into one), the retprobe bit of config makes a
// return probe. No tracefs writes, so nothing is left behind on SIGKILL.
import * as fs from 'node:fs';
import { UserError } from '../../errors';
import type { Program } from '../program';
import { attachPerfEvent } from './perf-event';
import type { Link } from './link';
import { pmuType, retprobeBit } from './pmu';

export interface UprobeOptions {
  /** The executable or shared library holding the function. */
  path: string;
  /** File offset of the instruction to probe (not the symbol's virtual address). */
  offset: number | bigint;
  /** Only this process; all processes mapping the file when omitted. */
  pid?: number;
  /** Read back with bpf_get_attach_cookie (Linux 5.15+). */
  cookie?: bigint;
}

function uprobePmu(): number {
  const type = pmuType('uprobe');
  if (type === undefined) {
    throw new UserError(
      'this kernel has no uprobe perf PMU (/sys/bus/event_source/devices/uprobe)',
      'mbuf capture needs Linux 4.17 or newer built with CONFIG_UPROBE_EVENTS=y',
    );
  }
  return type;
}

function attach(prog: Program, opts: UprobeOptions, ret: boolean): Link {
  const kind = ret ? 'uretprobe' : 'uprobe';
  if (!fs.existsSync(opts.path)) throw new UserError(`cannot attach ${kind}: ${opts.path} does not exist`, 'give the path of the executable or library');
  const config = ret ? 1n << BigInt(retprobeBit('uprobe')) : 0n;
  const target = `${opts.path}:0x${BigInt(opts.offset).toString(16)}`;
  return attachPerfEvent(
    prog,
    { type: uprobePmu(), config, config1Str: opts.path, config2: BigInt(opts.offset), pid: opts.pid ?? -1 },
    kind,
    target,
    opts.cookie,
  );
}

/** Runs `prog` (a KPROBE-type program) when the instruction at path+offset executes. */
export function attachUprobe(prog: Program, opts: UprobeOptions): Link {
  return attach(prog, opts, false);
}

/** Runs `prog` when the function at path+offset returns (offset = the function's entry). */
export function attachUretprobe(prog: Program, opts: UprobeOptions): Link {
  return attach(prog, opts, true);
}
