// Adapts src/filter's cBPF -> eBPF compiler to the probes' FilterSlot: the
// 'buffer' memory model over the scratch record, with the registers the
// packet body hands over (data r1, caplen r7, wirelen r6) and A/X/tmp in
// r0/r2/r3. An empty expression needs no fragment at all.
import { R2, R3 } from '../src/ebpf/registers';
import { compileToEbpf } from '../src/filter/compiler';
import type { CbpfInsn } from '../src/filter/cbpf';
import { matchAll, type FilterEmitter } from './common';

/** A FilterEmitter running `insns` (compiled by libpcap for the probe's link type) over at most `snaplen` copied bytes. */
export function cbpfFilter(insns: readonly CbpfInsn[] | undefined, snaplen: number): FilterEmitter {
  if (!insns) return matchAll;
  return (slot) =>
    compileToEbpf(insns, {
      model: { kind: 'buffer', data: slot.data, caplen: slot.caplen, bufferSize: snaplen },
      a: slot.result,
      x: R2,
      tmp: R3,
      wirelen: slot.wirelen,
      result: slot.result,
      stackBase: slot.stackBase,
      match: slot.match,
      noMatch: slot.noMatch,
      prefix: slot.labelPrefix,
    });
}
