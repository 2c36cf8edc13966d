// Uprobe programs (BPF_PROG_TYPE_KPROBE, ctx = struct pt_regs *) that read
// packets out of DPDK's struct rte_mbuf in the traced process:
//
//   func@N         arg N is one mbuf                 -> the dispatcher, and
//                  the program it tail-calls from the point's slot
//   func@N@M       arg N is an mbuf array, M its count -> a program that
//                  notes the array and count, then tail-calls the worker in
//                  the point's slot
//   func@N@ret     arg N is an mbuf array filled by the function; the count
//                  is its return value                -> an entry program saving
//                  arg N per thread + a uretprobe program reading it back and
//                  tail-calling the same worker
//
// The attached programs never change during a capture; the program in the
// slot (single program or worker) holds the filter and the snap length and
// is replaced to change them (src/capture/slots.ts).
//
// Per mbuf: bpf_probe_read_user the header (offsets from the DPDK release's
// layout), copy up to the snap length from buf_addr + data_off into the
// scratch record, following `next` through a chain (bounded), then run the
// filter and emit (probes/packet-body.ts). Nothing is ever written to user
// memory; probe_read_user never sleeps (a paged-out page is a read error).
//
// Loops: the verifier proves bounded loops (Linux 5.3+) by walking every
// iteration, and a loop over 512 mbufs, each with a segment loop and the
// filter, exceeds what it will walk. So the worker takes CHUNK mbufs per
// run and tail-calls itself for the next chunk (bpf_tail_call, at most 33
// in a row: 32 chunks of 16 cover MAX_BURST); the burst position lives in a
// per-CPU state map (a tail call runs on the same CPU). bpf_loop (5.17+)
// would need BTF func_info for its callback, which the addon does not load.
import { Label, Add, And, Call, Exit, Ja, JEq, JGE, JGT, JLE, JNE, LoadMapPtr, LoadMem, LSh, Mov, Or, StoreImm, StoreMem, Sub } from '../src/ebpf/builders';
import { Helper } from '../src/ebpf/helpers';
import type { Insn } from '../src/ebpf/instruction';
import { R0, R1, R10, R2, R3, R4, R6, R7, R8, R9 } from '../src/ebpf/registers';
import { COUNTER, COUNTERS_PER_POINT, FLAG_READ_FAILED, RECORD } from '../src/capture/record';
import { LINKTYPE_ETHERNET } from '../src/output/linktypes';
import { emitCounterAdd, emitCounterAddReg, emitScratchLookup, Labels, zeroExtend16, type FilterEmitter } from './common';
import { emitPacketBody, SLOT } from './packet-body';
import { buildDispatcher } from './dispatch';

/** Largest burst one hit captures; more mbufs in one call are counted as seen but not read. */
export const MAX_BURST = 512;
/** Segments of a chained mbuf followed (DPDK's own limit is RTE_MBUF_MAX_NB_SEGS = 65535; real chains are short). */
export const MAX_SEGMENTS = 32;
/** Mbufs one worker run handles before it tail-calls itself. */
export const CHUNK = 16;
/** Segments followed per mbuf in a burst (the worker, CHUNK mbufs x 32 segments, loads in 20-90 ms). */
export const MAX_BURST_SEGMENTS = MAX_SEGMENTS;
/** Bytes of the per-CPU burst state: u64 array pointer, u64 count, u64 next index. */
export const BURST_STATE_SIZE = 24;

/** Byte offsets of the rte_mbuf fields a probe reads (from src/dpdk's table). */
export interface MbufOffsets {
  bufAddr: number;
  /** u16 */
  dataOff: number;
  /** u16 */
  port: number;
  /** u32 */
  pktLen: number;
  /** u16 */
  dataLen: number;
  /** pointer */
  next: number;
}

/** The smallest all-ones mask covering 0..n. */
export function rangeMask(n: number): number {
  let m = 1;
  while (m <= n) m = m * 2;
  return m - 1;
}

/** How many header bytes to read so every field is covered. */
export function mbufHeaderBytes(o: MbufOffsets): number {
  return Math.max(o.bufAddr + 8, o.dataOff + 2, o.port + 2, o.pktLen + 4, o.dataLen + 2, o.next + 8);
}

export type MbufPointKind = 'single' | 'burst' | 'return';

/** One point: its shape, where its arguments are, and the maps that last as long as the capture. */
export interface MbufPointSpec {
  kind: MbufPointKind;
  /** pt_regs offset of the mbuf (single) or mbuf array (burst, return) argument. */
  argOffset: number;
  /** pt_regs offset of the count argument (burst). */
  countOffset?: number;
  /** pt_regs offset of the return value (return probes: rax on x86-64). */
  retOffset?: number;
  /** Index of this point in the capture (record.point, counters, its slot). */
  point: number;
  countersFd: number;
  /** The program array whose slot `point` holds the program that judges this point's packets (src/capture/slots.ts). */
  slotsFd: number;
  /** Return probes: the hash map (u64 pid_tgid -> u64 array pointer) the entry program fills. */
  savedArgsFd?: number;
  /** Bursts: a per-CPU array with one BURST_STATE_SIZE entry per point. */
  burstStateFd?: number;
}

/** What the judging program needs besides the point: the mbuf layout and the current filter and snap length. */
export interface MbufJudgeSpec {
  layout: MbufOffsets;
  snaplen: number;
  filter: FilterEmitter;
  ringFd: number;
  scratchFd: number;
  /** Wake the reader only when this many bytes wait in the ring (probes/common.ts emitRingOutput). */
  wakeupAt?: number;
}

type MbufProbeSpec = MbufPointSpec & MbufJudgeSpec;

/**
 * The programs attached to the function for the whole capture: `entry` on
 * its entry, `exit` on its return (return points). A single point's entry
 * is the dispatcher; a burst's (or a return point's exit) notes the array
 * and count and tail-calls the worker in the slot.
 */
export function buildMbufAttached(spec: MbufPointSpec): { entry: Insn[]; exit?: Insn[] } {
  switch (spec.kind) {
    case 'single':
      return { entry: buildDispatcher(spec.slotsFd, spec.point) };
    case 'burst':
      if (spec.countOffset === undefined) throw new Error('a burst point needs the count argument');
      return { entry: burstStart(spec, loadArgs(spec.argOffset, spec.countOffset)) };
    case 'return':
      if (spec.savedArgsFd === undefined || spec.retOffset === undefined) throw new Error('a return point needs the saved-arguments map and the return register');
      return { entry: saveArgProgram(spec.argOffset, spec.savedArgsFd), exit: burstStart(spec, loadSavedArgs(spec.savedArgsFd, spec.retOffset)) };
  }
}

/** The program in the point's slot: the single-mbuf program, or the burst worker; rebuilt for every filter or snap length. */
export function buildMbufJudge(point: MbufPointSpec, judge: MbufJudgeSpec): Insn[] {
  if (mbufHeaderBytes(judge.layout) > 128) throw new Error('rte_mbuf layout reads beyond 128 bytes');
  const spec: MbufProbeSpec = { ...point, ...judge };
  return point.kind === 'single' ? singleProgram(spec) : burstWorker(spec);
}

const counterIndex = (spec: MbufPointSpec, k: number) => spec.point * COUNTERS_PER_POINT + k;

function singleProgram(spec: MbufProbeSpec): Insn[] {
  const L = new Labels('s_');
  return [
    LoadMem(R8, R1, spec.argOffset, 8),
    JEq.imm(R8, 0, 'out'),
    ...emitCounterAdd(spec.countersFd, counterIndex(spec, COUNTER.seen), 1, SLOT.key, L),
    ...emitScratchLookup(spec.scratchFd, R9, SLOT.key, 'out'),
    ...emitOneMbuf(spec, L, 'out'),
    Label('out'), Mov.imm(R0, 0),
    Exit(),
  ];
}

/** Entry half of a return point: remember arg N of this thread until the function returns. */
function saveArgProgram(argOffset: number, savedArgsFd: number): Insn[] {
  return [
    LoadMem(R6, R1, argOffset, 8),
    StoreMem(R10, SLOT.array, R6, 8),
    Call(Helper.get_current_pid_tgid),
    StoreMem(R10, SLOT.pidTgid, R0, 8),
    LoadMapPtr(R1, savedArgsFd),
    Mov.reg(R2, R10),
    Add.imm(R2, SLOT.pidTgid),
    Mov.reg(R3, R10),
    Add.imm(R3, SLOT.array),
    Mov.imm(R4, 0), // BPF_ANY: a recursive call overwrites the outer one's array (rare; documented)
    Call(Helper.map_update_elem),
    Mov.imm(R0, 0),
    Exit(),
  ];
}

/** Burst: the array and the count straight from the argument registers. Leaves count in r6. */
function loadArgs(arrayOffset: number, countOffset: number): Insn[] {
  return [
    LoadMem(R2, R1, arrayOffset, 8),
    StoreMem(R10, SLOT.array, R2, 8),
    LoadMem(R6, R1, countOffset, 8),
    // DPDK counts are uint16_t: the register's upper bits are undefined.
    zeroExtend16(R6),
  ];
}

/** Return: the array saved at entry (then forgotten), the count from the return value. Leaves count in r6. */
function loadSavedArgs(savedArgsFd: number, retOffset: number): Insn[] {
  return [
    LoadMem(R6, R1, retOffset, 8),
    zeroExtend16(R6),
    Call(Helper.get_current_pid_tgid),
    StoreMem(R10, SLOT.pidTgid, R0, 8),
    LoadMapPtr(R1, savedArgsFd),
    Mov.reg(R2, R10),
    Add.imm(R2, SLOT.pidTgid),
    Call(Helper.map_lookup_elem),
    JEq.imm(R0, 0, 'out'),
    LoadMem(R2, R0, 0, 8),
    StoreMem(R10, SLOT.array, R2, 8),
    LoadMapPtr(R1, savedArgsFd),
    Mov.reg(R2, R10),
    Add.imm(R2, SLOT.pidTgid),
    Call(Helper.map_delete_elem),
  ];
}

function burstMaps(spec: MbufPointSpec): { state: number; progs: number } {
  if (spec.burstStateFd === undefined) throw new Error('a burst point needs the burst state map');
  return { state: spec.burstStateFd, progs: spec.slotsFd };
}

/** r0 = this point's burst state (a map value), or `exitLabel`. Clobbers r0-r5. */
function lookupState(stateFd: number, point: number, exitLabel: string): Insn[] {
  return [
    StoreImm(R10, SLOT.key, point, 4),
    LoadMapPtr(R1, stateFd),
    Mov.reg(R2, R10),
    Add.imm(R2, SLOT.key),
    Call(Helper.map_lookup_elem),
    JEq.imm(R0, 0, exitLabel),
  ];
}

/** bpf_tail_call(ctx, progs, point): does not return when it works; falls through when it fails. */
function tailCallWorker(progsFd: number, point: number): Insn[] {
  return [LoadMem(R1, R10, SLOT.ctx, 8), LoadMapPtr(R2, progsFd), Mov.imm(R3, point), Call(Helper.tail_call)];
}

/**
 * Start of a burst (entry probe, or the return probe of a return point):
 * count the burst as seen, note array and count in the per-CPU state and
 * hand over to the worker. Expects the array in SLOT.array and the count in r6.
 */
function burstStart(spec: MbufPointSpec, loadArrayAndCount: Insn[]): Insn[] {
  const L = new Labels('b_');
  const maps = burstMaps(spec);
  return [
    StoreMem(R10, SLOT.ctx, R1, 8),
    ...loadArrayAndCount,
    JEq.imm(R6, 0, 'out'),
    // Every mbuf of the burst is seen, even those beyond MAX_BURST.
    ...emitCounterAddReg(spec.countersFd, counterIndex(spec, COUNTER.seen), R6, SLOT.key, L),
    JLE.imm(R6, MAX_BURST, 'counted'),
    Mov.imm(R6, MAX_BURST),
    Label('counted'),
    ...lookupState(maps.state, spec.point, 'out'),
    LoadMem(R1, R10, SLOT.array, 8),
    StoreMem(R0, 0, R1, 8),
    StoreMem(R0, 8, R6, 8),
    StoreImm(R0, 16, 0, 8),
    ...tailCallWorker(maps.progs, spec.point),
    Label('out'), Mov.imm(R0, 0),
    Exit(),
  ];
}

/**
 * The worker: mbufs next .. next+CHUNK-1 of the noted burst, then the next
 * chunk through a tail call to itself.
 */
function burstWorker(spec: MbufProbeSpec): Insn[] {
  const L = new Labels('w_');
  const maps = burstMaps(spec);
  return [
    StoreMem(R10, SLOT.ctx, R1, 8),
    ...lookupState(maps.state, spec.point, 'out'),
    LoadMem(R1, R0, 0, 8),
    StoreMem(R10, SLOT.array, R1, 8),
    LoadMem(R1, R0, 8, 8),
    StoreMem(R10, SLOT.count, R1, 8),
    LoadMem(R1, R0, 16, 8),
    StoreMem(R10, SLOT.base, R1, 8),
    ...emitScratchLookup(spec.scratchFd, R9, SLOT.key, 'out'),
    StoreImm(R10, SLOT.index, 0, 8),
    // for (k = 0; k < CHUNK && base + k < count; k++) capture(array[base + k])
    Label('loop'),
    LoadMem(R1, R10, SLOT.index, 8),
    JGE.imm(R1, CHUNK, 'chunk_done'),
    LoadMem(R2, R10, SLOT.base, 8),
    Add.reg(R2, R1),
    LoadMem(R3, R10, SLOT.count, 8),
    JGE.reg(R2, R3, 'out'),
    LoadMem(R3, R10, SLOT.array, 8),
    LSh.imm(R2, 3),
    Add.reg(R3, R2),
    Mov.reg(R1, R10),
    Add.imm(R1, SLOT.element),
    Mov.imm(R2, 8),
    Call(Helper.probe_read_user),
    JEq.imm(R0, 0, 'element_read'),
    ...emitCounterAdd(spec.countersFd, counterIndex(spec, COUNTER.readErrors), 1, SLOT.key, L),
    Ja('next'),
    Label('element_read'), LoadMem(R8, R10, SLOT.element, 8),
    JEq.imm(R8, 0, 'next'),
    ...emitOneMbuf(spec, L, 'next'),
    Label('next'), LoadMem(R1, R10, SLOT.index, 8),
    Add.imm(R1, 1),
    StoreMem(R10, SLOT.index, R1, 8),
    Ja('loop'),
    // The chunk is done: note where the next one starts and run it.
    Label('chunk_done'),
    ...lookupState(maps.state, spec.point, 'out'),
    LoadMem(R1, R10, SLOT.base, 8),
    Add.imm(R1, CHUNK),
    StoreMem(R0, 16, R1, 8),
    LoadMem(R2, R10, SLOT.count, 8),
    JGE.reg(R1, R2, 'out'),
    ...tailCallWorker(maps.progs, spec.point),
    Label('out'), Mov.imm(R0, 0),
    Exit(),
  ];
}

/**
 * One mbuf at r8, scratch record at r9: copy its bytes (following the chain)
 * then filter and emit. Ends by jumping to (or falling into) `done`.
 */
function emitOneMbuf(spec: MbufProbeSpec, L: Labels, done: string): Insn[] {
  const m = spec.layout;
  const hdr = SLOT.mbufHeader;
  const headerBytes = mbufHeaderBytes(m);
  const segment = L.next('segment');
  const clamped = L.next('clamped');
  const copiedAll = L.next('copied');
  const readFailed = L.next('readfail');
  const firstFailed = L.next('firstfail');
  const bodyDone = L.next('body_done');
  const readHeader = (from: typeof R3) => [
    Mov.reg(R1, R10),
    Add.imm(R1, hdr),
    Mov.imm(R2, headerBytes),
    Mov.reg(R3, from),
    Call(Helper.probe_read_user),
  ];
  return [
    ...readHeader(R8),
    JNE.imm(R0, 0, firstFailed),
    LoadMem(R6, R10, hdr + m.pktLen, 4),
    LoadMem(R1, R10, hdr + m.port, 2),
    StoreMem(R10, SLOT.port, R1, 4),
    StoreImm(R10, SLOT.flags, 0, 1),
    StoreImm(R10, SLOT.segmentsLeft, spec.kind === 'single' ? MAX_SEGMENTS : MAX_BURST_SEGMENTS, 8),
    Mov.imm(R7, 0),
    // Copy min(data_len, room) bytes of this segment to record + header + copied.
    // The masks are no-ops at run time (r7 < snaplen here, the size fits in
    // data_len's u16); they give every path one range, so the verifier's
    // states at the loop head and after the clamp are equal and pruned
    // instead of doubling with each segment.
    Label(segment),
    And.imm(R7, rangeMask(spec.snaplen - 1)),
    LoadMem(R4, R10, hdr + m.bufAddr, 8),
    LoadMem(R1, R10, hdr + m.dataOff, 2),
    Add.reg(R4, R1),
    LoadMem(R2, R10, hdr + m.dataLen, 2),
    Mov.imm(R1, spec.snaplen),
    Sub.reg(R1, R7),
    JLE.reg(R2, R1, clamped),
    Mov.reg(R2, R1),
    Label(clamped), And.imm(R2, 0xffff),
    StoreMem(R10, SLOT.copySize, R2, 8),
    Mov.reg(R1, R9),
    Add.imm(R1, RECORD.headerSize),
    Add.reg(R1, R7),
    Mov.reg(R3, R4),
    Call(Helper.probe_read_user),
    JNE.imm(R0, 0, readFailed),
    LoadMem(R1, R10, SLOT.copySize, 8),
    Add.reg(R7, R1),
    // Never true at run time; keeps the verifier's range of r7 within the snap length.
    JGE.imm(R7, spec.snaplen, copiedAll),
    LoadMem(R3, R10, hdr + m.next, 8),
    JEq.imm(R3, 0, copiedAll),
    LoadMem(R1, R10, SLOT.segmentsLeft, 8),
    Sub.imm(R1, 1),
    StoreMem(R10, SLOT.segmentsLeft, R1, 8),
    JEq.imm(R1, 0, copiedAll),
    ...readHeader(R3),
    JEq.imm(R0, 0, segment),
    // A segment we could not read: keep what came before, flag the record.
    Label(readFailed),
    LoadMem(R1, R10, SLOT.flags, 1),
    Or.imm(R1, FLAG_READ_FAILED),
    StoreMem(R10, SLOT.flags, R1, 1),
    ...emitCounterAdd(spec.countersFd, counterIndex(spec, COUNTER.readErrors), 1, SLOT.key, L),
    JEq.imm(R7, 0, done),
    // Every exit of the segment loop arrives with its own range for r7; the
    // mask (a no-op at run time: r7 <= snaplen) gives them one range, so the
    // verifier checks the filter and the output once instead of once per
    // loop exit.
    Label(copiedAll),
    And.imm(R7, rangeMask(spec.snaplen)),
    JGT.imm(R7, spec.snaplen, done),
    ...emitPacketBody({
      ringFd: spec.ringFd,
      countersFd: spec.countersFd,
      point: spec.point,
      snaplen: spec.snaplen,
      linktype: LINKTYPE_ETHERNET,
      filter: spec.filter,
      labels: L,
      done: bodyDone,
      wakeupAt: spec.wakeupAt,
    }),
    Label(bodyDone), Ja(done),
    // The mbuf header itself could not be read: nothing to capture.
    Label(firstFailed),
    ...emitCounterAdd(spec.countersFd, counterIndex(spec, COUNTER.readErrors), 1, SLOT.key, L),
    Ja(done),
  ];
}
