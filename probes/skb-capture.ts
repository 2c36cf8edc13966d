// Everything the kernel side of `netcap skb` needs, built and attached in
// one place: the two filter variants (EN10MB and RAW, compiled up front),
// the shared capture maps (probes/common.ts), the sk_buff meta scratch, the
// stack map (-S), the gather map (-G), and one program per point. close()
// releases it all in reverse order; a failure half-way closes what was made.
import { UserError } from '../src/errors';
import { createMap, type BpfMap } from '../src/bpf/map';
import { possibleCpus } from '../src/bpf/cpus';
import { loadProgram, type Program } from '../src/bpf/program';
import type { Link } from '../src/bpf/link/link';
import { attachTracepoint } from '../src/bpf/link/tracepoint';
import { attachRawTracepoint, attachTpBtf } from '../src/bpf/link/rawtp';
import { attachFentry } from '../src/bpf/link/fentry';
import { attachKprobe } from '../src/bpf/link/kprobe';
import type { Closer } from '../src/bpf/registry';
import { COUNTERS_PER_POINT } from '../src/capture/record';
import { compileCbpf } from '../src/filter/libpcap';
import type { CbpfInsn } from '../src/filter/cbpf';
import { kernelSkbLayout } from '../src/kernel/skb-layout';
import { CaptureMaps } from './common';
import { buildSkbProgram, META, type SkbFilterPrograms, type SkbProgramSpec } from './skb';
import type { SkbPoint } from './skb-points';

/** PERF_MAX_STACK_DEPTH (include/uapi/linux/perf_event.h): frames bpf_get_stackid keeps. */
export const STACK_DEPTH = 127;
const STACK_ENTRIES = 16384;
const GATHER_ENTRIES = 65536;

export interface SkbCaptureOptions {
  points: SkbPoint[];
  /** tcpdump filter expression ('' = everything). */
  expression: string;
  snaplen: number;
  iface?: { ifindex: number; netnsInode: number };
  stacks?: boolean;
  gather?: boolean;
  /** With gather: follow packets by a hash of this many bytes of content instead of the skb address. */
  gatherByContent?: number;
  ringBytes?: number;
}

/** `ret #0`: the filter for a start the expression cannot apply to (see compileFilters). */
const REJECT_ALL: CbpfInsn[] = [{ code: 0x06, jt: 0, jf: 0, k: 0 }];

/**
 * The expression for packets starting at the Ethernet header and for packets
 * starting at the IP header. An expression that only makes sense with a
 * link-layer header ("arp", "ether host ...") does not compile for RAW:
 * such a filter can never match an skb without a MAC header, so its RAW
 * variant rejects everything instead of failing the capture.
 */
export function compileFilters(expression: string, snaplen: number): SkbFilterPrograms & { rawNote?: string } {
  const ether = compileCbpf(expression, { linktype: 'EN10MB', snaplen }).insns;
  try {
    return { ether, raw: compileCbpf(expression, { linktype: 'RAW', snaplen }).insns };
  } catch (e) {
    if (!(e instanceof UserError)) throw e;
    return { ether, raw: REJECT_ALL, rawNote: `packets without a MAC header never match: ${e.message}` };
  }
}

/** Every program spec of a capture, without loading anything (for --dry-run and tests). */
export function buildSkbSpecs(
  o: SkbCaptureOptions,
  fds: { ring: number; counters: number; scratch: number; meta: number; stacks?: number; gather?: number },
  filter: SkbFilterPrograms = compileFilters(o.expression, o.snaplen),
): SkbProgramSpec[] {
  const layout = kernelSkbLayout();
  return o.points.map((point, index) =>
    buildSkbProgram({
      point,
      index,
      layout,
      filter,
      snaplen: o.snaplen,
      maps: { ring: fds.ring, counters: fds.counters, scratch: fds.scratch, meta: fds.meta, stacks: fds.stacks },
      iface: o.iface,
      gather:
        fds.gather !== undefined
          ? { mapFd: fds.gather, first: index === 0, byContent: o.gatherByContent !== undefined ? { bytes: o.gatherByContent } : undefined }
          : undefined,
    }),
  );
}

function attach(point: SkbPoint, prog: Program): Link {
  switch (point.kind) {
    case 'tracepoint':
      return attachTracepoint(prog, point.target);
    case 'raw_tp':
      return attachRawTracepoint(prog, point.target);
    case 'tp_btf':
      return attachTpBtf(prog, point.target);
    case 'fentry':
      return attachFentry(prog, point.target);
    case 'kprobe':
      return attachKprobe(prog, { symbol: point.target });
  }
}

export class SkbCapture {
  private readonly owned: Closer[] = [];
  readonly programs: Program[] = [];
  /** What was loaded, per point (for --dry-run listings). */
  readonly specs: SkbProgramSpec[] = [];
  /** Set when the expression cannot apply to packets without a MAC header (they never match). */
  readonly filterNote?: string;
  readonly links: Link[] = [];
  readonly maps: CaptureMaps;
  readonly stackMap?: BpfMap;
  readonly gatherMap?: BpfMap;
  private closed = false;

  /** Creates the maps and loads every program; attach() hooks them. */
  constructor(readonly options: SkbCaptureOptions) {
    try {
      this.maps = CaptureMaps.create({ points: options.points.length, snaplen: options.snaplen, ringBytes: options.ringBytes });
      this.owned.push(this.maps);
      const meta = this.own(createMap({ type: 'array', name: 'netcap_skbmeta', keySize: 4, valueSize: META.size, maxEntries: possibleCpus() }));
      if (options.stacks) {
        this.stackMap = this.own(createMap({ type: 'stack_trace', name: 'netcap_stacks', keySize: 4, valueSize: 8 * STACK_DEPTH, maxEntries: STACK_ENTRIES }));
      }
      if (options.gather || options.gatherByContent !== undefined) {
        this.gatherMap = this.own(createMap({ type: 'lru_hash', name: 'netcap_gather', keySize: 8, valueSize: 8, maxEntries: GATHER_ENTRIES }));
      }
      const filter = compileFilters(options.expression, options.snaplen);
      this.filterNote = filter.rawNote;
      const specs = buildSkbSpecs(options, {
        ring: this.maps.ring.fd,
        counters: this.maps.counters.fd,
        scratch: this.maps.scratch.fd,
        meta: meta.fd,
        stacks: this.stackMap?.fd,
        gather: this.gatherMap?.fd,
      }, filter);
      this.specs.push(...specs);
      for (const spec of specs) this.programs.push(this.own(loadProgram(spec)));
    } catch (e) {
      this.close();
      throw e;
    }
  }

  private own<T extends Closer>(x: T): T {
    this.owned.push(x);
    return x;
  }

  /** Attaches every point, in order; on a failure detaches the ones already attached and rethrows. */
  attach(): void {
    try {
      this.options.points.forEach((point, i) => this.links.push(this.own(attach(point, this.programs[i]))));
    } catch (e) {
      this.close();
      throw e;
    }
  }

  /** Counter `which` of point `index`, summed over CPUs. */
  counter(index: number, which: number): bigint {
    const key = Buffer.alloc(4);
    key.writeUInt32LE(index * COUNTERS_PER_POINT + which);
    return this.maps.counters.sumU64(key);
  }

  /** The kernel stack behind a record's stackId (innermost first), or undefined. */
  stack(stackId: number): bigint[] | undefined {
    if (!this.stackMap || stackId < 0) return undefined;
    return this.stackMap.stackTrace(stackId);
  }

  /** Idempotent: links first, then programs and maps (newest first). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    let first: unknown;
    for (const x of this.owned.reverse()) {
      try {
        x.close();
      } catch (e) {
        first ??= e;
      }
    }
    if (first !== undefined) throw first;
  }
}
