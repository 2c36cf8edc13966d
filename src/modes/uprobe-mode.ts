// What the two user-space modes (mbuf, raw) share: points are functions of
// a running program, found in its executable or any object it maps
// (src/targets), probed with uprobes (and uretprobes); each point's judging
// program sits in a slot of one program array. The modes differ in the
// shapes they accept and the programs they build (probes/mbuf.ts,
// probes/raw.ts), which they pass in as a UprobePointKind.
import { UserError } from '../errors';
import { ProgType } from '../bpf/constants';
import { attachUprobe, attachUretprobe } from '../bpf/link/uprobe';
import type { Link } from '../bpf/link/link';
import { Owned, type Closer } from '../bpf/registry';
import { disassemble } from '../ebpf/disassemble';
import { link } from '../ebpf/link';
import type { Insn } from '../ebpf/instruction';
import { compileCbpf } from '../filter/libpcap';
import type { CbpfInsn } from '../filter/cbpf';
import { parsePoints, type UserFunctionPoint } from '../targets/spec';
import { argRegister } from '../targets/registers';
import { resolveUserPoint, type ResolvedUserPoint } from '../targets/resolve';
import { LINKTYPE_ETHERNET } from '../output/linktypes';
import type { PacketRecord } from '../capture/record';
import { ProgramSlots } from '../capture/slots';
import { attachEach, loadGeneration, loadPrograms, type LoadedProgram, type ProgramToLoad } from '../capture/generation';
import type { Generation, GenerationMaps, JudgeSettings, ModeContext, ModePacket, ModePoint, PreparedMode } from '../capture/mode';
import type { CaptureMaps } from '../capture/maps';
import { startupMark } from '../capture/startup-trace';
import { processAlive } from '../proc/process';

export type UserMode = 'mbuf' | 'raw';

export interface UserTarget {
  /** --pid: the running process. */
  pid?: number;
  /** --binary: the executable or library (every process running it unless pid). */
  binary?: string;
}

/** A resolved point as the mode's program builders see it. */
export interface UserPoint extends ModePoint {
  index: number;
  resolved: ResolvedUserPoint;
}

/** What a mode builds for its points. */
export interface UprobePrograms {
  /** The programs on the function, for the whole capture: on entry, and on return for return points. */
  attached(point: UserPoint, slotsFd: number): { entry: Insn[]; exit?: Insn[] };
  /** The program in the point's slot, for these settings (the filter compiled for Ethernet, `cbpf`). */
  judge(point: UserPoint, cbpf: readonly CbpfInsn[] | undefined, settings: JudgeSettings, maps: GenerationMaps, slotsFd: number): Insn[];
  /** The role of the judging program in listings ("uprobe" or "tail-called worker"). */
  judgeRole(point: UserPoint): string;
  /** Lines before the points in --dry-run (the DPDK release and its rte_mbuf layout). */
  describe?(): string[];
  /** Maps the mode made for its programs (closed with the mode). */
  resources: Closer[];
}

/** The name a point carries in pcapng and messages: "mbuf:l2fwd_simple_forward@1". */
export function pointName(mode: UserMode, p: UserFunctionPoint): string {
  return `${mode}:${p.text}`;
}

/** Checks the process or binary option: one of them, a valid pid. */
export function checkUserTarget(mode: UserMode, target: UserTarget): void {
  if (target.pid === undefined && target.binary === undefined) {
    throw new UserError(`netcap ${mode} needs the process to trace`, 'give --pid PID of the running program (or --binary PATH to trace every process running it)');
  }
  if (target.pid !== undefined && (!Number.isInteger(target.pid) || target.pid < 1)) throw new UserError(`--pid ${target.pid}: not a process id`, 'give a positive number, e.g. --pid $(pidof l2fwd)');
}

/** Parses -f for `mode`, keeping only function points of the shapes it accepts. */
export function parseUserPoints(mode: UserMode, list: string): UserFunctionPoint[] {
  const specs = parsePoints(list, mode).map((p) => {
    if (p.kind !== 'user-function') throw new UserError(`point '${p.text}' is not a user-space function`, `netcap ${mode} probes functions of a process; kernel points belong to netcap skb`);
    return p;
  });
  for (const p of specs) checkShape(mode, p);
  return specs;
}

function checkShape(mode: UserMode, p: UserFunctionPoint): void {
  const shape = p.capture.shape;
  if (mode === 'raw' && shape !== 'raw') throw new UserError(`point '${p.text}' needs a data and a length argument in raw mode`, 'write func@DATA@LEN, e.g. app_raw@1@2');
  if (mode === 'mbuf' && shape === 'raw') throw new UserError(`point '${p.text}' is a raw-mode point`, 'use netcap raw for func(data, len)');
  // argRegister checks the argument range (registers only) with a clear message.
  const c = p.capture;
  const args = c.shape === 'one' ? [c.arg] : c.shape === 'array' ? [c.arrayArg, c.countArg] : c.shape === 'raw' ? [c.dataArg, c.lengthArg] : [c.arrayArg];
  for (const a of args) argRegister(a);
  if (args.length === 2 && args[0] === args[1]) throw new UserError(`point '${p.text}' uses argument ${args[0]} twice`, 'the two numbers name two different arguments');
}

/**
 * The prepared mode: resolves every point in the process (or binary), makes
 * the slots and loads the attached programs; `makePrograms` gets the
 * resolved points and the capture's maps, and makes the mode's own maps.
 */
export function prepareUprobeMode(
  mode: UserMode,
  target: UserTarget,
  specs: readonly UserFunctionPoint[],
  ctx: ModeContext,
  makePrograms: (points: readonly UserPoint[], maps: CaptureMaps) => UprobePrograms,
): PreparedMode {
  const resolved = specs.map((p) => resolveUserPoint(p, { pid: target.pid, binary: target.binary }));
  startupMark('points resolved (ELF, /proc maps)');
  const points: UserPoint[] = resolved.map((r, index) => ({ index, name: pointName(mode, r.point), resolved: r }));
  const opened = new Owned();
  try {
    const slots = opened.own(new ProgramSlots(`nc_${mode}_slots`, points.length));
    const programs = makePrograms(points, ctx.maps(points.length));
    for (const r of programs.resources) opened.own(r);
    const attachedList: ProgramToLoad[] = [];
    for (const p of points) {
      const a = programs.attached(p, slots.fd);
      attachedList.push({ point: p.index, role: p.resolved.point.capture.shape === 'one' || p.resolved.point.capture.shape === 'raw' ? 'uprobe dispatcher' : 'uprobe', spec: { type: ProgType.KPROBE, insns: a.entry, name: programName(mode, p.index, 'entry') } });
      if (a.exit) attachedList.push({ point: p.index, role: 'uretprobe', spec: { type: ProgType.KPROBE, insns: a.exit, name: programName(mode, p.index, 'exit') } });
    }
    const attachedPrograms: LoadedProgram[] = loadPrograms(attachedList);
    for (const a of attachedPrograms) opened.own(a.program);
    startupMark('attached programs loaded');
    const where = target.pid !== undefined ? `pid ${target.pid}` : target.binary!;
    const compile = (settings: JudgeSettings) => (settings.expression ? compileCbpf(settings.expression, { linktype: 'EN10MB', snaplen: settings.snaplen }).insns : undefined);
    return {
      points,
      readiness: `${points.map((p) => p.name).join(', ')} (${where})`,
      notes: [],
      metadataOnStdout: false,
      attachedPrograms,
      check: (settings) => void compile(settings),
      load: (settings: JudgeSettings, maps: GenerationMaps): Generation => {
        const cbpf = compile(settings);
        startupMark('filter compiled (libpcap, cBPF -> eBPF)');
        const gen = loadGeneration(
          settings,
          points.map((p) => ({
            point: p.index,
            role: programs.judgeRole(p),
            spec: { type: ProgType.KPROBE, insns: programs.judge(p, cbpf, settings, maps, slots.fd), name: programName(mode, p.index, programs.judgeRole(p) === 'uprobe' ? 'judge' : 'worker') },
            slot: { slots, index: p.index },
          })),
        );
        startupMark('programs built and loaded');
        return gen;
      },
      attach: (): Link[] =>
        attachEach(attachedPrograms, (a) => {
          const r = points[a.point].resolved;
          const at = { path: r.objectPath, offset: r.fileOffset, pid: target.pid };
          return a.role === 'uretprobe' ? attachUretprobe(a.program, at) : attachUprobe(a.program, at);
        }),
      packet: (rec: PacketRecord): ModePacket => ({
        data: rec.data,
        wirelen: rec.wirelen,
        linktype: LINKTYPE_ETHERNET,
        meta: {
          pid: rec.pid,
          tid: rec.tid,
          comm: rec.comm,
          cpu: rec.cpu,
          point: points[rec.point]?.name ?? `point${rec.point}`,
          object: { kind: mode === 'raw' ? 'data' : 'mbuf', address: rec.addr },
          port: rec.ifindex,
          ...(rec.readFailed ? { flags: ['truncated=read-error'] } : {}),
        },
      }),
      plainPackets: { direction: () => undefined },
      describe: (gen: Generation): string => {
        const lines: string[] = [...(programs.describe?.() ?? [])];
        const listing = (p: { role: string; name: string; insns: readonly Insn[] }) => {
          lines.push(`  ${p.role} program ${p.name}: ${link(p.insns).slots} instructions, accepted by the verifier`);
          lines.push(disassemble(link(p.insns)).trimEnd().replace(/^/gm, '    '));
        };
        points.forEach((p) => {
          const r = p.resolved;
          lines.push(`point ${p.index}: ${p.name}`);
          lines.push(`  object ${r.object}${r.objectPath !== r.object ? ` (opened as ${r.objectPath})` : ''}`);
          lines.push(`  symbol ${r.symbol} at 0x${r.vaddr.toString(16)} (${r.size} bytes), file offset 0x${r.fileOffset.toString(16)}`);
          for (const a of attachedPrograms.filter((a) => a.point === p.index)) listing(a);
          for (const g of gen.programs.filter((g) => g.point === p.index)) listing(g);
        });
        return lines.join('\n') + '\n';
      },
      vanished: target.pid === undefined ? undefined : () => (processAlive(target.pid!) ? undefined : `process ${target.pid} exited`),
      close: () => opened.close(),
    };
  } catch (e) {
    opened.close();
    throw e;
  }
}

/** "nc_mbuf0_entry": what bpftool shows (15 characters at most). */
function programName(mode: UserMode, point: number, role: string): string {
  return `nc_${mode}${point}_${role}`.slice(0, 15);
}
