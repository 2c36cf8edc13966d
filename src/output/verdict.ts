// Names of the verdicts eBPF hooks return (src/output/packet.ts
// PacketVerdict), as the kernel's headers spell them: enum xdp_action
// (include/uapi/linux/bpf.h) and TC_ACT_* (include/uapi/linux/pkt_cls.h).
import type { PacketVerdict } from './packet';

const XDP_ACTIONS = ['XDP_ABORTED', 'XDP_DROP', 'XDP_PASS', 'XDP_TX', 'XDP_REDIRECT'];
const TC_ACTIONS: Record<number, string> = {
  [-1]: 'TC_ACT_UNSPEC',
  0: 'TC_ACT_OK',
  1: 'TC_ACT_RECLASSIFY',
  2: 'TC_ACT_SHOT',
  3: 'TC_ACT_PIPE',
  4: 'TC_ACT_STOLEN',
  5: 'TC_ACT_QUEUED',
  6: 'TC_ACT_REPEAT',
  7: 'TC_ACT_REDIRECT',
  8: 'TC_ACT_TRAP',
};

/** "XDP_DROP" for { type: 'xdp', value: 1 }; the number for a value the headers do not name. */
export function verdictName(v: PacketVerdict): string {
  const name = v.type === 'xdp' ? XDP_ACTIONS[v.value] : TC_ACTIONS[v.value];
  return name ?? `${v.type.toUpperCase()} ${v.value}`;
}
