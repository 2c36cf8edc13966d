// The part of a user-space probe that runs once per packet, after the bytes
// are in the scratch record: the filter, then (on a match) the counters,
// the record header and the ring output. Shared by the mbuf and raw probes.
//
// Register contract on entry (all callee-saved, so helpers keep them):
//   r6 = wire length, r7 = bytes copied (<= snaplen), r8 = packet address
//   (mbuf or data pointer), r9 = scratch record (map value pointer)
// and on the stack: the port at SLOT.port (u32), the flags at SLOT.flags (u8).
// Falls through to `done` (a label the caller places after it).
import { Label, Add, Ja, JEq, JGT, JLE, LoadMem, Mov, StoreMem } from '../src/ebpf/builders';
import type { Insn } from '../src/ebpf/instruction';
import { R0, R1, R10, R2, R3, R6, R7, R8, R9 } from '../src/ebpf/registers';
import { COUNTER, COUNTERS_PER_POINT, RECORD } from '../src/capture/record';
import { emitCounterAdd, emitRecordHeader, emitRingOutput, type FilterEmitter, type Labels } from './common';

/** Stack slots (offsets from r10) every user-space probe uses. */
export const SLOT = {
  /** 4-byte map key. */
  key: -8,
  /** u32 port of the current mbuf (0 in raw mode). */
  port: -12,
  /** u8 record flags of the current packet. */
  flags: -13,
  /** Burst loop: index, count, array pointer. */
  index: -24,
  count: -32,
  array: -40,
  /** One mbuf pointer read from the array. */
  element: -48,
  /** pid_tgid key of the saved-arguments map (return probes). */
  pidTgid: -56,
  /** Segments left to follow in a chain. */
  segmentsLeft: -64,
  /** Size of the copy in flight. */
  copySize: -72,
  /** r6-r9 while the filter runs (4 x 8 bytes). */
  spill: -104,
  /** The mbuf header read from user memory (up to 128 bytes). */
  mbufHeader: -232,
  /** cBPF scratch memory M[0..15] (64 bytes). */
  filterMemory: -296,
  /** The probe's context (struct pt_regs *), for bpf_tail_call. */
  ctx: -304,
  /** Burst worker: index of its first mbuf. */
  base: -312,
} as const;

export interface PacketBodyOptions {
  ringFd: number;
  countersFd: number;
  point: number;
  snaplen: number;
  linktype: number;
  filter: FilterEmitter;
  labels: Labels;
  /** Label after the body. */
  done: string;
  /** Wake the reader only when this many bytes wait in the ring (see emitRingOutput). */
  wakeupAt?: number;
}

export function emitPacketBody(o: PacketBodyOptions): Insn[] {
  const L = o.labels;
  const matched = L.next('matched');
  const noMatch = L.next('nomatch');
  const keepCaplen = L.next('caplen');
  const written = L.next('written');
  const counter = (k: number) => o.point * COUNTERS_PER_POINT + k;
  const spill = (i: number) => SLOT.spill + 8 * i;
  return [
    // The fragment may use every register: keep ours on the stack.
    StoreMem(R10, spill(0), R6, 8),
    StoreMem(R10, spill(1), R7, 8),
    StoreMem(R10, spill(2), R8, 8),
    StoreMem(R10, spill(3), R9, 8),
    // Never taken (r7 <= snaplen here), but they keep both exits of the
    // fragment reachable in the verifier's CFG check (check_cfg refuses
    // unreachable instructions) for filters that always or never match.
    JGT.imm(R7, o.snaplen, noMatch),
    JGT.imm(R7, o.snaplen, matched),
    Mov.reg(R1, R9),
    Add.imm(R1, RECORD.headerSize),
    ...o.filter({
      data: R1,
      caplen: R7,
      wirelen: R6,
      match: matched,
      result: R0,
      noMatch,
      stackBase: SLOT.filterMemory,
      labelPrefix: `${L.prefix}f_`,
    }),
    // The filter's result is the snap length cBPF asks for: keep the smaller.
    Label(matched),
    Mov.reg(R2, R0),
    LoadMem(R6, R10, spill(0), 8),
    LoadMem(R7, R10, spill(1), 8),
    LoadMem(R8, R10, spill(2), 8),
    LoadMem(R9, R10, spill(3), 8),
    JLE.reg(R7, R2, keepCaplen),
    Mov.reg(R7, R2),
    Label(keepCaplen),
    ...emitCounterAdd(o.countersFd, counter(COUNTER.matched), 1, SLOT.key, L),
    LoadMem(R2, R10, SLOT.port, 4),
    LoadMem(R3, R10, SLOT.flags, 1),
    ...emitRecordHeader(R9, { addr: R8, wirelen: R6, caplen: R7, ifindex: R2, flags: R3, point: o.point, linktype: o.linktype }),
    ...emitRingOutput(o.ringFd, R9, R7, o.snaplen, L, o.wakeupAt),
    JEq.imm(R0, 0, written),
    ...emitCounterAdd(o.countersFd, counter(COUNTER.lost), 1, SLOT.key, L),
    Ja(o.done),
    Label(written),
    Ja(o.done),
    // The filter said no: nothing else to do for this packet (r9 stays the
    // scratch record for the caller's next packet).
    Label(noMatch),
    LoadMem(R9, R10, spill(3), 8),
    Ja(o.done),
  ];
}
