// Where the kernel time of a capture point goes (issue 18, goal 2): netcap's
// skb program at tracepoint:net:netif_receive_skb, and variants of it that
// each leave one thing out, measured by the kernel itself
// (kernel.bpf_stats_enabled: run_time_ns / run_cnt of the attached program,
// which includes the program a dispatcher tail-calls), side by side in one
// run with an anchor: the least a tracepoint program that captures can do
// (find the device, copy the frame, write a ring record).
//
// Each variant is attached alone, for one rate step, while 60-byte frames
// paced through a veth pair in a private namespace reach the tracepoint;
// a reader in this process drains the ring as a capture does (epoll wake-ups
// and a 10 ms timer). Variants alternate within each repetition, so a
// machine that gets busier shifts them all alike.
import { udpFrame, World, inject, type Namespace } from '../lab';
import { Label, Add, Call, Exit, JEq, JNE, LoadMapPtr, LoadMem, Mov, StoreImm, StoreMem } from '../src/ebpf/builders';
import { Helper } from '../src/ebpf/helpers';
import type { Insn } from '../src/ebpf/instruction';
import { R0, R1, R10, R2, R3, R4, R6, R7, R8, type Register } from '../src/ebpf/registers';
import { ProgType } from '../src/bpf/constants';
import { createMap, type BpfMap } from '../src/bpf/map';
import { possibleCpus } from '../src/bpf/cpus';
import { loadProgram, type Program } from '../src/bpf/program';
import { attachTracepoint } from '../src/bpf/link/tracepoint';
import { RingReader } from '../src/bpf/ringbuf';
import { CaptureMaps } from '../src/capture/maps';
import { ProgramSlots } from '../src/capture/slots';
import { RECORD } from '../src/capture/record';
import { resolveInterface, resolveNetns } from '../src/kernel/interfaces';
import { kernelSkbLayout } from '../src/kernel/skb-layout';
import { resolveSkbPoints } from '../src/modes/skb/points';
import { compileSkbFilters } from '../src/modes/skb/index';
import { buildDispatcher } from '../probes/dispatch';
import { buildSkbProgram, META, programType } from '../probes/skb';
import { emitRingOutput, emitScratchLookup, Labels } from '../probes/common';
import { enableBpfStats, bpfStatsEnabled, programRunStats } from './harness/bpf-stats';
import { commandsBlock, num } from './harness/format';
import type { BenchResult, BenchSection } from './harness/section';
import { summarize } from './harness/stats';

const RATES = [20_000, 100_000];
const POINT = 'tracepoint:net:netif_receive_skb';
const FILTER = 'udp port 9';
const SNAPLEN = 262144;
const FRAME_BYTES = 60;
const DRAIN_INTERVAL_MS = 10;

/** What a variant needs from the world: the device netcap's -i names, and the maps of one capture. */
interface Setup {
  ifindex: number;
  /** A device of the namespace the frames never reach the tracepoint on (v0, the sending end). */
  otherIfindex: number;
  netnsInode: number;
  maps: CaptureMaps;
  meta: BpfMap;
}

interface Variant {
  id: string;
  what: string;
  /** Programs to load: the first is attached; a second goes into the first's slot. */
  build(s: Setup, slotsFd: number): { attached: Insn[]; judge?: Insn[] };
}

/** netcap's judging program for the point, built as src/modes/skb builds it (with -i v1, the bench's filter), `wakeup` = with the mode's wakeupAt. */
function skbProgram(s: Setup, opts: { wakeup: boolean; expression?: string; ifindex?: number }): Insn[] {
  const [point] = resolveSkbPoints(POINT);
  return buildSkbProgram({
    point,
    index: 0,
    layout: kernelSkbLayout(),
    filter: compileSkbFilters(opts.expression ?? FILTER, SNAPLEN),
    snaplen: SNAPLEN,
    maps: { ring: s.maps.ring.fd, counters: s.maps.counters.fd, scratch: s.maps.scratchFor(SNAPLEN).fd, meta: s.meta.fd },
    iface: { ifindex: opts.ifindex ?? s.ifindex, netnsInode: s.netnsInode },
    wakeupAt: opts.wakeup ? s.maps.wakeupAt : undefined,
  }).insns;
}

/** The task's metadata (pid, tid, comm): its helper calls become `r0 = 0`, which the verifier accepts as they are (nothing reads their result). */
const TASK_HELPERS: readonly number[] = [Helper.get_current_pid_tgid, Helper.get_current_comm];
function withoutTaskHelpers(insns: Insn[]): Insn[] {
  const call = Call(0).opcode;
  return insns.map((i) => (i.opcode === call && TASK_HELPERS.includes(i.imm) ? Mov.imm(R0, 0) : i));
}

/**
 * The anchor: the -i check (skb->dev, dev->ifindex), then skb->data and
 * skb->len, a copy of the frame's first 60 bytes behind the record header
 * and a ring record of header + 60 bytes; no filter, no counters, no
 * namespace, no metadata but the time. `wakeup`: flags 0 (the kernel wakes
 * the reader whenever it had caught up) instead of BPF_RB_NO_WAKEUP.
 */
function anchorProgram(s: Setup, wakeup: boolean): Insn[] {
  const layout = kernelSkbLayout();
  const [point] = resolveSkbPoints(POINT);
  const out = 'out';
  const read = (dst: number, size: number, srcReg: Register, srcOff: number): Insn[] => [
    Mov.reg(R1, R10), Add.imm(R1, dst), Mov.imm(R2, size), Mov.reg(R3, srcReg), Add.imm(R3, srcOff),
    Call(Helper.probe_read_kernel), JNE.imm(R0, 0, out),
  ];
  return [
    LoadMem(R8, R1, point.skb.offset, 8), JEq.imm(R8, 0, out),
    ...read(-8, 8, R8, layout.skb.dev.offset),
    LoadMem(R3, R10, -8, 8), JEq.imm(R3, 0, out),
    ...read(-16, 4, R3, layout.dev.ifindex.offset),
    LoadMem(R1, R10, -16, 4), JNE.imm32(R1, s.ifindex, out),
    ...emitScratchLookup(s.maps.scratchFor(SNAPLEN).fd, R7, -20, out),
    ...read(-32, 8, R8, layout.skb.data.offset),
    LoadMem(R3, R10, -32, 8),
    Mov.reg(R1, R7), Add.imm(R1, RECORD.headerSize), Mov.imm(R2, FRAME_BYTES), Call(Helper.probe_read_kernel), JNE.imm(R0, 0, out),
    StoreImm(R7, RECORD.caplen, FRAME_BYTES, 4),
    Call(Helper.ktime_get_ns), StoreMem(R7, RECORD.tsNs, R0, 8),
    Mov.imm(R6, FRAME_BYTES),
    ...(wakeup
      ? [LoadMapPtr(R1, s.maps.ring.fd), Mov.reg(R2, R7), Mov.imm(R3, RECORD.headerSize + FRAME_BYTES), Mov.imm(R4, 0), Call(Helper.ringbuf_output)]
      : emitRingOutput(s.maps.ring.fd, R7, R6, SNAPLEN, new Labels('a_'), s.maps.wakeupAt)),
    Label(out), Mov.imm(R0, 0), Exit(),
  ];
}

const VARIANTS: Variant[] = [
  { id: 'empty', what: 'empty program (`r0 = 0; exit`): the floor bpf_stats measures at this hook', build: () => ({ attached: [Mov.imm(R0, 0), Exit()] }) },
  { id: 'anchor', what: '**anchor**: -i check, copy 60 bytes, ring record, the reader woken once an eighth of the ring waits', build: (s) => ({ attached: anchorProgram(s, false) }) },
  { id: 'anchor_wake', what: 'anchor with ring flags 0 (the kernel wakes the reader whenever it had caught up)', build: (s) => ({ attached: anchorProgram(s, true) }) },
  {
    id: 'main',
    what: 'netcap skb before issue 18: dispatcher + tail call, ring flags 0',
    build: (s, slotsFd) => ({ attached: buildDispatcher(slotsFd, 0), judge: skbProgram(s, { wakeup: false }) }),
  },
  {
    id: 'netcap',
    what: '**netcap skb now**: dispatcher + tail call, wakes the reader once an eighth of the ring waits (`wakeupAt`, as mbuf and raw)',
    build: (s, slotsFd) => ({ attached: buildDispatcher(slotsFd, 0), judge: skbProgram(s, { wakeup: true }) }),
  },
  { id: 'direct', what: 'netcap skb now, attached directly (no dispatcher, no tail call)', build: (s) => ({ attached: skbProgram(s, { wakeup: true }) }) },
  { id: 'no_filter', what: 'attached directly, empty expression (no cBPF fragment runs)', build: (s) => ({ attached: skbProgram(s, { wakeup: true, expression: '' }) }) },
  { id: 'no_task', what: 'attached directly, without the task metadata (pid, tid, comm helpers)', build: (s) => ({ attached: withoutTaskHelpers(skbProgram(s, { wakeup: true })) }) },
  {
    id: 'other_device',
    what: 'netcap skb now with -i naming another device: what every other skb at the point pays (dispatcher, tail call, two reads)',
    build: (s, slotsFd) => ({ attached: buildDispatcher(slotsFd, 0), judge: skbProgram(s, { wakeup: true, ifindex: s.otherIfindex }) }),
  },
];

interface Run {
  rep: number;
  nsPerRun: number;
  runs: number;
  records: number;
  sent: number;
}

async function oneRun(ns: Namespace, s: Setup, variant: Variant, rate: number, durationMs: number): Promise<Run> {
  const slots = new ProgramSlots('nc_cost_slot', 1);
  const programs: Program[] = [];
  let reader: RingReader | undefined;
  let timer: NodeJS.Timeout | undefined;
  let detach: (() => void) | undefined;
  try {
    const [point] = resolveSkbPoints(POINT);
    const built = variant.build(s, slots.fd);
    const attached = loadProgram({ ...programType(point), type: ProgType.TRACEPOINT, name: `nccost_${variant.id}`.slice(0, 15), insns: built.attached });
    programs.push(attached);
    if (built.judge) {
      const judge = loadProgram({ type: ProgType.TRACEPOINT, name: 'nccost_judge', insns: built.judge });
      programs.push(judge);
      slots.install(0, judge);
    }
    let records = 0;
    reader = new RingReader(s.maps.ring, (batch) => (records += batch.count));
    const r = reader;
    timer = setInterval(() => r.drain(), DRAIN_INTERVAL_MS);
    const link = attachTracepoint(attached, POINT);
    detach = () => link.close();
    const frame = udpFrame({ dstMac: '02:00:00:00:7c:02', dstIp: '192.0.2.2', dstPort: 9 });
    const sent = await inject(ns, 'v0', [frame], { rate, count: Math.round((rate * durationMs) / 1000), durationMs, timeoutMs: durationMs + 30_000 });
    const stats = programRunStats(attached.id);
    detach();
    detach = undefined;
    reader.drain();
    return { rep: 0, nsPerRun: stats.runCount ? stats.runTimeNs / stats.runCount : NaN, runs: stats.runCount, records, sent };
  } finally {
    detach?.();
    if (timer) clearInterval(timer);
    reader?.close();
    slots.close();
    for (const p of programs.reverse()) p.close();
  }
}

export const section: BenchSection = {
  id: 'probecost',
  title: 'Kernel time per probe run: netcap skb and what each part of it costs',
  budgetMs: 240_000,
  async run(ctx): Promise<BenchResult> {
    const world = new World('bench-cost');
    ctx.onCleanup(() => world.destroy());
    const ns = world.addNamespace();
    ns.addVeth('v0', 'v1', { local: { mac: '02:00:00:00:7c:01' }, peer: { mac: '02:00:00:00:7c:02', address: '192.0.2.2/24' } });
    const netns = resolveNetns(ns.name);
    const iface = resolveInterface('v1', netns);
    const maps = CaptureMaps.create({ points: 1 });
    ctx.onCleanup(() => maps.close());
    const meta = createMap({ type: 'array', name: 'netcap_skbmeta', keySize: 4, valueSize: META.size, maxEntries: possibleCpus() });
    ctx.onCleanup(() => meta.close());
    const setup: Setup = { ifindex: iface.ifindex, otherIfindex: resolveInterface('v0', netns).ifindex, netnsInode: iface.netns.inode, maps, meta };

    ctx.onCleanup(enableBpfStats());
    const durationMs = ctx.quick ? 1000 : 2000;
    const repeats = Math.min(ctx.repeats, 3);
    const runs = new Map<string, Run[]>();
    const failures: string[] = [];
    for (let rep = 0; rep < repeats; rep++) {
      for (const rate of RATES) {
        for (const v of VARIANTS) {
          if (ctx.remainingMs() < durationMs + 10_000) {
            failures.push(`stopped early: the time budget ran out in repetition ${rep + 1}`);
            break;
          }
          try {
            const r = { ...(await oneRun(ns, setup, v, rate, durationMs)), rep };
            runs.set(`${v.id}@${rate}`, [...(runs.get(`${v.id}@${rate}`) ?? []), r]);
          } catch (e) {
            failures.push(`${v.id} at ${rate} pps: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`);
          }
        }
        ctx.log(`rep ${rep + 1}/${repeats} at ${rate} pps done`);
      }
    }
    if (!bpfStatsEnabled()) failures.push('kernel.bpf_stats_enabled was turned off by someone else during the runs: the figures may be short');
    return report(runs, failures, durationMs, repeats);
  },
};

function report(runs: Map<string, Run[]>, failures: string[], durationMs: number, repeats: number): BenchResult {
  const figures: Record<string, number> = {};
  const md: string[] = [
    `60-byte UDP frames paced into v0 of a veth pair in a private namespace for ${durationMs / 1000} s per run; each program below attached alone`,
    `at \`${POINT}\`, matching v1 by ifindex (the -i check); a reader in the bench process drains the ring as a capture does`,
    `(epoll wake-ups and a ${DRAIN_INTERVAL_MS} ms timer). "ns per run" is the kernel's run_time_ns / run_cnt of the attached program`,
    `(kernel.bpf_stats_enabled; a tail-called program's time counts in its dispatcher's), over every skb the tracepoint saw`,
    `(skbs of other interfaces on this shared machine are turned away by the -i check: "runs" against "sent" shows how many there were).`,
    `Medians of ${repeats} repetitions (min..max); variants alternate within each repetition.`,
    '',
  ];
  for (const rate of RATES) {
    md.push(`### ${num(rate)} pps`, '', '| program | ns per run | ratio to anchor | runs | sent | records read |', '|---|---|---|---|---|---|');
    const anchors = runs.get(`anchor@${rate}`) ?? [];
    for (const v of VARIANTS) {
      const rs = runs.get(`${v.id}@${rate}`) ?? [];
      if (rs.length === 0) continue;
      const cell = (xs: number[]) => {
        const x = summarize(xs);
        return x.n ? `${num(x.median)} (${num(x.min)}..${num(x.max)})` : '—';
      };
      // Paired with the anchor of the same repetition.
      const ratios = rs.map((r) => r.nsPerRun / (anchors.find((a) => a.rep === r.rep)?.nsPerRun ?? NaN));
      md.push(`| ${v.what} | ${cell(rs.map((r) => r.nsPerRun))} | ${v.id === 'anchor' ? 'anchor' : `${cell(ratios)}x`} | ${cell(rs.map((r) => r.runs))} | ${cell(rs.map((r) => r.sent))} | ${cell(rs.map((r) => r.records))} |`);
      const k = `probecost.${Math.round(rate / 1000)}k.${v.id}`;
      figures[`${k}_ns`] = summarize(rs.map((r) => r.nsPerRun)).median;
      if (v.id !== 'anchor') figures[`${k}.ratio_vs_anchor`] = summarize(ratios).median;
    }
    md.push('');
  }
  md.push(
    commandsBlock([
      `sysctl kernel.bpf_stats_enabled=1   # restored afterwards`,
      `ip netns exec <ns> inject send -i v0 -R <rate> -d ${durationMs}   # lab/inject.c`,
      `bpftool -j prog show id <id>   # run_time_ns, run_cnt`,
    ]),
  );
  if (failures.length) md.push('', ...failures.map((f) => `Note: ${f}.`));
  return { markdown: md.join('\n'), figures, skipped: failures };
}

