// The points `netcap skb -f` accepts (parsed by src/targets/spec.ts, the
// one -f grammar) resolved against this kernel: where the skb pointer sits
// in the program's context, and where the drop reason is when the point has
// one.
//
//   tracepoint:CAT:NAME, tp:CAT:NAME  classic tracepoint; the context is the
//                                     record tracefs' format describes, the
//                                     skb is its `skbaddr` (or `skb`) field
//   raw_tp:NAME[@N], tp_btf:NAME[@N]  raw tracepoint; the context is the
//                                     argument array of btf_trace_NAME, the
//                                     skb argument N, or the first of type
//                                     struct sk_buff *
//   FUNC@N                            kernel function FUNC whose argument N
//                                     (1-based) is a struct sk_buff *, through
//                                     fentry or a kprobe where the kernel has them
//
// Caveat: net:net_dev_xmit fires after the driver's ndo_start_xmit returned,
// when the skb belongs to the driver (a veth has already moved it to its
// peer: skb->dev is the peer by then). net:net_dev_queue sees it before.
import { UserError } from '../../errors';
import { loadKernelBtf } from '../../btf/kernel';
import { listTracepoints, tracepointFormat, type TracepointField } from '../../tracefs/tracepoint';
import { BtfKind } from '../../btf/kinds';
import { describeStatus, probeFeature } from '../../bpf/features';
import { alternativesHint } from '../../bpf/link/alternatives';
import { argRegOffset } from '../../targets/registers';
import { MAX_ARG, parsePoints, type KernelFunctionPoint, type RawTracepointPoint, type TracepointPoint } from '../../targets/spec';
import type { SkbHook } from '../../../probes/skb';

export interface SkbPoint extends SkbHook {
  /** As the user wrote it. */
  spec: string;
  /** Canonical name for messages and pcapng interfaces: "tracepoint:net:netif_receive_skb". */
  label: string;
  /** The skb ends its life here (kfree_skb, consume_skb): gather mode forgets its address after this point. */
  freesSkb: boolean;
}

// Events of the receive and transmit paths (include/trace/events/net.h).
const RECEIVE_EVENTS = new Set(['netif_receive_skb', 'netif_receive_skb_entry', 'netif_receive_skb_list_entry', 'netif_rx', 'netif_rx_entry', 'napi_gro_receive_entry', 'napi_gro_frags_entry']);
const TRANSMIT_EVENTS = new Set(['net_dev_queue', 'net_dev_start_xmit', 'net_dev_xmit']);

function directionOf(event: string): 'in' | 'out' | undefined {
  return RECEIVE_EVENTS.has(event) ? 'in' : TRANSMIT_EVENTS.has(event) ? 'out' : undefined;
}

// Where an sk_buff is freed: after these its address may belong to the next
// packet (the slab reuses it at once), so gather mode must not match it again.
const FREE_EVENTS = new Set(['kfree_skb', 'consume_skb']);
const FREE_FUNCTIONS = new Set(['kfree_skb_reason', 'sk_skb_reason_drop', 'consume_skb', '__kfree_skb', 'kfree_skb_list_reason']);

/** Parses the -f list and resolves every point (UserError on the first bad one). */
export function resolveSkbPoints(list: string): SkbPoint[] {
  const points = parsePoints(list, 'skb').map((p) => {
    switch (p.kind) {
      case 'tracepoint':
        return tracepointPoint(p);
      case 'raw_tp':
      case 'tp_btf':
        return rawTracepointPoint(p);
      case 'kernel-function':
        return functionPoint(p);
      case 'user-function':
        throw new UserError(`point '${p.text}' is a user-space function`, 'netcap skb takes kernel points; functions of a process belong to netcap mbuf and netcap raw');
    }
  });
  const seen = new Set<string>();
  for (const p of points) {
    if (seen.has(p.label)) throw new UserError(`capture point ${p.label} is listed twice`, 'name each point once in -f');
    seen.add(p.label);
  }
  return points;
}

/**
 * Every point of these two kinds this kernel offers, resolved as -f would
 * resolve it (for `netcap skb --list`): the tracepoints whose record holds
 * an skb address, and the raw tracepoints with a struct sk_buff * argument.
 * Tracepoints whose format cannot be read are left out.
 */
export function availableSkbPoints(): { tracepoints: SkbPoint[]; rawTracepoints: SkbPoint[] } {
  const tracepoints: SkbPoint[] = [];
  for (const name of listTracepoints()) {
    const [category, event] = name.split(':');
    try {
      const format = tracepointFormat({ category, name: event });
      if (skbField(format.fields)) tracepoints.push(tracepointPoint({ kind: 'tracepoint', text: `tracepoint:${name}`, category, name: event }));
    } catch {
      // unreadable format: not offered
    }
  }
  const btf = loadKernelBtf();
  const rawTracepoints: SkbPoint[] = [];
  for (const typedef of btf.namesOfKind(BtfKind.Typedef)) {
    if (!typedef.startsWith('btf_trace_')) continue;
    const event = typedef.slice('btf_trace_'.length);
    try {
      if (btf.tracepointProto(event).params.some((a) => isSkbPointer(a.type))) {
        rawTracepoints.push(rawTracepointPoint({ kind: 'raw_tp', text: `raw_tp:${event}`, name: event }));
      }
    } catch {
      // not a function prototype: not offered
    }
  }
  const byLabel = (a: SkbPoint, b: SkbPoint) => a.label.localeCompare(b.label);
  return { tracepoints: tracepoints.sort(byLabel), rawTracepoints: rawTracepoints.sort(byLabel) };
}

/** struct sk_buff * or const struct sk_buff *: the probe only reads it. */
function isSkbPointer(type: string): boolean {
  return type === 'struct sk_buff *' || type === 'const struct sk_buff *';
}

/** Fields that can carry the sk_buff address in a tracepoint record. */
function skbField(fields: TracepointField[]): TracepointField | undefined {
  return fields.find((f) => !f.common && (f.name === 'skbaddr' || f.name === 'skb') && f.size === 8 && f.type.includes('*'));
}

function tracepointPoint(p: TracepointPoint): SkbPoint {
  const target = `${p.category}:${p.name}`;
  const format = tracepointFormat({ category: p.category, name: p.name });
  const skb = skbField(format.fields);
  if (!skb) {
    const fields = format.fields.filter((f) => !f.common).map((f) => `${f.type} ${f.name}`);
    throw new UserError(
      `tracepoint ${target} has no sk_buff address field`,
      `its fields are: ${fields.join(', ') || '(none)'}; netcap skb needs a field skbaddr/skb, e.g. tracepoint:net:netif_receive_skb or tracepoint:skb:kfree_skb`,
    );
  }
  const reason = format.fields.find((f) => f.name === 'reason' && f.type.includes('skb_drop_reason'));
  return {
    spec: p.text,
    label: `tracepoint:${target}`,
    kind: 'tracepoint',
    target,
    skb: { offset: skb.offset, size: 8 },
    reason: reason ? { offset: reason.offset, size: reason.size === 4 ? 4 : 8 } : undefined,
    freesSkb: p.category === 'skb' && FREE_EVENTS.has(p.name),
    direction: p.category === 'net' ? directionOf(p.name) : undefined,
  };
}

function rawTracepointPoint(p: RawTracepointPoint): SkbPoint {
  const kind = p.kind;
  const proto = loadKernelBtf().tracepointProto(p.name);
  const args = proto.params.map((a) => a.type);
  const skbArg = p.skbArg !== undefined ? p.skbArg - 1 : args.findIndex(isSkbPointer);
  if (p.skbArg !== undefined && !isSkbPointer(args[skbArg] ?? '')) {
    throw new UserError(
      `argument ${p.skbArg} of raw tracepoint ${p.name} is ${args[skbArg] ?? 'not there'}, not a struct sk_buff *`,
      `its arguments are (${args.join(', ') || 'none'})`,
    );
  }
  if (skbArg < 0) {
    throw new UserError(
      `raw tracepoint ${p.name} has no struct sk_buff * argument`,
      `its arguments are (${args.join(', ') || 'none'}); use e.g. ${kind}:netif_receive_skb or ${kind}:kfree_skb`,
    );
  }
  const reasonArg = args.indexOf('enum skb_drop_reason');
  if (kind === 'tp_btf') {
    const s = probeFeature('tp_btf');
    if (s.status !== 'supported') throw new UserError(`tp_btf:${p.name} cannot be used on this kernel`, 'use the tracepoint: form instead', describeStatus('tp_btf', s));
  }
  return {
    spec: p.text,
    label: `${kind}:${p.name}`,
    kind,
    target: p.name,
    // The context of raw_tp and tp_btf programs is an array of u64 arguments (bpf_raw_tp_regs / bpf_trace_run*).
    skb: { offset: skbArg * 8, size: 8 },
    reason: reasonArg >= 0 ? { offset: reasonArg * 8, size: 8 } : undefined,
    btfId: kind === 'tp_btf' ? proto.btfId : undefined,
    freesSkb: FREE_EVENTS.has(p.name),
    direction: directionOf(p.name),
  };
}

function functionPoint(p: KernelFunctionPoint): SkbPoint {
  const fn = p.function;
  const n = p.skbArg;
  const proto = loadKernelBtf().funcProto(fn);
  if (n < 1 || n > proto.params.length) {
    throw new UserError(
      `${fn} has ${proto.params.length} argument${proto.params.length === 1 ? '' : 's'}, so ${p.text} names none`,
      `its prototype: ${proto.returnType} ${fn}(${proto.params.map((a) => `${a.type} ${a.name}`.trim()).join(', ')})`,
    );
  }
  const param = proto.params[n - 1];
  if (!isSkbPointer(param.type)) {
    const skbArgs = proto.params.map((a, i) => (isSkbPointer(a.type) ? `${fn}@${i + 1}` : '')).filter((s) => s !== '');
    throw new UserError(
      `argument ${n} of ${fn} is ${param.type}${param.name ? ` ${param.name}` : ''}, not a struct sk_buff *`,
      skbArgs.length ? `did you mean ${skbArgs.join(', ')}?` : `${fn} takes no sk_buff: ${proto.returnType} ${fn}(${proto.params.map((a) => a.type).join(', ')})`,
    );
  }
  const reasonArg = proto.params.findIndex((a) => a.type === 'enum skb_drop_reason');
  // fentry where the kernel can (typed arguments, cheapest), else a kprobe;
  // neither here: the message names the tracepoints that see the same skbs.
  const fentry = probeFeature('fentry');
  if (fentry.status === 'supported') {
    return {
      spec: p.text, label: `fentry:${fn}@${n}`, kind: 'fentry', target: fn,
      skb: { offset: (n - 1) * 8, size: 8 },
      reason: reasonArg >= 0 ? { offset: reasonArg * 8, size: 8 } : undefined,
      btfId: proto.btfId,
      freesSkb: FREE_FUNCTIONS.has(fn),
    };
  }
  const kprobes = probeFeature('kprobes');
  if (kprobes.status === 'supported') {
    if (n > MAX_ARG) throw new UserError(`${p.text}: argument ${n} is passed on the stack, which a kprobe cannot read here`, `use an argument among the first ${MAX_ARG}`);
    return {
      spec: p.text, label: `kprobe:${fn}@${n}`, kind: 'kprobe', target: fn,
      skb: { offset: argRegOffset(n), size: 8 },
      reason: reasonArg >= 0 && reasonArg < MAX_ARG ? { offset: argRegOffset(reasonArg + 1), size: 8 } : undefined,
      freesSkb: FREE_FUNCTIONS.has(fn),
    };
  }
  throw new UserError(
    `${p.text}: kernel functions need fentry or kprobes, and this kernel has neither`,
    alternativesHint(),
    `${describeStatus('fentry', fentry)}\n${describeStatus('kprobes', kprobes)}`,
  );
}
