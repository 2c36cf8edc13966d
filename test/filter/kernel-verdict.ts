// Runs one cBPF program in the real kernel, two ways, through
// BPF_PROG_TEST_RUN: (a) an XDP program with the 'packet' memory model on the
// packet pointers, (b) an XDP program that copies the captured bytes into a
// per-CPU array value and runs the 'buffer' model with caplen and wirelen from
// a params map written before each run (so truncated captures, caplen <
// wirelen, run too). Both return the filter verdict as retval.
import { createMap, u32, type BpfMap } from '../../src/bpf/map';
import { loadProgram, type Program } from '../../src/bpf/program';
import { ProgType } from '../../src/bpf/constants';
import type { CbpfInsn } from '../../src/filter/cbpf';
import { BUFFER_PARAMS_SIZE, xdpBufferProgram, xdpPacketProgram } from '../../probes/filter-programs';

/** BPF_PROG_TEST_RUN for XDP wants at least an Ethernet header (bpf_test_init: ETH_HLEN). */
export const MIN_TEST_RUN_BYTES = 14;
/** Largest single-buffer XDP test run: a page minus XDP_PACKET_HEADROOM and skb_shared_info. */
export const MAX_TEST_RUN_BYTES = 3520;
export const BUFFER_SIZE = 4096;

/** The maps the buffer model needs; shared by every KernelFilter of a test file. */
export class BufferMaps {
  readonly params: BpfMap;
  readonly buffer: BpfMap;
  private readonly key = u32(0);
  private readonly value = Buffer.alloc(BUFFER_PARAMS_SIZE);

  constructor() {
    this.params = createMap({ type: 'array', name: 'nc_kv_params', keySize: 4, valueSize: BUFFER_PARAMS_SIZE, maxEntries: 1 });
    this.buffer = createMap({ type: 'percpu_array', name: 'nc_kv_buf', keySize: 4, valueSize: BUFFER_SIZE, maxEntries: 1 });
  }

  setParams(caplen: number, wirelen: number): void {
    this.value.writeUInt32LE(caplen, 0);
    this.value.writeUInt32LE(wirelen >>> 0, 4);
    this.params.update(this.key, this.value);
  }

  close(): void {
    this.buffer.close();
    this.params.close();
  }
}

export interface KernelVerdicts {
  /** 'packet' model; undefined when the kernel can't test-run a packet this size. */
  packet: number | undefined;
  /** 'buffer' model; undefined when the captured bytes exceed what XDP test runs take. */
  buffer: number | undefined;
}

/** One cBPF program loaded both ways. */
export class KernelFilter {
  readonly packetProg: Program;
  readonly bufferProg: Program;

  constructor(
    prog: readonly CbpfInsn[],
    private readonly maps: BufferMaps,
  ) {
    this.packetProg = loadProgram({ type: ProgType.XDP, insns: xdpPacketProgram(prog), name: 'nc_kv_packet' });
    try {
      this.bufferProg = loadProgram({
        type: ProgType.XDP,
        insns: xdpBufferProgram(prog, { params: maps.params.fd, buffer: maps.buffer.fd }, BUFFER_SIZE),
        name: 'nc_kv_buffer',
      });
    } catch (e) {
      this.packetProg.close();
      throw e;
    }
  }

  /**
   * Verdicts for captured bytes `data` of a packet `wirelen` long. Model (a)
   * sees only complete packets (it has no notion of a capture cut short);
   * model (b) gets every capture, padded to the test-run minimum with the
   * real caplen in the params map.
   */
  run(data: Buffer, wirelen: number): KernelVerdicts {
    const complete = data.length === wirelen;
    let packet: number | undefined;
    if (complete && data.length >= MIN_TEST_RUN_BYTES && data.length <= MAX_TEST_RUN_BYTES) {
      packet = this.packetProg.testRun(data, { repeat: 1 }).retval >>> 0;
    }
    let buffer: number | undefined;
    if (data.length <= MAX_TEST_RUN_BYTES) {
      const padded = data.length >= MIN_TEST_RUN_BYTES ? data : Buffer.concat([data, Buffer.alloc(MIN_TEST_RUN_BYTES - data.length)]);
      this.maps.setParams(data.length, wirelen);
      buffer = this.bufferProg.testRun(padded, { repeat: 1 }).retval >>> 0;
    }
    return { packet, buffer };
  }

  close(): void {
    this.bufferProg.close();
    this.packetProg.close();
  }
}
