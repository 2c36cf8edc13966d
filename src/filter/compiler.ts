// cBPF -> eBPF: translates a classic BPF program (as libpcap emits it) into a
// FRAGMENT of eBPF instructions that the caller inlines into its own program.
// The caller picks the registers, the stack slots for M[0..15], the memory
// model and the labels to jump to on match and no match.
//
// Semantics reproduced (libpcap's bpf_filter(), pcap/bpf_filter.c, and the
// kernel's cBPF rules where they agree):
// - loads are big-endian: 16/32-bit loads are followed by a byte swap;
// - a load beyond the captured bytes ends the filter with "no match";
// - A, X and M[] are unsigned 32-bit; A and X start at 0; we zero the M[]
//   slots the program reads (the verifier refuses reads of unwritten stack);
// - division or modulo by X == 0 ends the filter with "no match" (eBPF would
//   give 0 / A instead); a constant divisor of 0 is refused;
// - shifts by X >= 32 give 0 (libpcap checks `X < 32`); shifts by a constant
//   take it modulo 32 (the plain C shift on x86-64/arm64, measured);
// - comparisons are unsigned 32-bit: done with JMP32, whose immediate is
//   compared as u32, so constants >= 2^31 need no register (kernel 5.1+);
// - `ret #0` / `ret a` with A == 0 are "no match"; other values are the snap
//   length, left in the caller's result register.
// - `ld [SKF_AD_OFF + n]` (the Linux socket filter's metadata loads, which
//   libpcap emits on a live handle for inbound/outbound, vlan and ifindex)
//   load what the caller's context says (`ancillary`), whatever the load's
//   width, as the kernel does (convert_bpf_extensions, net/core/filter.c);
//   a field the context lacks is refused, never silently "no match";
// The verifier refuses unreachable code, so unreachable cBPF instructions are
// dropped. Backward jumps (libpcap's `protochain` walks IPv6 extension
// headers in a loop) are either a bounded loop (`boundedLoops`, kernel 6.9+):
// each backward `ja` passes a `may_goto`, so the verifier proves the loop by
// the convergence of its states and every packet is walked as libpcap walks
// it; or unrolled: each backward `ja` goes to a fresh copy of the program, at
// most `maxLoopIterations` times (default 8), and a packet that needs more
// iterations is "no match", where libpcap would walk on.
import { UserError } from '../errors';
import { Label,
  Add,
  And,
  Div,
  Insn,
  JEq,
  JGE,
  JGT,
  JLE,
  JLT,
  JNE,
  JSet,
  Ja,
  LSh,
  MayGoto,
  LoadMem,
  Mod,
  Mov,
  Mul,
  Neg32,
  Or,
  R10,
  RSh,
  StoreImm,
  StoreMem,
  Sub,
  ToBE,
  Xor,
  pruneUnreachable,
  type JumpBuilder,
  type Register,
  type Width,
} from '../ebpf';
import * as c from './cbpf';
import type { CbpfInsn } from './cbpf';

/** Direct packet access (XDP, TC): `data` and `dataEnd` are the context's packet pointers. */
export interface PacketModel {
  kind: 'packet';
  data: Register;
  dataEnd: Register;
}

/**
 * Bytes already copied into a buffer (a map value or the stack) of
 * `bufferSize` bytes at pointer `data`, of which `caplen` (a register
 * holding a zero-extended u32 <= bufferSize) were captured. Bounds are
 * checked on the scalar index before a pointer is formed, which the verifier
 * accepts in tracing programs.
 */
export interface BufferModel {
  kind: 'buffer';
  data: Register;
  caplen: Register;
  bufferSize: number;
}

export type MemoryModel = PacketModel | BufferModel;

/** SKF_AD_OFF (include/uapi/linux/filter.h): metadata loads are `ld [SKF_AD_OFF + n]`. */
export const SKF_AD_OFF = 0xfffff000;
/** SKF_AD_MAX: offsets from SKF_AD_OFF up to it name kernel extensions. */
const SKF_AD_MAX = 64;

/** The socket filter's metadata fields (SKF_AD_* offsets) a context may have. */
export const ANCILLARY_FIELDS = {
  protocol: { offset: 0, name: 'SKF_AD_PROTOCOL', what: 'the protocol the kernel gave the packet (skb->protocol)' },
  pkttype: { offset: 4, name: 'SKF_AD_PKTTYPE', what: 'the packet type (inbound/outbound)' },
  ifindex: { offset: 8, name: 'SKF_AD_IFINDEX', what: 'the interface index (ifindex)' },
  mark: { offset: 20, name: 'SKF_AD_MARK', what: 'the packet mark (skb->mark)' },
  queue: { offset: 24, name: 'SKF_AD_QUEUE', what: 'the queue mapping (skb->queue_mapping)' },
  hatype: { offset: 28, name: 'SKF_AD_HATYPE', what: 'the device type (dev->type)' },
  rxhash: { offset: 32, name: 'SKF_AD_RXHASH', what: 'the packet hash (skb->hash)' },
  vlanTag: { offset: 44, name: 'SKF_AD_VLAN_TAG', what: 'the VLAN tag the kernel took out of the packet (vlan)' },
  vlanTagPresent: { offset: 48, name: 'SKF_AD_VLAN_TAG_PRESENT', what: 'whether the kernel took a VLAN tag out of the packet (vlan)' },
  vlanTpid: { offset: 60, name: 'SKF_AD_VLAN_TPID', what: 'the protocol of the VLAN tag the kernel took out of the packet' },
} as const;

export type AncillaryField = keyof typeof ANCILLARY_FIELDS;

/**
 * Emitters for the metadata a context has: each puts the field's value (a
 * zero-extended u32, in host order as the kernel's cBPF gives it) in `dst`
 * and uses no other register.
 */
export type AncillaryLoads = Partial<Record<AncillaryField, (dst: Register) => Insn[]>>;

/** Kernel extensions that are operations, not packet metadata: netcap never translates them (libpcap does not emit them). */
const UNSUPPORTED_EXTENSIONS: Record<number, string> = {
  12: 'SKF_AD_NLATTR',
  16: 'SKF_AD_NLATTR_NEST',
  36: 'SKF_AD_CPU',
  40: 'SKF_AD_ALU_XOR_X',
  52: 'SKF_AD_PAY_OFFSET',
  56: 'SKF_AD_RANDOM',
};

export interface FragmentOptions {
  model: MemoryModel;
  /** The accumulator A and index X (clobbered). */
  a: Register;
  x: Register;
  /** A scratch register (clobbered). */
  tmp: Register;
  /** Holds the wire length (zero-extended u32) that `len` loads. */
  wirelen: Register;
  /** Receives the snap length on a match (may be the same as `a`). */
  result: Register;
  /** M[i] lives at r10 + stackBase + 4*i: 64 bytes, 4-byte aligned, below the frame pointer. */
  stackBase: number;
  /** Label jumped to on a match, with the snap length in `result`. */
  match: string;
  /** Label jumped to on no match. */
  noMatch: string;
  /** Prefix for the fragment's own labels, unique within the caller's program. */
  prefix?: string;
  /** Copies made for backward jumps (protochain); 0 refuses them. Default 8. */
  maxLoopIterations?: number;
  /**
   * Backward jumps as a real loop through `may_goto` (kernel 6.9+) instead
   * of unrolled copies. X is held at one past the largest packet offset at
   * each backward jump: beyond the captured bytes it can only make a later
   * load fail, which is all libpcap's protochain loop (the one producer of
   * backward jumps) does with it, and the bound lets the verifier's states
   * converge. A packet still walking after the kernel's 8M passes is no match.
   */
  boundedLoops?: boolean;
  /**
   * The packet metadata the context has, for `ld [SKF_AD_OFF + n]` (see
   * AncillaryLoads). A load of a field missing here is a CompileError.
   */
  ancillary?: AncillaryLoads;
}

export const DEFAULT_MAX_LOOP_ITERATIONS = 8;

/** The packet model's limit on offsets: linear packet data is shorter than 64 KiB. */
const MAX_PACKET_OFFSET = 0xffff;

export class CompileError extends UserError {}

const widthOf = (code: number): Width => {
  switch (c.bpfSize(code)) {
    case c.BPF_B:
      return 1;
    case c.BPF_H:
      return 2;
    default:
      return 4;
  }
};

/** Successors of instruction i (ja may go backwards); refuses jumps past the end. */
function successors(prog: readonly CbpfInsn[], i: number): number[] {
  const insn = prog[i];
  const cls = c.bpfClass(insn.code);
  let next: number[];
  if (cls === c.BPF_RET) next = [];
  else if (cls === c.BPF_JMP && c.bpfOp(insn.code) === c.BPF_JA) next = [i + 1 + (insn.k | 0)];
  else if (cls === c.BPF_JMP) next = [i + 1 + insn.jt, i + 1 + insn.jf];
  else next = [i + 1];
  for (const n of next) {
    if (n < 0 || n >= prog.length) throw new CompileError(`instruction ${i} jumps or falls outside the program (to ${n})`, 'the cBPF program is invalid');
  }
  return next;
}

function checkNotEmpty(prog: readonly CbpfInsn[]): void {
  if (prog.length === 0) throw new CompileError('the cBPF program is empty', 'libpcap always emits at least one instruction');
}

/** Which instructions can run, following jt/jf/ja (backward ones too) from the first. */
export function reachable(prog: readonly CbpfInsn[]): boolean[] {
  checkNotEmpty(prog);
  const seen = new Array<boolean>(prog.length).fill(false);
  const work = [0];
  while (work.length) {
    const i = work.pop()!;
    if (seen[i]) continue;
    seen[i] = true;
    work.push(...successors(prog, i));
  }
  return seen;
}

/**
 * Reachability of the unrolled program: live[it][i] says whether instruction
 * i runs in copy `it` (the copy after `it` backward jumps). A backward jump
 * in the last copy leads nowhere (no match).
 */
function reachableUnrolled(prog: readonly CbpfInsn[], maxLoopIterations: number): boolean[][] {
  checkNotEmpty(prog);
  const live = Array.from({ length: maxLoopIterations + 1 }, () => new Array<boolean>(prog.length).fill(false));
  const work: [number, number][] = [[0, 0]];
  while (work.length) {
    const [it, i] = work.pop()!;
    if (live[it][i]) continue;
    live[it][i] = true;
    for (const n of successors(prog, i)) {
      if (n > i) work.push([it, n]);
      else if (maxLoopIterations === 0) {
        throw new CompileError(
          `the filter loops backwards at instruction ${i} (ja ${n}): libpcap emits this for "protochain"`,
          'netcap compiles loop-free filters only here: use "ip proto N" / "ip6 proto N" (no extension-header walk) instead of protochain',
        );
      } else if (it < maxLoopIterations) work.push([it + 1, n]);
    }
  }
  return live;
}

/** Compiles a cBPF program to an eBPF fragment (see FragmentOptions). */
export function compileToEbpf(prog: readonly CbpfInsn[], opts: FragmentOptions): Insn[] {
  checkOptions(opts);
  return new FragmentBuilder(prog, opts).build();
}

function checkOptions(o: FragmentOptions): void {
  const regs = [o.a, o.x, o.tmp, o.wirelen, o.model.data, o.model.kind === 'packet' ? o.model.dataEnd : o.model.caplen];
  if (new Set(regs).size !== regs.length) throw new Error(`compileToEbpf: registers a, x, tmp, wirelen, data and end must be distinct (got ${regs.join(',')})`);
  if (regs.includes(R10) || o.result === R10) throw new Error('compileToEbpf: r10 is the read-only frame pointer');
  if (o.result !== o.a && regs.includes(o.result)) throw new Error('compileToEbpf: result must be a free register or a');
  if (o.stackBase % 4 !== 0 || o.stackBase > -64 || o.stackBase < -512) throw new Error(`compileToEbpf: stackBase ${o.stackBase} must be 4-aligned and in [-512, -64]`);
  const loops = o.maxLoopIterations ?? DEFAULT_MAX_LOOP_ITERATIONS;
  if (!Number.isInteger(loops) || loops < 0 || loops > 64) throw new Error(`compileToEbpf: maxLoopIterations ${loops} must be 0..64`);
  if (o.model.kind === 'buffer' && (!Number.isInteger(o.model.bufferSize) || o.model.bufferSize < 1 || o.model.bufferSize > 0x7fffffff)) {
    throw new Error(`compileToEbpf: bad bufferSize ${o.model.bufferSize}`);
  }
}

class FragmentBuilder {
  private readonly out: Insn[] = [];
  private pendingLabel: string | undefined;
  private readonly prefix: string;
  private readonly maxLoops: number;
  /** The copy being emitted (number of backward jumps taken to get here). */
  private iter = 0;

  constructor(
    private readonly prog: readonly CbpfInsn[],
    private readonly o: FragmentOptions,
  ) {
    this.prefix = o.prefix ?? 'f';
    this.maxLoops = o.maxLoopIterations ?? DEFAULT_MAX_LOOP_ITERATIONS;
  }

  /** The label of cBPF instruction i's first eBPF instruction in copy `it`. */
  private label(i: number, it = this.iter): string {
    return it === 0 ? `${this.prefix}_${i}` : `${this.prefix}_${i}_${it}`;
  }

  /** Where a jump to cBPF instruction i goes: a `ret #0` means straight to the caller's no-match label. */
  private jumpLabel(i: number): string {
    const target = this.prog[i];
    if (target && target.code === (c.BPF_RET | c.BPF_K) && target.k >>> 0 === 0) return this.o.noMatch;
    return this.label(i);
  }

  private emit(...insns: Insn[]): void {
    for (const insn of insns) {
      if (this.pendingLabel !== undefined) {
        this.out.push(Label(this.pendingLabel));
        this.pendingLabel = undefined;
      }
      this.out.push(insn);
    }
  }

  build(): Insn[] {
    const live = this.o.boundedLoops ? [reachable(this.prog)] : reachableUnrolled(this.prog, this.maxLoops);
    const { a, x } = this.o;
    const anyCopy = (i: number): boolean => live.some((copy) => copy[i]);
    // A and X start at 0; zero the M[] slots any reachable instruction reads.
    this.emit(Mov.imm32(a, 0), Mov.imm32(x, 0));
    const readSlots = new Set<number>();
    this.prog.forEach((insn, i) => {
      if (!anyCopy(i)) return;
      if (insn.code === (c.BPF_LD | c.BPF_MEM) || insn.code === (c.BPF_LDX | c.BPF_MEM)) readSlots.add(insn.k);
    });
    for (const slot of [...readSlots].sort((p, q) => p - q)) this.emit(StoreImm(R10, this.slot(slot, 0), 0, 4));
    // Which instructions are jump targets (they need a label): forward
    // targets in the same copy, backward ones in the next.
    const targets = new Set<string>();
    live.forEach((copy, it) =>
      this.prog.forEach((insn, i) => {
        if (!copy[i] || c.bpfClass(insn.code) !== c.BPF_JMP) return;
        for (const n of successors(this.prog, i)) targets.add(this.label(n, n > i || this.o.boundedLoops ? it : it + 1));
      }),
    );
    for (let it = 0; it < live.length; it++) {
      this.iter = it;
      let prev = -1;
      for (let i = 0; i < this.prog.length; i++) {
        if (!live[it][i]) continue;
        // A dropped instruction in between means i is only reached by a jump, which has its label.
        if (targets.has(this.label(i)) || prev !== i - 1) this.pendingLabel = this.label(i);
        const before = this.out.length;
        this.translate(this.prog[i], i, this.nextLive(live[it], i));
        if (this.out.length === before) throw new Error(`internal: cBPF instruction ${i} produced no eBPF`);
        prev = i;
      }
    }
    // Blocks whose every jump was redirected (to no-match) are now dead, and
    // the verifier refuses dead code.
    return pruneUnreachable(this.out, new Set([this.o.match, this.o.noMatch]));
  }

  private nextLive(live: boolean[], i: number): number {
    for (let n = i + 1; n < live.length; n++) if (live[n]) return n;
    return -1;
  }

  private slot(k: number, i: number): number {
    if (k >= c.BPF_MEMWORDS) throw new CompileError(`instruction ${i} uses M[${k}]: only M[0..15] exist`, 'the cBPF program is invalid');
    return this.o.stackBase + 4 * k;
  }

  private translate(insn: CbpfInsn, i: number, next: number): void {
    const { a, x, wirelen } = this.o;
    const code = insn.code;
    const k = insn.k >>> 0;
    switch (c.bpfClass(code)) {
      case c.BPF_RET:
        return this.ret(insn, i);
      case c.BPF_LD:
        switch (code) {
          case c.BPF_LD | c.BPF_W | c.BPF_ABS:
          case c.BPF_LD | c.BPF_H | c.BPF_ABS:
          case c.BPF_LD | c.BPF_B | c.BPF_ABS:
            if (k >= SKF_AD_OFF && k < SKF_AD_OFF + SKF_AD_MAX) return this.loadAncillary(k - SKF_AD_OFF, i);
            return this.loadAbs(a, k, widthOf(code));
          case c.BPF_LD | c.BPF_W | c.BPF_IND:
          case c.BPF_LD | c.BPF_H | c.BPF_IND:
          case c.BPF_LD | c.BPF_B | c.BPF_IND:
            return this.loadInd(k, widthOf(code));
          case c.BPF_LD | c.BPF_W | c.BPF_LEN:
            return this.emit(Mov.reg32(a, wirelen));
          case c.BPF_LD | c.BPF_IMM:
            return this.emit(Mov.imm32(a, k));
          case c.BPF_LD | c.BPF_MEM:
            return this.emit(LoadMem(a, R10, this.slot(k, i), 4));
        }
        break;
      case c.BPF_LDX:
        switch (code) {
          case c.BPF_LDX | c.BPF_W | c.BPF_IMM:
            return this.emit(Mov.imm32(x, k));
          case c.BPF_LDX | c.BPF_W | c.BPF_MEM:
            return this.emit(LoadMem(x, R10, this.slot(k, i), 4));
          case c.BPF_LDX | c.BPF_W | c.BPF_LEN:
            return this.emit(Mov.reg32(x, wirelen));
          case c.BPF_LDX | c.BPF_B | c.BPF_MSH:
            // X = 4 * (P[k] & 0xf): the IPv4 header length.
            this.loadAbs(x, k, 1);
            return this.emit(And.imm32(x, 0xf), LSh.imm32(x, 2));
        }
        break;
      case c.BPF_ST:
        if (code === c.BPF_ST) return this.emit(StoreMem(R10, this.slot(k, i), a, 4));
        break;
      case c.BPF_STX:
        if (code === c.BPF_STX) return this.emit(StoreMem(R10, this.slot(k, i), x, 4));
        break;
      case c.BPF_ALU:
        return this.alu(insn, i);
      case c.BPF_JMP:
        return this.jump(insn, i, next);
      case c.BPF_MISC:
        if (code === (c.BPF_MISC | c.BPF_TAX)) return this.emit(Mov.reg32(x, a));
        if (code === (c.BPF_MISC | c.BPF_TXA)) return this.emit(Mov.reg32(a, x));
        break;
    }
    throw new CompileError(`instruction ${i} has opcode 0x${code.toString(16)}, which libpcap's bpf_filter does not run`, 'the cBPF program is invalid');
  }

  private ret(insn: CbpfInsn, _i: number): void {
    const { result, a, match, noMatch } = this.o;
    const src = c.bpfRval(insn.code);
    if (src === c.BPF_K && insn.code === (c.BPF_RET | c.BPF_K)) {
      if (insn.k >>> 0 === 0) return this.emit(Ja(noMatch));
      return this.emit(Mov.imm32(result, insn.k >>> 0), Ja(match));
    }
    if (insn.code === (c.BPF_RET | c.BPF_A)) {
      if (result !== a) this.emit(Mov.reg32(result, a));
      return this.emit(JEq.imm32(result, 0, noMatch), Ja(match));
    }
    throw new CompileError(`instruction ${_i}: ret with opcode 0x${insn.code.toString(16)} is not one libpcap runs`, 'the cBPF program is invalid');
  }

  /** A = the metadata field at SKF_AD_OFF + offset, from the context's emitter; refused when the context has none. */
  private loadAncillary(offset: number, i: number): void {
    const unsupported = UNSUPPORTED_EXTENSIONS[offset];
    if (unsupported) throw new CompileError(`instruction ${i} uses the Linux socket filter extension ${unsupported}, which netcap does not translate`, 'libpcap never emits it: the cBPF program was written by hand');
    const entry = Object.entries(ANCILLARY_FIELDS).find(([, f]) => f.offset === offset);
    if (!entry) throw new CompileError(`instruction ${i} loads SKF_AD_OFF + ${offset}, which is no Linux socket filter extension`, 'the cBPF program is invalid');
    const [field, f] = entry as [AncillaryField, (typeof ANCILLARY_FIELDS)[AncillaryField]];
    const emit = this.o.ancillary?.[field];
    if (!emit) {
      throw new CompileError(
        `the filter tests ${f.what}, which this capture point does not know (libpcap's ${f.name} load, cBPF instruction ${i})`,
        'the kernel gives this to filters at network interfaces (netcap iface); elsewhere, filter on what the packet bytes hold',
      );
    }
    this.emit(...emit(this.o.a));
  }

  /** dst = big-endian value of `width` bytes at packet offset k, or no match when beyond the captured bytes. */
  private loadAbs(dst: Register, k: number, width: Width): void {
    const { model, tmp, noMatch } = this.o;
    const end = k + width;
    if (model.kind === 'packet') {
      if (end > MAX_PACKET_OFFSET) return this.emit(Ja(noMatch));
      // tmp = data + end; if (tmp > data_end) no match; read at tmp - width.
      // The range check and the load use the same register, and the load's
      // offset stays small whatever k is (the off field is only 16 bits).
      this.emit(Mov.reg(tmp, model.data), Add.imm(tmp, end), JGT.reg(tmp, model.dataEnd, noMatch), LoadMem(dst, tmp, -width, width));
    } else {
      if (end > model.bufferSize) return this.emit(Ja(noMatch));
      // Scalar check against the captured length; the constant offset is
      // within the buffer, so the verifier needs nothing more.
      this.emit(JLT.imm(model.caplen, end, noMatch));
      if (k <= 0x7fff) this.emit(LoadMem(dst, model.data, k, width));
      else this.emit(Mov.reg(tmp, model.data), Add.imm(tmp, k), LoadMem(dst, tmp, 0, width));
    }
    this.swap(dst, width);
  }

  /** A = big-endian value of `width` bytes at packet offset X + k. */
  private loadInd(k: number, width: Width): void {
    const { model, tmp, a, x, noMatch } = this.o;
    const end = k + width;
    if (model.kind === 'packet') {
      if (end > MAX_PACKET_OFFSET) return this.emit(Ja(noMatch));
      // Bound X first: the verifier refuses pointer arithmetic with an
      // unbounded scalar, and only marks a range after `if tmp > data_end`
      // when tmp's largest offset is <= MAX_PACKET_OFF (0xffff,
      // find_good_pkt_pointers in kernel/bpf/verifier.c). X + k + width
      // beyond that is past any linear packet anyway: no match.
      // The range check stays on tmp alone: the load reads tmp - width.
      this.emit(
        JGT.imm(x, MAX_PACKET_OFFSET - end, noMatch),
        Mov.reg(tmp, model.data),
        Add.reg(tmp, x),
        Add.imm(tmp, end),
        JGT.reg(tmp, model.dataEnd, noMatch),
        LoadMem(a, tmp, -width, width),
      );
    } else {
      if (end > model.bufferSize) return this.emit(Ja(noMatch));
      // tmp = X + k + width (64-bit: no wrap-around, as libpcap's overflow-safe
      // checks); compare with caplen, then with the buffer size so the
      // verifier has a constant bound, and only then form the pointer.
      this.emit(
        Mov.reg(tmp, x),
        Add.imm(tmp, end),
        JGT.reg(tmp, model.caplen, noMatch),
        JGT.imm(tmp, model.bufferSize, noMatch),
        Add.reg(tmp, model.data),
        LoadMem(a, tmp, -width, width),
      );
    }
    this.swap(a, width);
  }

  private swap(reg: Register, width: Width): void {
    if (width === 2) this.emit(ToBE(reg, 16));
    else if (width === 4) this.emit(ToBE(reg, 32));
  }

  private alu(insn: CbpfInsn, i: number): void {
    const { a, x, noMatch } = this.o;
    const code = insn.code;
    const k = insn.k >>> 0;
    const op = c.bpfOp(code);
    if (code === (c.BPF_ALU | c.BPF_NEG)) return this.emit(Neg32(a));
    const byX = c.bpfSrc(code) === c.BPF_X;
    if ((code & 0x07) !== c.BPF_ALU || (code & ~0xf8) !== c.BPF_ALU) {
      throw new CompileError(`instruction ${i} has opcode 0x${code.toString(16)}, which libpcap's bpf_filter does not run`, 'the cBPF program is invalid');
    }
    const builders = { [c.BPF_ADD]: Add, [c.BPF_SUB]: Sub, [c.BPF_MUL]: Mul, [c.BPF_AND]: And, [c.BPF_OR]: Or, [c.BPF_XOR]: Xor } as const;
    const plain = builders[op as keyof typeof builders];
    if (plain) return this.emit(byX ? plain.reg32(a, x) : plain.imm32(a, k));
    if (op === c.BPF_DIV || op === c.BPF_MOD) {
      const b = op === c.BPF_DIV ? Div : Mod;
      if (!byX) {
        if (k === 0) throw new CompileError(`instruction ${i} divides by the constant 0`, 'libpcap refuses such programs too (bpf_validate)');
        return this.emit(b.imm32(a, k));
      }
      return this.emit(JEq.imm32(x, 0, noMatch), b.reg32(a, x));
    }
    if (op === c.BPF_LSH || op === c.BPF_RSH) {
      const b = op === c.BPF_LSH ? LSh : RSh;
      if (!byX) return this.emit(b.imm32(a, k & 31));
      const shift = `${this.label(i)}_shift`;
      const done = `${this.label(i)}_done`;
      // libpcap: `if (X < 32) A <<= X; else A = 0;`
      this.emit(JLT.imm32(x, 32, shift), Mov.imm32(a, 0), Ja(done), Label(shift), b.reg32(a, x));
      this.pendingLabel = done;
      // The next instruction (or a filler) carries the label.
      return this.emit(Mov.reg32(a, a));
    }
    throw new CompileError(`instruction ${i} has ALU opcode 0x${code.toString(16)}, which libpcap's bpf_filter does not run`, 'the cBPF program is invalid');
  }

  /** A backward `ja` of a bounded loop: X held at one past the largest offset, a may_goto, the jump. */
  private loopBack(i: number, to: number): void {
    const { x, model, noMatch } = this.o;
    const limit = (model.kind === 'buffer' ? model.bufferSize : MAX_PACKET_OFFSET) + 1;
    const held = `${this.label(i)}_held`;
    // The mask changes no value <= limit, but leaves the verifier a range it
    // has seen before (no growing lower bound): its states converge at once.
    const mask = 2 ** Math.ceil(Math.log2(limit + 1)) - 1;
    this.emit(JLE.imm(x, limit, held), Mov.imm32(x, limit), Label(held), And.imm32(x, mask), MayGoto(noMatch), Ja(this.label(to)));
  }

  private jump(insn: CbpfInsn, i: number, next: number): void {
    const { a, x } = this.o;
    const code = insn.code;
    const op = c.bpfOp(code);
    if (code === (c.BPF_JMP | c.BPF_JA)) {
      const to = i + 1 + (insn.k | 0);
      if (to > i) return this.emit(Ja(this.jumpLabel(to)));
      if (this.o.boundedLoops) return this.loopBack(i, to);
      // Backward: into the next copy, or no match once the copies run out.
      if (this.iter >= this.maxLoops) return this.emit(Ja(this.o.noMatch));
      return this.emit(Ja(this.label(to, this.iter + 1)));
    }
    if ((code & ~0xf8) !== c.BPF_JMP) {
      throw new CompileError(`instruction ${i} has opcode 0x${code.toString(16)}, which libpcap's bpf_filter does not run`, 'the cBPF program is invalid');
    }
    const byX = c.bpfSrc(code) === c.BPF_X;
    const jt = i + 1 + insn.jt;
    const jf = i + 1 + insn.jf;
    if (jt === jf) return this.emit(Ja(this.jumpLabel(jt)));
    const forms: Record<number, [JumpBuilder, JumpBuilder | undefined]> = {
      [c.BPF_JEQ]: [JEq, JNE],
      [c.BPF_JGT]: [JGT, JLE],
      [c.BPF_JGE]: [JGE, JLT],
      [c.BPF_JSET]: [JSet, undefined],
    };
    const form = forms[op];
    if (!form) throw new CompileError(`instruction ${i} has jump opcode 0x${code.toString(16)}, which libpcap's bpf_filter does not run`, 'the cBPF program is invalid');
    const [cond, inverse] = form;
    const k = insn.k >>> 0;
    const j = (b: JumpBuilder, target: number): Insn => (byX ? b.reg32(a, x, this.jumpLabel(target)) : b.imm32(a, k, this.jumpLabel(target)));
    if (jt === next && inverse) return this.emit(j(inverse, jf));
    this.emit(j(cond, jt));
    if (jf !== next) this.emit(Ja(this.jumpLabel(jf)));
  }
}

