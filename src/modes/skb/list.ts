// `netcap skb --list`: the capture points this kernel offers, resolved the
// way -f resolves them (so every line can be pasted into -f), and whether
// kernel functions can be points here, and why not.
import { describeStatus, probeFeature } from '../../bpf/features';
import { availableSkbPoints, type SkbPoint } from './points';

/** The listing, as lines. */
export function listSkbPoints(): string[] {
  const { tracepoints, rawTracepoints } = availableSkbPoints();
  const notes = (p: SkbPoint) => [p.direction === 'in' ? 'receive path (-Q in)' : p.direction === 'out' ? 'transmit path (-Q out)' : '', p.reason ? 'drop reason' : '', p.freesSkb ? 'frees the skb' : ''].filter((n) => n !== '');
  const column = (points: SkbPoint[], label: (p: SkbPoint) => string) => {
    const width = Math.max(0, ...points.map((p) => label(p).length));
    return points.map((p) => `  ${label(p).padEnd(width)}  ${notes(p).join(', ')}`.trimEnd());
  };
  const tpBtf = probeFeature('tp_btf');
  const fentry = probeFeature('fentry');
  const kprobes = probeFeature('kprobes');
  const functions =
    fentry.status === 'supported' || kprobes.status === 'supported'
      ? `Kernel functions (FUNC@N, argument N a struct sk_buff *): through ${fentry.status === 'supported' ? 'fentry' : 'kprobes'}; the prototypes are in BTF (bpftool btf dump file /sys/kernel/btf/vmlinux | grep "struct sk_buff \\*")`
      : `Kernel functions (FUNC@N): not on this kernel (${describeStatus('fentry', fentry)}; ${describeStatus('kprobes', kprobes)}): use the tracepoints above`;
  return [
    `Tracepoints with an sk_buff (-f tracepoint:CAT:NAME), ${tracepoints.length} here:`,
    ...column(tracepoints, (p) => p.label),
    '',
    `Raw tracepoints with a struct sk_buff * argument (-f raw_tp:NAME${tpBtf.status === 'supported' ? ', or tp_btf:NAME' : ''}), ${rawTracepoints.length} here:`,
    ...column(rawTracepoints, (p) => p.label),
    ...(tpBtf.status === 'supported' ? [] : [`  (tp_btf:NAME does not work here: ${describeStatus('tp_btf', tpBtf)})`]),
    '',
    functions,
  ];
}
