// Point resolution and program shapes for every kind of skb point,
// including the fentry/kprobe forms this kernel cannot run: their programs
// are built (not loaded) and checked against the kernel's own layouts
// (tracefs formats, BTF prototypes, the pt_regs offsets src/targets reads).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UserError } from '../../src/errors';
import { ProgType, AttachType } from '../../src/bpf/constants';
import { loadKernelBtf } from '../../src/btf/kernel';
import { tracepointFormat } from '../../src/tracefs/tracepoint';
import { argRegOffset } from '../../src/targets/registers';
import { kernelSkbLayout } from '../../src/kernel/skb-layout';
import { LoadMem } from '../../src/ebpf/builders';
import { R8, R9 } from '../../src/ebpf/registers';
import { resolveSkbPoints, type SkbPoint } from '../../src/modes/skb/points';
import { buildSkbProgram } from '../../probes/skb';
import { compileSkbFilters } from '../../src/modes/skb';

const resolveSkbPoint = (spec: string): SkbPoint => resolveSkbPoints(spec)[0];

const fakeMaps = { ring: 3, counters: 4, scratch: 5, meta: 6 };

function build(point: SkbPoint) {
  return buildSkbProgram({ point, index: 0, layout: kernelSkbLayout(), filter: compileSkbFilters('udp', 262144), snaplen: 262144, maps: fakeMaps });
}

void test('tracepoint points take the skb and the reason where the tracefs format says', () => {
  const p = resolveSkbPoint('tp:skb:kfree_skb');
  const fields = tracepointFormat('skb:kfree_skb').fields;
  assert.equal(p.label, 'tracepoint:skb:kfree_skb');
  assert.equal(p.skb.offset, fields.find((f) => f.name === 'skbaddr')!.offset);
  assert.equal(p.reason!.offset, fields.find((f) => f.name === 'reason')!.offset);
  assert.equal(p.freesSkb, true);
  assert.equal(resolveSkbPoint('tracepoint:net:netif_receive_skb').direction, 'in');
  assert.equal(resolveSkbPoint('tracepoint:net:net_dev_queue').direction, 'out');
  const spec = build(p);
  assert.equal(spec.type, ProgType.TRACEPOINT);
  assert.ok(spec.insns.some((i) => i.equals(LoadMem(R8, R9, p.skb.offset, 8))), 'reads the skb from the record');
});

void test('raw_tp/tp_btf points take the sk_buff argument of the btf_trace_ prototype', () => {
  const proto = loadKernelBtf().tracepointProto('kfree_skb');
  const raw = resolveSkbPoint('raw_tp:kfree_skb');
  assert.equal(raw.skb.offset, 8 * proto.params.findIndex((p) => p.type === 'struct sk_buff *'));
  assert.equal(raw.reason!.offset, 8 * proto.params.findIndex((p) => p.type === 'enum skb_drop_reason'));
  assert.equal(build(raw).type, ProgType.RAW_TRACEPOINT);
  assert.equal(resolveSkbPoint('raw_tp:net:netif_receive_skb').target, 'netif_receive_skb');
});

void test('fentry and kprobe programs (built, not loaded): typed context slot, pt_regs register of argument N', () => {
  const btfId = loadKernelBtf().funcProto('ip_rcv').btfId;
  const fentry: SkbPoint = { spec: 'ip_rcv@1', label: 'fentry:ip_rcv@1', kind: 'fentry', target: 'ip_rcv', skb: { offset: 0, size: 8 }, btfId, freesSkb: false };
  const f = build(fentry);
  assert.equal(f.type, ProgType.TRACING);
  assert.equal(f.expectedAttachType, AttachType.TRACE_FENTRY);
  assert.equal(f.attachBtfId, btfId);
  // kprobe: argument N from struct pt_regs, as src/targets maps the SysV registers (checked there against the kernel's BTF).
  const kprobe: SkbPoint = { spec: 'ip_rcv@1', label: 'kprobe:ip_rcv@1', kind: 'kprobe', target: 'ip_rcv', skb: { offset: argRegOffset(1), size: 8 }, freesSkb: false };
  const k = build(kprobe);
  assert.equal(k.type, ProgType.KPROBE);
  assert.ok(k.insns.some((i) => i.equals(LoadMem(R8, R9, argRegOffset(1), 8))), 'reads rdi');
});

void test('bad points are UserErrors that say what is wrong', () => {
  const cases: [string, RegExp][] = [
    ['', /empty point in -f/],
    ['tracepoint:net:netif_receive_skb,', /empty point in -f/],
    ['tracepoint:net:netif_receive_skb,tp:net:netif_receive_skb', /listed twice/],
    ['raw_tp:sched_switch', /raw tracepoint sched_switch has no struct sk_buff \* argument/],
    ['ip_rcv@9', /ip_rcv has 4 arguments, so ip_rcv@9 names none/],
    ['nonsense!', /bad point 'nonsense!' in -f/],
    ['raw_tp:kfree_skb@2', /argument 2 of raw tracepoint kfree_skb is .*, not a struct sk_buff \*/],
  ];
  for (const [spec, message] of cases) {
    assert.throws(() => resolveSkbPoints(spec), (e: unknown) => e instanceof UserError && message.test(e.message), spec);
  }
});
