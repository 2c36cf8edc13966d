// netcap iface: packets of network interfaces by direction, at their TC
// hooks, without changing what the datapath does. A capture point is an
// interface and a hook direction ("v1 ingress"). Each point's attached
// program is a dispatcher on the hook (tcx, or cls_bpf on clsact, in the
// interfaces' namespace: hooks.ts) that tail-calls its slot; the slot holds
// the generation's program for the point (generation.ts): the capture
// program for the filter and snap length (probes/tc.ts), or, where the
// capture's direction does not select the point, the idle program that only
// counts. So filter, snap-length and direction changes (`off` included) are
// one slot update per point, like the other modes' changes.
//
// The filter has tcpdump -i's meaning (filter.ts: compiled by libpcap on a
// live handle; inbound/outbound, vlan, ifindex read the skb's metadata).
// `-i any` captures every interface of the namespace and, through a link
// watcher (any.ts), each one that appears while capturing, with points of
// its own added to the running capture (ModeContext.pointsAdded).
import { defaultTcMechanism, type TcPosition } from '../../bpf/link/tc';
import { Link } from '../../bpf/link/link';
import { disassemble } from '../../ebpf/disassemble';
import { link } from '../../ebpf/link';
import type { Insn } from '../../ebpf/instruction';
import { currentNetns, resolveNetns, type InterfaceInfo } from '../../kernel/interfaces';
import type { PacketMeta } from '../../output/packet';
import type { PacketRecord } from '../../capture/record';
import type { Generation, JudgeSettings, ModeContext, ModePacket, ModePoint, PreparedMode } from '../../capture/mode';
import { AnyInterfaces } from './any';
import { COMPILE_DEVICE, IfaceFilters, NoNetmaskError, netmaskOf } from './filter';
import { IfaceGenerations, type JudgedPoint } from './generation';
import { defaultPosition, InterfaceHooks, type HookPlacement } from './hooks';
import { checkDirectionAttached, hooksToAttach, selectInterfaces, unsupportedReason } from './points';

export type TcMechanismChoice = 'auto' | 'tcx' | 'cls_bpf';

export interface IfaceOptions {
  /** -i: names or ifindexes, comma-separated, or "any". */
  interfaces: string;
  /** --netns: the interfaces' network namespace, a name from `ip netns list` or a path (default: netcap's own). */
  netns?: string;
  /** --position (default: first at ingress, last at egress). */
  position?: TcPosition;
  /** --hook (default auto: tcx where the kernel has it). */
  hook?: TcMechanismChoice;
  /**
   * Attach both hooks of every interface whatever the first direction, so
   * that setDirection() may choose any direction later, `off` included
   * (netcap serve). Default: only the hooks the first direction selects
   * (the command line's -Q), and a direction needing others is refused.
   */
  directionChanges?: boolean;
}

/** The most interfaces `-i any` captures on over a capture's life (one that goes keeps its points): its counters are made with room for their points. */
export const MAX_ANY_INTERFACES = 256;

/** The filters of the settings asked last: check() and load() of one change compile once. */
class FilterCache {
  #last?: { key: string; filters: IfaceFilters };

  get(settings: JudgeSettings): IfaceFilters {
    const key = `${settings.snaplen}/${settings.expression}`;
    if (this.#last?.key !== key) this.#last = { key, filters: new IfaceFilters(settings.expression, settings.snaplen) };
    return this.#last.filters;
  }
}

export function prepareIfaceMode(o: IfaceOptions, ctx: ModeContext): PreparedMode {
  const netns = o.netns !== undefined ? resolveNetns(o.netns) : currentNetns();
  const selection = selectInterfaces(o.interfaces, netns);
  const hookDirections = hooksToAttach(ctx.settings.direction, o.directionChanges === true);
  const mechanism = o.hook === undefined || o.hook === 'auto' ? defaultTcMechanism() : o.hook;
  const placement: HookPlacement = { mechanism, position: o.position, netnsPath: netns.label === 'current' ? undefined : netns.path };
  const filters = new FilterCache();
  const generations = new IfaceGenerations();

  const points: ModePoint[] = [];
  const judged: JudgedPoint[] = [];
  /** Interfaces captured now, by ifindex. */
  const present = new Map<number, InterfaceHooks>();
  /** Interfaces -i any does not capture on, by ifindex (noted once). */
  const skipped = new Set<number>();
  /** ifindex -> name of every interface captured on, for packets' metadata (kept after one goes: its packets may still be in the ring). */
  const names = new Map<number, string>();
  const notes: string[] = [];
  let watch: AnyInterfaces | undefined;
  let running = false;

  /** Slots, dispatchers and points for `iface` (numbered from the next free point), not yet the capture's. */
  const hooksFor = (iface: InterfaceInfo) => new InterfaceHooks(iface, hookDirections.map((direction, k) => ({ direction, point: points.length + k })), placement);
  const judgedOf = (hooks: InterfaceHooks): JudgedPoint[] => hooks.points.map((p) => ({ point: p.point, direction: p.direction, iface: hooks.iface, hooks }));
  const adopt = (hooks: InterfaceHooks) => {
    present.set(hooks.iface.ifindex, hooks);
    names.set(hooks.iface.ifindex, hooks.iface.name);
    for (const p of hooks.points) points.push({ name: `${hooks.iface.name} ${p.direction}` });
    judged.push(...judgedOf(hooks));
  };
  const closeAll = () => {
    watch?.close();
    for (const h of [...present.values()].reverse()) h.close();
    present.clear();
  };

  // -i any: why an interface is left out (its link type, or a filter that needs a netmask it has not).
  const whyNot = (iface: InterfaceInfo): string | undefined => {
    const reason = unsupportedReason(iface);
    if (reason) return reason;
    try {
      filters.get(ctx.settings).forInterface(iface);
    } catch (e) {
      if (e instanceof NoNetmaskError) return e.message;
      throw e;
    }
    return undefined;
  };

  /** An interface that appeared under -i any: its points, programs in every generation, its hooks attached; or a note saying why not. */
  const appeared = (iface: InterfaceInfo): void => {
    const skip = (reason: string) => {
      skipped.add(iface.ifindex);
      ctx.note(`not capturing on ${iface.name}: ${reason}`);
    };
    if (points.length + hookDirections.length > MAX_ANY_INTERFACES * hookDirections.length) return skip(`-i any captures on ${MAX_ANY_INTERFACES} interfaces at most`);
    const reason = unsupportedReason(iface);
    if (reason) return skip(reason);
    let hooks: InterfaceHooks | undefined;
    try {
      hooks = hooksFor(iface);
      generations.add(judgedOf(hooks));
      hooks.attach();
    } catch (e) {
      if (hooks) generations.drop(hooks);
      hooks?.close();
      if (!(e instanceof Error)) throw e;
      return skip(e.message);
    }
    adopt(hooks);
    ctx.pointsAdded();
    ctx.note(`capturing on ${iface.name} too (ifindex ${iface.ifindex}, appeared)`);
  };

  const went = (ifindex: number): void => {
    skipped.delete(ifindex);
    const hooks = present.get(ifindex);
    if (!hooks) return;
    present.delete(ifindex);
    hooks.close();
    generations.drop(hooks);
  };

  try {
    if (selection.any) {
      ctx.maps(MAX_ANY_INTERFACES * hookDirections.length);
      for (const iface of selection.interfaces) {
        const reason = whyNot(iface);
        if (reason === undefined) adopt(hooksFor(iface));
        else {
          skipped.add(iface.ifindex);
          notes.push(`not capturing on ${iface.name}: ${reason}`);
        }
      }
      watch = new AnyInterfaces(netns, selection.interfaces, {
        knows: (ifindex) => present.has(ifindex) || skipped.has(ifindex),
        appeared: (iface) => {
          if (running) appeared(iface);
        },
        went,
        note: (message) => ctx.note(message),
      });
    } else {
      for (const iface of selection.interfaces) adopt(hooksFor(iface));
    }
  } catch (e) {
    closeAll();
    throw e;
  }

  const where = [netns.label === 'current' ? undefined : `netns ${netns.label}`, mechanism].filter((x) => x !== undefined).join(', ');
  const presentInterfaces = () => [...present.values()].map((h) => h.iface);

  const attach = (): Link[] => {
    const links: Link[] = [];
    try {
      for (const h of present.values()) links.push(...h.attach());
    } catch (e) {
      for (const h of present.values()) h.detach();
      throw e;
    }
    if (!watch) return links;
    running = true;
    watch.start();
    // One link for every interface, the ones that appear later too: closed first (newest), it detaches them all.
    const stopWatching = () => {
      running = false;
      watch?.close();
      for (const h of present.values()) h.detach();
    };
    return [...links, new Link('tc', `every interface of ${netns.label === 'current' ? 'this namespace' : `netns ${netns.label}`}`, [{ close: stopWatching }])];
  };

  const packetMeta = (rec: PacketRecord): PacketMeta => {
    const ifname = names.get(rec.ifindex);
    return {
      pid: rec.pid, tid: rec.tid, comm: rec.comm, cpu: rec.cpu, point: points[rec.point]?.name,
      object: { kind: 'skb', address: rec.addr }, ifindex: rec.ifindex, ...(ifname ? { ifname } : {}), netns: rec.netns, mark: rec.mark,
    };
  };

  const describe = (gen: Generation): string => {
    const lines: string[] = [];
    const ns = netns.label === 'current' ? `netcap's own network namespace (inode ${netns.inode})` : `network namespace ${netns.label} (inode ${netns.inode})`;
    lines.push(`interfaces in ${ns}; hooks by ${mechanism}; filter compiled by libpcap on a live handle (${COMPILE_DEVICE})`);
    lines.push(`direction ${gen.settings.direction ?? 'inout'}; hooks attached: ${hookDirections.join(' and ')}`);
    if (selection.any) lines.push(`-i any: interfaces that appear while capturing get points and programs too (at most ${MAX_ANY_INTERFACES} interfaces)`);
    const listing = (p: { role: string; name: string; insns: readonly Insn[] }) => {
      lines.push(`  ${p.role} program ${p.name}: ${link(p.insns).slots} instructions, accepted by the verifier`);
      lines.push(disassemble(link(p.insns)).trimEnd().replace(/^/gm, '    '));
    };
    for (const h of present.values()) {
      const mask = netmaskOf(h.iface.ipv4Prefix);
      lines.push(`interface ${h.iface.name}: ifindex ${h.iface.ifindex}, link type ${h.iface.linkType}, ${h.iface.up ? 'up' : 'down'}, IPv4 netmask ${mask === undefined ? 'none' : `0x${mask.toString(16)}`}`);
      h.points.forEach((p, slot) => {
        lines.push(`  point ${p.point} (${points[p.point].name}): ${mechanism} ${p.direction}, ${o.position ?? defaultPosition(p.direction)}, slot ${slot} of ${h.slots.size}`);
        listing(h.dispatchers[slot]);
        for (const g of gen.programs.filter((g) => g.point === p.point)) listing(g);
      });
    }
    return lines.join('\n') + '\n';
  };

  return {
    points,
    readiness: `${points.map((p) => p.name).join(', ') || 'no interface yet'} (${where}${selection.any ? '; -i any: and every interface that appears' : ''})`,
    notes,
    metadataOnStdout: false,
    directional: true,
    get attachedPrograms() {
      return [...present.values()].flatMap((h) => h.dispatchers);
    },
    check: (settings) => {
      checkDirectionAttached(settings.direction, hookDirections);
      filters.get(settings).check(presentInterfaces());
    },
    load: (settings, maps) => generations.load(settings, filters.get(settings), maps, judged.filter((j) => present.get(j.iface.ifindex) === j.hooks)),
    attach,
    packet: (rec: PacketRecord): ModePacket => ({
      data: rec.data,
      wirelen: rec.wirelen,
      linktype: rec.linktype,
      ...(rec.direction ? { direction: rec.direction } : {}),
      meta: packetMeta(rec),
    }),
    // Packets are their records, the direction the TC program wrote into each.
    plainPackets: { direction: () => undefined },
    describe,
    close: closeAll,
  };
}
