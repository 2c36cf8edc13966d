// The points `netcap skb -f` accepts and what each needs to find its
// sk_buff: where the skb pointer sits in the program's context, and where
// the drop reason is when the point has one.
//
//   tracepoint:CAT:NAME, tp:CAT:NAME  classic tracepoint; the context is the
//                                     record tracefs' format describes, the
//                                     skb is its `skbaddr` (or `skb`) field
//   raw_tp:NAME, tp_btf:NAME          raw tracepoint; the context is the
//                                     argument array of btf_trace_NAME, the
//                                     skb the argument of type struct sk_buff *
//   FUNC@N                            kernel function FUNC whose argument N
//                                     (1-based) is a struct sk_buff *, through
//                                     fentry or a kprobe where the kernel has them
//
// Caveat: net:net_dev_xmit fires after the driver's ndo_start_xmit returned,
// when the skb belongs to the driver (a veth has already moved it to its
// peer: skb->dev is the peer by then). net:net_dev_queue sees it before.
import { UserError } from '../src/errors';
import { loadKernelBtf } from '../src/btf/kernel';
import { parseTracepointName, tracepointFormat, type TracepointField } from '../src/tracefs/tracepoint';
import { describeStatus, probeFeature } from '../src/bpf/features';
import { alternativesHint } from '../src/bpf/link/alternatives';
import { loadPtRegsArgOffsets } from './skb-regs';

export type SkbPointKind = 'tracepoint' | 'raw_tp' | 'tp_btf' | 'fentry' | 'kprobe';

/** Where a value is read from the context (r1 at entry): a load of `size` bytes at `offset`. */
export interface ContextSlot {
  offset: number;
  size: 1 | 2 | 4 | 8;
}

export interface SkbPoint {
  /** As the user wrote it. */
  spec: string;
  /** Canonical name for messages and pcapng interfaces: "tracepoint:net:netif_receive_skb". */
  label: string;
  kind: SkbPointKind;
  /** tracepoint: "net:netif_receive_skb"; raw_tp/tp_btf: the event name; fentry/kprobe: the function. */
  target: string;
  skb: ContextSlot;
  /** The drop reason (enum skb_drop_reason), at skb:kfree_skb and functions/raw tracepoints that take one. */
  reason?: ContextSlot;
  /** tp_btf and fentry: the BTF id the program is loaded against. */
  btfId?: number;
  /** The skb ends its life here (kfree_skb, consume_skb): gather mode forgets its address after this point. */
  freesSkb: boolean;
  /** Receive or transmit path, where the point's name says (pcapng epb_flags). */
  direction?: 'in' | 'out';
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

const ACCEPTED = 'tracepoint:CAT:NAME (or tp:CAT:NAME), raw_tp:NAME, tp_btf:NAME, or FUNC@N for a kernel function whose argument N is a struct sk_buff *';

/** Splits a comma-separated -f list and resolves every point (UserError on the first bad one). */
export function resolveSkbPoints(list: string): SkbPoint[] {
  const specs = list.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (specs.length === 0) throw new UserError('no capture point given', `-f takes ${ACCEPTED}`);
  const points = specs.map(resolveSkbPoint);
  const seen = new Set<string>();
  for (const p of points) {
    if (seen.has(p.label)) throw new UserError(`capture point ${p.label} is listed twice`, 'name each point once in -f');
    seen.add(p.label);
  }
  return points;
}

export function resolveSkbPoint(spec: string): SkbPoint {
  const m = /^(tracepoint|tp|raw_tp|raw_tracepoint|tp_btf):(.+)$/.exec(spec);
  if (m) {
    if (m[1] === 'tracepoint' || m[1] === 'tp') return tracepointPoint(spec, m[2]);
    return rawTracepointPoint(spec, m[2], m[1] === 'tp_btf' ? 'tp_btf' : 'raw_tp');
  }
  const f = /^(?:(?:kprobe|fentry):)?([A-Za-z_][A-Za-z0-9_.]*)@(\d+)$/.exec(spec);
  if (f) return functionPoint(spec, f[1], Number(f[2]));
  throw new UserError(`"${spec}" is not a capture point`, `write ${ACCEPTED}`);
}

/** Fields that can carry the sk_buff address in a tracepoint record. */
function skbField(fields: TracepointField[]): TracepointField | undefined {
  return fields.find((f) => !f.common && (f.name === 'skbaddr' || f.name === 'skb') && f.size === 8 && f.type.includes('*'));
}

function tracepointPoint(spec: string, rest: string): SkbPoint {
  const tp = parseTracepointName(rest);
  const format = tracepointFormat(tp);
  const skb = skbField(format.fields);
  const target = `${tp.category}:${tp.name}`;
  if (!skb) {
    const fields = format.fields.filter((f) => !f.common).map((f) => `${f.type} ${f.name}`);
    throw new UserError(
      `tracepoint ${target} has no sk_buff address field`,
      `its fields are: ${fields.join(', ') || '(none)'}; netcap skb needs a field skbaddr/skb, e.g. tracepoint:net:netif_receive_skb or tracepoint:skb:kfree_skb`,
    );
  }
  const reason = format.fields.find((f) => f.name === 'reason' && f.type.includes('skb_drop_reason'));
  return {
    spec,
    label: `tracepoint:${target}`,
    kind: 'tracepoint',
    target,
    skb: { offset: skb.offset, size: 8 },
    reason: reason ? { offset: reason.offset, size: reason.size === 4 ? 4 : 8 } : undefined,
    freesSkb: tp.category === 'skb' && FREE_EVENTS.has(tp.name),
    direction: tp.category === 'net' ? directionOf(tp.name) : undefined,
  };
}

function rawTracepointPoint(spec: string, rest: string, kind: 'raw_tp' | 'tp_btf'): SkbPoint {
  // raw_tp:net:netif_receive_skb is accepted too: raw tracepoints have no category.
  const name = rest.includes(':') ? rest.slice(rest.lastIndexOf(':') + 1) : rest;
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new UserError(`"${spec}" is not a raw tracepoint name`, `write ${kind}:NAME, e.g. ${kind}:netif_receive_skb`);
  const proto = loadKernelBtf().tracepointProto(name);
  const args = proto.params.map((p) => p.type);
  const skbArg = args.indexOf('struct sk_buff *');
  if (skbArg < 0) {
    throw new UserError(
      `raw tracepoint ${name} has no struct sk_buff * argument`,
      `its arguments are (${args.join(', ') || 'none'}); use e.g. ${kind}:netif_receive_skb or ${kind}:kfree_skb`,
    );
  }
  const reasonArg = args.indexOf('enum skb_drop_reason');
  if (kind === 'tp_btf') requireFeature('tp_btf', `tp_btf:${name}`);
  return {
    spec,
    label: `${kind}:${name}`,
    kind,
    target: name,
    // The context of raw_tp and tp_btf programs is an array of u64 arguments (bpf_raw_tp_regs / bpf_trace_run*).
    skb: { offset: skbArg * 8, size: 8 },
    reason: reasonArg >= 0 ? { offset: reasonArg * 8, size: 8 } : undefined,
    btfId: kind === 'tp_btf' ? proto.btfId : undefined,
    freesSkb: FREE_EVENTS.has(name),
    direction: directionOf(name),
  };
}

function requireFeature(feature: 'tp_btf', what: string): void {
  const s = probeFeature(feature);
  if (s.status !== 'supported') throw new UserError(`${what} cannot be used on this kernel`, 'use the tracepoint: form instead', describeStatus(feature, s));
}

function functionPoint(spec: string, fn: string, n: number): SkbPoint {
  const proto = loadKernelBtf().funcProto(fn);
  if (n < 1 || n > proto.params.length) {
    throw new UserError(
      `${fn} has ${proto.params.length} argument${proto.params.length === 1 ? '' : 's'}, so ${spec} names none`,
      `its prototype: ${proto.returnType} ${fn}(${proto.params.map((p) => `${p.type} ${p.name}`.trim()).join(', ')})`,
    );
  }
  const param = proto.params[n - 1];
  if (param.type !== 'struct sk_buff *') {
    const skbArgs = proto.params.map((p, i) => (p.type === 'struct sk_buff *' ? `${fn}@${i + 1}` : '')).filter((s) => s !== '');
    throw new UserError(
      `argument ${n} of ${fn} is ${param.type}${param.name ? ` ${param.name}` : ''}, not a struct sk_buff *`,
      skbArgs.length ? `did you mean ${skbArgs.join(', ')}?` : `${fn} takes no sk_buff: ${proto.returnType} ${fn}(${proto.params.map((p) => p.type).join(', ')})`,
    );
  }
  const reasonArg = proto.params.findIndex((p) => p.type === 'enum skb_drop_reason');
  // fentry where the kernel can (typed arguments, cheapest), else a kprobe;
  // neither here: the message names the tracepoints that see the same skbs.
  const fentry = probeFeature('fentry');
  if (fentry.status === 'supported') {
    return {
      spec, label: `fentry:${fn}@${n}`, kind: 'fentry', target: fn,
      skb: { offset: (n - 1) * 8, size: 8 },
      reason: reasonArg >= 0 ? { offset: reasonArg * 8, size: 8 } : undefined,
      btfId: proto.btfId,
      freesSkb: FREE_FUNCTIONS.has(fn),
    };
  }
  const kprobes = probeFeature('kprobes');
  if (kprobes.status === 'supported') {
    const regs = loadPtRegsArgOffsets();
    if (n > regs.length) throw new UserError(`${spec}: argument ${n} is passed on the stack, which a kprobe cannot read here`, 'use an argument among the first six');
    return {
      spec, label: `kprobe:${fn}@${n}`, kind: 'kprobe', target: fn,
      skb: { offset: regs[n - 1], size: 8 },
      reason: reasonArg >= 0 && reasonArg < regs.length ? { offset: regs[reasonArg], size: 8 } : undefined,
      freesSkb: FREE_FUNCTIONS.has(fn),
    };
  }
  throw new UserError(
    `${spec}: kernel functions need fentry or kprobes, and this kernel has neither`,
    alternativesHint(),
    `${describeStatus('fentry', fentry)}\n${describeStatus('kprobes', kprobes)}`,
  );
}
