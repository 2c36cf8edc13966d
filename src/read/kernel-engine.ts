// `netcap read --engine kernel`: the filter as the kernel runs it. A syscall
// program (BPF_PROG_TYPE_SYSCALL, run by BPF_PROG_TEST_RUN) copies the
// packet's bytes from this process into an array map value and runs the
// filter's eBPF over them, as a tracing probe runs it over its copy.
import { createMap, type BpfMap } from '../bpf/map';
import { bufferAddress, loadProgram, type Program } from '../bpf/program';
import { ProgFlag, ProgType } from '../bpf/constants';
import type { CbpfProgram } from '../filter';
import { SYSCALL_CONTEXT_SIZE, syscallBufferProgram } from '../../probes/filter-programs';
import { UserError } from '../errors';
import { maxSnaplenForDlt } from '../output/savefile-rules';
import type { FilterEngine } from './engines';

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

  /** The buffer the last packet was in and its address (a Buffer's bytes never move). */
  private lastBuffer: Buffer | undefined;
  private lastAddress = 0n;

  run(data: Buffer, wirelen: number): number {
    return this.runAt(data, 0, data.length, wirelen);
  }

  runAt(buf: Buffer, start: number, caplen: number, wirelen: number): number {
    if (caplen > this.bufferSize) throw new Error(`KernelEngine: a ${caplen}-byte packet is longer than the snap length ${this.bufferSize}`);
    if (buf !== this.lastBuffer) {
      this.lastBuffer = buf;
      this.lastAddress = bufferAddress(buf);
    }
    this.context.writeBigUInt64LE(this.lastAddress + BigInt(start), 0);
    this.context.writeUInt32LE(caplen, 8);
    this.context.writeUInt32LE(wirelen >>> 0, 12);
    return this.program.testRun(null, { ctxIn: this.context }).retval >>> 0;
  }

  close(): void {
    this.program.close();
    this.buffer.close();
  }
}
