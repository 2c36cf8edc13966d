// The maps every capture shares between its probe programs and the reader:
// the ring the records go to, the per-point counters (record.ts COUNTER),
// and the per-CPU scratch records the probes assemble a record in. Ring and
// counters live as long as the capture; the scratch depends on the snap
// length, so a snap-length change may bring a bigger one (scratchFor).
import { createMap, type BpfMap } from '../bpf/map';
import { possibleCpus } from '../bpf/cpus';
import { COUNTERS_PER_POINT, RECORD } from './record';

/** Default ring size: 8 MiB holds ~5000 full-size Ethernet frames between two reads. */
export const DEFAULT_RING_BYTES = 8 << 20;

/** Bytes waiting in a ring of `ringBytes` at which a probe wakes the reader: an eighth, so a burst never fills it before the reader runs. */
export function wakeupThreshold(ringBytes: number): number {
  return Math.max(4096, Math.floor(ringBytes / 8));
}

/**
 * The scratch record: header, then twice the snap length (or more for
 * small ones, see below). Copies land at header + copied with up to snaplen
 * bytes: the verifier checks the worst case of both bounds added together
 * (check_mem_access on a map value with a variable offset), so the value
 * needs room for both even though copied + size never exceeds snaplen at
 * run time.
 */
export function scratchValueSize(snaplen: number): number {
  // mbuf chains copy at most a u16 data_len per segment at an offset the
  // verifier sees as 0..(next power of two above snaplen - 1).
  let mask = 1;
  while (mask < snaplen) mask *= 2;
  return RECORD.headerSize + Math.max(2 * snaplen, mask + 0x10000);
}

/**
 * Per-CPU scratch records for one snap length. An ARRAY with one entry per
 * possible CPU, indexed by bpf_get_smp_processor_id(), not a PERCPU_ARRAY:
 * per-CPU values are limited to 32 KiB (PCPU_MIN_UNIT_SIZE,
 * kernel/bpf/arraymap.c) and a snap length of 262144 needs more.
 */
export function createScratch(snaplen: number): BpfMap {
  return createMap({ type: 'array', name: 'netcap_scratch', keySize: 4, valueSize: scratchValueSize(snaplen), maxEntries: possibleCpus() });
}

export class CaptureMaps {
  private scratchMaps: BpfMap[] = [];

  private constructor(
    readonly ring: BpfMap,
    readonly counters: BpfMap,
    readonly ringBytes: number,
    /** The points the counters have room for (a mode whose points grow asks for room up front). */
    readonly pointCapacity: number,
  ) {}

  /** The ring (`ringBytes`, a power of two) and counters for `points` capture points. */
  static create(opts: { points: number; ringBytes?: number }): CaptureMaps {
    const ringBytes = opts.ringBytes ?? DEFAULT_RING_BYTES;
    const ring = createMap({ type: 'ringbuf', name: 'netcap_ring', keySize: 0, valueSize: 0, maxEntries: ringBytes });
    try {
      const points = Math.max(1, opts.points);
      const counters = createMap({ type: 'percpu_array', name: 'netcap_counts', keySize: 4, valueSize: 8, maxEntries: points * COUNTERS_PER_POINT });
      return new CaptureMaps(ring, counters, ringBytes, points);
    } catch (e) {
      ring.close();
      throw e;
    }
  }

  /** Scratch records with room for `snaplen`: the current ones when they are big enough, else new ones. */
  scratchFor(snaplen: number): BpfMap {
    const current = this.scratchMaps[this.scratchMaps.length - 1];
    if (current && current.spec.valueSize >= scratchValueSize(snaplen)) return current;
    const made = createScratch(snaplen);
    this.scratchMaps.push(made);
    return made;
  }

  /** Bytes in the ring at which probes wake the reader. */
  get wakeupAt(): number {
    return wakeupThreshold(this.ringBytes);
  }

  /** Closes every map (programs still using them keep them alive until they close too). */
  close(): void {
    for (const m of this.scratchMaps.reverse()) m.close();
    this.scratchMaps = [];
    this.counters.close();
    this.ring.close();
  }
}
