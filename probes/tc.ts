// The TC capture programs of netcap iface. A capture point (an interface
// and a direction) attaches a dispatcher (probes/dispatch.ts, fallback
// TC_NEXT) at the device's ingress or egress hook with tcx or cls_bpf
// (src/bpf/link/tc.ts); the dispatcher tail-calls the program in its slot,
// built here: the capture program for the current filter and snap length,
// or, where the capture's direction does not select the point (or is off),
// the idle program that only counts. Both only read: every path returns
// TC_NEXT, so the packet goes on to the next program and the stack exactly
// as it would without us, whatever the filter says; a read that fails is
// "no match", never a drop.
//
// The capture program, per packet:
//   1. copy the bytes the filter can look at (src/filter/read-extent.ts: 78
//      for `tcp port 80`), at most the snap length, with bpf_skb_load_bytes,
//      which reads the paged part of non-linear skbs (GSO/GRO packets) as
//      well, without changing the skb (never bpf_skb_pull_data);
//   2. run the filter over the copy ('buffer' memory model), compiled by
//      libpcap on a live Linux handle: its metadata loads (SKF_AD_*) read
//      __sk_buff (the packet type, the VLAN tag the kernel took out of the
//      packet, the ifindex...), so `vlan 100` tests the tag in skb->vlan_tci
//      and every other test sees the untagged bytes, as the kernel's socket
//      filter does for tcpdump -i;
//   3. on a match, copy the rest, up to the snap length (a 64 KB GSO packet
//      the filter rejects costs a copy of 78 bytes, not of 64 KB), and put
//      that VLAN tag back into the bytes (libpcap does the
//      same with the tag AF_PACKET reports, pcap-linux.c): the copy sits 4
//      bytes into the record's data so the 12 address bytes move down and
//      the tag (TPID, TCI) fills the gap; caplen and the wire length grow by
//      4, caplen stays within the snap length;
//   4. write the record (direction in its flags) to the ring.
// At ingress, packets the kernel loops back to itself (PACKET_LOOPBACK:
// multicast a local socket sent) are skipped, as AF_PACKET skips them: the
// idle program skips them too, so `seen` means the same under both.
//
// A program is a function of (filter, snap length, map fds, point) and can
// be rebuilt at any time: a run-time change builds a new generation of them.
import { Label, Add, Call, Exit, Ja, JEq, JGT, JLE, JLT, JNE, LoadMem, Mov, StoreImm, StoreMem, Sub, ToBE } from '../src/ebpf/builders';
import { Helper } from '../src/ebpf/helpers';
import type { Insn } from '../src/ebpf/instruction';
import { R0, R1, R10, R2, R3, R4, R6, R7, R8, R9, type Register } from '../src/ebpf/registers';
import { COUNTER, COUNTERS_PER_POINT, FLAG_DIRECTION_KNOWN, FLAG_OUTBOUND, RECORD } from '../src/capture/record';
import { compileToEbpf, type AncillaryLoads } from '../src/filter/compiler';
import type { CbpfInsn } from '../src/filter/cbpf';
import { readExtent } from '../src/filter/read-extent';
import { emitCounterAdd, emitRecordHeader, emitRingOutput, emitScratchLookup, Labels } from './common';

/**
 * "Go on as if we were not there", the same -1 for both hooks: TCX_NEXT
 * (include/uapi/linux/bpf.h, enum tcx_action_base) for tcx, where the next
 * program of the link chain runs, or the stack when there is none; and
 * TC_ACT_UNSPEC (include/uapi/linux/pkt_cls.h) for cls_bpf in direct-action
 * mode, where cls_bpf_classify goes on to the next filter.
 */
export const TC_NEXT = -1;

/** struct __sk_buff field offsets (include/uapi/linux/bpf.h: the stable context ABI the verifier rewrites). */
export const SK_BUFF = {
  len: 0,
  pktType: 4,
  mark: 8,
  queueMapping: 12,
  protocol: 16,
  vlanPresent: 20,
  vlanTci: 24,
  vlanProto: 28,
  ifindex: 40,
  hash: 68,
} as const;

/** PACKET_OUTGOING and PACKET_LOOPBACK (include/uapi/linux/if_packet.h). */
const PACKET_OUTGOING = 4;
const PACKET_LOOPBACK = 5;
/** Where the tag goes: after the destination and source MAC addresses (libpcap's vlan_offset). */
const VLAN_OFFSET = 12;
const VLAN_TAG_LEN = 4;

// Stack slots (offsets from r10).
const STACK_KEY = -8;
const STACK_CPU_KEY = -16;
/** The record's caplen while the rest of the packet is copied. */
const STACK_TOTAL = -24;
/** cBPF's M[0..15]: 64 bytes. */
const STACK_FILTER_MEM = -96;

export type TcDirectionName = 'ingress' | 'egress';

export interface TcProgramOptions {
  /** Index of the capture point (record.point and its counter slots). */
  point: number;
  direction: TcDirectionName;
  /** cBPF compiled for Ethernet on a live handle; undefined = every packet. */
  filter: readonly CbpfInsn[] | undefined;
  snaplen: number;
  maps: { ring: number; counters: number; scratch: number };
  /** Wake the reader only when this many bytes wait in the ring (see emitRingOutput). */
  wakeupAt?: number;
  /** Inode of the device's network namespace, written into every record. */
  netnsInode?: number;
  /** LINKTYPE_ of the bytes (src/output/linktypes.ts). */
  linktype: number;
}

/**
 * The metadata a TC program's filter reads from its context (r6 = the
 * __sk_buff): what the kernel's socket filter gives tcpdump for the same
 * packet. At egress the packet type is PACKET_OUTGOING, as AF_PACKET marks
 * the copies of packets a device sends (dev_queue_xmit_nit).
 */
export function tcAncillary(ctx: Register, direction: TcDirectionName): AncillaryLoads {
  const field = (off: number) => (dst: Register) => [LoadMem(dst, ctx, off, 4)];
  // skb->protocol and skb->vlan_proto are big-endian u16s; cBPF gives them in host order.
  const be16 = (off: number) => (dst: Register) => [LoadMem(dst, ctx, off, 4), ToBE(dst, 16)];
  return {
    protocol: be16(SK_BUFF.protocol),
    pkttype: direction === 'egress' ? (dst) => [Mov.imm32(dst, PACKET_OUTGOING)] : field(SK_BUFF.pktType),
    ifindex: field(SK_BUFF.ifindex),
    mark: field(SK_BUFF.mark),
    queue: field(SK_BUFF.queueMapping),
    rxhash: field(SK_BUFF.hash),
    vlanTag: field(SK_BUFF.vlanTci),
    vlanTagPresent: field(SK_BUFF.vlanPresent),
    vlanTpid: be16(SK_BUFF.vlanProto),
  };
}

/**
 * What both programs start with: r6 = ctx (the __sk_buff; callee-saved, the
 * filter's metadata loads use it), at ingress a looped-back packet goes to
 * `out`, and the point's `seen` counter counts the packet.
 */
function emitPrologue(point: number, direction: TcDirectionName, countersFd: number, labels: Labels, out: string): Insn[] {
  return [
    Mov.reg(R6, R1),
    ...(direction === 'ingress' ? [LoadMem(R1, R6, SK_BUFF.pktType, 4), JEq.imm(R1, PACKET_LOOPBACK, out)] : []),
    ...emitCounterAdd(countersFd, point * COUNTERS_PER_POINT + COUNTER.seen, 1, STACK_KEY, labels),
  ];
}

export interface TcIdleProgramOptions {
  point: number;
  direction: TcDirectionName;
  maps: { counters: number };
}

/**
 * The program in the slot of a point the capture's direction does not
 * select (or every point's, when it is off): it counts what the hook sees,
 * captures nothing and returns TC_NEXT. The point's counters go on (seen
 * grows, matched and captured stay) and its dispatcher stays attached, so
 * switching back is one slot update like any other change.
 */
export function buildTcIdleProgram(o: TcIdleProgramOptions): Insn[] {
  const labels = new Labels(`tc${o.point}_`);
  return [...emitPrologue(o.point, o.direction, o.maps.counters, labels, 'out'), Label('out'), Mov.imm(R0, TC_NEXT), Exit()];
}

export function buildTcProgram(o: TcProgramOptions): Insn[] {
  const labels = new Labels(`tc${o.point}_`);
  const counter = (which: number): Insn[] => emitCounterAdd(o.maps.counters, o.point * COUNTERS_PER_POINT + which, 1, STACK_KEY, labels);
  const L = { out: 'out', readError: 'read_error', sized: 'sized', filter: 'filter', match: 'match', keep: 'keep', rest: 'rest', capped: 'capped', restSized: 'rest_sized', untagged: 'untagged', header: 'header' };
  // The copy lands 4 bytes into the record's data: room for a VLAN tag.
  const copyAt = RECORD.headerSize + VLAN_TAG_LEN;
  const flags = FLAG_DIRECTION_KNOWN | (o.direction === 'egress' ? FLAG_OUTBOUND : 0);
  const insns: Insn[] = [];
  const emit = (...xs: Insn[]) => insns.push(...xs);

  emit(...emitPrologue(o.point, o.direction, o.maps.counters, labels, L.out));
  emit(...emitScratchLookup(o.maps.scratch, R7, STACK_CPU_KEY, L.out));
  // r9 = wire length, r8 = bytes copied first (0..first).
  const first = o.filter ? Math.min(readExtent(o.filter), o.snaplen) : o.snaplen;
  emit(
    LoadMem(R9, R6, SK_BUFF.len, 4),
    Mov.reg(R8, R9),
    JLE.imm(R8, first, L.sized),
    Mov.imm(R8, first),
    Label(L.sized),
    JEq.imm(R8, 0, L.filter),
    Mov.reg(R1, R6), Mov.imm(R2, 0), Mov.reg(R3, R7), Add.imm(R3, copyAt), Mov.reg(R4, R8),
    Call(Helper.skb_load_bytes),
    JNE.imm(R0, 0, L.readError),
  );
  // The filter: data r1, caplen r8, wirelen r9; A r0, X r2, tmp r3 (r6-r9 stay).
  // The two jumps are never taken (r8 <= snaplen) but keep the match and
  // no-match blocks reachable for the verifier's CFG check whatever the filter.
  emit(Label(L.filter), JGT.imm(R8, o.snaplen, L.out), JGT.imm(R8, o.snaplen, L.match), Mov.reg(R1, R7), Add.imm(R1, copyAt));
  if (o.filter) {
    emit(
      ...compileToEbpf(o.filter, {
        model: { kind: 'buffer', data: R1, caplen: R8, bufferSize: o.snaplen },
        a: R0, x: R2, tmp: R3, wirelen: R9, result: R0,
        stackBase: STACK_FILTER_MEM, match: L.match, noMatch: L.out, prefix: 'f',
        ancillary: tcAncillary(R6, o.direction),
      }),
    );
  } else {
    emit(Mov.imm(R0, 0x7fffffff), Ja(L.match));
  }
  // Matched: the record holds min(len, snaplen, the filter's result) bytes;
  // r1 = that, copied beyond the first r8 when it is more (only when the
  // first copy stopped at `first`: then r1 - r8 <= snaplen - first).
  emit(
    Label(L.match),
    Mov.reg(R1, R9),
    JLE.imm(R1, o.snaplen, L.keep),
    Mov.imm(R1, o.snaplen),
    Label(L.keep),
    JLE.reg(R1, R0, L.rest),
    Mov.reg(R1, R0),
    Label(L.rest),
  );
  if (first < o.snaplen) {
    emit(
      JLE.reg(R1, R8, L.capped),
      StoreMem(R10, STACK_TOTAL, R1, 8),
      Mov.reg(R4, R1), Sub.reg(R4, R8),
      // Never taken (r1 > r8), but the verifier cannot always tell: the size must be at least 1.
      JEq.imm(R4, 0, L.capped),
      JLE.imm(R4, o.snaplen - first, L.restSized),
      Mov.imm(R4, o.snaplen - first),
      Label(L.restSized),
      Mov.reg(R1, R6), Mov.reg(R2, R8), Mov.reg(R3, R7), Add.imm(R3, copyAt), Add.reg(R3, R8),
      Call(Helper.skb_load_bytes),
      JNE.imm(R0, 0, L.readError),
      LoadMem(R1, R10, STACK_TOTAL, 8),
    );
  }
  emit(Label(L.capped), Mov.reg(R8, R1), ...counter(COUNTER.matched));
  // The VLAN tag the kernel took out (skb->vlan_tci) goes back in, when the
  // copy holds both MAC addresses; the record then starts 4 bytes earlier.
  emit(
    LoadMem(R1, R6, SK_BUFF.vlanPresent, 4), JEq.imm(R1, 0, L.untagged),
    JLT.imm(R8, VLAN_OFFSET, L.untagged),
    LoadMem(R1, R7, copyAt, 8), StoreMem(R7, RECORD.headerSize, R1, 8),
    LoadMem(R1, R7, copyAt + 8, 4), StoreMem(R7, RECORD.headerSize + 8, R1, 4),
    // vlan_proto is already in network byte order; vlan_tci is host order.
    LoadMem(R1, R6, SK_BUFF.vlanProto, 4), StoreMem(R7, RECORD.headerSize + VLAN_OFFSET, R1, 2),
    LoadMem(R1, R6, SK_BUFF.vlanTci, 4), ToBE(R1, 16), StoreMem(R7, RECORD.headerSize + VLAN_OFFSET + 2, R1, 2),
    Add.imm(R8, VLAN_TAG_LEN),
    Add.imm(R9, VLAN_TAG_LEN),
    JLE.imm(R8, o.snaplen, L.header),
    Mov.imm(R8, o.snaplen),
    Ja(L.header),
    Label(L.untagged),
    Add.imm(R7, VLAN_TAG_LEN),
  );
  emit(
    Label(L.header),
    LoadMem(R2, R6, SK_BUFF.ifindex, 4),
    Mov.imm(R3, flags),
    ...emitRecordHeader(R7, { addr: R6, wirelen: R9, caplen: R8, ifindex: R2, flags: R3, point: o.point, linktype: o.linktype }),
    LoadMem(R1, R6, SK_BUFF.mark, 4), StoreMem(R7, RECORD.mark, R1, 4),
    // skb->protocol stays in network byte order: a 2-byte store keeps the bytes.
    LoadMem(R1, R6, SK_BUFF.protocol, 4), StoreMem(R7, RECORD.protocol, R1, 2),
  );
  if (o.netnsInode !== undefined) emit(StoreImm(R7, RECORD.netns, o.netnsInode | 0, 4));
  emit(
    ...emitRingOutput(o.maps.ring, R7, R8, o.snaplen, labels, o.wakeupAt),
    JEq.imm(R0, 0, L.out),
    ...counter(COUNTER.lost),
    Ja(L.out),
  );
  emit(Label(L.readError), ...counter(COUNTER.readErrors));
  emit(Label(L.out), Mov.imm(R0, TC_NEXT), Exit());
  return insns;
}

/** What a program of a point does: `nc` the dispatcher on the hook, `ncc` the capture program, `nci` the idle one (in their slot). */
export type TcProgramRole = 'nc' | 'ncc' | 'nci';

/** The name bpftool shows: "nc_in_v1", "ncc_eg_eth0" (15 characters at most). */
export function tcProgramName(ifname: string, direction: TcDirectionName, role: TcProgramRole = 'nc'): string {
  return `${role}_${direction === 'ingress' ? 'in' : 'eg'}_${ifname}`.replace(/[^A-Za-z0-9_.]/g, '_').slice(0, 15);
}
