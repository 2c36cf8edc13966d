// Direct capture of an attached XDP program, without a hook (xdpdump's
// way): a TRACING program on the XDP program's entry function, fentry
// (the packet as it arrives) or fexit (the packet as the program left it,
// with the verdict it returned). The kernel hands it the function's
// arguments as u64s: args[0] is the struct xdp_buff * (the XDP program's
// struct xdp_md * as the kernel sees it), and for fexit args[1] is the
// return value. The program copies the linear part (data .. data_end,
// offsets from vmlinux BTF) with bpf_probe_read_kernel, runs the filter on
// the copy (the buffer model) and sends header + bytes to the ring; fexit
// puts the verdict in the record's `reason` field.
//
// Needs fentry/fexit (BPF trampolines) and an XDP program with BTF
// (func_info): the kernel refuses both on some kernels (this development
// kernel gives EPERM), where `netcap xdp --hook` is the way.
import { Add, Call, Exit, Ja, JEq, JGT, JLE, JNE, Label, LoadMem, Mov, StoreMem, Sub } from '../src/ebpf/builders';
import { Helper } from '../src/ebpf/helpers';
import type { Insn } from '../src/ebpf/instruction';
import { pruneUnreachable } from '../src/ebpf/prune';
import { R0, R1, R10, R2, R3, R4, R5, R6, R7, R8, R9 } from '../src/ebpf/registers';
import { COUNTER, COUNTERS_PER_POINT, FLAG_DIRECTION_KNOWN, RECORD } from '../src/capture/record';
import { LINKTYPE_ETHERNET } from '../src/output/linktypes';
import { compileToEbpf } from '../src/filter/compiler';
import { emitCounterAdd, emitRecordHeader, emitRingOutput, emitScratchLookup, Labels } from './common';
import type { XdpCaptureProgramOptions } from './xdp';

export type XdpDirectAt = 'entry' | 'exit';

// Stack slots (offsets from r10).
const STACK_COUNTER_KEY = -4;
const STACK_CPU_KEY = -8;
/** data and data_end copied out of the xdp_buff. */
const STACK_BUFF = -24;
const STACK_VERDICT = -32;
const STACK_FILTER_MEM = -96;

export interface XdpDirectProgramOptions extends XdpCaptureProgramOptions {
  at: XdpDirectAt;
  /** Byte offsets of `data` and `data_end` in struct xdp_buff (vmlinux BTF; adjacent on every kernel so far). */
  xdpBuff: { data: number; dataEnd: number };
}

export function buildXdpDirectProgram(o: XdpDirectProgramOptions): Insn[] {
  if (o.xdpBuff.dataEnd !== o.xdpBuff.data + 8) throw new Error('struct xdp_buff: data_end does not follow data; netcap reads both with one copy');
  const labels = new Labels(`d${o.point}_`);
  const counter = (which: number): Insn[] => emitCounterAdd(o.maps.counters, o.point * COUNTERS_PER_POINT + which, 1, STACK_COUNTER_KEY, labels);
  const filter: Insn[] = o.filter
    ? compileToEbpf(o.filter, {
        model: { kind: 'buffer', data: R5, caplen: R8, bufferSize: o.snaplen },
        a: R0,
        x: R1,
        tmp: R4,
        wirelen: R7,
        result: R0,
        stackBase: STACK_FILTER_MEM,
        match: 'match',
        noMatch: 'out',
        prefix: `${labels.prefix}f_`,
      })
    : [Mov.imm(R0, 0x7fffffff), Ja('match')];
  const insns: Insn[] = [
    Mov.reg(R6, R1).withComment('r6 = the arguments (u64 each)'),
    ...(o.at === 'exit' ? [LoadMem(R1, R6, 8, 8), StoreMem(R10, STACK_VERDICT, R1, 4)] : []),
    ...counter(COUNTER.seen),
    LoadMem(R3, R6, 0, 8).withComment('r3 = the struct xdp_buff *'),
    Add.imm(R3, o.xdpBuff.data),
    Mov.reg(R1, R10),
    Add.imm(R1, STACK_BUFF),
    Mov.imm(R2, 16),
    Call(Helper.probe_read_kernel).withComment('data, data_end'),
    JNE.imm(R0, 0, 'unread'),
    LoadMem(R7, R10, STACK_BUFF + 8, 8),
    LoadMem(R1, R10, STACK_BUFF, 8),
    Sub.reg(R7, R1).withComment('r7 = linear length (the wire length of a one-buffer packet)'),
    JGT.imm(R7, 0xffff, 'unread'),
    ...emitScratchLookup(o.maps.scratch, R9, STACK_CPU_KEY, 'out'),
    Mov.reg(R8, R7),
    JLE.imm(R8, o.snaplen, 'snapped'),
    Mov.imm(R8, o.snaplen),
    Label('snapped'),
    JEq.imm(R8, 0, 'copied'),
    Mov.reg(R1, R9),
    Add.imm(R1, RECORD.headerSize),
    Mov.reg(R2, R8),
    LoadMem(R3, R10, STACK_BUFF, 8),
    Call(Helper.probe_read_kernel).withComment('the packet bytes'),
    JNE.imm(R0, 0, 'unread'),
    Label('copied'),
    Mov.reg(R5, R9),
    Add.imm(R5, RECORD.headerSize),
    ...filter,
    Label('match'),
    JLE.reg(R8, R0, 'kept'),
    Mov.reg(R8, R0),
    Label('kept'),
    ...counter(COUNTER.matched),
    Mov.imm(R3, FLAG_DIRECTION_KNOWN),
    ...emitRecordHeader(R9, { wirelen: R7, caplen: R8, flags: R3, point: o.point, linktype: LINKTYPE_ETHERNET }),
    ...(o.at === 'exit' ? [LoadMem(R1, R10, STACK_VERDICT, 4), StoreMem(R9, RECORD.reason, R1, 4)] : []),
    ...emitRingOutput(o.maps.ring, R9, R8, o.snaplen, labels, o.wakeupAt),
    JEq.imm(R0, 0, 'out'),
    ...counter(COUNTER.lost),
    Ja('out'),
    Label('unread'),
    ...counter(COUNTER.readErrors),
    Label('out'),
    Mov.imm(R0, 0).withComment('tracing programs return 0'),
    Exit(),
  ];
  return pruneUnreachable(insns);
}
