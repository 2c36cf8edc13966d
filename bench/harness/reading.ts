// "What limits netcap": a short reading of the figures, written from the
// figures of this run (so it stays true when they change), with the facts
// that explain them. Sentences whose figures are missing are left out.
import { num } from './format';

type Figures = Record<string, number>;

function has(f: Figures, ...keys: string[]): boolean {
  return keys.every((k) => Number.isFinite(f[k]));
}

export function readingMarkdown(f: Figures): string {
  const lines: string[] = [];
  lines.push(
    '- **Per-hit uprobe cost.** Every call of a probed user-space function traps into the kernel (a breakpoint, ' +
      'then the BPF program); on this kind of machine that is several microseconds against nanoseconds for the call ' +
      'itself. It is paid per *hit*, matched or not, so it bounds the packet rate a traced DPDK thread keeps.',
  );
  for (const rate of ['20k', '100k']) {
    const base = `dataplane.${rate}.none.forwarded_pps`;
    const single = `dataplane.${rate}.netcap_all.forwarded_ratio`;
    const none = `dataplane.${rate}.netcap_none.forwarded_ratio`;
    const burst = `dataplane.${rate}.netcap_burst.forwarded_ratio`;
    const dump = `dataplane.${rate}.dumpcap.forwarded_ratio`;
    if (!has(f, base)) continue;
    const parts = [`at ${rate} pps offered, l2fwd forwarded ${num(f[base])} pps without capture`];
    if (has(f, single)) parts.push(`${num(f[single])}x of that with netcap on the per-packet function (all packets matching)`);
    if (has(f, none)) parts.push(`${num(f[none])}x when the filter matches nothing (the hit itself, not the copy, is the cost)`);
    if (has(f, burst)) parts.push(`${num(f[burst])}x on the burst function (one hit per burst)`);
    if (has(f, dump)) parts.push(`${num(f[dump])}x with dpdk-dumpcap`);
    lines.push(`- **Dataplane.** ${parts.join('; ')}.`);
  }
  lines.push(
    '- **Probe placement is the lever.** A burst point (`func@N@M`) pays one hit per burst of up to 32 packets; ' +
      'probing the per-packet function pays one per packet. Prefer burst points at high rates.',
  );
  if (has(f, 'startup.tcpdump.first_packet_ms')) {
    const s = [`tcpdump sees its first packet ${num(f['startup.tcpdump.first_packet_ms'])} ms after it starts`];
    if (has(f, 'startup.netcap_skb.ratio_vs_tcpdump')) s.push(`netcap skb takes ${num(f['startup.netcap_skb.ratio_vs_tcpdump'])}x that`);
    if (has(f, 'startup.bpftrace_tp.ratio_vs_tcpdump')) s.push(`bpftrace on the same tracepoint ${num(f['startup.bpftrace_tp.ratio_vs_tcpdump'])}x`);
    lines.push(
      `- **Start-up.** ${s.join('; ')}. netcap's start is Node's own start-up, compiling the filter with libpcap, ` +
        'generating and verifying the eBPF program and attaching; no clang, so no seconds of compilation as with BCC.',
    );
  }
  return lines.join('\n');
}
