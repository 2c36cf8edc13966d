// Uprobe program for `netcap raw`: functions that take the packet as a data
// pointer and a length (`func@N@M`: arg N = data, arg M = length), as
// AF_XDP programs and custom stacks do. Copies min(len, snaplen) bytes with
// bpf_probe_read_user into the scratch record, then filters and emits
// (probes/packet-body.ts). The record's addr is the data pointer.
import { Label, Add, Call, Exit, JEq, JLE, JNE, LoadMem, Mov, StoreImm } from '../src/ebpf/builders';
import { Helper } from '../src/ebpf/helpers';
import type { Insn } from '../src/ebpf/instruction';
import { R0, R1, R10, R2, R3, R6, R7, R8, R9 } from '../src/ebpf/registers';
import { COUNTER, COUNTERS_PER_POINT, RECORD } from '../src/capture/record';
import { LINKTYPE_ETHERNET } from '../src/output/linktypes';
import { emitCounterAdd, emitScratchLookup, Labels, zeroExtend32, type FilterEmitter } from './common';
import { emitPacketBody, SLOT } from './packet-body';

export interface RawProbeSpec {
  /** pt_regs offset of the data pointer argument. */
  dataOffset: number;
  /** pt_regs offset of the length argument (32 bits used). */
  lengthOffset: number;
  point: number;
  snaplen: number;
  filter: FilterEmitter;
  ringFd: number;
  countersFd: number;
  scratchFd: number;
  /** What the bytes start with (record linktype): Ethernet unless told otherwise. */
  linktype?: number;
  /** Wake the reader only when this many bytes wait in the ring (probes/common.ts emitRingOutput). */
  wakeupAt?: number;
}

export function buildRawProgram(spec: RawProbeSpec): Insn[] {
  const L = new Labels('r_');
  const counter = (k: number) => spec.point * COUNTERS_PER_POINT + k;
  return [
    LoadMem(R8, R1, spec.dataOffset, 8),
    LoadMem(R6, R1, spec.lengthOffset, 8),
    zeroExtend32(R6),
    JEq.imm(R8, 0, 'out'),
    ...emitCounterAdd(spec.countersFd, counter(COUNTER.seen), 1, SLOT.key, L),
    ...emitScratchLookup(spec.scratchFd, R9, SLOT.key, 'out'),
    Mov.reg(R7, R6),
    JLE.imm(R7, spec.snaplen, 'sized'),
    Mov.imm(R7, spec.snaplen),
    Label('sized'), Mov.reg(R1, R9),
    Add.imm(R1, RECORD.headerSize),
    Mov.reg(R2, R7),
    Mov.reg(R3, R8),
    Call(Helper.probe_read_user),
    JNE.imm(R0, 0, 'read_failed'),
    StoreImm(R10, SLOT.port, 0, 4),
    StoreImm(R10, SLOT.flags, 0, 1),
    ...emitPacketBody({
      ringFd: spec.ringFd,
      countersFd: spec.countersFd,
      point: spec.point,
      snaplen: spec.snaplen,
      linktype: spec.linktype ?? LINKTYPE_ETHERNET,
      filter: spec.filter,
      labels: L,
      done: 'out',
      wakeupAt: spec.wakeupAt,
    }),
    Label('read_failed'),
    ...emitCounterAdd(spec.countersFd, counter(COUNTER.readErrors), 1, SLOT.key, L),
    Label('out'), Mov.imm(R0, 0),
    Exit(),
  ];
}
