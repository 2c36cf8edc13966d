// The skb probe program (probes/skb.ts) on its own, for the probe tests:
// the capture's maps, the program of each point for a filter, attached
// straight to its hook (no dispatcher), and the decoded records it writes.
// The mode (src/modes/skb) wraps the same builder in the capture library;
// here the tests can reach the records, counters and maps directly.
import * as fs from 'node:fs';
import { createMap, u32, type BpfMap } from '../../src/bpf/map';
import { possibleCpus } from '../../src/bpf/cpus';
import { loadProgram, type Program } from '../../src/bpf/program';
import type { Link } from '../../src/bpf/link/link';
import { attachTracepoint } from '../../src/bpf/link/tracepoint';
import { attachRawTracepoint, attachTpBtf } from '../../src/bpf/link/rawtp';
import { RingReader } from '../../src/bpf/ringbuf';
import { CaptureMaps } from '../../src/capture/maps';
import { COUNTERS_PER_POINT, decodeRecord, type PacketRecord } from '../../src/capture/record';
import { kernelSkbLayout } from '../../src/kernel/skb-layout';
import { compileSkbFilters, STACK_DEPTH } from '../../src/modes/skb';
import type { SkbPoint } from '../../src/modes/skb/points';
import { buildSkbProgram, META } from '../../probes/skb';
import type { Namespace } from '../../lab/netns';

export interface ProbeOptions {
  points: SkbPoint[];
  expression: string;
  snaplen: number;
  iface?: { ifindex: number; netnsInode: number };
  stacks?: boolean;
  gather?: boolean;
  gatherByContent?: number;
}

export class CollectedCapture {
  readonly records: PacketRecord[] = [];
  readonly maps: CaptureMaps;
  readonly stackMap?: BpfMap;
  readonly gatherMap?: BpfMap;
  private readonly meta: BpfMap;
  private readonly programs: Program[] = [];
  private readonly links: Link[] = [];
  private readonly reader: RingReader;

  constructor(o: ProbeOptions) {
    this.maps = CaptureMaps.create({ points: o.points.length });
    this.meta = createMap({ type: 'array', name: 'nc_t_skbmeta', keySize: 4, valueSize: META.size, maxEntries: possibleCpus() });
    if (o.stacks) this.stackMap = createMap({ type: 'stack_trace', name: 'nc_t_stacks', keySize: 4, valueSize: 8 * STACK_DEPTH, maxEntries: 1024 });
    const gathering = o.gather || o.gatherByContent !== undefined;
    if (gathering) this.gatherMap = createMap({ type: 'lru_hash', name: 'nc_t_gather', keySize: 8, valueSize: 8, maxEntries: 1024 });
    const filter = compileSkbFilters(o.expression, o.snaplen);
    const scratch = this.maps.scratchFor(o.snaplen);
    o.points.forEach((point, index) => {
      const spec = buildSkbProgram({
        point,
        index,
        layout: kernelSkbLayout(),
        filter,
        snaplen: o.snaplen,
        maps: { ring: this.maps.ring.fd, counters: this.maps.counters.fd, scratch: scratch.fd, meta: this.meta.fd, stacks: this.stackMap?.fd },
        iface: o.iface,
        gather: this.gatherMap ? { mapFd: this.gatherMap.fd, first: index === 0, byContent: o.gatherByContent !== undefined ? { bytes: o.gatherByContent } : undefined } : undefined,
      });
      const prog = loadProgram(spec);
      this.programs.push(prog);
      this.links.push(point.kind === 'tracepoint' ? attachTracepoint(prog, point.target) : point.kind === 'raw_tp' ? attachRawTracepoint(prog, point.target) : attachTpBtf(prog, point.target));
    });
    this.reader = new RingReader(this.maps.ring, (batch) => {
      for (const r of batch) this.records.push(decodeRecord(r));
    });
  }

  /** Waits until `count` records arrived (or `ms` passed), draining the ring. */
  async waitFor(count: number, ms = 3000): Promise<PacketRecord[]> {
    const deadline = Date.now() + ms;
    while (this.records.length < count && Date.now() < deadline) {
      this.reader.drain();
      await new Promise((r) => setTimeout(r, 20));
    }
    this.reader.drain();
    return this.records;
  }

  /** Counter `which` of point `index`, summed over CPUs. */
  counter(index: number, which: number): bigint {
    return this.maps.counters.sumU64(u32(index * COUNTERS_PER_POINT + which));
  }

  /** The kernel stack behind a record's stackId (innermost first), or undefined. */
  stack(stackId: number): bigint[] | undefined {
    return this.stackMap && stackId >= 0 ? this.stackMap.stackTrace(stackId) : undefined;
  }

  close(): void {
    for (const l of this.links.splice(0).reverse()) l.close();
    this.reader.close();
    for (const p of this.programs.splice(0).reverse()) p.close();
    this.gatherMap?.close();
    this.stackMap?.close();
    this.meta.close();
    this.maps.close();
  }
}

/** The inode of a test namespace, as the kernel's net->ns.inum. */
export function netnsInode(ns: Namespace): number {
  return fs.statSync(`/var/run/netns/${ns.name}`).ino;
}
