// Loading eBPF programs (cilium/ebpf's prog.go): link and encode the
// instructions, load them, and when the kernel refuses, load again with the
// verifier log on so the error carries the reason. Only this module and the
// other src/bpf/ files touch the addon.
import { UserError } from '../errors';
import { isNativeError, native } from '../native';
import type { Insn } from '../ebpf/instruction';
import { link } from '../ebpf/link';
import { encode } from '../ebpf/encode';
import { OwnedFd } from './fd';
import { progTypeName } from './constants';
import { failingInsnIndex, summarizeVerifierLog } from './verifier-log';

export interface ProgramSpec {
  /** enum bpf_prog_type (ProgType in ./constants). */
  type: number;
  insns: readonly Insn[];
  /** At most 15 characters of [A-Za-z0-9_.]; shows in `bpftool prog`. */
  name: string;
  /** "GPL" by default: the ring buffer and probe_read helpers are GPL-only. */
  license?: string;
  expectedAttachType?: number;
  attachBtfId?: number;
  attachBtfObjFd?: number;
  /** BPF_PROG_LOAD prog_flags (ProgFlag in ./constants). */
  progFlags?: number;
  /** Verifier log level for the retry after a refusal: 1 (the failing path, default) or 2 (every path walked). */
  logLevel?: 1 | 2;
}

export interface TestRunOptions {
  repeat?: number;
  /** The context (e.g. struct xdp_md / __sk_buff) given to the program. */
  ctxIn?: Buffer;
  /** Room for the packet as the program left it. */
  dataOutSize?: number;
  flags?: number;
  cpu?: number;
}

export interface TestRunResult {
  retval: number;
  /** Mean run time in ns as measured by the kernel. */
  duration: number;
  dataOut?: Buffer;
}

/** The kernel refused a program: message = the reason, detail = the full verifier log. */
export class VerifierError extends UserError {
  constructor(
    readonly programName: string,
    readonly summary: string,
    readonly log: string,
    /** errno name of the failed load (EACCES, EINVAL, ...). */
    readonly code: string,
    /** Instruction index (slot) where verification stopped, when the log says. */
    readonly insnIndex: number | undefined,
  ) {
    super(
      `the kernel verifier rejected program ${programName}: ${summary}`,
      'this is a bug in netcap\'s program builder if the input was valid: report it with the --verbose output',
      log,
    );
    this.name = 'VerifierError';
  }
}

// 16 MiB: big programs with log level 1 write a line per visited instruction.
const LOG_SIZE = 1 << 24;
const NAME = /^[A-Za-z0-9_.]{0,15}$/;

export class Program {
  readonly #fd: OwnedFd;
  readonly id: number;

  constructor(
    fd: number,
    readonly name: string,
    readonly type: number,
    /** Instruction count in 8-byte slots, as loaded. */
    readonly slots: number,
  ) {
    this.#fd = new OwnedFd(fd, `program ${name}`);
    try {
      this.id = native().bpf.progInfo(fd).id;
    } catch (e) {
      this.#fd.close();
      throw e;
    }
  }

  /** The fd; throws after close(). */
  get fd(): number {
    return this.#fd.value;
  }

  get closed(): boolean {
    return this.#fd.closed;
  }

  /** Runs the program once (or `repeat` times) on `data` via BPF_PROG_TEST_RUN. */
  testRun(data: Buffer | null, opts: TestRunOptions = {}): TestRunResult {
    return native().bpf.testRun(this.fd, data, opts);
  }

  /** Its BTF object id and the BTF type id of each of its functions (entry point first); none without BTF (no clang -g). */
  functions(): { btfId: number; funcTypeIds: number[] } {
    return native().bpf.progFuncInfo(this.fd);
  }

  /** Idempotent. Attached links keep the program alive in the kernel until they close too. */
  close(): void {
    this.#fd.close();
  }
}

/**
 * Where a Buffer's bytes are in this process: a syscall program
 * (ProgType.SYSCALL) run by testRun can copy them with bpf_copy_from_user
 * when its context carries this address. The run is synchronous; the caller
 * keeps the Buffer referenced until it returns.
 */
export function bufferAddress(buf: Buffer): bigint {
  return native().bpf.address(buf);
}

/** BPF_F_XDP_HAS_FRAGS (include/uapi/linux/bpf.h, Linux 5.18): the XDP program handles multi-buffer packets. */
export const BPF_F_XDP_HAS_FRAGS = 1 << 5;

/**
 * A program someone else loaded, by its id (BPF_PROG_GET_FD_BY_ID): a prog
 * array lookup gives ids, and holding an fd keeps the program alive until
 * it can be put back. Throws a UserError when the id no longer exists.
 */
export function openProgramById(id: number): Program {
  let fd: number;
  try {
    fd = native().bpf.progGetFdById(id);
  } catch (e) {
    if (isNativeError(e) && e.code === 'ENOENT') throw new UserError(`BPF program ${id} no longer exists`, 'it was unloaded meanwhile: try again');
    throw e;
  }
  const owned = new OwnedFd(fd, `program ${id}`);
  let info: { name: string; type: number; xlatedLen: number };
  try {
    info = native().bpf.progInfo(fd);
  } catch (e) {
    owned.close();
    throw e;
  }
  return new Program(owned.release(), info.name || `prog_${id}`, info.type, info.xlatedLen / 8);
}

export function loadProgram(spec: ProgramSpec): Program {
  if (!NAME.test(spec.name)) throw new Error(`program name "${spec.name}" must be at most 15 characters of [A-Za-z0-9_.]`);
  const linked = link(spec.insns);
  const code = encode(linked);
  const license = spec.license ?? 'GPL';
  const opts = {
    expectedAttachType: spec.expectedAttachType,
    attachBtfId: spec.attachBtfId,
    attachBtfObjFd: spec.attachBtfObjFd,
    progFlags: spec.progFlags,
  };
  const bpf = native().bpf;
  let firstError: unknown;
  try {
    return new Program(bpf.progLoad(spec.type, spec.name, license, code, opts), spec.name, spec.type, linked.slots);
  } catch (e) {
    if (!isNativeError(e)) throw e;
    firstError = e;
  }
  // Second attempt with the log: the kernel only explains itself when asked,
  // and asking up front costs time on every successful load.
  try {
    const fd = bpf.progLoad(spec.type, spec.name, license, code, { ...opts, logLevel: spec.logLevel ?? 1, logSize: LOG_SIZE });
    // Loads that fail only without a log are not expected; keep the program.
    return new Program(fd, spec.name, spec.type, linked.slots);
  } catch (e) {
    if (!isNativeError(e)) throw e;
    const log = e.log ?? '';
    // The verifier gives up with EAGAIN when a signal is pending
    // (kernel/bpf/verifier.c, do_check: signal_pending()); libbpf retries a
    // few times, but a stream of signals (a profiler's SIGPROF) outlasts it.
    // Its partial log would read like a rejection: say what happened.
    if (e.code === 'EAGAIN') {
      throw new UserError(
        `loading ${progTypeName(spec.type)} program ${spec.name} was interrupted by signals (EAGAIN) before the verifier finished`,
        'try again; if it keeps happening, something is signalling netcap continuously (a profiler?)',
        log,
      );
    }
    if (log.trim() !== '') {
      throw new VerifierError(spec.name, summarizeVerifierLog(log), log, e.code, failingInsnIndex(log));
    }
    const first = isNativeError(firstError) ? firstError : e;
    throw new UserError(
      `loading ${progTypeName(spec.type)} program ${spec.name} failed: ${first.message} (${first.code})`,
      first.code === 'EPERM'
        ? 'run as root (CAP_BPF and CAP_PERFMON); on some kernels this program type is locked down'
        : 'the kernel gave no verifier log: check that this kernel supports the program type and attach type',
      first.stack,
    );
  }
}
