// CPU numbering as the kernel's per-CPU maps and per-CPU perf events see it.
import { native } from '../native';

let cached: number | undefined;

/**
 * The number of possible CPUs (/sys/devices/system/cpu/possible, read by
 * libbpf): per-CPU map values have one slot per possible CPU, not per
 * online CPU.
 */
export function possibleCpus(): number {
  cached ??= native().bpf.numPossibleCpus();
  return cached;
}
