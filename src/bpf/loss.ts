// Loss accounting. A ring buffer drops nothing silently by itself: when
// bpf_ringbuf_reserve/output fails (ring full) the program increments a
// u64 in a per-CPU array; the reader sums the CPUs whenever it reports.
// Per-CPU, so the increment needs no atomic and never contends.
import { createMap, u32, type BpfMap } from './map';

export class LossCounters {
  private constructor(readonly map: BpfMap) {}

  /** A per-CPU array of `slots` u64 counters (one per probe point, say). */
  static create(name = 'netcap_loss', slots = 1): LossCounters {
    return new LossCounters(createMap({ type: 'percpu_array', name, keySize: 4, valueSize: 8, maxEntries: slots }));
  }

  /** Wraps an existing per-CPU array of u64 (not owned: close() closes it anyway). */
  static over(map: BpfMap): LossCounters {
    if (map.spec.type !== 'percpu_array' || map.spec.valueSize !== 8) throw new Error(`map ${map.name} is not a per-CPU array of u64`);
    return new LossCounters(map);
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
