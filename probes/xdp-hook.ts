// The xdpcap hook, for XDP programs built with netcap's own eBPF builder.
//
// An XDP program exposes a hook by ending every path with a tail call into
// a BPF_MAP_TYPE_PROG_ARRAY indexed by the action it chose, and returning
// that action when the slot is empty:
//
//     ...hookExit(hook.fd, XdpAction.DROP, R6)     // r6 holds the context
//
// The map (XDPCAP_HOOK_MAP) is pinned in bpffs for capture tools to find:
// `netcap xdp --hook /sys/fs/bpf/NAME/xdpcap_hook` (or Cloudflare's xdpcap)
// puts one program per action into it, each of which looks at the packet
// and returns the same action, so the verdict stands. With nobody
// capturing, a hook costs one failed tail call (a few ns).
//
// The same in C (clang), as xdpcap's README defines it:
//
//     struct {
//       __uint(type, BPF_MAP_TYPE_PROG_ARRAY);
//       __uint(max_entries, 5);           /* XDP_ABORTED .. XDP_REDIRECT */
//       __type(key, __u32);
//       __type(value, __u32);
//     } xdpcap_hook SEC(".maps");
//
//     static __always_inline int xdpcap_exit(struct xdp_md *ctx, void *hook, int action) {
//       bpf_tail_call(ctx, hook, action);
//       return action;
//     }
//     ... return xdpcap_exit(ctx, &xdpcap_hook, XDP_DROP);
//
// and pin the map (libbpf: `__uint(pinning, LIBBPF_PIN_BY_NAME)`, or
// `bpftool map pin id N /sys/fs/bpf/NAME/xdpcap_hook`).
import { Call, Exit, LoadMapPtr, Mov } from '../src/ebpf/builders';
import { Helper } from '../src/ebpf/helpers';
import type { Insn } from '../src/ebpf/instruction';
import { R0, R1, R2, R3, R6, R7, R8, R9, type Register } from '../src/ebpf/registers';
import type { MapSpec } from '../src/bpf/map';

/** The hook map as xdpcap defines it: key = XDP action (0..4), value = program fd. */
export const XDPCAP_HOOK_MAP: MapSpec = { type: 'prog_array', name: 'xdpcap_hook', keySize: 4, valueSize: 4, maxEntries: 5 };

/** The pin name xdpcap's examples use, inside a directory of the program's own. */
export const XDPCAP_HOOK_PIN = 'xdpcap_hook';

const CALLEE_SAVED: readonly Register[] = [R6, R7, R8, R9];

/**
 * Ends the program through the hook: tail-calls slot `action` of the hook
 * map and, when the slot is empty, returns `action`. In verifier syntax:
 *
 *     r1 = r6                      ; ctx (any callee-saved register)
 *     r2 = map[id:N]               ; the hook map
 *     r3 = 1                       ; the action
 *     call bpf_tail_call#12
 *     r0 = 1
 *     exit
 *
 * Needs Linux 4.2 (tail calls).
 */
export function hookExit(hookFd: number, action: number, ctx: Register): Insn[] {
  if (!Number.isInteger(action) || action < 0 || action > 4) throw new Error(`hookExit: XDP action ${action} is not 0..4`);
  return emitHookExit(hookFd, Mov.imm(R3, action), Mov.imm(R0, action), ctx);
}

/**
 * hookExit for a verdict computed at run time (bpf_redirect's return
 * value, say): the action is in `action`, a callee-saved register (r6-r9),
 * so that it survives the helper call.
 */
export function hookExitReg(hookFd: number, action: Register, ctx: Register): Insn[] {
  if (!CALLEE_SAVED.includes(action)) throw new Error(`hookExitReg: the action register must be callee-saved (r6-r9), not r${action}`);
  return emitHookExit(hookFd, Mov.reg(R3, action), Mov.reg(R0, action), ctx);
}

function emitHookExit(hookFd: number, index: Insn, result: Insn, ctx: Register): Insn[] {
  if (!CALLEE_SAVED.includes(ctx)) throw new Error(`hookExit: the context must be in a callee-saved register (r6-r9), not r${ctx}`);
  return [Mov.reg(R1, ctx), LoadMapPtr(R2, hookFd), index, Call(Helper.tail_call).withComment('into the capture program for this action, if any'), result, Exit()];
}
