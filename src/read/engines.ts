// The two ways `netcap read` runs a compiled filter over a packet from a file:
// our cBPF interpreter (libpcap's semantics, no kernel needed), or the real
// kernel: the filter compiled to eBPF inside an XDP program and run with
// BPF_PROG_TEST_RUN — the same code path a live capture's probe uses.
import { createMap, u32, type BpfMap } from '../bpf/map';
import { loadProgram, type Program } from '../bpf/program';
import { ProgType } from '../bpf/constants';
import type { CbpfProgram } from '../filter';
import { BUFFER_PARAMS_SIZE, xdpBufferProgram } from '../../probes/filter-programs';
import { interpret } from '../filter/interpreter';
import { UserError } from '../errors';

export type EngineName = 'interp' | 'kernel';

export interface FilterEngine {
  /** The filter's verdict: the snap length to keep, 0 = no match. */
  run(data: Buffer, wirelen: number): number;
  /** Packets the engine handed to the interpreter instead (kernel: too big for a test run). */
  readonly fallbacks: number;
  close(): void;
}

export function interpreterEngine(prog: CbpfProgram): FilterEngine {
  return { run: (data, wirelen) => interpret(prog.insns, data, wirelen), fallbacks: 0, close: () => undefined };
}

// BPF_PROG_TEST_RUN for XDP: at least an Ethernet header (bpf_test_init:
// ETH_HLEN) and at most a page minus XDP_PACKET_HEADROOM and skb_shared_info.
const MIN_TEST_RUN_BYTES = 14;
const MAX_TEST_RUN_BYTES = 3520;
const BUFFER_SIZE = 4096;

/**
 * The kernel path, 'buffer' model: the XDP program copies the captured bytes
 * into a per-CPU buffer and filters with caplen and wirelen from a params map,
 * so captures cut short (caplen < wirelen) and runts (padded to the test-run
 * minimum, real caplen in the map) are judged like libpcap judges them.
 */
export class KernelEngine implements FilterEngine {
  private readonly params: BpfMap;
  private readonly buffer: BpfMap;
  private readonly program: Program;
  private readonly key = u32(0);
  private readonly value = Buffer.alloc(BUFFER_PARAMS_SIZE);
  fallbacks = 0;

  constructor(private readonly prog: CbpfProgram) {
    this.params = createMap({ type: 'array', name: 'nc_read_params', keySize: 4, valueSize: BUFFER_PARAMS_SIZE, maxEntries: 1 });
    try {
      this.buffer = createMap({ type: 'percpu_array', name: 'nc_read_buf', keySize: 4, valueSize: BUFFER_SIZE, maxEntries: 1 });
      try {
        this.program = loadProgram({ type: ProgType.XDP, insns: xdpBufferProgram(prog.insns, { params: this.params.fd, buffer: this.buffer.fd }, BUFFER_SIZE), name: 'nc_read_filter' });
      } catch (e) {
        this.buffer.close();
        throw e;
      }
    } catch (e) {
      this.params.close();
      throw e;
    }
  }

  run(data: Buffer, wirelen: number): number {
    if (data.length > MAX_TEST_RUN_BYTES) {
      this.fallbacks++;
      return interpret(this.prog.insns, data, wirelen);
    }
    this.value.writeUInt32LE(data.length, 0);
    this.value.writeUInt32LE(wirelen >>> 0, 4);
    this.params.update(this.key, this.value);
    const padded = data.length >= MIN_TEST_RUN_BYTES ? data : Buffer.concat([data, Buffer.alloc(MIN_TEST_RUN_BYTES - data.length)]);
    return this.program.testRun(padded, { repeat: 1 }).retval >>> 0;
  }

  close(): void {
    this.program.close();
    this.buffer.close();
    this.params.close();
  }
}

export function createEngine(name: EngineName, prog: CbpfProgram): FilterEngine {
  if (name !== 'kernel') return interpreterEngine(prog);
  try {
    return new KernelEngine(prog);
  } catch (e) {
    if (e instanceof UserError) throw e;
    // Creating maps or loading an XDP program needs CAP_BPF (root here);
    // the addon's errors carry the errno name.
    const code = (e as { code?: string }).code;
    throw new UserError(
      `the kernel engine could not load its program${code ? ` (${code})` : ''}: ${(e as Error).message}`,
      code === 'EPERM' || code === 'EACCES' ? 'run as root (or with CAP_BPF), or use --engine interp' : 'use --engine interp',
      (e as Error).stack,
    );
  }
}
