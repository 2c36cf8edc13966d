// Small probe programs for the runtime tests, built with the project's own
// instruction builders. Records are u64 fields in host order.
import { Label, Add, Call, Exit, JEq, LoadMapPtr, LoadMem, Mov, StoreImm, StoreMem } from '../../src/ebpf/builders';
import { Helper } from '../../src/ebpf/helpers';
import { Insn } from '../../src/ebpf/instruction';
import { R0, R1, R10, R2, R3, R4, R6, type Register } from '../../src/ebpf/registers';
import { createMap, u32, type BpfMap } from '../../src/bpf/map';
import { emitCounterAdd, Labels } from '../../probes/common';
import { loadProgram, type Program, type ProgramSpec } from '../../src/bpf/program';
import { ProgType } from '../../src/bpf/constants';

// struct pt_regs on x86_64 (arch/x86/include/uapi/asm/ptrace.h): the
// uprobe context. Arguments in rdi, rsi; the return value in rax.
export const PT_REGS = { rax: 80, rsi: 104, rdi: 112 } as const;

/** Emits `r(value)` into the record slot `slot` (u64) at r10 - 8*(slots - slot). */
type Field = (dst: Register) => Insn[];

/** ctx field at `off` (u64), read from r6 = ctx. */
export function ctxField(off: number): Field {
  return (dst) => [LoadMem(dst, R6, off, 8)];
}

export function helperField(helper: Helper): Field {
  return (dst) => [Call(helper), Mov.reg(dst, R0)];
}

/** bpf_get_attach_cookie(ctx). */
export const cookieField: Field = (dst) => [Mov.reg(R1, R6), Call(Helper.get_attach_cookie), Mov.reg(dst, R0)];

/**
 * A program that writes one record of `fields.length` u64s to the ring with
 * bpf_ringbuf_output, and counts a loss in slot 0 of `lossFd` when the ring
 * is full. Returns 0.
 */
export function recordProgram(ringFd: number, lossFd: number, fields: Field[]): Insn[] {
  const size = fields.length * 8;
  const base = -size;
  const insns: Insn[] = [Mov.reg(R6, R1)];
  fields.forEach((field, i) => {
    insns.push(...field(R1), StoreMem(R10, base + i * 8, R1, 8));
  });
  insns.push(
    LoadMapPtr(R1, ringFd),
    Mov.reg(R2, R10),
    Add.imm(R2, base),
    Mov.imm(R3, size),
    Mov.imm(R4, 0),
    Call(Helper.ringbuf_output),
    JEq.imm(R0, 0, 'out'),
    ...emitCounterAdd(lossFd, 0, 1, base - 8, new Labels('loss_')),
    Label('out'), Mov.imm(R0, 0),
    Exit(),
  );
  return insns;
}

/** Splits a record into its u64 fields. */
export function u64Fields(record: Buffer): bigint[] {
  const out: bigint[] = [];
  for (let off = 0; off + 8 <= record.length; off += 8) out.push(record.readBigUInt64LE(off));
  return out;
}

/** `lock *(u64 *)(dst +0) += src` (BPF_STX | BPF_ATOMIC | BPF_DW, imm BPF_ADD): hooks run on several CPUs at once. */
export function AtomicAdd(dst: Register, src: Register): Insn {
  return new Insn({ opcode: 0xdb, dst, src, off: 0, imm: 0 });
}

/**
 * A program that counts its runs in slot 0 of an array map and returns
 * `verdict`; `prelude` runs first, with the context in r1 (it must leave r1
 * alone). hits() reads the count; close() frees both.
 */
export function counterProgram(
  name: string,
  type: number = ProgType.KPROBE,
  extra: Partial<Pick<ProgramSpec, 'expectedAttachType' | 'attachBtfId'>> & { verdict?: number; prelude?: Insn[] } = {},
): { prog: Program; hits: () => bigint; close: () => void } {
  const counts = createMap({ type: 'array', name: `${name.slice(0, 13)}_c`, keySize: 4, valueSize: 8, maxEntries: 1 });
  const prog = loadProgram({
    type,
    name,
    expectedAttachType: extra.expectedAttachType,
    attachBtfId: extra.attachBtfId,
    insns: [
      ...(extra.prelude ?? []),
      StoreImm(R10, -4, 0, 4),
      LoadMapPtr(R1, counts.fd),
      Mov.reg(R2, R10),
      Add.imm(R2, -4),
      Call(Helper.map_lookup_elem),
      JEq.imm(R0, 0, 'out'),
      Mov.imm(R1, 1),
      AtomicAdd(R0, R1),
      Label('out'), Mov.imm(R0, extra.verdict ?? 0),
      Exit(),
    ],
  });
  return {
    prog,
    hits: () => counts.lookupU32Key(0)?.readBigUInt64LE(0) ?? 0n,
    close: () => {
      prog.close();
      counts.close();
    },
  };
}

/**
 * A SOCKET_FILTER program for BPF_PROG_TEST_RUN that writes one
 * `recordSize`-byte record per run: a u64 sequence number (from slot 0 of
 * the array `seqFd`, incremented per run) followed by zeros. A full ring
 * counts a loss in slot 0 of `lossFd`. The ring buffer benchmark uses it too.
 */
export function sequenceProducer(ringFd: number, seqFd: number, lossFd: number, recordSize = 64): Insn[] {
  if (recordSize < 8 || recordSize % 8 !== 0 || recordSize > 256) throw new RangeError(`record size ${recordSize}: 8..256, a multiple of 8`);
  const base = -recordSize;
  const zeros: Insn[] = [];
  for (let off = base + 8; off < 0; off += 8) zeros.push(StoreImm(R10, off, 0, 8));
  return [
    StoreImm(R10, base - 8, 0, 4),
    LoadMapPtr(R1, seqFd),
    Mov.reg(R2, R10),
    Add.imm(R2, base - 8),
    Call(Helper.map_lookup_elem),
    JEq.imm(R0, 0, 'out'),
    LoadMem(R1, R0, 0, 8),
    Add.imm(R1, 1),
    StoreMem(R0, 0, R1, 8),
    StoreMem(R10, base, R1, 8),
    ...zeros,
    LoadMapPtr(R1, ringFd),
    Mov.reg(R2, R10),
    Add.imm(R2, base),
    Mov.imm(R3, recordSize),
    Mov.imm(R4, 0),
    Call(Helper.ringbuf_output),
    JEq.imm(R0, 0, 'out'),
    ...emitCounterAdd(lossFd, 0, 1, base - 8, new Labels('lost_')),
    Label('out'), Mov.imm(R0, 0),
    Exit(),
  ];
}

/** Loads sequenceProducer with fresh sequence and loss maps. */
export function loadSequenceProducer(ringFd: number, name = 'nc_t_seq', recordSize = 64): { prog: Program; loss: LossCounters; close(): void } {
  const seq = createMap({ type: 'array', name: `${name.slice(0, 11)}_seq`, keySize: 4, valueSize: 8, maxEntries: 1 });
  const loss = LossCounters.create(`${name.slice(0, 10)}_loss`);
  const prog = loadProgram({ type: ProgType.SOCKET_FILTER, name, insns: sequenceProducer(ringFd, seq.fd, loss.fd, recordSize) });
  return {
    prog,
    loss,
    close: () => {
      prog.close();
      seq.close();
      loss.close();
    },
  };
}

/** Records lost when the ring was full: a per-CPU array of u64 that the test programs count into. */
export class LossCounters {
  private constructor(readonly map: BpfMap) {}

  /** A per-CPU array of `slots` u64 counters (one per probe point, say). */
  static create(name = 'netcap_loss', slots = 1): LossCounters {
    return new LossCounters(createMap({ type: 'percpu_array', name, keySize: 4, valueSize: 8, maxEntries: slots }));
  }

  get fd(): number {
    return this.map.fd;
  }

  get slots(): number {
    return this.map.spec.maxEntries;
  }

  /** Records lost at `slot`, summed over every CPU. */
  lost(slot = 0): bigint {
    return this.map.sumU64(u32(slot));
  }

  /** Records lost at every slot. */
  total(): bigint {
    let sum = 0n;
    for (let slot = 0; slot < this.slots; slot++) sum += this.lost(slot);
    return sum;
  }

  close(): void {
    this.map.close();
  }
}
