// Programs for a DPDK port point (port:ID[:rx|tx][/qN]): the mbuf burst
// programs of probes/mbuf.ts behind a check of the burst function's first
// argument, the queue pointer. Several ports usually share one PMD function
// (every af_packet port runs eth_af_packet_rx), so the entry program looks
// the queue up in a hash map of (queue pointer, point) the capture keeps up
// to date from the process's tables, and goes on only for the selected
// ports and queues:
//
//   rx  uint16_t rx_burst(void *rxq, struct rte_mbuf **pkts, uint16_t n):
//       entry: queue check, then save `pkts` for this thread (per point: two
//       points on one function must not see each other's arrays); return:
//       the saved array and the returned count -> the burst worker
//   tx  uint16_t tx_burst(void *txq, struct rte_mbuf **pkts, uint16_t n):
//       entry: queue check, then the array and n -> the burst worker (every
//       mbuf the application hands over, as pdump's tx callback sees them)
//
// Everything after the check is probes/mbuf.ts's code, unchanged: the
// attached burst programs, and the judging worker in the point's slot.
import { Call, Exit, JEq, Label, LoadMapPtr, LoadMem, Mov, Add, StoreImm, StoreMem } from '../src/ebpf/builders';
import { Helper } from '../src/ebpf/helpers';
import type { Insn } from '../src/ebpf/instruction';
import { R0, R1, R10, R2, R6 } from '../src/ebpf/registers';
import { buildMbufAttached, type MbufPointSpec } from './mbuf';

/** Key of the queue map: u64 queue pointer, u32 point, u32 zero. Value: u32 queue id. */
export const QUEUE_KEY_SIZE = 16;
export const QUEUE_VALUE_SIZE = 4;

/** The 16-byte key for (queue pointer, point). */
export function queueKey(queue: bigint, point: number): Buffer {
  const b = Buffer.alloc(QUEUE_KEY_SIZE);
  b.writeBigUInt64LE(queue, 0);
  b.writeUInt32LE(point, 8);
  return b;
}

/** Stack slot of the key: below every slot of probes/packet-body.ts's SLOT (the lowest, `base`, is at -312). */
const KEY_SLOT = -328;

export interface PortProbeSpec extends Omit<MbufPointSpec, 'kind' | 'argOffset' | 'countOffset' | 'retOffset'> {
  direction: 'rx' | 'tx';
  /** pt_regs offsets of the burst function's arguments 1-3 and of its return value. */
  args: { queue: number; array: number; count: number; ret: number };
  /** Hash map queueKey() -> queue id: the queues this point captures. */
  queuesFd: number;
}

/** The point as the mbuf builders see it: a return point (rx) or a burst point (tx). */
export function portMbufSpec(spec: PortProbeSpec): MbufPointSpec {
  const { direction, args, queuesFd: _queues, ...common } = spec;
  return direction === 'rx' ? { ...common, kind: 'return', argOffset: args.array, retOffset: args.ret } : { ...common, kind: 'burst', argOffset: args.array, countOffset: args.count };
}

/** The queue check that opens the entry program: not a selected queue of this point -> exit. r1 (ctx) is kept. */
function queueCheck(spec: PortProbeSpec): Insn[] {
  return [
    Mov.reg(R6, R1),
    LoadMem(R2, R6, spec.args.queue, 8),
    StoreMem(R10, KEY_SLOT, R2, 8),
    StoreImm(R10, KEY_SLOT + 8, spec.point, 8),
    LoadMapPtr(R1, spec.queuesFd),
    Mov.reg(R2, R10),
    Add.imm(R2, KEY_SLOT),
    Call(Helper.map_lookup_elem),
    JEq.imm(R0, 0, 'port_other_queue'),
    Mov.reg(R1, R6),
  ];
}

/** The programs attached to the burst function for the whole capture; the judge is buildMbufJudge(portMbufSpec(spec), ...). */
export function buildPortAttached(spec: PortProbeSpec): { entry: Insn[]; exit?: Insn[] } {
  const built = buildMbufAttached(portMbufSpec(spec));
  return { ...built, entry: [...queueCheck(spec), ...built.entry, Label('port_other_queue'), Mov.imm(R0, 0), Exit()] };
}
