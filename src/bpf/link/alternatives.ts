// What to use instead of kprobes/fentry on kernels without them: stable
// tracepoints that see the same sk_buffs.
export const SKB_TRACEPOINT_ALTERNATIVES = [
  'tracepoint:net:netif_receive_skb',
  'tracepoint:net:net_dev_xmit',
  'tracepoint:net:net_dev_queue',
  'tracepoint:skb:kfree_skb',
  'tracepoint:skb:consume_skb',
];

export function alternativesHint(): string {
  return `use a tracepoint instead, e.g. ${SKB_TRACEPOINT_ALTERNATIVES.join(', ')}`;
}
