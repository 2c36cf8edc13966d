// Helper function ids, from the order of __BPF_FUNC_MAPPER in the kernel's
// include/uapi/linux/bpf.h (checked against the bookworm uapi header). The
// names are what the verifier log prints after `call`.

export const enum Helper {
  map_lookup_elem = 1,
  map_update_elem = 2,
  map_delete_elem = 3,
  probe_read = 4,
  ktime_get_ns = 5,
  trace_printk = 6,
  get_prandom_u32 = 7,
  get_smp_processor_id = 8,
  tail_call = 12,
  redirect = 23,
  get_current_pid_tgid = 14,
  get_current_uid_gid = 15,
  get_current_comm = 16,
  perf_event_output = 25,
  skb_load_bytes = 26,
  get_stackid = 27,
  get_current_task = 35,
  probe_read_user = 112,
  probe_read_kernel = 113,
  probe_read_user_str = 114,
  probe_read_kernel_str = 115,
  ktime_get_boot_ns = 125,
  ringbuf_output = 130,
  ringbuf_reserve = 131,
  ringbuf_submit = 132,
  ringbuf_discard = 133,
  ringbuf_query = 134,
  get_attach_cookie = 174,
  get_func_arg = 183,
  get_func_arg_cnt = 185,
  xdp_get_buff_len = 188,
  xdp_load_bytes = 189,
}

const names: Record<number, string> = {
  1: 'map_lookup_elem',
  2: 'map_update_elem',
  3: 'map_delete_elem',
  4: 'probe_read',
  5: 'ktime_get_ns',
  6: 'trace_printk',
  7: 'get_prandom_u32',
  8: 'get_smp_processor_id',
  12: 'tail_call',
  23: 'redirect',
  14: 'get_current_pid_tgid',
  15: 'get_current_uid_gid',
  16: 'get_current_comm',
  25: 'perf_event_output',
  26: 'skb_load_bytes',
  27: 'get_stackid',
  35: 'get_current_task',
  112: 'probe_read_user',
  113: 'probe_read_kernel',
  114: 'probe_read_user_str',
  115: 'probe_read_kernel_str',
  125: 'ktime_get_boot_ns',
  130: 'ringbuf_output',
  131: 'ringbuf_reserve',
  132: 'ringbuf_submit',
  133: 'ringbuf_discard',
  134: 'ringbuf_query',
  174: 'get_attach_cookie',
  183: 'get_func_arg',
  185: 'get_func_arg_cnt',
  188: 'xdp_get_buff_len',
  189: 'xdp_load_bytes',
};

/** "bpf_ringbuf_reserve" for 131; "unknown" for ids not listed here. */
export function helperName(id: number): string {
  const n = names[id];
  return n ? `bpf_${n}` : 'unknown';
}
