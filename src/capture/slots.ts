// The program arrays capture points dispatch into (probes/dispatch.ts):
// slot i holds the program that judges point i's packets. Replacing a
// slot's program is one bpf_map_update_elem: the kernel swaps the pointer
// under RCU (prog_array_map_poke_run / bpf_fd_array_map_update_elem), so a
// hit runs either the old program or the new one, never both and never
// neither — the atomic switch of a filter or snap-length change.
//
// The array is emptied when it closes: the kernel would clear an array whose
// last fd closed only later, from a workqueue (prog_array_map_clear_deferred),
// keeping its programs loaded meanwhile.
import { createMap, u32, type BpfMap } from '../bpf/map';
import type { Program } from '../bpf/program';

export class ProgramSlots {
  private readonly map: BpfMap;
  private readonly filled = new Set<number>();

  /** A program array of `size` slots; `name` shows in bpftool. */
  constructor(name: string, readonly size: number) {
    this.map = createMap({ type: 'prog_array', name, keySize: 4, valueSize: 4, maxEntries: Math.max(1, size) });
  }

  get fd(): number {
    return this.map.fd;
  }

  /** Puts `program` into slot `slot`, replacing what was there in one step. */
  install(slot: number, program: Program): void {
    if (slot < 0 || slot >= this.size) throw new RangeError(`slot ${slot} is outside 0..${this.size - 1}`);
    this.map.update(u32(slot), u32(program.fd));
    this.filled.add(slot);
  }

  /** Empties every slot, then closes the array. Idempotent. */
  close(): void {
    for (const slot of this.filled) {
      try {
        this.map.delete(u32(slot));
      } catch {
        // already gone with the map
      }
    }
    this.filled.clear();
    this.map.close();
  }
}
