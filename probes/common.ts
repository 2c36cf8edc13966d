// What every probe program shares (mbuf, raw, skb, ...): emitters for the
// per-point counters, the scratch record lookup, the record header
// (src/capture/record.ts) and the ring output (the maps themselves are the
// capture library's, src/capture/maps.ts). Emitters return plain
// instruction lists; labels they create start with the caller's prefix so
// the same emitter can appear several times in one program.
import { Label, Add, And, Call, Ja, JEq, JGE, JLE, JLT, LoadMapPtr, LoadMem, Mov, RSh, StoreImm, StoreMem } from '../src/ebpf/builders';
import { Helper } from '../src/ebpf/helpers';
import type { Insn } from '../src/ebpf/instruction';
import { R0, R1, R10, R2, R3, R4, R6, R9, type Register } from '../src/ebpf/registers';
import { RECORD } from '../src/capture/record';

/** Fresh label names: `${prefix}${name}`. */
export class Labels {
  #n = 0;
  constructor(readonly prefix: string) {}
  /** A label unique in this program. */
  next(name: string): string {
    return `${this.prefix}${name}_${this.#n++}`;
  }
}

/**
 * Adds the immediate `amount` to u64 slot `index` of a per-CPU array (the
 * capture's counters):
 *
 *   *(u32 *)(r10 keySlot) = index
 *   r1 = map[fd] ; r2 = r10 + keySlot ; call bpf_map_lookup_elem
 *   if r0 == 0x0 goto counted
 *   r1 = *(u64 *)(r0 +0) ; r1 += amount ; *(u64 *)(r0 +0) = r1   (per-CPU slot: no atomic needed)
 * counted:
 *
 * Uses 4 bytes of stack at r10+keySlot; clobbers r0-r5.
 */
export function emitCounterAdd(countersFd: number, index: number, amount: number, keySlot: number, labels: Labels): Insn[] {
  return counterAdd(countersFd, index, Add.imm(R1, amount), keySlot, labels);
}

/**
 * The same, adding register `amount` (r6-r9: the lookup clobbers r0-r5).
 * A separate function: registers are small numbers, so one parameter
 * taking either could not tell `R6` from the immediate 6.
 */
export function emitCounterAddReg(countersFd: number, index: number, amount: Register, keySlot: number, labels: Labels): Insn[] {
  if (amount < R6 || amount > R9) throw new RangeError(`r${amount} is clobbered by the map lookup: add from r6-r9`);
  return counterAdd(countersFd, index, Add.reg(R1, amount), keySlot, labels);
}

function counterAdd(countersFd: number, index: number, add: Insn, keySlot: number, labels: Labels): Insn[] {
  if (keySlot > -4 || keySlot < -512 || keySlot % 4 !== 0) throw new RangeError(`stack offset ${keySlot}: needs 4 aligned bytes within r10-512..r10`);
  const counted = labels.next('counted');
  return [StoreImm(R10, keySlot, index, 4), ...emitLookup(countersFd, keySlot, counted), LoadMem(R1, R0, 0, 8), add, StoreMem(R0, 0, R1, 8), Label(counted)];
}

/**
 * r{dst} = this CPU's scratch record (a map value pointer, never NULL after
 * this), or `exitLabel` when the lookup fails. Clobbers r0-r5; keySlot = 4
 * bytes of stack.
 */
export function emitScratchLookup(scratchFd: number, dst: Register, keySlot: number, exitLabel: string): Insn[] {
  return [Call(Helper.get_smp_processor_id), StoreMem(R10, keySlot, R0, 4), ...emitLookup(scratchFd, keySlot, exitLabel), Mov.reg(dst, R0)];
}

/** r0 = bpf_map_lookup_elem(map, r10 + keySlot), or `missing` when there is no such entry. Clobbers r0-r5. */
export function emitLookup(mapFd: number, keySlot: number, missing: string): Insn[] {
  return [LoadMapPtr(R1, mapFd), Mov.reg(R2, R10), Add.imm(R2, keySlot), Call(Helper.map_lookup_elem), JEq.imm(R0, 0, missing)];
}

/** Metadata a mode knows about its packet, written into the record header. */
export interface HeaderFields {
  /** Register holding the packet object's address (mbuf, skb, data pointer), or undefined for 0. */
  addr?: Register;
  /** Register holding the wire length (32 bits used). */
  wirelen: Register;
  /** Register holding the captured length. */
  caplen: Register;
  /** Register holding the port / ifindex (32 bits), or undefined for 0. */
  ifindex?: Register;
  point: number;
  linktype: number;
  /** Register holding the flags byte, or undefined for 0. */
  flags?: Register;
}

/**
 * Fills the header of the record at r{rec} (a callee-saved register: the
 * helpers called here clobber r0-r5). The registers in `f` must be
 * callee-saved too (r6-r9) or be consumed before the first call: the time,
 * pid and comm come from helpers, so the register fields are stored first.
 * Fields this function doesn't set (netns, mark, reason, protocol) are
 * zeroed, stackId is -1: the scratch record is reused.
 */
export function emitRecordHeader(rec: Register, f: HeaderFields): Insn[] {
  const out: Insn[] = [];
  if (f.addr === undefined) out.push(StoreImm(rec, RECORD.addr, 0, 8));
  else out.push(StoreMem(rec, RECORD.addr, f.addr, 8));
  out.push(StoreMem(rec, RECORD.wirelen, f.wirelen, 4), StoreMem(rec, RECORD.caplen, f.caplen, 4));
  if (f.ifindex === undefined) out.push(StoreImm(rec, RECORD.ifindex, 0, 4));
  else out.push(StoreMem(rec, RECORD.ifindex, f.ifindex, 4));
  if (f.flags === undefined) out.push(StoreImm(rec, RECORD.flags, 0, 1));
  else out.push(StoreMem(rec, RECORD.flags, f.flags, 1));
  out.push(
    StoreImm(rec, RECORD.point, f.point, 4),
    StoreImm(rec, RECORD.linktype, f.linktype, 1),
    StoreImm(rec, RECORD.netns, 0, 4),
    StoreImm(rec, RECORD.mark, 0, 4),
    StoreImm(rec, RECORD.reason, 0, 4),
    StoreImm(rec, RECORD.stackId, -1, 4),
    StoreImm(rec, RECORD.protocol, 0, 2),
    Call(Helper.ktime_get_ns),
    StoreMem(rec, RECORD.tsNs, R0, 8),
    Call(Helper.get_smp_processor_id),
    StoreMem(rec, RECORD.cpu, R0, 4),
    Call(Helper.get_current_pid_tgid),
    // Lower half: the thread (task->pid); upper half: the process (tgid).
    StoreMem(rec, RECORD.tid, R0, 4),
    RSh.imm(R0, 32),
    StoreMem(rec, RECORD.pid, R0, 4),
    Mov.reg(R1, rec),
    Add.imm(R1, RECORD.comm),
    Mov.imm(R2, 16),
    Call(Helper.get_current_comm),
  );
  return out;
}

/** bpf_ringbuf_query / bpf_ringbuf_output flags (include/uapi/linux/bpf.h). */
const BPF_RB_NO_WAKEUP = 1;
const BPF_RB_FORCE_WAKEUP = 2;
const BPF_RB_AVAIL_DATA = 0;

/**
 * bpf_ringbuf_output(ring, r{rec}, header + r{caplen}, flags): only the
 * captured bytes go out, never the whole scratch record. `caplen` must be
 * bounded by `snaplen` on every path (the verifier checks the size against
 * the scratch value); this clamps it again to be sure. Leaves the helper's
 * result in r0 (0 = written, <0 = ring full). Clobbers r0-r5 and r{caplen}.
 *
 * Wake-ups: with flags 0 the kernel wakes the reader whenever it had caught
 * up, which under load means an irq_work and a scheduler wake-up for nearly
 * every packet, paid by the traced thread. Given `wakeupAt` (bytes), the
 * reader is woken by the record that makes that much wait
 * (BPF_RB_FORCE_WAKEUP) and otherwise not at all (BPF_RB_NO_WAKEUP): the session drains the ring on a
 * short timer as well (src/capture/capture.ts), so a lone packet still
 * shows within milliseconds.
 */
export function emitRingOutput(ringFd: number, rec: Register, caplen: Register, snaplen: number, labels: Labels, wakeupAt?: number): Insn[] {
  const sized = labels.next('sized');
  const flags: Insn[] = [];
  if (wakeupAt !== undefined) {
    const quiet = labels.next('quiet');
    // Wake only when this record crosses the threshold: above it the reader
    // has been woken already (and epoll stays ready while data remains), and
    // waking it for every record of an overloaded ring is what this avoids.
    flags.push(
      LoadMapPtr(R1, ringFd),
      Mov.imm(R2, BPF_RB_AVAIL_DATA),
      Call(Helper.ringbuf_query),
      Mov.imm(R4, BPF_RB_NO_WAKEUP),
      JGE.imm(R0, wakeupAt, quiet),
      Add.reg(R0, caplen),
      Add.imm(R0, RECORD.headerSize),
      JLT.imm(R0, wakeupAt, quiet),
      Mov.imm(R4, BPF_RB_FORCE_WAKEUP),
      Label(quiet),
    );
  } else {
    flags.push(Mov.imm(R4, 0));
  }
  return [
    JLE.imm(caplen, snaplen, sized),
    Mov.imm(caplen, snaplen),
    Label(sized),
    ...flags,
    Mov.reg(R3, caplen),
    Add.imm(R3, RECORD.headerSize),
    LoadMapPtr(R1, ringFd),
    Mov.reg(R2, rec),
    Call(Helper.ringbuf_output),
  ];
}

/** Truncates r{reg} to 32 bits (`w1 = w1`): a C argument of type u32/int leaves the upper half undefined (x86-64 SysV ABI). */
export function zeroExtend32(reg: Register): Insn {
  return Mov.reg32(reg, reg);
}

/** r{reg} &= 0xffff: for u16 counts (DPDK's nb_pkts, rte_eth_rx_burst's result) whose upper bits are undefined in the register. */
export function zeroExtend16(reg: Register): Insn {
  return And.imm(reg, 0xffff);
}

/**
 * Where a probe puts the packet for the filter fragment (src/filter's
 * 'buffer' memory model): the copied bytes behind a map value pointer, their
 * count, the wire length, and where to go afterwards. The fragment may use
 * r0-r9 and the stack area; the caller saves what it needs first.
 */
export interface FilterSlot {
  /** Pointer register: the first captured byte (a map value pointer). */
  data: Register;
  /** Scalar register: bytes copied (loads at or beyond it mean "no match"). */
  caplen: Register;
  /** Scalar register: the packet's length on the wire (cBPF `len`). */
  wirelen: Register;
  /** Jump here on a match, with the cBPF return value (the snap length) in `result`. */
  match: string;
  result: Register;
  /** Jump here when the filter rejects the packet. */
  noMatch: string;
  /** Lowest r10-relative offset of a 64-byte stack area for cBPF's M[0..15]. */
  stackBase: number;
  /** Prefix for labels the fragment creates. */
  labelPrefix: string;
}

/** Emits a filter fragment into a probe program (see src/filter's compiler). */
export type FilterEmitter = (slot: FilterSlot) => Insn[];

/** The filter of an empty expression: every packet matches with the whole copy. */
export const matchAll: FilterEmitter = (slot) => [Mov.imm(slot.result, 0x7fffffff), Ja(slot.match)];
