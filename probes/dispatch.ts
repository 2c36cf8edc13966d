// The program a capture point attaches to its hook: it hands the hook's
// context to the program in slot `slot` of a program array
// (bpf_tail_call), the one that judges packets with the current filter and
// snap length. Changing the filter puts another program in the slot: one
// map update, so every hit runs exactly one of the two (src/capture/slots.ts).
// The dispatcher itself never changes while the capture runs.
import { Call, Exit, LoadMapPtr, Mov } from '../src/ebpf/builders';
import { Helper } from '../src/ebpf/helpers';
import type { Insn } from '../src/ebpf/instruction';
import { R0, R2, R3 } from '../src/ebpf/registers';

/**
 *   r2 = map[slots] ; r3 = slot ; call bpf_tail_call   (r1 = ctx, as the hook gave it)
 *   r0 = fallback ; exit                                (only when the slot is empty)
 *
 * `fallback` is what the hook needs when nothing judged the packet: 0 for
 * tracing programs, "continue" (TC) or the action (XDP) where the return
 * value is a verdict, so the datapath never changes.
 */
export function buildDispatcher(slotsFd: number, slot: number, fallback = 0): Insn[] {
  return [
    LoadMapPtr(R2, slotsFd).withComment('r1 = ctx: the hook\'s context goes on to the program in the slot'),
    Mov.imm(R3, slot),
    Call(Helper.tail_call),
    Mov.imm(R0, fallback).withComment('the slot is empty'),
    Exit(),
  ];
}
