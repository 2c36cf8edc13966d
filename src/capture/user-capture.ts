// mbuf and raw modes from points to a running session: parse -f, resolve
// each function in the process (or binary) to an object and file offset,
// pick the rte_mbuf layout of its DPDK release, compile the filter, build
// and load one program per point (two for return points), and hand the
// session an attach step that puts uprobes (and uretprobes) on them.
// Everything here is checked before anything is attached; on an error the
// maps and programs made so far are closed.
import { UserError } from '../errors';
import { createMap, u32, type BpfMap } from '../bpf/map';
import { loadProgram, type Program } from '../bpf/program';
import { ProgType } from '../bpf/constants';
import { attachUprobe, attachUretprobe } from '../bpf/link/uprobe';
import type { Link } from '../bpf/link/link';
import type { Closer } from '../bpf/registry';
import type { Insn } from '../ebpf/instruction';
import { disassemble } from '../ebpf/disassemble';
import { link } from '../ebpf/link';
import { compileCbpf } from '../filter/libpcap';
import { detectDpdkRelease, type DpdkRelease } from '../dpdk/release';
import { mbufLayout, parseDpdkVersion, type MbufLayout } from '../dpdk/mbuf-layout';
import { parsePoints, type UserFunctionPoint } from '../targets/spec';
import { processExists } from '../proc/process';
import { resolveUserPoint, type ResolvedUserPoint } from '../targets/resolve';
import { argRegister, X86_64_PT_REGS } from '../targets/registers';
import { CaptureMaps, wakeupThreshold } from '../../probes/common';
import { BURST_STATE_SIZE, buildMbufProgram, type MbufOffsets } from '../../probes/mbuf';
import { buildRawProgram } from '../../probes/raw';
import { cbpfFilter } from '../../probes/filter';
import { LINKTYPE_ETHERNET } from '../output/packet';
import type { CaptureSpec, SessionPoint } from './session';
import { startupMark } from './startup-trace';

export interface UserCaptureOptions {
  mode: 'mbuf' | 'raw';
  points: string;
  expression: string;
  snaplen: number;
  ringBytes: number;
  pid?: number;
  binary?: string;
  /** --dpdk-version: overrides detection (mbuf mode). */
  dpdkVersion?: string;
}

/** One capture point, resolved and built. */
export interface BuiltPoint {
  name: string;
  resolved: ResolvedUserPoint;
  /** Programs by role ('worker' first: the others tail-call it), as instructions. */
  programs: { role: 'entry' | 'exit' | 'worker'; insns: Insn[] }[];
}

export interface UserCapture {
  points: BuiltPoint[];
  release?: DpdkRelease;
  layout?: MbufLayout;
  maps: CaptureMaps;
  savedArgs?: BpfMap;
  /** Loaded programs per point, same order as `points[i].programs`. */
  loaded: Program[][];
  /** The session's view. */
  spec: CaptureSpec;
  close(): void;
}

/** The name a point carries in pcapng and messages: "mbuf:l2fwd_simple_forward@1". */
export function pointName(mode: string, p: UserFunctionPoint): string {
  return `${mode}:${p.text}`;
}

// pt_regs offsets from the x86-64 table rather than the kernel's BTF: the
// layout is the ABI tracers rely on (arch/x86/include/asm/ptrace.h,
// unchanged since 2.6.25), and parsing vmlinux's BTF costs 50-150 ms of the
// time to the first packet.
const argRegOffset = (n: number): number => X86_64_PT_REGS[argRegister(n)];
const retRegOffset = (): number => X86_64_PT_REGS.ax;

function layoutOffsets(l: MbufLayout): MbufOffsets {
  return { bufAddr: l.buf_addr.offset, dataOff: l.data_off.offset, port: l.port.offset, pktLen: l.pkt_len.offset, dataLen: l.data_len.offset, next: l.next.offset };
}

function resolveRelease(o: UserCaptureOptions): DpdkRelease {
  if (o.dpdkVersion !== undefined) return { release: parseDpdkVersion(o.dpdkVersion), evidence: '--dpdk-version' };
  const target = o.pid ?? o.binary!;
  const found = detectDpdkRelease(target);
  if (!found) {
    const what = o.pid !== undefined ? `process ${o.pid}` : o.binary;
    throw new UserError(
      `${what} does not look like a DPDK program: looked for librte_*.so libraries (mapped or in DT_NEEDED) and a DPDK version in the executable, found none`,
      'point --pid at the DPDK application, or give its release with --dpdk-version YY.MM (a statically linked, stripped build says nothing)',
    );
  }
  return found;
}

/** Resolves, compiles, builds and loads; throws UserError on bad input with nothing left open. */
export function prepareUserCapture(o: UserCaptureOptions): UserCapture {
  if (o.pid === undefined && o.binary === undefined) {
    throw new UserError(`netcap ${o.mode} needs the process to trace`, 'give --pid PID of the running program (or --binary PATH to trace every process running it)');
  }
  if (o.pid !== undefined && (!Number.isInteger(o.pid) || o.pid < 1)) throw new UserError(`--pid ${o.pid}: not a process id`, 'give a positive number, e.g. --pid $(pidof l2fwd)');
  const specs = parsePoints(o.points, o.mode).map((p) => {
    if (p.kind !== 'user-function') throw new UserError(`point '${p.text}' is not a user-space function`, `netcap ${o.mode} probes functions of a process; kernel points belong to netcap skb`);
    return p;
  });
  for (const p of specs) checkShape(o.mode, p);
  // The process first (is it there, is it DPDK), then its functions.
  let release: DpdkRelease | undefined;
  let layout: MbufLayout | undefined;
  if (o.mode === 'mbuf') {
    if (o.pid !== undefined && !processExists(o.pid)) throw new UserError(`no process with pid ${o.pid}`, 'check the pid (ps -e or pidof); the process may have exited');
    release = resolveRelease(o);
    layout = mbufLayout(release.release);
    startupMark('DPDK release known');
  }
  const resolved = specs.map((p) => resolveUserPoint(p, { pid: o.pid, binary: o.binary }));
  startupMark('points resolved (ELF, /proc maps)');
  const cbpf = o.expression ? compileCbpf(o.expression, { linktype: 'EN10MB', snaplen: o.snaplen }) : undefined;
  const filter = cbpfFilter(cbpf?.insns, o.snaplen);
  startupMark('filter compiled (libpcap, cBPF -> eBPF)');

  const opened: Closer[] = [];
  try {
    const maps = CaptureMaps.create({ points: specs.length, snaplen: o.snaplen, ringBytes: o.ringBytes });
    opened.push(maps);
    const needsSaved = specs.some((p) => p.capture.shape === 'array-at-return');
    const savedArgs = needsSaved ? createMap({ type: 'lru_hash', name: 'netcap_args', keySize: 8, valueSize: 8, maxEntries: 16384 }) : undefined;
    if (savedArgs) opened.push(savedArgs);
    const needsBurst = specs.some((p) => p.capture.shape === 'array' || p.capture.shape === 'array-at-return');
    const burstState = needsBurst ? createMap({ type: 'percpu_array', name: 'netcap_burst', keySize: 4, valueSize: BURST_STATE_SIZE, maxEntries: specs.length }) : undefined;
    if (burstState) opened.push(burstState);
    const progArray = needsBurst ? createMap({ type: 'prog_array', name: 'netcap_workers', keySize: 4, valueSize: 4, maxEntries: specs.length }) : undefined;
    if (progArray) opened.push(progArray);
    const common = { snaplen: o.snaplen, filter, ringFd: maps.ring.fd, countersFd: maps.counters.fd, scratchFd: maps.scratch.fd, wakeupAt: wakeupThreshold(o.ringBytes) };
    const points: BuiltPoint[] = resolved.map((r, i) => {
      const c = r.point.capture;
      let programs: BuiltPoint['programs'];
      if (c.shape === 'raw') {
        programs = [{ role: 'entry', insns: buildRawProgram({ ...common, point: i, dataOffset: argRegOffset(c.dataArg), lengthOffset: argRegOffset(c.lengthArg) }) }];
      } else {
        const built = buildMbufProgram({
          ...common,
          point: i,
          layout: layoutOffsets(layout!),
          kind: c.shape === 'one' ? 'single' : c.shape === 'array' ? 'burst' : 'return',
          argOffset: argRegOffset(c.shape === 'one' ? c.arg : c.arrayArg),
          countOffset: c.shape === 'array' ? argRegOffset(c.countArg) : undefined,
          retOffset: c.shape === 'array-at-return' ? retRegOffset() : undefined,
          savedArgsFd: savedArgs?.fd,
          burstStateFd: burstState?.fd,
          progArrayFd: progArray?.fd,
        });
        programs = [
          ...(built.worker ? [{ role: 'worker' as const, insns: built.worker }] : []),
          { role: 'entry' as const, insns: built.entry },
          ...(built.exit ? [{ role: 'exit' as const, insns: built.exit }] : []),
        ];
      }
      return { name: pointName(o.mode, r.point), resolved: r, programs };
    });
    startupMark('maps created, programs built');
    const loaded = points.map((p, i) =>
      p.programs.map((prog) => {
        const loadedProg = loadProgram({ type: ProgType.KPROBE, insns: prog.insns, name: `nc_${o.mode}${i}_${prog.role}`.slice(0, 15) });
        opened.push(loadedProg);
        // The program array holds a reference to the worker. The kernel
        // empties an array whose last fd closed only later, from a workqueue
        // (prog_array_map_clear_deferred), so the teardown removes the entry
        // itself and the worker is gone when netcap exits.
        if (prog.role === 'worker') {
          progArray!.update(u32(i), u32(loadedProg.fd));
          opened.push({ close: () => void progArray!.delete(u32(i)) });
        }
        return loadedProg;
      }),
    );
    const sessionPoints: SessionPoint[] = points.map((p) => ({ name: p.name, linktype: LINKTYPE_ETHERNET }));
    const attach = (): Link[] => {
      const links: Link[] = [];
      try {
        points.forEach((p, i) => {
          p.programs.forEach((prog, j) => {
            if (prog.role === 'worker') return; // reached by tail call, not attached
            const target = { path: p.resolved.objectPath, offset: p.resolved.fileOffset, pid: o.pid };
            links.push(prog.role === 'exit' ? attachUretprobe(loaded[i][j], target) : attachUprobe(loaded[i][j], target));
          });
        });
      } catch (e) {
        for (const l of links.reverse()) l.close();
        throw e;
      }
      return links;
    };
    const where = o.pid !== undefined ? `pid ${o.pid}` : o.binary;
    const spec: CaptureSpec = {
      points: sessionPoints,
      ring: maps.ring,
      counters: maps.counters,
      attach,
      // Programs before maps: closed in reverse.
      resources: [...opened],
      readiness: `${points.map((p) => p.name).join(', ')} (${where})`,
      snaplen: o.snaplen,
      filter: o.expression,
      watchPid: o.pid,
    };
    return {
      points,
      release,
      layout,
      maps,
      savedArgs,
      loaded,
      spec,
      close: () => {
        for (const c of [...opened].reverse()) c.close();
      },
    };
  } catch (e) {
    for (const c of opened.reverse()) {
      try {
        c.close();
      } catch {
        // the first error matters
      }
    }
    throw e;
  }
}

function checkShape(mode: 'mbuf' | 'raw', p: UserFunctionPoint): void {
  const shape = p.capture.shape;
  if (mode === 'raw' && shape !== 'raw') throw new UserError(`point '${p.text}' needs a data and a length argument in raw mode`, 'write func@DATA@LEN, e.g. app_raw@1@2');
  if (mode === 'mbuf' && shape === 'raw') throw new UserError(`point '${p.text}' is a raw-mode point`, 'use netcap raw for func(data, len)');
  // argRegister checks the argument range (registers only) with a clear message.
  const c = p.capture;
  const args = c.shape === 'one' ? [c.arg] : c.shape === 'array' ? [c.arrayArg, c.countArg] : c.shape === 'raw' ? [c.dataArg, c.lengthArg] : [c.arrayArg];
  for (const a of args) argRegister(a);
  if (args.length === 2 && args[0] === args[1]) throw new UserError(`point '${p.text}' uses argument ${args[0]} twice`, 'the two numbers name two different arguments');
}

/** --dry-run: the resolved targets and each program's disassembly. */
export function describeDryRun(c: UserCapture): string {
  const lines: string[] = [];
  if (c.release) lines.push(`DPDK ${c.release.release} (${c.release.evidence}); rte_mbuf layout of ${c.layout!.since}+: buf_addr ${c.layout!.buf_addr.offset}, data_off ${c.layout!.data_off.offset}, port ${c.layout!.port.offset}, pkt_len ${c.layout!.pkt_len.offset}, data_len ${c.layout!.data_len.offset}, next ${c.layout!.next.offset}`);
  c.points.forEach((p, i) => {
    const r = p.resolved;
    lines.push(`point ${i}: ${p.name}`);
    lines.push(`  object ${r.object}${r.objectPath !== r.object ? ` (opened as ${r.objectPath})` : ''}`);
    lines.push(`  symbol ${r.symbol} at 0x${r.vaddr.toString(16)} (${r.size} bytes), file offset 0x${r.fileOffset.toString(16)}`);
    p.programs.forEach((prog, j) => {
      const loaded = c.loaded[i]?.[j];
      lines.push(`  ${prog.role === 'exit' ? 'uretprobe' : prog.role === 'worker' ? 'tail-called worker' : 'uprobe'} program ${loaded?.name ?? ''}: ${prog.insns.length} instructions${loaded ? ', accepted by the verifier' : ''}`);
      lines.push(disassemble(link(prog.insns)).trimEnd().replace(/^/gm, '    '));
    });
  });
  return lines.join('\n') + '\n';
}
