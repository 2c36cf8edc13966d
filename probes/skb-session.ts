// `netcap skb` from options to the shared capture session
// (src/capture/session.ts): resolve the points, -i and --netns, build and
// load the programs (probes/skb-capture.ts), and describe the records:
// metadata comments (interface name, netns, skb, mark, drop reason, the
// kernel stack) and the bytes written.
//
// Packets that start at the network header (no MAC header in the skb):
//  - in pcapng files, on an interface of their own per point, of link type
//    RAW (101): "skb:<point> (raw IP)", bytes as captured;
//  - everywhere else (pcap files, tcpdump decoding, text, JSON), behind a
//    synthesised Ethernet header: zero MAC addresses and the skb's protocol
//    as EtherType (from the IP version when the skb has none), so one link
//    type serves every packet. The packet comment says "l3-start".
import type { PacketRecord } from '../src/capture/record';
import type { CaptureSpec, SessionPoint } from '../src/capture/session';
import type { CapturedPacket } from '../src/output/packet';
import { LINKTYPE_ETHERNET, LINKTYPE_RAW } from '../src/output/packet';
import { disassemble } from '../src/ebpf/disassemble';
import { link } from '../src/ebpf/link';
import { kernelDropReasons } from '../src/kernel/drop-reasons';
import { kernelSymbols } from '../src/kernel/kallsyms';
import { currentNetns, InterfaceNames, resolveInterface, resolveNetns, type InterfaceRef } from '../src/kernel/interfaces';
import { kernelSkbLayout } from '../src/kernel/skb-layout';
import { SkbCapture } from './skb-capture';
import { contentKey, GatherReport } from './skb-gather';
import { resolveSkbPoints, type SkbPoint } from './skb-points';

export interface SkbSessionOptions {
  points: string;
  expression: string;
  snaplen: number;
  ringBytes: number;
  iface?: string;
  netns?: string;
  stacks?: boolean;
  gather?: boolean;
  /** --gather-by-content: follow packets by a hash of this many bytes (implies gather). */
  gatherByContent?: number;
  /** Write packets that start at the IP header to RAW interfaces of their own (pcapng) instead of behind a synthesised Ethernet header. */
  rawInterfaces?: boolean;
}

export interface PreparedSkbCapture {
  points: SkbPoint[];
  iface?: InterfaceRef;
  capture: SkbCapture;
  spec: CaptureSpec;
  gather?: GatherReport;
  close(): void;
}

const ETH_P_IP = 0x0800;
const ETH_P_IPV6 = 0x86dd;

/** The EtherType of an L3-start record: skb->protocol, else the IP version nibble. */
function etherTypeOf(rec: PacketRecord): number {
  if (rec.protocol !== 0) return rec.protocol;
  const version = rec.data.length > 0 ? rec.data[0] >> 4 : 0;
  return version === 6 ? ETH_P_IPV6 : ETH_P_IP;
}

/** The bytes written for a record: as captured, or behind a synthesised Ethernet header. */
export function recordBytes(rec: PacketRecord): { data: Buffer; wirelen: number } {
  if (rec.linktype === 'ether') return { data: rec.data, wirelen: rec.wirelen };
  const eth = Buffer.alloc(14);
  eth.writeUInt16BE(etherTypeOf(rec), 12);
  return { data: Buffer.concat([eth, rec.data]), wirelen: rec.wirelen + 14 };
}

export function prepareSkbCapture(o: SkbSessionOptions): PreparedSkbCapture {
  const points = resolveSkbPoints(o.points);
  const netns = o.netns !== undefined ? resolveNetns(o.netns) : currentNetns();
  const iface = o.iface !== undefined ? resolveInterface(o.iface, netns) : undefined;
  const names = new InterfaceNames();
  names.add(currentNetns());
  if (netns.label !== 'current') names.add(netns);
  // Fail early (UserError) on a kernel without the drop reason enum or kallsyms, not per packet.
  const reasons = points.some((p) => p.reason) ? kernelDropReasons() : undefined;
  const symbols = o.stacks ? kernelSymbols() : undefined;
  kernelSkbLayout();
  const capture = new SkbCapture({
    points,
    expression: o.expression,
    snaplen: o.snaplen,
    ringBytes: o.ringBytes,
    iface: iface ? { ifindex: iface.ifindex, netnsInode: iface.netns.inode } : undefined,
    stacks: o.stacks,
    gather: o.gather || o.gatherByContent !== undefined,
    gatherByContent: o.gatherByContent,
  });
  const sessionPoints: SessionPoint[] = points.map((p) => ({ name: `skb:${p.label}`, linktype: LINKTYPE_ETHERNET }));
  const rawPoints: SessionPoint[] | undefined = o.rawInterfaces ? points.map((p) => ({ name: `skb:${p.label} (raw IP)`, linktype: LINKTYPE_RAW })) : undefined;
  const byContent = o.gatherByContent;
  const gather =
    byContent !== undefined
      ? new GatherReport(points.map((p) => p.label), (rec) => contentKey(rec, byContent))
      : o.gather
        ? new GatherReport(points.map((p) => p.label))
        : undefined;

  const describe = (rec: PacketRecord, point: SessionPoint): string => {
    const ifname = names.name(rec.netns, rec.ifindex);
    const parts = [
      `pid=${rec.pid}`, `tid=${rec.tid}`, `comm=${rec.comm}`, `cpu=${rec.cpu}`, `point=${point.name}`,
      `skb=0x${rec.addr.toString(16)}`, `ifindex=${rec.ifindex}${ifname ? ` (${ifname})` : ''}`, `netns=${rec.netns}`, `mark=0x${rec.mark.toString(16)}`,
    ];
    if (points[rec.point]?.reason && reasons) parts.push(`reason=${reasons.name(rec.reason)}`);
    if (rec.linktype === 'raw') parts.push(rawPoints ? 'l3-start' : 'l3-start (Ethernet header synthesised)');
    if (gather) parts.push(gather.observe(rec));
    let text = parts.join(' ');
    if (symbols) {
      const stack = capture.stack(rec.stackId);
      text += stack ? stack.map((ip) => `\n    ${symbols.symbolize(ip)}`).join('') : `\n    (no stack: ${rec.stackId < 0 ? `bpf_get_stackid returned ${rec.stackId}` : 'evicted'})`;
    }
    return text;
  };

  const toPacket = (rec: PacketRecord, tsNs: bigint, comment: string): CapturedPacket => {
    const direction = points[rec.point]?.direction;
    const common = { tsNs, comment, ...(direction ? { direction } : {}) };
    if (rawPoints && rec.linktype === 'raw') return { ...common, ifIndex: points.length + rec.point, data: rec.data, wirelen: rec.wirelen };
    const { data, wirelen } = recordBytes(rec);
    return { ...common, ifIndex: rec.point, data, wirelen };
  };

  const where = iface ? ` on ${iface.name}${netns.label !== 'current' ? ` (netns ${netns.label})` : ''}` : '';
  const spec: CaptureSpec = {
    points: sessionPoints,
    ring: capture.maps.ring,
    counters: capture.maps.counters,
    attach: () => {
      capture.attach();
      return capture.links;
    },
    resources: [capture],
    readiness: `${points.map((p) => p.label).join(', ')}${where}${byContent !== undefined ? ` (gather by ${byContent} bytes of content)` : o.gather ? ' (gather)' : ''}`,
    snaplen: o.snaplen,
    filter: o.expression,
    describe,
    toPacket,
    ...(rawPoints ? { extraInterfaces: rawPoints } : {}),
  };
  return { points, iface, capture, spec, gather, close: () => capture.close() };
}

/** --dry-run: the points, the offsets from BTF, and every program as loaded (the verifier accepted them). */
export function describeSkbDryRun(c: PreparedSkbCapture): string {
  const l = kernelSkbLayout();
  const lines = [
    `sk_buff (BTF): head ${l.skb.head.offset}, data ${l.skb.data.offset}, len ${l.skb.len.offset}, tail ${l.skb.tail.offset}, mac_header ${l.skb.macHeader.offset}, network_header ${l.skb.networkHeader.offset}, protocol ${l.skb.protocol.offset}, dev ${l.skb.dev.offset}, mark ${l.skb.mark.offset}`,
    `net_device (BTF): ifindex ${l.dev.ifindex.offset}, hard_header_len ${l.dev.hardHeaderLen.offset}, nd_net ${l.dev.ndNet.offset}; net.ns.inum ${l.netnsInum.offset}`,
  ];
  if (c.iface) lines.push(`interface ${c.iface.name}: ifindex ${c.iface.ifindex}, netns ${c.iface.netns.label} (inode ${c.iface.netns.inode})`);
  c.points.forEach((p, i) => {
    lines.push(`point ${i}: ${p.label} (${p.kind}): skb at ctx+${p.skb.offset}${p.reason ? `, drop reason at ctx+${p.reason.offset}` : ''}`);
    const spec = c.capture.specs[i];
    lines.push(`  program ${spec.name}: ${link(spec.insns).slots} instructions, accepted by the verifier`);
    lines.push(disassemble(link(spec.insns)).trimEnd().replace(/^/gm, '    '));
  });
  return lines.join('\n') + '\n';
}
