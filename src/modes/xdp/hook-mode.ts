// `netcap xdp --hook PATH...` as a capture mode: the hook's slots are the
// swap point. Preparing opens and checks every hook, refuses slots in use
// (unless --force) and finds the load options the hook's owner needs;
// nothing is written to any hook. A generation is one capture program per
// (hook, action) for the current filter and snap length (probes/xdp.ts);
// before it goes in, the watchdog (started with the first) learns its
// program ids, so a SIGKILL at any moment leaves no program of netcap's in
// a slot; install() fills the slots the first time and replaces netcap's
// programs in them later (one map update per slot: atomic). attach() only
// hands back links whose close puts the slots back. Points are numbered hook
// by hook, action by action; each is a pcapng interface "xdp:<hook>
// <action>" and each packet carries its action as its verdict.
import { UserError } from '../../errors';
import { AttachType, ProgType } from '../../bpf/constants';
import { BPF_F_XDP_HAS_FRAGS } from '../../bpf/program';
import { compatibleVariant, type TailCallVariant } from '../../bpf/prog-array';
import { Link } from '../../bpf/link/link';
import { Owned } from '../../bpf/registry';
import { disassemble } from '../../ebpf/disassemble';
import { link } from '../../ebpf/link';
import type { PacketRecord } from '../../capture/record';
import { loadGeneration } from '../../capture/generation';
import type { Generation, GenerationMaps, JudgeSettings, PreparedMode } from '../../capture/mode';
import { buildXdpHookProgram } from '../../../probes/xdp';
import { actionName, parseActions, XDP_ACTION_NAMES } from './actions';
import { hookNames, openHook, type XdpHook } from './hook';
import { HookSlot } from './slots';
import { formatXdpCounts, formatXdpSummary } from './status';
import { SlotWatchdog } from './watchdog';
import { compileXdpFilter } from './filter';
import { xdpPacket } from './packet';

export interface XdpHookOptions {
  /** --hook: one or more pinned hook maps. */
  hooks: readonly string[];
  /** --actions: comma-separated action names (default: every action the hook has a slot for). */
  actions?: string;
  /** --force: use slots that hold someone else's program, and put it back afterwards. */
  force?: boolean;
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

export function prepareHookMode(o: XdpHookOptions): PreparedMode {
  if (o.hooks.length === 0) throw new UserError('netcap xdp needs --hook PATH (or -i IFACE)', 'the pinned xdpcap hook map of the XDP program, e.g. --hook /sys/fs/bpf/lb/xdpcap_hook');
  const wanted = parseActions(o.actions);
  const opened = new Owned();
  /** Slots someone else changed while netcap ran, for the end of the capture. */
  const notes: string[] = [];
  try {
    const names = hookNames(o.hooks);
    const hooks = o.hooks.map((p, i) => {
      const hook = openHook(p, names[i]);
      opened.own(hook.map);
      return hook;
    });
    const slots: HookSlot[] = hooks.flatMap((hook) => HookSlot.plan(hook, selectedActions(hook, wanted), o.force ?? false, notes));
    for (const s of slots) if (s.previous) opened.own(s.previous);
    const variants = new Map<XdpHook, TailCallVariant>();
    for (const h of hooks) {
      const v = compatibleVariant(h.map, ProgType.XDP, HOOK_VARIANTS);
      if (!v) {
        throw new UserError(
          `${h.path}: the kernel accepts no XDP program into this hook map`,
          'the program that tail-calls into it is not an XDP program (or is loaded in a way netcap does not know): check `bpftool map show` and the program using the map',
        );
      }
      variants.set(h, v);
    }
    const points = slots.map((s) => ({ hookName: s.hook.name, hookEntries: s.hook.entries, action: s.key }));
    const pointName = (s: HookSlot) => `xdp:${s.hook.name} ${s.action}`;

    // Started with the first generation, not here: a --dry-run or a capture never started has none.
    let watchdog: SlotWatchdog | undefined;
    const watchdogFor = (): SlotWatchdog =>
      (watchdog ??= opened.addFirst(SlotWatchdog.spawn(hooks.map((h) => ({ path: h.path, map: h.map, slots: slots.filter((s) => s.hook === h) })))));

    const load = (settings: JudgeSettings, maps: GenerationMaps): Generation => {
      const filter = compileXdpFilter(settings);
      const gen = loadGeneration(
        settings,
        slots.map((s, index) => {
          const v = variants.get(s.hook)!;
          return {
            point: index,
            role: `${s.action} slot`,
            spec: {
              type: ProgType.XDP,
              name: `nc_xdp_${s.action}`,
              insns: buildXdpHookProgram({ action: s.key, point: index, filter, snaplen: settings.snaplen, maps: { ring: maps.ring.fd, counters: maps.counters.fd, scratch: maps.scratch.fd }, wakeupAt: maps.wakeupAt }),
              expectedAttachType: v.expectedAttachType,
              progFlags: v.progFlags,
            },
          };
        }),
      );
      const programs = gen.programs.map((p) => p.program);
      return {
        ...gen,
        // Per hook, per slot: this generation's program ids, before any goes in.
        ready: () => watchdogFor().watch(hooks.map((h) => slots.flatMap((s, i) => (s.hook === h ? [programs[i].id] : [])))),
        install: () => slots.forEach((s, i) => s.install(programs[i])),
      };
    };

    const describe = (gen: Generation): string => {
      const lines: string[] = [];
      for (const h of hooks) {
        lines.push(`hook ${h.path} (${h.name}): map id ${h.info.id}${h.info.name ? ` "${h.info.name}"` : ''}, BPF_MAP_TYPE_PROG_ARRAY, key ${h.info.keySize}, value ${h.info.valueSize}, ${h.entries} entries`);
        for (let key = 0; key < h.entries; key++) {
          const id = h.slots.programId(key);
          lines.push(`  slot ${key} (${actionName(key)}): ${id === undefined ? 'empty' : `program ${id}`}`);
        }
      }
      gen.programs.forEach((p, i) => {
        lines.push(`point ${i}: ${pointName(slots[i])}: program ${p.name}, ${link(p.insns).slots} instructions, accepted by the verifier`);
        lines.push(disassemble(link(p.insns)).trimEnd().replace(/^/gm, '    '));
      });
      return lines.join('\n') + '\n';
    };

    return {
      points: slots.map((s) => ({ name: pointName(s) })),
      readiness: hooks.map((h) => `xdp hook ${h.path} (${slots.filter((s) => s.hook === h).map((s) => s.action).join(', ')})`).join('; '),
      notes: [],
      // The verdict is what matters here, and tcpdump cannot print it: decoded text shows the metadata.
      metadataOnStdout: true,
      attachedPrograms: [],
      check: (settings) => void compileXdpFilter(settings),
      load,
      // The first generation is in the slots already: what stays is putting them back.
      attach: () => slots.map((s) => new Link('xdp-hook', `${s.hook.path} ${s.action}`, [{ close: () => s.restore() }])),
      packet: (rec: PacketRecord) => {
        const s = slots[rec.point];
        // The hook programs record the packet's ingress interface (xdp_md.ingress_ifindex).
        return xdpPacket(rec, { point: s ? pointName(s) : `xdp point ${rec.point}`, ifindex: rec.ifindex }, s?.key);
      },
      describe,
      report: (perPoint) => [...formatXdpSummary(points, perPoint), ...notes.map((n) => `note: ${n}`)],
      statusText: (stats) => formatXdpCounts(points, stats),
      close: () => {
        // Slots a failed start filled have no links to put them back; restore() is idempotent.
        for (const s of slots) {
          try {
            s.restore();
          } catch {
            // the watchdog, closed last, tries again
          }
        }
        opened.close();
      },
    };
  } catch (e) {
    opened.close();
    throw e;
  }
}
