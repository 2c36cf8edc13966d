// `netcap xdp -i IFACE [--at entry|exit|entry,exit]` as a capture mode:
// the XDP program attached to IFACE captured without a hook, through
// fentry/fexit on its entry function. Each point is a dispatcher on the
// program's entry (fentry) or exit (fexit) and, in its slot, the capture
// program probes/xdp-direct.ts builds for the current filter (the same
// TRACING type and target, so the tail call is allowed). Two things must
// hold and are checked first, each refused with the hook as the way to go:
// the kernel allows fentry/fexit (BPF trampolines; this development kernel
// refuses them with EPERM), and the program has BTF (func_info, from clang
// -g; programs built by netcap's own builder have none). With `listOnly`
// (--dry-run) the programs are built and listed without being loaded, so
// any kernel can show them.
import { execFileSync } from 'node:child_process';
import { UserError } from '../../errors';
import { AttachType, ProgType } from '../../bpf/constants';
import { describeStatus, probeFeature } from '../../bpf/features';
import { attachFentry } from '../../bpf/link/fentry';
import type { Link } from '../../bpf/link/link';
import { openProgramById } from '../../bpf/program';
import { Owned } from '../../bpf/registry';
import { loadKernelBtf } from '../../btf/kernel';
import { ProgramSlots } from '../../capture/slots';
import { loadGeneration, loadPrograms, type LoadedProgram, type ProgramToLoad } from '../../capture/generation';
import type { BuiltProgram, Generation, GenerationMaps, JudgeSettings, PreparedMode } from '../../capture/mode';
import type { PacketRecord } from '../../capture/record';
import { disassemble } from '../../ebpf/disassemble';
import { link } from '../../ebpf/link';
import { resolveInterface, type InterfaceRef } from '../../kernel/interfaces';
import { buildDispatcher } from '../../../probes/dispatch';
import { buildXdpDirectProgram, type XdpDirectAt } from '../../../probes/xdp-direct';
import { compileXdpFilter } from './filter';
import { xdpPacket } from './packet';

const HOOK_WAY =
  "capture through the program's xdpcap hook instead: netcap xdp --hook /sys/fs/bpf/NAME/xdpcap_hook (the program tail-calls into a pinned prog array with its action; examples/xdp-firewall/README.md shows how a program exposes one)";

export interface XdpDirectOptions {
  /** -i: the interface whose XDP program is captured. */
  iface: string;
  /** --at: entry, exit or entry,exit (default exit: with the verdict). */
  at?: string;
  /** Build and list only (--dry-run): no feature check, nothing loaded, so it cannot start. */
  listOnly?: boolean;
}

/** `--at entry`, `exit` or `entry,exit`. */
export function parseAt(text: string): XdpDirectAt[] {
  const words = [...new Set(text.split(',').map((w) => w.trim()).filter((w) => w !== ''))];
  if (words.length === 0 || words.some((w) => w !== 'entry' && w !== 'exit')) {
    throw new UserError(`--at ${text}: expected entry, exit or entry,exit`, 'entry sees packets as they arrive; exit sees them as the program left them, with its verdict');
  }
  return (['entry', 'exit'] as const).filter((w) => words.includes(w));
}

/** The XDP program attached to an interface of this network namespace, from netlink (`ip -d -j link show`). */
export function attachedXdpProgram(iface: InterfaceRef): { id: number; name: string } {
  let out: string;
  try {
    out = execFileSync('ip', ['-d', '-j', 'link', 'show', 'dev', iface.name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 10_000 });
  } catch (e) {
    throw new UserError(`cannot read the XDP state of ${iface.name}`, 'check that iproute2 (ip) is installed', (e as Error).message);
  }
  type Prog = { id: number; name?: string };
  const [info] = JSON.parse(out) as { xdp?: { prog?: Prog; attached?: { prog?: Prog }[] } }[];
  const prog = info?.xdp?.prog ?? info?.xdp?.attached?.find((a) => a.prog)?.prog;
  if (!prog) throw new UserError(`no XDP program is attached to ${iface.name}`, 'attach one first (ip link set dev IFACE xdp obj ..., xdp-loader, or examples/xdp-firewall)');
  return { id: prog.id, name: prog.name ?? `prog ${prog.id}` };
}

function xdpBuffOffsets(): { data: number; dataEnd: number } {
  const btf = loadKernelBtf();
  return { data: btf.structMember('xdp_buff', 'data').offsetBits / 8, dataEnd: btf.structMember('xdp_buff', 'data_end').offsetBits / 8 };
}

export function prepareDirectMode(o: XdpDirectOptions): PreparedMode {
  const at = parseAt(o.at ?? 'exit');
  const listOnly = o.listOnly === true;
  const fentry = probeFeature('fentry');
  if (!listOnly && fentry.status !== 'supported') {
    throw new UserError('fentry/fexit on XDP programs is not available on this kernel (netcap xdp -i needs it)', HOOK_WAY, describeStatus('fentry', fentry));
  }
  const iface = resolveInterface(o.iface);
  const target = attachedXdpProgram(iface);
  const xdpBuff = xdpBuffOffsets();
  const names = at.map((a) => `xdp:${iface.name} ${a}`);
  const opened = new Owned();
  try {
    // The target: held open so that its id stays valid, and its BTF function the programs attach to.
    let attachTo: { attachBtfId: number; attachBtfObjFd: number } | undefined;
    if (!listOnly) {
      const xdpProg = opened.own(openProgramById(target.id));
      const funcs = xdpProg.functions();
      if (funcs.funcTypeIds.length === 0) {
        throw new UserError(`the XDP program on ${iface.name} (${target.name}, id ${target.id}) has no BTF, which fentry/fexit need`, HOOK_WAY);
      }
      // attach_prog_fd: the target is a BPF program, not a kernel function.
      attachTo = { attachBtfId: funcs.funcTypeIds[0], attachBtfObjFd: xdpProg.fd };
    }
    const tracing = (a: XdpDirectAt) => ({ type: ProgType.TRACING, expectedAttachType: a === 'entry' ? AttachType.TRACE_FENTRY : AttachType.TRACE_FEXIT, ...attachTo });
    // One array per point: fentry and fexit programs are different owners.
    const slots = at.map((_, i) => opened.own(new ProgramSlots(`nc_xdp${i}_slot`, 1)));
    const dispatchers: ProgramToLoad[] = at.map((a, i) => ({ point: i, role: 'dispatcher', spec: { ...tracing(a), name: `nc_xdpd_${a}`, insns: buildDispatcher(slots[i].fd, 0) } }));
    const loadedDispatchers: LoadedProgram[] = listOnly ? [] : loadPrograms(dispatchers);
    for (const p of loadedDispatchers) opened.own(p.program);
    const attached: BuiltProgram[] = listOnly ? dispatchers.map(built) : loadedDispatchers;

    const load = (settings: JudgeSettings, maps: GenerationMaps): Generation => {
      const filter = compileXdpFilter(settings);
      const list: ProgramToLoad[] = at.map((a, point) => ({
        point,
        role: a === 'entry' ? 'fentry' : 'fexit',
        slot: { slots: slots[point], index: 0 },
        spec: {
          ...tracing(a),
          name: `nc_xdp_${a}`,
          insns: buildXdpDirectProgram({ at: a, point, filter, snaplen: settings.snaplen, maps: { ring: maps.ring.fd, counters: maps.counters.fd, scratch: maps.scratch.fd }, xdpBuff, wakeupAt: maps.wakeupAt }),
        },
      }));
      if (!listOnly) return loadGeneration(settings, list);
      return {
        settings,
        programs: list.map(built),
        install: () => {
          throw new Error('a capture prepared to be listed only (--dry-run) cannot start');
        },
        close: () => undefined,
      };
    };

    const describe = (gen: Generation): string => {
      const lines = [
        `interface ${iface.name} (ifindex ${iface.ifindex}): XDP program ${target.name}, id ${target.id}`,
        `fentry/fexit: ${fentry.status === 'supported' ? 'supported' : `${describeStatus('fentry', fentry)}; a capture would be refused: ${HOOK_WAY}`}`,
      ];
      const how = listOnly ? 'built, not loaded' : 'accepted by the verifier';
      at.forEach((a, i) => {
        lines.push(`point ${i}: ${names[i]} (${a === 'entry' ? 'fentry' : 'fexit'} on ${target.name})`);
        for (const p of [...attached, ...gen.programs].filter((p) => p.point === i)) {
          lines.push(`  ${p.role} program ${p.name}: ${link(p.insns).slots} instructions, ${how}`);
          lines.push(disassemble(link(p.insns)).trimEnd().replace(/^/gm, '    '));
        }
      });
      return lines.join('\n') + '\n';
    };

    return {
      points: names.map((name) => ({ name })),
      readiness: `XDP program ${target.name} (id ${target.id}) on ${iface.name}, at ${at.join(' and ')}`,
      notes: [],
      metadataOnStdout: true,
      attachedPrograms: attached,
      check: (settings) => void compileXdpFilter(settings),
      load,
      attach: (): Link[] => {
        const links: Link[] = [];
        try {
          loadedDispatchers.forEach((p, i) => links.push(attachFentry(p.program, `${target.name} (${at[i]})`)));
        } catch (e) {
          for (const l of links.reverse()) l.close();
          throw e;
        }
        return links;
      },
      // fexit keeps the verdict in the record's reason field (probes/xdp-direct.ts).
      packet: (rec: PacketRecord) =>
        xdpPacket(rec, { point: names[rec.point] ?? `xdp point ${rec.point}`, ifindex: iface.ifindex, ifname: iface.name }, at[rec.point] === 'exit' ? rec.reason : undefined),
      describe,
      close: () => opened.close(),
    };
  } catch (e) {
    opened.close();
    throw e;
  }
}

/** A program to load as a listing (--dry-run) shows it. */
function built(p: ProgramToLoad): BuiltProgram {
  return { point: p.point, role: p.role, name: p.spec.name, insns: p.spec.insns };
}
