// Loss accounting. A ring buffer drops nothing silently by itself: when
// bpf_ringbuf_reserve/output fails (ring full) the program increments a
// u64 in a per-CPU array; the reader sums the CPUs whenever it reports.
// Per-CPU, so the increment needs no atomic and never contends.
import { Label, Add, Call, JEq, LoadMapPtr, LoadMem, Mov, StoreImm, StoreMem } from '../ebpf/builders';
import { Helper } from '../ebpf/helpers';
import type { Insn } from '../ebpf/instruction';
import { R0, R1, R10, R2, type Register } from '../ebpf/registers';
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

/**
 * The eBPF side of the convention: increments counter `slot` of the loss
 * map, for a program's "bpf_ringbuf_reserve returned NULL" branch. Uses
 * 4 bytes of stack at r10+stackOffset for the key and clobbers r0-r5
 * (a helper call). `label` must be unique in the program.
 */
export function emitCountLoss(mapFd: number, slot: number, stackOffset: number, label: string): Insn[] {
  return emitPerCpuCounterAdd(mapFd, slot, 1, stackOffset, label);
}

/**
 * Adds `amount` (an immediate, or a register other than r0-r2, which the
 * lookup clobbers) to u64 slot `slot` of a per-CPU array:
 *
 *   *(u32 *)(r10 stackOffset) = slot
 *   r1 = map[fd]
 *   r2 = r10 ; r2 += stackOffset
 *   call bpf_map_lookup_elem
 *   if r0 == 0x0 goto label
 *   r1 = *(u64 *)(r0 +0) ; r1 += amount ; *(u64 *)(r0 +0) = r1   (per-CPU slot: no atomic needed)
 * label: r0 = r0
 *
 * Clobbers r0-r5; `label` must be unique in the program.
 */
export function emitPerCpuCounterAdd(mapFd: number, slot: number, amount: number | Register, stackOffset: number, label: string): Insn[] {
  if (stackOffset > -4 || stackOffset < -512 || stackOffset % 4 !== 0) throw new RangeError(`stack offset ${stackOffset}: needs 4 aligned bytes within r10-512..r10`);
  if (typeof amount !== 'number' && amount <= R2) throw new RangeError('the amount register is clobbered by the map lookup: use r3-r9');
  return [
    StoreImm(R10, stackOffset, slot, 4),
    LoadMapPtr(R1, mapFd),
    Mov.reg(R2, R10),
    Add.imm(R2, stackOffset),
    Call(Helper.map_lookup_elem),
    JEq.imm(R0, 0, label),
    LoadMem(R1, R0, 0, 8),
    typeof amount === 'number' ? Add.imm(R1, amount) : Add.reg(R1, amount),
    StoreMem(R0, 0, R1, 8),
    Label(label),
  ];
}
