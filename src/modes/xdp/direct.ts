// `netcap xdp -i IFACE [--at entry|exit|entry,exit]`: the XDP program
// attached to IFACE captured without a hook, through fentry/fexit on its
// entry function (probes/xdp-direct.ts). Two things must hold and are
// checked first, each refused with the hook as the way to go: the kernel
// allows fentry/fexit (BPF trampolines; this development kernel refuses
// them with EPERM), and the program has BTF (func_info, from clang -g;
// programs built by netcap's own builder have none). --dry-run builds and
// lists the programs without loading them, on any kernel.
import { execFileSync } from 'node:child_process';
import { UserError } from '../../errors';
import { AttachType, ProgType } from '../../bpf/constants';
import { describeStatus, probeFeature } from '../../bpf/features';
import { attachFentry } from '../../bpf/link/fentry';
import type { Link } from '../../bpf/link/link';
import { loadProgram, openProgramById, type Program } from '../../bpf/program';
import { loadKernelBtf } from '../../btf/kernel';
import type { PacketRecord } from '../../capture/record';
import type { CaptureSpec } from '../../capture/session';
import { disassemble } from '../../ebpf/disassemble';
import type { Insn } from '../../ebpf/instruction';
import { link } from '../../ebpf/link';
import { compileCbpf } from '../../filter/libpcap';
import { resolveInterface, type InterfaceRef } from '../../kernel/interfaces';
import { LINKTYPE_ETHERNET } from '../../output/packet';
import { CaptureMaps, wakeupThreshold } from '../../../probes/common';
import { buildXdpDirectProgram, type XdpDirectAt } from '../../../probes/xdp-direct';
import { actionName } from './actions';
import { xdpPacket } from './packet';

const HOOK_WAY =
  "capture through the program's xdpcap hook instead: netcap xdp --hook /sys/fs/bpf/NAME/xdpcap_hook (the program tail-calls into a pinned prog array with its action; examples/xdp-firewall/README.md shows how a program exposes one)";

/** `--at entry`, `exit` or `entry,exit`. */
export function parseAt(text: string): XdpDirectAt[] {
  const words = [...new Set(text.split(',').map((w) => w.trim()).filter((w) => w !== ''))];
  if (words.length === 0 || words.some((w) => w !== 'entry' && w !== 'exit')) {
    throw new UserError(`--at ${text}: expected entry, exit or entry,exit`, 'entry sees packets as they arrive; exit sees them as the program left them, with its verdict');
  }
  return (['entry', 'exit'] as const).filter((w) => words.includes(w));
}

export interface DirectCaptureOptions {
  iface: string;
  at: XdpDirectAt[];
  expression: string;
  snaplen: number;
  ringBytes: number;
  /** Build and list only: no feature check, nothing loaded. */
  dryRun?: boolean;
}

export interface DirectPoint {
  at: XdpDirectAt;
  name: string;
  insns: Insn[];
}

export interface PreparedDirectCapture {
  iface: InterfaceRef;
  target: { id: number; name: string };
  points: DirectPoint[];
  /** Only when not a dry run. */
  spec?: CaptureSpec;
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

export function prepareDirectCapture(o: DirectCaptureOptions): PreparedDirectCapture {
  if (!o.dryRun) {
    const status = probeFeature('fentry');
    if (status.status !== 'supported') {
      throw new UserError('fentry/fexit on XDP programs is not available on this kernel (netcap xdp -i needs it)', HOOK_WAY, describeStatus('fentry', status));
    }
  }
  const iface = resolveInterface(o.iface);
  const target = attachedXdpProgram(iface);
  const filter = o.expression ? compileCbpf(o.expression, { linktype: 'EN10MB', snaplen: o.snaplen }).insns : undefined;
  const xdpBuff = xdpBuffOffsets();
  const build = (maps: { ring: number; counters: number; scratch: number }) =>
    o.at.map((at, point) => ({
      at,
      name: `xdp:${iface.name} ${at}`,
      insns: buildXdpDirectProgram({ at, point, filter, snaplen: o.snaplen, maps, xdpBuff, wakeupAt: wakeupThreshold(o.ringBytes) }),
    }));
  // A dry run lists the programs as built; map fds are placeholders (nothing is loaded).
  if (o.dryRun) return { iface, target, points: build({ ring: 0, counters: 0, scratch: 0 }) };

  const owned: { close(): void }[] = [];
  const closeAll = () => {
    for (const x of owned.splice(0).reverse()) x.close();
  };
  try {
    const xdpProg = openProgramById(target.id);
    owned.push(xdpProg);
    const funcs = xdpProg.functions();
    if (funcs.funcTypeIds.length === 0) {
      throw new UserError(`the XDP program on ${iface.name} (${target.name}, id ${target.id}) has no BTF, which fentry/fexit need`, HOOK_WAY);
    }
    const maps = CaptureMaps.create({ points: o.at.length, snaplen: o.snaplen, ringBytes: o.ringBytes });
    owned.push(maps);
    const points = build({ ring: maps.ring.fd, counters: maps.counters.fd, scratch: maps.scratch.fd });
    const programs: Program[] = points.map((p) => {
      const prog = loadProgram({
        type: ProgType.TRACING,
        name: `nc_xdp_${p.at}`,
        insns: p.insns,
        expectedAttachType: p.at === 'entry' ? AttachType.TRACE_FENTRY : AttachType.TRACE_FEXIT,
        attachBtfId: funcs.funcTypeIds[0],
        // attach_prog_fd: the target is a BPF program, not a kernel function.
        attachBtfObjFd: xdpProg.fd,
      });
      owned.push(prog);
      return prog;
    });
    // fexit keeps the verdict in the record's reason field (probes/xdp-direct.ts).
    const toPacket = (rec: PacketRecord, tsNs: bigint, comment: string) => xdpPacket(rec, tsNs, comment, points[rec.point]?.at === 'exit' ? rec.reason : undefined);
    const spec: CaptureSpec = {
      points: points.map((p) => ({ name: p.name, linktype: LINKTYPE_ETHERNET })),
      ring: maps.ring,
      counters: maps.counters,
      attach: (): Link[] => programs.map((prog, i) => attachFentry(prog, `${target.name} (${points[i].at})`)),
      resources: [{ close: closeAll }],
      readiness: `XDP program ${target.name} (id ${target.id}) on ${iface.name}, at ${o.at.join(' and ')}`,
      snaplen: o.snaplen,
      filter: o.expression,
      describe: (rec, point) => `point=${point.name} ifname=${iface.name} cpu=${rec.cpu}${points[rec.point]?.at === 'exit' ? ` action=${actionName(rec.reason)}` : ''}`,
      toPacket,
    };
    return { iface, target, points, spec };
  } catch (e) {
    closeAll();
    throw e;
  }
}

/** --dry-run with -i: the program found and each capture program as built (not loaded: that needs fentry). */
export function describeDirectDryRun(c: PreparedDirectCapture): string {
  const fentry = probeFeature('fentry');
  const lines = [
    `interface ${c.iface.name} (ifindex ${c.iface.ifindex}): XDP program ${c.target.name}, id ${c.target.id}`,
    `fentry/fexit: ${fentry.status === 'supported' ? 'supported' : `${describeStatus('fentry', fentry)}; a capture would be refused: ${HOOK_WAY}`}`,
  ];
  for (const p of c.points) {
    lines.push(`point ${p.name}: ${link(p.insns).slots} instructions (built, not loaded; map fds are placeholders)`);
    lines.push(disassemble(link(p.insns)).trimEnd().replace(/^/gm, '    '));
  }
  return lines.join('\n') + '\n';
}
