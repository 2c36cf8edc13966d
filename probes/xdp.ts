// The capture program `netcap xdp` puts into one slot of an xdpcap hook
// (probes/xdp-hook.ts): the XDP program tail-called into it has already
// chosen `action`, and this program returns exactly that on every path,
// whatever the filter, the copy or the ring do. It is a function of
// (action, filter, snap length, map fds), rebuilt and swapped into the
// slot when the filter changes (one map update: atomic).
//
// Per packet:
//   count "seen" for the point; wirelen = bpf_xdp_get_buff_len (the whole
//   frame, every buffer of a multi-buffer packet);
//   - the packet is linear (data + wirelen <= data_end): run the filter on
//     the packet itself (the packet-pointer memory model: no copy for a
//     packet the filter rejects); on a match copy min(wirelen, snaplen,
//     the filter's snap) bytes with bpf_xdp_load_bytes;
//   - a multi-buffer packet (XDP frags): copy min(wirelen, snaplen) bytes of
//     every buffer first (bpf_xdp_load_bytes crosses them) and run the
//     filter on the copy (the buffer model), so a filter reading beyond the
//     first buffer judges the same bytes libpcap would;
//   on a match count "matched", write the record header (the kernel time
//   now, ifindex = ctx->ingress_ifindex, direction inbound) and send header
//   + bytes to the ring; count "lost" when the ring is full. Return action.
//
// Registers: r6 ctx, r7 wire length, r8 bytes copied / to copy, r9 the
// per-CPU scratch record. The filter uses r0-r5 and M[] on the stack.
import { Add, Call, Exit, Ja, JEq, JGT, JLE, JNE, Label, LoadMem, Mov, StoreImm } from '../src/ebpf/builders';
import { Helper } from '../src/ebpf/helpers';
import type { Insn } from '../src/ebpf/instruction';
import { pruneUnreachable } from '../src/ebpf/prune';
import { R0, R1, R10, R2, R3, R4, R5, R6, R7, R8, R9 } from '../src/ebpf/registers';
import { COUNTER, COUNTERS_PER_POINT, FLAG_DIRECTION_KNOWN, FLAG_READ_FAILED, RECORD } from '../src/capture/record';
import { LINKTYPE_ETHERNET } from '../src/output/linktypes';
import { compileToEbpf, type MemoryModel } from '../src/filter/compiler';
import type { CbpfInsn } from '../src/filter/cbpf';
import { emitCounterAdd, emitRecordHeader, emitRingOutput, emitScratchLookup, Labels } from './common';

/** struct xdp_md (include/uapi/linux/bpf.h): the u32 fields the program reads. */
export const XDP_MD = { data: 0, dataEnd: 4, ingressIfindex: 12 } as const;

// Stack slots (offsets from r10).
const STACK_COUNTER_KEY = -4;
const STACK_CPU_KEY = -8;
const STACK_FLAGS = -12;
/** cBPF's M[0..15]: 64 bytes below the slots above. */
const STACK_FILTER_MEM = -80;

/** Linear packet data is shorter than 64 KiB: a longer wire length always means several buffers. */
const MAX_LINEAR = 0xffff;

/** What every XDP capture program (hook slot, fentry/fexit) is built from. */
export interface XdpCaptureProgramOptions {
  /** Index of the capture point (record.point, counter slots). */
  point: number;
  /** The filter compiled by libpcap for EN10MB; undefined = every packet. */
  filter: readonly CbpfInsn[] | undefined;
  snaplen: number;
  maps: { ring: number; counters: number; scratch: number };
  /** Wake the reader only when this many bytes wait in the ring (see emitRingOutput). */
  wakeupAt?: number;
}

export interface XdpHookProgramOptions extends XdpCaptureProgramOptions {
  /** The XDP action (enum xdp_action) of the slot: the program's only return value. */
  action: number;
}

export function buildXdpHookProgram(o: XdpHookProgramOptions): Insn[] {
  if (!Number.isInteger(o.action) || o.action < 0 || o.action > 4) throw new Error(`XDP action ${o.action} is not 0..4`);
  const labels = new Labels(`x${o.point}_`);
  const counter = (which: number): Insn[] => emitCounterAdd(o.maps.counters, o.point * COUNTERS_PER_POINT + which, 1, STACK_COUNTER_KEY, labels);
  const L = { frags: 'frags', linearMatch: 'linear_match', fragsMatch: 'frags_match', copyFailed: 'copy_failed', fragsUnread: 'frags_unread', record: 'record', out: 'out' };
  const filter = (model: MemoryModel, match: string, prefix: string): Insn[] =>
    o.filter
      ? compileToEbpf(o.filter, { model, a: R0, x: R1, tmp: R4, wirelen: R7, result: R0, stackBase: STACK_FILTER_MEM, match, noMatch: L.out, prefix })
      : [Mov.imm(R0, 0x7fffffff), Ja(match)];
  // r8 = min(r8, limit): the verifier follows the bound through both paths.
  const clamp = (limit: number, label: string): Insn[] => [JLE.imm(R8, limit, label), Mov.imm(R8, limit), Label(label)];
  // Copies r8 bytes from the packet's start to the record's data; r0 = 0 on success. Needs r8 in 1..snaplen.
  const copy = (): Insn[] => [Mov.reg(R1, R6), Mov.imm(R2, 0), Mov.reg(R3, R9), Add.imm(R3, RECORD.headerSize), Mov.reg(R4, R8), Call(Helper.xdp_load_bytes)];

  const insns: Insn[] = [
    Mov.reg(R6, R1).withComment('r6 = ctx'),
    StoreImm(R10, STACK_FLAGS, FLAG_DIRECTION_KNOWN, 1).withComment('XDP sees packets as they arrive: inbound'),
    ...counter(COUNTER.seen),
    Mov.reg(R1, R6),
    Call(Helper.xdp_get_buff_len),
    Mov.reg(R7, R0).withComment('r7 = wire length, every buffer'),
    LoadMem(R2, R6, XDP_MD.data, 4),
    LoadMem(R3, R6, XDP_MD.dataEnd, 4),
    JGT.imm(R7, MAX_LINEAR, L.frags),
    Mov.reg(R4, R2),
    Add.reg(R4, R7),
    JGT.reg(R4, R3, L.frags).withComment('more than the first buffer holds: a multi-buffer packet'),
    ...filter({ kind: 'packet', data: R2, dataEnd: R3 }, L.linearMatch, `${labels.prefix}l_`),

    // Linear: the filter matched with its snap length in r0; copy what is kept.
    Label(L.linearMatch),
    Mov.reg(R8, R0),
    JLE.reg(R8, R7, 'linear_fits'),
    Mov.reg(R8, R7),
    Label('linear_fits'),
    ...clamp(o.snaplen, 'linear_snap'),
    ...emitScratchLookup(o.maps.scratch, R9, STACK_CPU_KEY, L.out),
    JEq.imm(R8, 0, L.record),
    ...copy(),
    JEq.imm(R0, 0, L.record),
    Ja(L.copyFailed),

    // Multi-buffer: copy first, then filter the copy.
    Label(L.frags),
    ...emitScratchLookup(o.maps.scratch, R9, STACK_CPU_KEY, L.out),
    Mov.reg(R8, R7),
    ...clamp(o.snaplen, 'frags_snap'),
    JEq.imm(R8, 0, 'frags_filter'),
    ...copy(),
    JNE.imm(R0, 0, L.fragsUnread),
    Label('frags_filter'),
    Mov.reg(R5, R9),
    Add.imm(R5, RECORD.headerSize),
    ...filter({ kind: 'buffer', data: R5, caplen: R8, bufferSize: o.snaplen }, L.fragsMatch, `${labels.prefix}m_`),
    Label(L.fragsMatch),
    JLE.reg(R8, R0, L.record),
    Mov.reg(R8, R0),
    Ja(L.record),

    // Reads that failed (never seen: the lengths come from the kernel): counted. Before
    // the filter ran it is "no match"; after a match the record goes out without bytes.
    Label(L.fragsUnread),
    ...counter(COUNTER.readErrors),
    Ja(L.out),
    Label(L.copyFailed),
    ...counter(COUNTER.readErrors),
    Mov.imm(R8, 0),
    StoreImm(R10, STACK_FLAGS, FLAG_DIRECTION_KNOWN | FLAG_READ_FAILED, 1),

    Label(L.record),
    ...counter(COUNTER.matched),
    LoadMem(R2, R6, XDP_MD.ingressIfindex, 4),
    LoadMem(R3, R10, STACK_FLAGS, 1),
    ...emitRecordHeader(R9, { wirelen: R7, caplen: R8, ifindex: R2, flags: R3, point: o.point, linktype: LINKTYPE_ETHERNET }),
    ...emitRingOutput(o.maps.ring, R9, R8, o.snaplen, labels, o.wakeupAt),
    JEq.imm(R0, 0, L.out),
    ...counter(COUNTER.lost),
    Ja(L.out),

    Label(L.out),
    Mov.imm(R0, o.action).withComment('the verdict the XDP program chose, always'),
    Exit(),
  ];
  return pruneUnreachable(insns);
}
