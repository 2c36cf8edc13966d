// `netcap xdp --hook PATH...` from options to a CaptureSpec for the shared
// session (src/capture/session.ts): open and check every hook, refuse
// slots in use (unless --force), compile the filter once, load one capture
// program per (hook, action) with the load options the hook's owner needs,
// start the watchdog, and hand over attach() = fill the slots, whose links
// put them back. Points are numbered hook by hook, action by action; each
// is a pcapng interface "xdp:<hook> <action>" and each packet carries its
// action as epb_verdict.
import { UserError } from '../../errors';
import { AttachType, ProgType } from '../../bpf/constants';
import { BPF_F_XDP_HAS_FRAGS, loadProgram, type Program } from '../../bpf/program';
import { compatibleVariant, type TailCallVariant } from '../../bpf/prog-array';
import { Link } from '../../bpf/link/link';
import type { Closer } from '../../bpf/registry';
import type { PacketRecord } from '../../capture/record';
import { readCounters, type CaptureSpec, type SessionPoint } from '../../capture/session';
import type { PointCounts } from '../../capture/summary';
import { disassemble } from '../../ebpf/disassemble';
import { link } from '../../ebpf/link';
import type { Insn } from '../../ebpf/instruction';
import { compileCbpf } from '../../filter/libpcap';
import { LINKTYPE_ETHERNET } from '../../output/packet';
import { CaptureMaps, wakeupThreshold } from '../../../probes/common';
import { buildXdpHookProgram } from '../../../probes/xdp';
import { actionName, XDP_ACTION_NAMES } from './actions';
import { hookNames, openHook, type XdpHook } from './hook';
import { fillSlot, planSlots, restoreSlot, type RestoreResult, type SlotPlan } from './slots';
import { formatXdpCounts, formatXdpSummary, XdpStatusLine, type XdpPointRef } from './status';
import { SlotWatchdog } from './watchdog';
import { xdpPacket } from './packet';

export interface XdpCaptureOptions {
  /** --hook, one or more pinned hook maps. */
  hooks: readonly string[];
  /** --actions (XDP action values); undefined = every action the hook has a slot for. */
  actions?: readonly number[];
  expression: string;
  snaplen: number;
  ringBytes: number;
  /** --force: use slots that hold someone else's program, and put it back afterwards. */
  force?: boolean;
  /** --dry-run: load for the verifier, change nothing in any hook, start no watchdog. */
  dryRun?: boolean;
  /** Where the live counters go (default process.stderr). */
  stderr?: NodeJS.WritableStream;
}

export interface XdpPoint extends XdpPointRef {
  hook: XdpHook;
  plan: SlotPlan;
  program: Program;
  insns: Insn[];
}

export interface PreparedXdpCapture {
  hooks: XdpHook[];
  points: XdpPoint[];
  spec: CaptureSpec;
  /** What putting the slots back found (a slot someone else changed meanwhile), one line each. */
  restoreNotes(): string[];
  /** The xdpcap-shaped counter lines printed after the session's summary. */
  summary(counts: readonly PointCounts[]): string;
  close(): void;
}

/**
 * The load options tried against a hook's owner (kernel/bpf/core.c,
 * __bpf_prog_map_compatible): libbpf and bpftool load XDP programs with
 * expected_attach_type BPF_XDP, and multi-buffer ones (SEC("xdp.frags"))
 * with BPF_F_XDP_HAS_FRAGS; raw loaders leave 0. The first that fits is
 * used; a map no program uses yet takes the first as its owner.
 */
export const HOOK_VARIANTS: readonly TailCallVariant[] = [
  { expectedAttachType: AttachType.XDP, progFlags: 0 },
  { expectedAttachType: AttachType.XDP, progFlags: BPF_F_XDP_HAS_FRAGS },
  { expectedAttachType: 0, progFlags: 0 },
  { expectedAttachType: 0, progFlags: BPF_F_XDP_HAS_FRAGS },
];

/** Everything made so far, closed newest first when preparing fails half-way or the capture ends. */
class Owned {
  private readonly items: Closer[] = [];
  add<T extends Closer>(x: T): T {
    this.items.push(x);
    return x;
  }
  /** Closed after everything else. */
  addFirst(x: Closer): void {
    this.items.unshift(x);
  }
  closeAll(): void {
    for (const x of this.items.splice(0).reverse()) {
      try {
        x.close();
      } catch {
        // keep closing
      }
    }
  }
}

function selectedActions(hook: XdpHook, wanted: readonly number[] | undefined): number[] {
  if (!wanted) return XDP_ACTION_NAMES.map((_, i) => i).filter((a) => a < hook.entries);
  const missing = wanted.filter((a) => a >= hook.entries);
  if (missing.length) {
    throw new UserError(
      `${hook.path} has ${hook.entries} entries: no ${missing.map(actionName).join(', ')} slot`,
      `leave ${missing.map(actionName).join(', ')} out of --actions, or give the XDP program a hook map with 5 entries (XDP_ABORTED .. XDP_REDIRECT)`,
    );
  }
  return [...wanted];
}

export async function prepareXdpCapture(o: XdpCaptureOptions): Promise<PreparedXdpCapture> {
  if (o.hooks.length === 0) throw new UserError('netcap xdp needs --hook PATH', 'the path of a pinned xdpcap hook map, e.g. --hook /sys/fs/bpf/lb/xdpcap_hook');
  const owned = new Owned();
  try {
    const names = hookNames(o.hooks);
    const hooks: XdpHook[] = [];
    for (const [i, p] of o.hooks.entries()) {
      const hook = openHook(p, names[i]);
      owned.add(hook.map);
      hooks.push(hook);
    }
    const filter = o.expression ? compileCbpf(o.expression, { linktype: 'EN10MB', snaplen: o.snaplen }).insns : undefined;
    const planned = hooks.flatMap((hook) => planSlots(hook, selectedActions(hook, o.actions), o.force ?? false).map((plan) => ({ hook, plan })));
    for (const { plan } of planned) if (plan.previous) owned.add(plan.previous);
    // The watchdog starts now and learns the program ids once they are loaded (before any slot is filled).
    // Added first: closed last, after every slot is back.
    const watchdog = o.dryRun
      ? undefined
      : SlotWatchdog.spawn(hooks.map((h) => ({ path: h.path, map: h.map, slots: planned.filter((p) => p.hook === h).map((p) => ({ key: p.plan.key, previous: p.plan.previous })) })));
    if (watchdog) owned.addFirst(watchdog);
    const maps = owned.add(CaptureMaps.create({ points: planned.length, snaplen: o.snaplen, ringBytes: o.ringBytes }));
    const variants = new Map<XdpHook, TailCallVariant>();
    for (const h of hooks) {
      // --dry-run changes nothing: not even the owner of a hook map nobody uses yet.
      const v = o.dryRun ? HOOK_VARIANTS[0] : compatibleVariant(h.map, ProgType.XDP, HOOK_VARIANTS);
      if (!v) {
        throw new UserError(
          `${h.path}: the kernel accepts no XDP program into this hook map`,
          'the program that tail-calls into it is not an XDP program (or is loaded in a way netcap does not know): check `bpftool map show` and the program using the map',
        );
      }
      variants.set(h, v);
    }
    const points: XdpPoint[] = planned.map(({ hook, plan }, index) => {
      const insns = buildXdpHookProgram({
        action: plan.key,
        point: index,
        filter,
        snaplen: o.snaplen,
        maps: { ring: maps.ring.fd, counters: maps.counters.fd, scratch: maps.scratch.fd },
        wakeupAt: wakeupThreshold(o.ringBytes),
      });
      const v = variants.get(hook)!;
      const program = owned.add(loadProgram({ type: ProgType.XDP, name: `nc_xdp_${actionName(plan.key)}`, insns, expectedAttachType: v.expectedAttachType, progFlags: v.progFlags }));
      return { hook, plan, program, insns, hookName: hook.name, hookEntries: hook.entries, action: plan.key };
    });
    await watchdog?.watch(hooks.map((h) => points.filter((p) => p.hook === h).map((p) => p.program.id)));
    return finishSpec(o, hooks, points, maps, owned);
  } catch (e) {
    owned.closeAll();
    throw e;
  }
}

function finishSpec(o: XdpCaptureOptions, hooks: XdpHook[], points: XdpPoint[], maps: CaptureMaps, owned: Owned): PreparedXdpCapture {
  const notes: string[] = [];
  const stderr = o.stderr ?? process.stderr;
  const sessionPoints: SessionPoint[] = points.map((p) => ({ name: `xdp:${p.hookName} ${actionName(p.action)}`, linktype: LINKTYPE_ETHERNET }));
  const restore = (p: XdpPoint): RestoreResult => {
    const result = restoreSlot(p.hook.slots, p.plan.key, p.program.id, p.plan.previous?.fd);
    if (result === 'changed') notes.push(`${p.hook.path}: the ${actionName(p.action)} slot was changed by someone else while netcap ran; left as it is`);
    return result;
  };

  const attach = (): Link[] => {
    const links: Link[] = [];
    try {
      for (const p of points) {
        fillSlot(p.hook, p.plan, p.program);
        links.push(new Link('xdp-hook', `${p.hook.path} ${actionName(p.action)}`, [{ close: () => void restore(p) }]));
      }
    } catch (e) {
      for (const l of links.reverse()) l.close();
      throw e;
    }
    owned.add(new XdpStatusLine(stderr, () => formatXdpCounts(points, readCounters(maps.counters, points.length))).start());
    return links;
  };

  const describe = (rec: PacketRecord, point: SessionPoint): string => {
    const p = points[rec.point];
    const parts = [`point=${point.name}`, `action=${p ? actionName(p.action) : '?'}`, `ifindex=${rec.ifindex}`, `cpu=${rec.cpu}`];
    if (rec.readFailed) parts.push('truncated=read-error');
    return parts.join(' ');
  };
  const toPacket = (rec: PacketRecord, tsNs: bigint, comment: string) => xdpPacket(rec, tsNs, comment, points[rec.point]?.action);

  const readiness = hooks
    .map((h) => `xdp hook ${h.path} (${points.filter((p) => p.hook === h).map((p) => actionName(p.action)).join(', ')})`)
    .join('; ');
  const spec: CaptureSpec = {
    points: sessionPoints,
    ring: maps.ring,
    counters: maps.counters,
    attach,
    resources: [{ close: () => owned.closeAll() }],
    readiness,
    snaplen: o.snaplen,
    filter: o.expression,
    describe,
    toPacket,
  };
  return {
    hooks,
    points,
    spec,
    restoreNotes: () => notes,
    summary: (counts) => formatXdpSummary(points, counts),
    close: () => owned.closeAll(),
  };
}

/** --dry-run: every hook as the kernel describes it, what its slots hold, and each program as loaded (the verifier accepted it). */
export function describeXdpDryRun(c: PreparedXdpCapture): string {
  const lines: string[] = [];
  for (const h of c.hooks) {
    lines.push(`hook ${h.path} (${h.name}): map id ${h.info.id}${h.info.name ? ` "${h.info.name}"` : ''}, BPF_MAP_TYPE_PROG_ARRAY, key ${h.info.keySize}, value ${h.info.valueSize}, ${h.entries} entries`);
    for (let key = 0; key < h.entries; key++) {
      const id = h.slots.programId(key);
      lines.push(`  slot ${key} (${actionName(key)}): ${id === undefined ? 'empty' : `program ${id}`}`);
    }
  }
  c.points.forEach((p, i) => {
    lines.push(`point ${i}: xdp:${p.hookName} ${actionName(p.action)}: program ${p.program.name}, ${link(p.insns).slots} instructions, accepted by the verifier`);
    lines.push(disassemble(link(p.insns)).trimEnd().replace(/^/gm, '    '));
  });
  return lines.join('\n') + '\n';
}
