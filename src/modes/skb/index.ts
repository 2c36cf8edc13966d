// netcap skb: packets where the kernel handles, forwards or drops them, read
// from the struct sk_buff at tracepoints (and fentry/kprobes on kernels that
// have them). Each point is a dispatcher on its hook and, in its slot, the
// program probes/skb.ts builds for the current filter: that program copies
// the skb's bytes (offsets from BTF), runs the filter compiled for where the
// packet starts (Ethernet, or raw IP for skbs without a MAC header) and
// writes the record. -i, -S and -G add the device check, the kernel stack
// and gather mode's map.
//
// Packets that start at the network header are written as raw IP (pcapng:
// an interface of their own per point, "<point> (raw IP)", made when the
// first such packet comes) and behind a synthesised Ethernet header where an
// output holds one link type (pcap, tcpdump, text): zero MACs and the skb's
// protocol as EtherType (src/output/outputs.ts). Their metadata says
// "l3-start".
import { UserError } from '../../errors';
import { createMap, type BpfMap } from '../../bpf/map';
import { possibleCpus } from '../../bpf/cpus';
import type { Program } from '../../bpf/program';
import type { Link } from '../../bpf/link/link';
import { attachTracepoint } from '../../bpf/link/tracepoint';
import { attachRawTracepoint, attachTpBtf } from '../../bpf/link/rawtp';
import { attachFentry } from '../../bpf/link/fentry';
import { attachKprobe } from '../../bpf/link/kprobe';
import { Owned, type Closer } from '../../bpf/registry';
import { disassemble } from '../../ebpf/disassemble';
import { link } from '../../ebpf/link';
import type { Insn } from '../../ebpf/instruction';
import { compileCbpf } from '../../filter/libpcap';
import type { CbpfInsn } from '../../filter/cbpf';
import { kernelDropReasons } from '../../kernel/drop-reasons';
import { kernelSymbols } from '../../kernel/kallsyms';
import { currentNetns, DeviceWatch, InterfaceNames, listInterfaces, resolveInterface, resolveNetns, type InterfaceRef } from '../../kernel/interfaces';
import { kernelSkbLayout } from '../../kernel/skb-layout';
import type { PacketMeta } from '../../output/packet';
import { LINKTYPE_ETHERNET } from '../../output/linktypes';
import type { PacketRecord } from '../../capture/record';
import { ProgramSlots } from '../../capture/slots';
import { attachEach, loadGeneration, loadPrograms, type LoadedProgram } from '../../capture/generation';
import type { GenerationMaps, JudgeSettings, ModeContext, ModePacket, PreparedMode } from '../../capture/mode';
import { buildDispatcher } from '../../../probes/dispatch';
import { buildSkbProgram, META, programName, programType, type SkbFilterPrograms } from '../../../probes/skb';
import { GatherReport, contentKey } from './gather';
import { resolveSkbPoints, type SkbPoint } from './points';

/** PERF_MAX_STACK_DEPTH (include/uapi/linux/perf_event.h): frames bpf_get_stackid keeps. */
export const STACK_DEPTH = 127;
const STACK_ENTRIES = 16384;
const GATHER_ENTRIES = 65536;
/** The most bytes the content key hashes: the hash is unrolled in the program, one load per byte. */
export const MAX_GATHER_BYTES = 128;

export interface SkbOptions {
  /** -f: comma-separated points. */
  points: string;
  /** -i: only skbs of this device (ifindex and network namespace). */
  iface?: string;
  /** --netns of -i: a name from `ip netns list` or a path. */
  netns?: string;
  /** -S: the kernel stack of each packet. */
  stacks?: boolean;
  /** -G: follow packets the first point selects through the others (by skb address). */
  gather?: boolean;
  /** --gather-by-content: follow them by a hash of this many bytes instead (implies gather). */
  gatherByContent?: number;
  /**
   * -Q in|out: only points of that path (receive, transmit); a point of the
   * other or of no known direction is refused. Not `direction`: that is the
   * library's run-time setting of modes whose points are both ways (iface).
   */
  path?: 'in' | 'out';
}

/** `ret #0`: the filter for a start the expression cannot apply to (see compileSkbFilters). */
const REJECT_ALL: CbpfInsn[] = [{ code: 0x06, jt: 0, jf: 0, k: 0 }];

/**
 * The expression for packets starting at the Ethernet header and for packets
 * starting at the IP header. An expression that only makes sense with a
 * link-layer header ("arp", "ether host ...") does not compile for RAW:
 * such a filter can never match an skb without a MAC header, so its RAW
 * variant rejects everything instead of failing the capture.
 */
export function compileSkbFilters(expression: string, snaplen: number): SkbFilterPrograms & { rawNote?: string } {
  const ether = compileCbpf(expression, { linktype: 'EN10MB', snaplen }).insns;
  try {
    return { ether, raw: compileCbpf(expression, { linktype: 'RAW', snaplen }).insns };
  } catch (e) {
    if (!(e instanceof UserError)) throw e;
    return { ether, raw: REJECT_ALL, rawNote: `packets without a MAC header never match: ${e.message}` };
  }
}

function attachPoint(point: SkbPoint, prog: Program): Link {
  switch (point.kind) {
    case 'tracepoint':
      return attachTracepoint(prog, point.target);
    case 'raw_tp':
      return attachRawTracepoint(prog, point.target);
    case 'tp_btf':
      return attachTpBtf(prog, point.target);
    case 'fentry':
      return attachFentry(prog, point.target);
    case 'kprobe':
      return attachKprobe(prog, { symbol: point.target });
  }
}

/** -Q: every point must see packets of that direction only (the receive or the transmit path, by its event). */
function checkDirection(points: readonly SkbPoint[], direction: 'in' | 'out'): void {
  const path = direction === 'in' ? 'receive' : 'transmit';
  for (const p of points) {
    if (p.direction === direction) continue;
    throw new UserError(
      `-Q ${direction}: ${p.label} ${p.direction ? `is on the ${p.direction === 'in' ? 'receive' : 'transmit'} path` : 'sees packets of both directions (netcap cannot tell which)'}`,
      `-Q ${direction} takes points of the ${path} path, e.g. ${direction === 'in' ? 'tracepoint:net:netif_receive_skb' : 'tracepoint:net:net_dev_queue'}; leave -Q out for every packet of a point`,
    );
  }
}

export function prepareSkbMode(o: SkbOptions, ctx: ModeContext): PreparedMode {
  if (o.gatherByContent !== undefined && (!Number.isInteger(o.gatherByContent) || o.gatherByContent < 4 || o.gatherByContent > MAX_GATHER_BYTES)) {
    throw new UserError(`--gather-bytes ${o.gatherByContent}: not a whole number between 4 and ${MAX_GATHER_BYTES}`, 'e.g. --gather-bytes 48 (IPv4 addresses, ports and the start of the payload)');
  }
  if (o.netns !== undefined && o.iface === undefined) {
    throw new UserError('--netns names the network namespace of the -i device, and no device is given', 'add -i IFACE (a device of that namespace), or leave --netns out to capture every device');
  }
  const points = resolveSkbPoints(o.points);
  if (o.path) checkDirection(points, o.path);
  const netns = o.netns !== undefined ? resolveNetns(o.netns) : currentNetns();
  // Names for the devices of captured packets (each listing runs ip). With
  // -i every packet is of that device: its namespace's listing, made once,
  // finds the interface and names the packets.
  const names = new InterfaceNames();
  let iface: InterfaceRef | undefined;
  if (o.iface !== undefined) {
    const listing = listInterfaces(netns);
    iface = resolveInterface(o.iface, netns, listing);
    names.add(netns, listing);
  } else {
    names.add(currentNetns());
    names.add(netns);
  }
  // Fail early (UserError) on a kernel without the drop reason enum or kallsyms, not per packet.
  const reasons = points.some((p) => p.reason) ? kernelDropReasons() : undefined;
  const symbols = o.stacks ? kernelSymbols() : undefined;
  const layout = kernelSkbLayout();
  const gathering = o.gather === true || o.gatherByContent !== undefined;
  const byContent = o.gatherByContent;
  const gather = gathering ? new GatherReport(points.map((p) => p.label), byContent !== undefined ? (rec) => contentKey(rec, byContent) : undefined) : undefined;
  const rawNote = compileSkbFilters(ctx.settings.expression, ctx.settings.snaplen).rawNote;

  const opened = new Owned();
  try {
    const own = <T extends Closer>(x: T): T => opened.own(x);
    const watch = iface ? own(new DeviceWatch(iface)) : undefined;
    const meta = own(createMap({ type: 'array', name: 'netcap_skbmeta', keySize: 4, valueSize: META.size, maxEntries: possibleCpus() }));
    const stackMap: BpfMap | undefined = o.stacks ? own(createMap({ type: 'stack_trace', name: 'netcap_stacks', keySize: 4, valueSize: 8 * STACK_DEPTH, maxEntries: STACK_ENTRIES })) : undefined;
    const gatherMap: BpfMap | undefined = gathering ? own(createMap({ type: 'lru_hash', name: 'netcap_gather', keySize: 8, valueSize: 8, maxEntries: GATHER_ENTRIES })) : undefined;
    // One program array per point: points of different kinds have different program types.
    const slots = points.map((_, i) => own(new ProgramSlots(`nc_skb${i}_slot`, 1)));
    const attachedPrograms: LoadedProgram[] = loadPrograms(
      points.map((p, i) => ({ point: i, role: 'dispatcher', spec: { ...programType(p), name: `${programName(p)}`.slice(0, 12) + '_d', insns: buildDispatcher(slots[i].fd, 0) } })),
    );
    for (const a of attachedPrograms) own(a.program);

    const load = (settings: JudgeSettings, maps: GenerationMaps) => {
      const filter = compileSkbFilters(settings.expression, settings.snaplen);
      return loadGeneration(
        settings,
        points.map((point, index) => ({
          point: index,
          role: point.kind,
          slot: { slots: slots[index], index: 0 },
          spec: buildSkbProgram({
            point,
            index,
            layout,
            filter,
            snaplen: settings.snaplen,
            maps: { ring: maps.ring.fd, counters: maps.counters.fd, scratch: maps.scratch.fd, meta: meta.fd, stacks: stackMap?.fd },
            iface: iface ? { ifindex: iface.ifindex, netnsInode: iface.netns.inode } : undefined,
            gather: gatherMap ? { mapFd: gatherMap.fd, first: index === 0, byContent: byContent !== undefined ? { bytes: byContent } : undefined } : undefined,
            wakeupAt: maps.wakeupAt,
          }),
        })),
      );
    };

    const packetMeta = (rec: PacketRecord): PacketMeta => {
      const ifname = names.name(rec.netns, rec.ifindex);
      const m: PacketMeta = {
        pid: rec.pid, tid: rec.tid, comm: rec.comm, cpu: rec.cpu, point: `skb:${points[rec.point]?.label ?? rec.point}`,
        object: { kind: 'skb', address: rec.addr }, ifindex: rec.ifindex, ...(ifname ? { ifname } : {}), netns: rec.netns, mark: rec.mark,
      };
      if (points[rec.point]?.reason && reasons) m.reason = reasons.name(rec.reason);
      if (rec.linktype !== LINKTYPE_ETHERNET) m.flags = ['l3-start'];
      if (gather) m.gather = gather.observe(rec);
      if (symbols) {
        const stack = stackMap && rec.stackId >= 0 ? stackMap.stackTrace(rec.stackId) : undefined;
        m.stack = stack ? stack.map((ip) => symbols.symbolize(ip)) : [`(no stack: ${rec.stackId < 0 ? `bpf_get_stackid returned ${rec.stackId}` : 'evicted'})`];
      }
      return m;
    };

    const where = iface ? ` on ${iface.name}${netns.label !== 'current' ? ` (netns ${netns.label})` : ''}` : '';
    return {
      points: points.map((p) => ({ name: `skb:${p.label}`, interfaceName: iface ? `${iface.name}@${p.label}` : p.label })),
      readiness: `${points.map((p) => p.label).join(', ')}${where}${byContent !== undefined ? ` (gather by ${byContent} bytes of content)` : gathering ? ' (gather)' : ''}`,
      notes: rawNote ? [rawNote] : [],
      metadataOnStdout: o.stacks === true || gathering || points.some((p) => p.reason !== undefined),
      attachedPrograms,
      check: (settings) => void compileSkbFilters(settings.expression, settings.snaplen),
      load,
      attach: (): Link[] => attachEach(attachedPrograms, (a) => attachPoint(points[a.point], a.program)),
      packet: (rec: PacketRecord): ModePacket => ({
        data: rec.data,
        wirelen: rec.wirelen,
        linktype: rec.linktype,
        ...(points[rec.point]?.direction ? { direction: points[rec.point].direction } : {}),
        meta: packetMeta(rec),
      }),
      // Gather mode follows each packet through the points as it is read: packet() must see every record.
      plainPackets: gather ? undefined : { direction: (point) => points[point]?.direction },
      describe: (gen) => {
        const lines = [
          `sk_buff (BTF): head ${layout.skb.head.offset}, data ${layout.skb.data.offset}, len ${layout.skb.len.offset}, tail ${layout.skb.tail.offset}, mac_header ${layout.skb.macHeader.offset}, network_header ${layout.skb.networkHeader.offset}, protocol ${layout.skb.protocol.offset}, dev ${layout.skb.dev.offset}, mark ${layout.skb.mark.offset}`,
          `net_device (BTF): ifindex ${layout.dev.ifindex.offset}, hard_header_len ${layout.dev.hardHeaderLen.offset}, nd_net ${layout.dev.ndNet.offset}; net.ns.inum ${layout.netnsInum.offset}`,
        ];
        if (iface) lines.push(`interface ${iface.name}: ifindex ${iface.ifindex}, netns ${iface.netns.label} (inode ${iface.netns.inode})`);
        const listing = (p: { role: string; name: string; insns: readonly Insn[] }) => {
          lines.push(`  ${p.role} program ${p.name}: ${link(p.insns).slots} instructions, accepted by the verifier`);
          lines.push(disassemble(link(p.insns)).trimEnd().replace(/^/gm, '    '));
        };
        points.forEach((p, i) => {
          lines.push(`point ${i}: ${p.label} (${p.kind}): skb at ctx+${p.skb.offset}${p.reason ? `, drop reason at ctx+${p.reason.offset}` : ''}`);
          for (const a of attachedPrograms.filter((a) => a.point === i)) listing(a);
          for (const g of gen.programs.filter((g) => g.point === i)) listing(g);
        });
        return lines.join('\n') + '\n';
      },
      vanished: watch ? () => watch.gone() : undefined,
      results: gather
        ? () => {
            const lines = gather.lines();
            return [`gather: ${lines.length} packet${lines.length === 1 ? '' : 's'}`, ...lines.map((l) => `  ${l}`)];
          }
        : undefined,
      close: () => opened.close(),
    };
  } catch (e) {
    opened.close();
    throw e;
  }
}
