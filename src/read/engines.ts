// The two ways `netcap read` runs a compiled filter over a packet from a file:
// our cBPF interpreter (libpcap's semantics, no kernel needed), or the real
// kernel: the filter compiled to eBPF, verified and run by the kernel with
// BPF_PROG_TEST_RUN, over a copy of the packet as a tracing probe has it.
import { createMap, type BpfMap } from '../bpf/map';
import { bufferAddress, loadProgram, type Program } from '../bpf/program';
import { ProgFlag, ProgType } from '../bpf/constants';
import type { CbpfProgram } from '../filter';
import { SYSCALL_CONTEXT_SIZE, syscallBufferProgram } from '../../probes/filter-programs';
import { interpret } from '../filter/interpreter';
import { UserError } from '../errors';
import { maxSnaplenForDlt } from '../output/savefile-rules';

export type EngineName = 'interp' | 'kernel';

export interface FilterEngine {
  /** The filter's verdict: the snap length to keep, 0 = no match. */
  run(data: Buffer, wirelen: number): number;
  close(): void;
}

export function interpreterEngine(prog: CbpfProgram): FilterEngine {
  return { run: (data, wirelen) => interpret(prog.insns, data, wirelen), close: () => undefined };
}

/** An array map value can hold at most KMALLOC_MAX_SIZE bytes (4 MiB on x86-64; kernel/bpf/arraymap.c). */
const MAX_BUFFER_BYTES = 4 * 1024 * 1024;

/**
 * The kernel path, 'buffer' model: a syscall program copies the captured
 * bytes from this process into an array map value and filters them with
 * caplen and wirelen from its context, so packets cut short (caplen <
 * wirelen), runts and packets of any length up to the snap length are
 * judged like libpcap judges them, all in the kernel.
 */
export class KernelEngine implements FilterEngine {
  private readonly buffer: BpfMap;
  private readonly program: Program;
  private readonly context = Buffer.alloc(SYSCALL_CONTEXT_SIZE);
  /** The longest packet a run takes: the snap length (libpcap's reader cuts longer ones), within the map's limit. */
  readonly bufferSize: number;

  constructor(prog: CbpfProgram) {
    const longest = Math.min(prog.snaplen, maxSnaplenForDlt(prog.linktype));
    if (longest > MAX_BUFFER_BYTES) {
      throw new UserError(`the kernel engine takes packets of up to ${MAX_BUFFER_BYTES} bytes, and this link type's can be ${longest}`, 'use --engine interp');
    }
    this.bufferSize = Math.max(8, (longest + 7) & ~7);
    this.buffer = createMap({ type: 'array', name: 'nc_read_buf', keySize: 4, valueSize: this.bufferSize, maxEntries: 1 });
    try {
      this.program = loadProgram({
        type: ProgType.SYSCALL,
        progFlags: ProgFlag.SLEEPABLE,
        insns: syscallBufferProgram(prog.insns, this.buffer.fd, this.bufferSize),
        name: 'nc_read_filter',
      });
    } catch (e) {
      this.buffer.close();
      throw e;
    }
  }

  run(data: Buffer, wirelen: number): number {
    if (data.length > this.bufferSize) throw new Error(`KernelEngine: a ${data.length}-byte packet is longer than the snap length ${this.bufferSize}`);
    this.context.writeBigUInt64LE(bufferAddress(data), 0);
    this.context.writeUInt32LE(data.length, 8);
    this.context.writeUInt32LE(wirelen >>> 0, 12);
    return this.program.testRun(null, { ctxIn: this.context }).retval >>> 0;
  }

  close(): void {
    this.program.close();
    this.buffer.close();
  }
}

export function createEngine(name: EngineName, prog: CbpfProgram): FilterEngine {
  if (name !== 'kernel') return interpreterEngine(prog);
  try {
    return new KernelEngine(prog);
  } catch (e) {
    if (e instanceof UserError) throw e;
    // Creating maps or loading a program needs CAP_BPF (root here); the
    // addon's errors carry the errno name.
    const code = (e as { code?: string }).code;
    throw new UserError(
      `the kernel engine could not load its program${code ? ` (${code})` : ''}: ${(e as Error).message}`,
      code === 'EPERM' || code === 'EACCES' ? 'run as root (or with CAP_BPF), or use --engine interp' : 'use --engine interp',
      (e as Error).stack,
    );
  }
}
