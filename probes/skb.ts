// The sk_buff probe program: one per capture point. It finds the skb in its
// context (src/modes/skb/points.ts), copies the struct fields it needs with
// bpf_probe_read_kernel (offsets from BTF, src/kernel/skb-layout.ts), picks
// where the packet starts, copies the linear bytes into the scratch record,
// runs the filter compiled for that start (Ethernet or raw IP), and sends
// header + captured bytes to the ring.
//
// Where the packet starts. The kernel sets skb->mac_header when a frame
// has a link-layer header (eth_type_trans on receive, dev_queue_xmit on
// transmit) and leaves it at (u16)~0 otherwise (skb_mac_header_was_set,
// include/linux/skbuff.h). So:
//   - MAC header set and the device's header is Ethernet-sized
//     (hard_header_len == ETH_HLEN: Ethernet, veth, loopback) -> start at
//     head + mac_header, filter with the EN10MB program, linktype 0;
//   - MAC header set, no device known, and it lies before the network
//     header -> the same;
//   - otherwise -> start at head + network_header, filter with the RAW
//     program, linktype 1 (never from skb->head, which holds headroom).
// The linear part ends at head + tail (skb->tail is an offset from head on
// 64-bit kernels, NET_SKBUFF_DATA_USES_OFFSET); paged fragments are not
// copied. The wire length is skb->len (counted from skb->data) adjusted by
// how far the start lies before (or after) skb->data.
//
// Gather mode (-G): the first point runs the filter and, on a match, puts
// the packet's key (skb address, or a content hash) in an LRU hash; the
// other points skip the filter and report only keys found there. The
// address is forgotten when the first point rejects a packet at that
// address and after points that free the skb (kfree_skb, consume_skb):
// the slab hands the same address to the next packet at once.
import { Label,
  Add, And, Call, Exit, Ja, JEq, JGE, JGT, JLE, JLT, JNE, JSGE, LoadMapPtr, LoadMem, Mov, Mul, RSh, StoreImm, StoreMem, Sub, ToBE, Xor,
} from '../src/ebpf/builders';
import { Helper } from '../src/ebpf/helpers';
import { UserError } from '../src/errors';
import type { Insn } from '../src/ebpf/instruction';
import { R0, R1, R10, R2, R3, R4, R5, R6, R7, R8, R9, type Register } from '../src/ebpf/registers';
import type { Width } from '../src/ebpf/opcodes';
import { AttachType, ProgType } from '../src/bpf/constants';
import { COUNTER, COUNTERS_PER_POINT, RECORD } from '../src/capture/record';
import { LINKTYPE_ETHERNET, LINKTYPE_RAW } from '../src/output/linktypes';
import { compileToEbpf, type AncillaryLoads } from '../src/filter/compiler';
import type { CbpfInsn } from '../src/filter/cbpf';
import type { SkbLayout, Span } from '../src/kernel/skb-layout';
import { emitCounterAdd, emitRecordHeader, emitRingOutput, emitScratchLookup, Labels } from './common';

/** PACKET_OUTGOING (include/uapi/linux/if_packet.h). */
const PACKET_OUTGOING = 4;
/** ETH_HLEN (include/uapi/linux/if_ether.h): the hard_header_len of Ethernet-like devices. */
const ETH_HLEN = 14;
/** skb->mac_header when no MAC header was set ((u16)~0U). */
const MAC_HEADER_UNSET = 0xffff;

/** Layout of the per-CPU "meta" scratch value: copies of sk_buff and net_device bytes, and derived values. */
export const META = {
  skb: 0,
  dev: 256,
  ifindex: 384,
  netns: 388,
  hardHeaderLen: 392,
  reason: 396,
  linktype: 400,
  start: 404,
  caplen: 408,
  wirelen: 412,
  skbAddr: 416,
  size: 424,
} as const;

// Stack slots (offsets from r10).
const STACK_CTX = -8;
const STACK_KEY = -12;
const STACK_CPU_KEY = -16;
const STACK_GATHER_KEY = -24;
const STACK_GATHER_VALUE = -32;
/** M[0..15] of the filter: 64 bytes below the slots above. */
const STACK_FILTER_MEM = -96;

/** BPF_ANY for bpf_map_update_elem. */
const BPF_ANY = 0;

export interface SkbFilterPrograms {
  /** cBPF for packets that start with an Ethernet header (libpcap EN10MB). */
  ether: readonly CbpfInsn[];
  /** cBPF for packets that start with the IP header (libpcap RAW). */
  raw: readonly CbpfInsn[];
}

export interface SkbGather {
  /** LRU hash of packet keys (key u64, value u64 first-seen time). */
  mapFd: number;
  /** The first point filters and inserts; the others only look up. */
  first: boolean;
  /**
   * --gather-by-content: the key is a hash of packet bytes instead of the
   * skb address (packets copied into a new skb, e.g. by a tunnel or a
   * bridge clone, keep their content but not their address).
   */
  byContent?: { bytes: number };
}

/**
 * The content key: FNV-1a (32-bit) over `bytes` bytes starting 12 bytes into
 * the network header, so a forwarded packet keeps its key although its TTL
 * (IPv4 byte 8, IPv6 hop limit at byte 7) and IPv4 header checksum
 * (bytes 10-11) change, and its MAC header is rewritten. The network
 * header is found from the captured bytes (Ethernet, up to two VLAN tags),
 * not from skb->network_header, which early receive points have not set
 * yet (__netif_receive_skb_core resets it after the netif_receive_skb
 * tracepoint). contentKey() in src/modes/skb/gather.ts computes the same.
 */
export const CONTENT_KEY = { skip: 12, fnvOffset: 0x811c9dc5, fnvPrime: 0x01000193, maxNetworkOffset: 22 } as const;
const ETH_P_8021Q = 0x8100;
const ETH_P_8021AD = 0x88a8;

export type SkbHookKind = 'tracepoint' | 'raw_tp' | 'tp_btf' | 'fentry' | 'kprobe';

/** Where a value is read from the context (r1 at entry): a load of `size` bytes at `offset`. */
export interface ContextSlot {
  offset: number;
  size: 1 | 2 | 4 | 8;
}

/** The hook a program runs at, and where its context holds the skb (src/modes/skb/points.ts resolves it). */
export interface SkbHook {
  kind: SkbHookKind;
  /** tracepoint: "net:netif_receive_skb"; raw_tp/tp_btf: the event name; fentry/kprobe: the function. */
  target: string;
  skb: ContextSlot;
  /** The drop reason (enum skb_drop_reason), at skb:kfree_skb and functions/raw tracepoints that take one. */
  reason?: ContextSlot;
  /** tp_btf and fentry: the BTF id the program is loaded against. */
  btfId?: number;
  /** Receive or transmit path, where the point's name says (pcapng epb_flags, and the packet type inbound/outbound test). */
  direction?: 'in' | 'out';
}

export interface SkbProgramOptions {
  point: SkbHook & { freesSkb: boolean };
  /** Index of the point in the session's list (record.point, counter slots). */
  index: number;
  layout: SkbLayout;
  filter: SkbFilterPrograms;
  snaplen: number;
  maps: { ring: number; counters: number; scratch: number; meta: number; stacks?: number };
  /** -i: only skbs whose device has this ifindex in this network namespace. */
  iface?: { ifindex: number; netnsInode: number };
  gather?: SkbGather;
  /** Wake the reader only when this many bytes wait in the ring (see emitRingOutput); without it nearly every record wakes it. */
  wakeupAt?: number;
}

export interface SkbProgramSpec {
  type: number;
  expectedAttachType?: number;
  attachBtfId?: number;
  name: string;
  insns: Insn[];
}

/** The program type (and attach type) of each kind of point. */
export function programType(point: SkbHook): Pick<SkbProgramSpec, 'type' | 'expectedAttachType' | 'attachBtfId'> {
  switch (point.kind) {
    case 'tracepoint':
      return { type: ProgType.TRACEPOINT };
    case 'raw_tp':
      return { type: ProgType.RAW_TRACEPOINT };
    case 'tp_btf':
      return { type: ProgType.TRACING, expectedAttachType: AttachType.TRACE_RAW_TP, attachBtfId: point.btfId };
    case 'fentry':
      return { type: ProgType.TRACING, expectedAttachType: AttachType.TRACE_FENTRY, attachBtfId: point.btfId };
    case 'kprobe':
      return { type: ProgType.KPROBE };
  }
}

function width(n: number): Width {
  if (n !== 1 && n !== 2 && n !== 4 && n !== 8) throw new Error(`field size ${n} is not a load width`);
  return n;
}

export function buildSkbProgram(o: SkbProgramOptions): SkbProgramSpec {
  const { layout, point } = o;
  if (layout.skbSpan.length > META.dev - META.skb) throw new Error(`sk_buff span of ${layout.skbSpan.length} bytes does not fit the meta scratch`);
  if (layout.devSpan.length > META.ifindex - META.dev) throw new Error(`net_device span of ${layout.devSpan.length} bytes does not fit the meta scratch`);
  const labels = new Labels(`p${o.index}_`);
  const counter = (which: number): Insn[] => emitCounterAdd(o.maps.counters, o.index * COUNTERS_PER_POINT + which, 1, STACK_KEY, labels);
  const skbAt = (offset: number) => META.skb + offset - layout.skbSpan.start;
  const skbField = (f: { offset: number }) => skbAt(f.offset);
  const devField = (f: { offset: number }) => META.dev + f.offset - layout.devSpan.start;
  const L = {
    out: 'out',
    readError: 'read_error',
    devDone: 'dev_done',
    l2: 'start_l2',
    l3: 'start_l3',
    start: 'start_chosen',
    fits: 'caplen_fits',
    wirelenOk: 'wirelen_ok',
    raw: 'filter_raw',
    match: 'match',
    noMatch: 'no_match',
    gathered: 'gathered',
  };
  const insns: Insn[] = [];
  const emit = (...xs: Insn[]) => insns.push(...xs);

  // r9 = ctx (also spilled: bpf_get_stackid needs it after the filter ran).
  emit(Mov.reg(R9, R1), StoreMem(R10, STACK_CTX, R1, 8));
  emit(LoadMem(R8, R9, point.skb.offset, 8).withComment('r8 = the sk_buff'), JEq.imm(R8, 0, L.out));
  emit(...emitScratchLookup(o.maps.scratch, R7, STACK_CPU_KEY, L.out));
  // The meta scratch, same CPU key (still at STACK_CPU_KEY).
  emit(LoadMapPtr(R1, o.maps.meta), Mov.reg(R2, R10), Add.imm(R2, STACK_CPU_KEY), Call(Helper.map_lookup_elem), JEq.imm(R0, 0, L.out), Mov.reg(R6, R0));
  emit(StoreMem(R6, META.skbAddr, R8, 8));
  if (point.reason) {
    emit(LoadMem(R1, R9, point.reason.offset, width(point.reason.size)), StoreMem(R6, META.reason, R1, 4));
  } else {
    emit(StoreImm(R6, META.reason, 0, 4));
  }
  const read = (metaOffset: number, span: Span, from: Register): Insn[] => [
    Mov.reg(R1, R6), Add.imm(R1, metaOffset), Mov.imm(R2, span.length), Mov.reg(R3, from), Add.imm(R3, span.start),
    Call(Helper.probe_read_kernel),
  ];
  emit(StoreImm(R6, META.ifindex, 0, 4), StoreImm(R6, META.netns, 0, 4), StoreImm(R6, META.hardHeaderLen, 0, 4));
  if (o.iface) {
    // -i: most skbs belong to other devices; turn them away after two
    // reads (skb->dev, then the net_device fields) before the sk_buff copy.
    // Each field is read once (every read costs a helper call and a
    // check of the address): the rest of the sk_buff comes next.
    emit(
      ...read(skbField(layout.skb.dev), { start: layout.skb.dev.offset, length: 8 }, R8), JNE.imm(R0, 0, L.out),
      LoadMem(R3, R6, skbField(layout.skb.dev), 8), JEq.imm(R3, 0, L.out),
      ...read(META.dev, layout.devSpan, R3), JNE.imm(R0, 0, L.out),
      LoadMem(R1, R6, devField(layout.dev.ifindex), 4), JNE.imm32(R1, o.iface.ifindex, L.out),
      ...read(skbAt(layout.skbSpanBesidesDev.start), layout.skbSpanBesidesDev, R8), JNE.imm(R0, 0, L.readError),
    );
  } else {
    // One read for every sk_buff field, then the device's.
    emit(
      ...read(META.skb, layout.skbSpan, R8), JNE.imm(R0, 0, L.readError),
      LoadMem(R3, R6, skbField(layout.skb.dev), 8), JEq.imm(R3, 0, L.devDone),
      ...read(META.dev, layout.devSpan, R3), JNE.imm(R0, 0, L.devDone),
    );
  }
  // The device: ifindex, header length, namespace.
  emit(
    LoadMem(R1, R6, devField(layout.dev.ifindex), 4), StoreMem(R6, META.ifindex, R1, 4),
    LoadMem(R1, R6, devField(layout.dev.hardHeaderLen), 2), StoreMem(R6, META.hardHeaderLen, R1, 4),
    LoadMem(R3, R6, devField(layout.dev.ndNet), 8), JEq.imm(R3, 0, L.devDone),
    Add.imm(R3, layout.netnsInum.offset), Mov.reg(R1, R6), Add.imm(R1, META.netns), Mov.imm(R2, 4),
    // On failure the helper zeroes the destination: netns stays 0.
    Call(Helper.probe_read_kernel),
  );
  emit(Label(L.devDone));
  if (o.iface) emit(LoadMem(R1, R6, META.netns, 4), JNE.imm32(R1, o.iface.netnsInode, L.out));
  // "Seen": skbs of the selected device (every skb without -i) the probe looked at.
  emit(...counter(COUNTER.seen));
  const gatherLookup = (mapFd: number): Insn[] => [
    LoadMapPtr(R1, mapFd), Mov.reg(R2, R10), Add.imm(R2, STACK_GATHER_KEY),
    Call(Helper.map_lookup_elem), JEq.imm(R0, 0, L.out),
  ];
  if (o.gather && !o.gather.first && !o.gather.byContent) {
    // Not the first point: only skbs the first point selected.
    emit(StoreMem(R10, STACK_GATHER_KEY, R8, 8), ...gatherLookup(o.gather.mapFd));
  }
  // Where the packet starts.
  emit(
    LoadMem(R1, R6, skbField(layout.skb.macHeader), 2),
    LoadMem(R2, R6, skbField(layout.skb.networkHeader), 2),
    LoadMem(R3, R6, META.hardHeaderLen, 4),
    JEq.imm(R1, MAC_HEADER_UNSET, L.l3),
    JEq.imm(R3, ETH_HLEN, L.l2),
    JNE.imm(R3, 0, L.l3),
    JGE.reg(R1, R2, L.l3),
    Label(L.l2), Mov.reg(R4, R1),
    StoreImm(R6, META.linktype, LINKTYPE_ETHERNET, 4),
    Ja(L.start),
    Label(L.l3), Mov.reg(R4, R2),
    StoreImm(R6, META.linktype, LINKTYPE_RAW, 4),
    Label(L.start), StoreMem(R6, META.start, R4, 4),
  );
  // caplen = min(tail - start, snaplen); nothing linear at the start is a read error.
  emit(
    LoadMem(R5, R6, skbField(layout.skb.tail), 4),
    JGE.reg(R4, R5, L.readError),
    Sub.reg(R5, R4),
    JLE.imm(R5, o.snaplen, L.fits),
    Mov.imm(R5, o.snaplen),
    Label(L.fits), StoreMem(R6, META.caplen, R5, 4),
  );
  // wirelen = len + (data - head) - start, never below caplen.
  emit(
    LoadMem(R1, R6, skbField(layout.skb.data), 8),
    LoadMem(R2, R6, skbField(layout.skb.head), 8),
    Sub.reg(R1, R2),
    LoadMem(R3, R6, skbField(layout.skb.len), 4),
    Add.reg(R1, R3),
    Sub.reg(R1, R4),
    JSGE.reg(R1, R5, L.wirelenOk),
    Mov.reg(R1, R5),
    Label(L.wirelenOk), StoreMem(R6, META.wirelen, R1, 4),
  );
  // Copy the linear bytes: probe_read_kernel(record + header, caplen, head + start).
  emit(
    Mov.reg(R3, R2), Add.reg(R3, R4),
    Mov.reg(R1, R7), Add.imm(R1, RECORD.headerSize),
    Mov.reg(R2, R5),
    Call(Helper.probe_read_kernel),
    JNE.imm(R0, 0, L.readError),
  );
  if (o.gather && !o.gather.first) {
    if (o.gather.byContent) emit(...emitContentKey(o.gather.byContent.bytes, o.snaplen, L.out), ...gatherLookup(o.gather.mapFd));
    emit(Ja(L.match));
  } else {
    // The filter for this start: r2 = packet bytes, r3 = caplen, r4 = wirelen.
    const fragment = (prog: readonly CbpfInsn[], prefix: string): Insn[] => [
      Mov.reg(R2, R7), Add.imm(R2, RECORD.headerSize),
      LoadMem(R3, R6, META.caplen, 4),
      JLE.imm(R3, o.snaplen, `${prefix}bounded`),
      Mov.imm(R3, o.snaplen),
      Label(`${prefix}bounded`), LoadMem(R4, R6, META.wirelen, 4),
      ...compileToEbpf(prog, {
        model: { kind: 'buffer', data: R2, caplen: R3, bufferSize: o.snaplen },
        a: R0, x: R1, tmp: R5, wirelen: R4, result: R0,
        stackBase: STACK_FILTER_MEM, match: L.match, noMatch: L.noMatch, prefix,
        ancillary: skbAncillary(point, layout),
      }),
    ];
    emit(LoadMem(R1, R6, META.linktype, 4), JNE.imm(R1, LINKTYPE_ETHERNET, L.raw));
    emit(...fragment(o.filter.ether, 'fe_'));
    emit(Label(L.raw), ...fragment(o.filter.raw, 'fr_'));
    // No match: at the first gather point the address now belongs to a packet
    // that was not selected (slab reuse): forget it so later points skip it.
    // A filter that accepts everything never jumps here, and the verifier
    // refuses unreachable code: emit the block only when it is used.
    if (insns.some((i) => i.target === L.noMatch)) {
      emit(Label(L.noMatch));
      if (o.gather?.first && !o.gather.byContent) {
        emit(
          LoadMem(R1, R6, META.skbAddr, 8), StoreMem(R10, STACK_GATHER_KEY, R1, 8),
          LoadMapPtr(R1, o.gather.mapFd), Mov.reg(R2, R10), Add.imm(R2, STACK_GATHER_KEY),
          Call(Helper.map_delete_elem),
        );
      }
      emit(Ja(L.out));
    }
  }

  emit(Label(L.match), ...counter(COUNTER.matched));
  if (o.gather?.first) {
    // Without a key (too few bytes captured) the packet is reported here but cannot be followed.
    if (o.gather.byContent) emit(...emitContentKey(o.gather.byContent.bytes, o.snaplen, L.gathered));
    else emit(LoadMem(R1, R6, META.skbAddr, 8), StoreMem(R10, STACK_GATHER_KEY, R1, 8));
    emit(
      Call(Helper.ktime_get_ns), StoreMem(R10, STACK_GATHER_VALUE, R0, 8),
      LoadMapPtr(R1, o.gather.mapFd), Mov.reg(R2, R10), Add.imm(R2, STACK_GATHER_KEY),
      Mov.reg(R3, R10), Add.imm(R3, STACK_GATHER_VALUE), Mov.imm(R4, BPF_ANY),
      Call(Helper.map_update_elem),
      Label(L.gathered),
    );
  }
  // The record header: common fields, then what only an skb has.
  emit(
    LoadMem(R8, R6, META.skbAddr, 8),
    LoadMem(R2, R6, META.wirelen, 4),
    LoadMem(R3, R6, META.caplen, 4),
    LoadMem(R4, R6, META.ifindex, 4),
    ...emitRecordHeader(R7, { addr: R8, wirelen: R2, caplen: R3, ifindex: R4, point: o.index, linktype: LINKTYPE_ETHERNET }),
    LoadMem(R1, R6, META.linktype, 4), StoreMem(R7, RECORD.linktype, R1, 1),
    LoadMem(R1, R6, META.netns, 4), StoreMem(R7, RECORD.netns, R1, 4),
    LoadMem(R1, R6, META.reason, 4), StoreMem(R7, RECORD.reason, R1, 4),
    LoadMem(R1, R6, skbField(layout.skb.mark), 4), StoreMem(R7, RECORD.mark, R1, 4),
    // skb->protocol stays in network byte order: a 2-byte copy keeps the bytes.
    LoadMem(R1, R6, skbField(layout.skb.protocol), 2), StoreMem(R7, RECORD.protocol, R1, 2),
  );
  if (o.maps.stacks !== undefined) {
    // Kernel stack of this hit (flags 0: kernel stack, no reuse of a taken id).
    emit(
      LoadMem(R1, R10, STACK_CTX, 8), LoadMapPtr(R2, o.maps.stacks), Mov.imm(R3, 0),
      Call(Helper.get_stackid), StoreMem(R7, RECORD.stackId, R0, 4),
    );
  }
  if (o.gather && !o.gather.first && point.freesSkb) {
    // The skb is freed here: its address is the next packet's from now on
    // (the key is still in its stack slot from the lookup).
    emit(
      LoadMapPtr(R1, o.gather.mapFd), Mov.reg(R2, R10), Add.imm(R2, STACK_GATHER_KEY),
      Call(Helper.map_delete_elem),
    );
  }
  emit(
    LoadMem(R8, R6, META.caplen, 4),
    ...emitRingOutput(o.maps.ring, R7, R8, o.snaplen, labels, o.wakeupAt),
    JEq.imm(R0, 0, L.out),
    ...counter(COUNTER.lost),
    Ja(L.out),
  );
  emit(Label(L.readError), ...counter(COUNTER.readErrors));
  emit(Label(L.out), Mov.imm(R0, 0), Exit());
  return { ...programType(point), name: programName(point), insns };
}

/**
 * The socket filter's packet type (libpcap's inbound/outbound) where a point
 * knows its direction: at transmit points PACKET_OUTGOING, as AF_PACKET marks
 * what a device sends; at receive points skb->pkt_type from the copy in the
 * meta scratch (r6), which is never PACKET_OUTGOING there. Other points have
 * no packet type to give, and such a filter is refused.
 */
function skbAncillary(point: SkbHook, layout: SkbLayout): AncillaryLoads {
  if (point.direction === 'out') return { pkttype: (dst) => [Mov.imm32(dst, PACKET_OUTGOING)] };
  if (point.direction !== 'in') return {};
  const t = layout.pktType;
  return { pkttype: (dst) => [LoadMem(dst, R6, META.skb + t.offset - layout.skbSpan.start, 1), RSh.imm(dst, t.shift), And.imm(dst, (1 << t.bits) - 1)] };
}

/** A program name bpftool can show: "ncskb_" + the event, cut to 15 characters. */
export function programName(point: SkbHook): string {
  return `ncskb_${point.target.replace(/^.*:/, '')}`.replace(/[^A-Za-z0-9_]/g, '_').slice(0, 15);
}


/**
 * The content key of the packet in the scratch record (probes/skb.ts META
 * says where its start and caplen are) into STACK_GATHER_KEY, as a u64
 * (CONTENT_KEY above); jumps to `fail` when fewer bytes were captured.
 * r6 = meta, r7 = record; clobbers r0-r5.
 */
function emitContentKey(bytes: number, snaplen: number, fail: string): Insn[] {
  const last = CONTENT_KEY.maxNetworkOffset + CONTENT_KEY.skip + bytes;
  // Below this a VLAN-tagged packet could never have its bytes captured (and
  // the verifier checks every load against the scratch value, header + 2 x snaplen).
  if (last > snaplen) {
    throw new UserError(`--gather-by-content with ${bytes} bytes needs a snap length of at least ${last}`, 'raise -s, or hash fewer bytes (--gather-bytes)');
  }
  const p = `ck_${fail}_`;
  const out: Insn[] = [
    Mov.reg(R5, R7), Add.imm(R5, RECORD.headerSize),
    LoadMem(R3, R6, META.caplen, 4),
    // r2 = where the network header starts in the captured bytes.
    Mov.imm(R2, 0),
    LoadMem(R1, R6, META.linktype, 4), JNE.imm(R1, LINKTYPE_ETHERNET, `${p}net`),
    Mov.imm(R2, 14),
  ];
  for (const tagEnd of [18, 22]) {
    out.push(
      JLT.imm(R3, tagEnd - 4, fail),
      LoadMem(R1, R5, tagEnd - 6, 2), ToBE(R1, 16),
      JEq.imm(R1, ETH_P_8021Q, `${p}tag${tagEnd}`),
      JNE.imm(R1, ETH_P_8021AD, `${p}net`),
      Label(`${p}tag${tagEnd}`), Mov.imm(R2, tagEnd),
    );
  }
  out.push(
    // Enough bytes? r4 = network offset + skip + bytes <= caplen.
    Label(`${p}net`), Mov.reg(R4, R2), Add.imm(R4, CONTENT_KEY.skip + bytes),
    JGT.reg(R4, R3, fail),
    JGT.imm(R2, CONTENT_KEY.maxNetworkOffset, fail),
    Add.reg(R5, R2),
    Mov.imm32(R0, CONTENT_KEY.fnvOffset),
  );
  for (let i = 0; i < bytes; i++) out.push(LoadMem(R1, R5, CONTENT_KEY.skip + i, 1), Xor.reg32(R0, R1), Mul.imm32(R0, CONTENT_KEY.fnvPrime));
  out.push(StoreMem(R10, STACK_GATHER_KEY, R0, 8));
  return out;
}
