// Complete programs around a filter fragment: what `netcap compile --emit
// ebpf` prints, what the kernel-verdict tests load, what the benchmark
// times, what `netcap read --engine kernel` runs. Each returns the filter's
// verdict (the snap length, 0 = no match) as its return value, which
// BPF_PROG_TEST_RUN hands back as retval.
import { Label,
  Call,
  Exit,
  Helper,
  JEq,
  JGT,
  LoadMapPtr,
  LoadMem,
  Mov,
  R0,
  R1,
  R2,
  R3,
  R4,
  R5,
  R6,
  R7,
  R8,
  R9,
  R10,
  StoreImm,
  Add,
  pruneUnreachable,
  type Insn,
} from '../src/ebpf';
import { compileToEbpf } from '../src/filter/compiler';
import type { CbpfInsn } from '../src/filter/cbpf';

/** M[0..15] sit just below the frame pointer. */
const STACK_BASE = -64;

/**
 * XDP, 'packet' model: the fragment reads the packet through the context's
 * data/data_end pointers; `len` is bpf_xdp_get_buff_len() (kernel 5.18+).
 */
export function xdpPacketProgram(prog: readonly CbpfInsn[]): Insn[] {
  return pruneUnreachable([
    Mov.reg(R6, R1).withComment('r6 = ctx'),
    Call(Helper.xdp_get_buff_len),
    Mov.reg(R4, R0).withComment('r4 = wire length'),
    LoadMem(R2, R6, 0, 4).withComment('r2 = ctx->data'),
    LoadMem(R3, R6, 4, 4).withComment('r3 = ctx->data_end'),
    ...compileToEbpf(prog, {
      model: { kind: 'packet', data: R2, dataEnd: R3 },
      a: R0,
      x: R1,
      tmp: R5,
      wirelen: R4,
      result: R0,
      stackBase: STACK_BASE,
      match: 'match',
      noMatch: 'nomatch',
    }),
    Label('match'), Exit().withComment('return the snap length'),
    Label('nomatch'), Mov.imm(R0, 0),
    Exit(),
  ]);
}

/** Layout of the params map value read by xdpBufferProgram: u32 caplen, u32 wirelen. */
export const BUFFER_PARAMS_SIZE = 8;

/**
 * XDP, 'buffer' model: copies the first `caplen` bytes of the packet into a
 * per-CPU array value (bpf_xdp_load_bytes) and runs the fragment over that
 * copy, with caplen and wirelen taken from a params array map (key 0) — the
 * shape a tracing probe has, where the bytes come from probe_read.
 * The caller keeps caplen <= min(packet length, bufferSize).
 */
export function xdpBufferProgram(prog: readonly CbpfInsn[], maps: { params: number; buffer: number }, bufferSize: number): Insn[] {
  return pruneUnreachable([
    Mov.reg(R6, R1).withComment('r6 = ctx'),
    StoreImm(R10, -4, 0, 4).withComment('key 0'),
    LoadMapPtr(R1, maps.params),
    Mov.reg(R2, R10),
    Add.imm(R2, -4),
    Call(Helper.map_lookup_elem),
    JEq.imm(R0, 0, 'nomatch'),
    LoadMem(R7, R0, 0, 4).withComment('r7 = caplen'),
    LoadMem(R8, R0, 4, 4).withComment('r8 = wirelen'),
    LoadMapPtr(R1, maps.buffer),
    Mov.reg(R2, R10),
    Add.imm(R2, -4),
    Call(Helper.map_lookup_elem),
    JEq.imm(R0, 0, 'nomatch'),
    Mov.reg(R9, R0).withComment('r9 = buffer'),
    JGT.imm(R7, bufferSize, 'nomatch'),
    JEq.imm(R7, 0, 'filter'),
    Mov.reg(R1, R6),
    Mov.imm(R2, 0),
    Mov.reg(R3, R9),
    Mov.reg(R4, R7),
    Call(Helper.xdp_load_bytes).withComment('copy caplen bytes'),
    JEq.imm(R0, 0, 'filter'),
    Mov.imm(R0, 0),
    Exit(),
    ...bufferFragment(prog, bufferSize, false),
    Label('match'), Exit(),
    Label('nomatch'), Mov.imm(R0, 0),
    Exit(),
  ]);
}

/** Layout of the context syscallBufferProgram reads: u64 address of the packet's bytes, u32 caplen, u32 wirelen. */
export const SYSCALL_CONTEXT_SIZE = 16;

/**
 * A syscall program (BPF_PROG_TYPE_SYSCALL, kernel 5.14+; load it with
 * BPF_F_SLEEPABLE), 'buffer' model: copies the packet's `caplen` bytes from
 * the calling process (bpf_copy_from_user, from the address in its context)
 * into an array map value of `bufferSize` bytes (key 0) and runs the fragment
 * over that copy — the shape a tracing probe has, where the bytes come from
 * probe_read. Run only by BPF_PROG_TEST_RUN, whose syscall context has no
 * page-size limit as an XDP test packet has: any packet up to `bufferSize`
 * bytes is judged in the kernel. A caplen beyond it is no match.
 */
export function syscallBufferProgram(prog: readonly CbpfInsn[], buffer: number, bufferSize: number): Insn[] {
  return pruneUnreachable([
    Mov.reg(R6, R1).withComment('r6 = ctx'),
    StoreImm(R10, -4, 0, 4).withComment('key 0'),
    LoadMapPtr(R1, buffer),
    Mov.reg(R2, R10),
    Add.imm(R2, -4),
    Call(Helper.map_lookup_elem),
    JEq.imm(R0, 0, 'nomatch'),
    Mov.reg(R9, R0).withComment('r9 = buffer'),
    LoadMem(R7, R6, 8, 4).withComment('r7 = caplen'),
    LoadMem(R8, R6, 12, 4).withComment('r8 = wirelen'),
    JGT.imm(R7, bufferSize, 'nomatch'),
    JEq.imm(R7, 0, 'filter'),
    Mov.reg(R1, R9),
    Mov.reg(R2, R7),
    LoadMem(R3, R6, 0, 8).withComment('r3 = the bytes in user memory'),
    Call(Helper.copy_from_user).withComment('copy caplen bytes'),
    JEq.imm(R0, 0, 'filter'),
    Mov.imm(R0, 0),
    Exit(),
    ...bufferFragment(prog, bufferSize, true),
    Label('match'), Exit(),
    Label('nomatch'), Mov.imm(R0, 0),
    Exit(),
  ]);
}

/**
 * The fragment of the 'buffer' programs, labelled 'filter': the bytes at r9,
 * caplen in r7, wirelen in r8; jumps to 'match' (snap length in r0) or 'nomatch'.
 */
function bufferFragment(prog: readonly CbpfInsn[], bufferSize: number, boundedLoops: boolean): Insn[] {
  return [Label('filter'), ...compileToEbpf(prog, {
    model: { kind: 'buffer', data: R9, caplen: R7, bufferSize },
    a: R0,
    x: R1,
    tmp: R2,
    wirelen: R8,
    result: R0,
    stackBase: STACK_BASE - 8,
    match: 'match',
    noMatch: 'nomatch',
    boundedLoops,
  })];
}
