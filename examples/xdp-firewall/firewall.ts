// A small XDP firewall built with netcap's own eBPF builder (no clang), the
// program `netcap xdp` is shown and tested on. By UDP/TCP destination port
// of an IPv4 packet it drops (XDP_DROP), bounces back out of the interface
// with the MAC addresses swapped (XDP_TX), aborts (XDP_ABORTED: the kernel
// counts it as an exception), sends to another interface (bpf_redirect:
// XDP_REDIRECT), and passes everything else (XDP_PASS). It counts its own
// verdicts per action in a per-CPU array, and ends every path through an
// xdpcap hook (probes/xdp-hook.ts hookExit), so a capture tool sees each
// packet with the verdict it got.
//
//   r6 = ctx, r2 = data, r3 = data_end
//   not Ethernet + IPv4 + (TCP or UDP) with the ports in the first buffer -> pass
//   r4 = destination port; compare with each rule's ports -> its action
//   action: count it, then hookExit(hook, action, r6)
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Add, And, Call, Ja, JEq, JGT, JNE, Label, LoadMem, LSh, Mov, StoreMem, ToBE } from '../../src/ebpf/builders';
import { Helper } from '../../src/ebpf/helpers';
import type { Insn } from '../../src/ebpf/instruction';
import { pruneUnreachable } from '../../src/ebpf/prune';
import { R0, R1, R2, R3, R4, R5, R6, R7 } from '../../src/ebpf/registers';
import { AttachType, ProgType, XdpAction } from '../../src/bpf/constants';
import { adoptMap, createMap, u32, type BpfMap } from '../../src/bpf/map';
import { BPF_F_XDP_HAS_FRAGS, loadProgram, type Program } from '../../src/bpf/program';
import { attachXdp, type XdpOptions } from '../../src/bpf/link/xdp';
import { openPinned, pinObject } from '../../src/bpf/pinned';
import { emitCounterAdd, Labels } from '../../probes/common';
import { hookExit, hookExitReg, XDPCAP_HOOK_MAP, XDPCAP_HOOK_PIN } from '../../probes/xdp-hook';

export interface FirewallRules {
  /** Destination ports dropped. */
  drop?: number[];
  /** Destination ports bounced back out of the interface they came in on (MACs swapped). */
  bounce?: number[];
  /** Destination ports answered with XDP_ABORTED. */
  abort?: number[];
  /** Destination ports sent out of another interface (by ifindex, in the firewall's network namespace). */
  redirect?: { port: number; ifindex: number }[];
}

/** The firewall's counters: one per-CPU u64 per XDP action (key = action). */
export const COUNTER_ENTRIES = 5;

const ETH_P_IP = 0x0800;
const IPPROTO_TCP = 6;
const IPPROTO_UDP = 17;
const STACK_KEY = -4;

function checkPort(p: number): number {
  if (!Number.isInteger(p) || p < 0 || p > 0xffff) throw new RangeError(`port ${p} is not 0..65535`);
  return p;
}

/** The program: maps are the hook (XDPCAP_HOOK_MAP) and the counters (percpu_array, COUNTER_ENTRIES u64). */
export function buildFirewall(rules: FirewallRules, maps: { hook: number; counters: number }): Insn[] {
  const labels = new Labels('fw_');
  const verdict = (action: number, label: string, extra: Insn[] = []): Insn[] => [
    Label(label),
    ...emitCounterAdd(maps.counters, action, 1, STACK_KEY, labels),
    ...extra,
    ...hookExit(maps.hook, action, R6),
  ];
  const rulesCode: Insn[] = [];
  for (const p of rules.drop ?? []) rulesCode.push(JEq.imm(R4, checkPort(p), 'drop'));
  for (const p of rules.bounce ?? []) rulesCode.push(JEq.imm(R4, checkPort(p), 'bounce'));
  for (const p of rules.abort ?? []) rulesCode.push(JEq.imm(R4, checkPort(p), 'abort'));
  const redirects = rules.redirect ?? [];
  redirects.forEach((r, i) => rulesCode.push(JEq.imm(R4, checkPort(r.port), `redirect_${i}`)));

  const insns: Insn[] = [
    Mov.reg(R6, R1).withComment('r6 = ctx'),
    LoadMem(R2, R6, 0, 4).withComment('r2 = ctx->data'),
    LoadMem(R3, R6, 4, 4).withComment('r3 = ctx->data_end'),
    Mov.reg(R5, R2),
    Add.imm(R5, 14 + 20),
    JGT.reg(R5, R3, 'pass').withComment('no room for Ethernet + IPv4 headers'),
    LoadMem(R4, R2, 12, 2),
    ToBE(R4, 16),
    JNE.imm(R4, ETH_P_IP, 'pass'),
    LoadMem(R4, R2, 14 + 9, 1).withComment('IP protocol'),
    JEq.imm(R4, IPPROTO_UDP, 'ports'),
    JNE.imm(R4, IPPROTO_TCP, 'pass'),
    Label('ports'),
    LoadMem(R4, R2, 14, 1),
    And.imm(R4, 0x0f),
    LSh.imm(R4, 2).withComment('IP header length: 0..60 bytes'),
    Mov.reg(R5, R2),
    Add.reg(R5, R4),
    Add.imm(R5, 14),
    Mov.reg(R1, R5),
    Add.imm(R1, 4),
    JGT.reg(R1, R3, 'pass').withComment('the ports are not in the first buffer'),
    LoadMem(R4, R5, 2, 2),
    ToBE(R4, 16).withComment('r4 = destination port'),
    ...rulesCode,
    Ja('pass'),
    ...verdict(XdpAction.PASS, 'pass'),
    ...verdict(XdpAction.DROP, 'drop'),
    ...verdict(XdpAction.ABORTED, 'abort'),
    // XDP_TX: swap the Ethernet addresses (6 bytes each, as a u32 and a u16) and send the frame back.
    ...verdict(XdpAction.TX, 'bounce', [
      LoadMem(R2, R6, 0, 4),
      LoadMem(R3, R6, 4, 4),
      Mov.reg(R5, R2),
      Add.imm(R5, 14),
      JGT.reg(R5, R3, 'bounce_short'),
      LoadMem(R0, R2, 0, 4),
      LoadMem(R1, R2, 4, 2),
      LoadMem(R4, R2, 6, 4),
      LoadMem(R5, R2, 10, 2),
      StoreMem(R2, 0, R4, 4),
      StoreMem(R2, 4, R5, 2),
      StoreMem(R2, 6, R0, 4),
      StoreMem(R2, 10, R1, 2),
      Label('bounce_short'),
    ]),
  ];
  redirects.forEach((r, i) => {
    // bpf_redirect's return value is the verdict (XDP_REDIRECT; XDP_ABORTED for bad flags): the hook is entered with it.
    insns.push(
      Label(`redirect_${i}`),
      ...emitCounterAdd(maps.counters, XdpAction.REDIRECT, 1, STACK_KEY, labels),
      Mov.imm(R1, r.ifindex),
      Mov.imm(R2, 0),
      Call(Helper.redirect),
      Mov.reg(R7, R0),
      ...hookExitReg(maps.hook, R7, R6),
    );
  });
  // Rules that name no port for an action leave its tail unreachable, which the verifier refuses.
  return pruneUnreachable(insns);
}

/** The names under the pin directory. */
export const PINS = { hook: XDPCAP_HOOK_PIN, counters: 'counters', link: 'link' } as const;

/** The firewall loaded: its hook map, its counters, its program. Nothing is attached or pinned yet. */
export class Firewall {
  private constructor(
    readonly hook: BpfMap,
    readonly counters: BpfMap,
    readonly program: Program,
  ) {}

  /**
   * Creates the maps and loads the program: XDP with expected_attach_type
   * BPF_XDP and BPF_F_XDP_HAS_FRAGS (multi-buffer packets reach it whole;
   * the programs put into its hook must be loaded the same way, and
   * `netcap xdp` finds that out by itself).
   */
  static load(rules: FirewallRules): Firewall {
    const hook = createMap(XDPCAP_HOOK_MAP);
    let counters: BpfMap | undefined;
    try {
      counters = createMap({ type: 'percpu_array', name: 'fw_counters', keySize: 4, valueSize: 8, maxEntries: COUNTER_ENTRIES });
      const program = loadProgram({
        type: ProgType.XDP,
        name: 'xdp_firewall',
        insns: buildFirewall(rules, { hook: hook.fd, counters: counters.fd }),
        expectedAttachType: AttachType.XDP,
        progFlags: BPF_F_XDP_HAS_FRAGS,
      });
      return new Firewall(hook, counters, program);
    } catch (e) {
      counters?.close();
      hook.close();
      throw e;
    }
  }

  /** Attaches the program to an interface of this process's network namespace and pins hook, counters and link under `dir`. */
  attachAndPin(opts: XdpOptions, dir: string): void {
    fs.mkdirSync(dir, { recursive: true });
    const link = attachXdp(this.program, opts);
    try {
      pinObject(this.hook.fd, path.join(dir, PINS.hook));
      pinObject(this.counters.fd, path.join(dir, PINS.counters));
      // Last: a pinned link keeps the program attached after this process exits.
      pinObject(link.linkFd!, path.join(dir, PINS.link));
    } catch (e) {
      unpin(dir);
      throw e;
    } finally {
      link.close();
    }
  }

  /** Verdicts per action so far (index = action). */
  counts(): bigint[] {
    return countsOf(this.counters);
  }

  close(): void {
    this.program.close();
    this.counters.close();
    this.hook.close();
  }
}

function countsOf(counters: BpfMap): bigint[] {
  return Array.from({ length: COUNTER_ENTRIES }, (_, action) => counters.sumU64(u32(action)));
}

/** The verdict counts of a firewall pinned under `dir`. */
export function pinnedCounts(dir: string): bigint[] {
  const pinned = openPinned(path.join(dir, PINS.counters), 'firewall counter map');
  const counters = adoptMap(pinned.fd.release());
  try {
    return countsOf(counters);
  } finally {
    counters.close();
  }
}

/** Removes the pins under `dir` (the link first: that detaches the program) and the directory. */
export function unpin(dir: string): void {
  for (const name of [PINS.link, PINS.hook, PINS.counters]) fs.rmSync(path.join(dir, name), { force: true });
  try {
    fs.rmdirSync(dir);
  } catch {
    // not ours to remove: something else is in it, or it is gone
  }
}
