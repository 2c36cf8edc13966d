// Where the fields netcap reads live in this kernel's struct sk_buff,
// struct net_device and struct net, taken from BTF at run time (no kernel
// headers, no offsets hard-coded for one build). A probe copies two spans
// (the part of sk_buff that holds every field it needs, pkt_type included, the same for
// net_device) with one bpf_probe_read_kernel each, then loads the fields
// at these offsets from the copy.
import { UserError } from '../errors';
import type { Btf } from '../btf/btf';
import { loadKernelBtf } from '../btf/kernel';

/** A field: byte offset inside its struct and size in bytes. */
export interface FieldAt {
  offset: number;
  size: number;
}

/** A contiguous byte range of a struct copied in one read. */
export interface Span {
  start: number;
  length: number;
}

/** A bitfield: the byte it lies in, its shift from that byte's least significant bit, its width. */
export interface BitFieldAt {
  offset: number;
  shift: number;
  bits: number;
}

export interface SkbLayout {
  /** skb->pkt_type (a 3-bit field: PACKET_HOST, BROADCAST, MULTICAST, OTHERHOST...). */
  pktType: BitFieldAt;
  skb: {
    head: FieldAt;
    data: FieldAt;
    len: FieldAt;
    /** sk_buff_data_t tail: an offset from head on 64-bit kernels (NET_SKBUFF_DATA_USES_OFFSET). */
    tail: FieldAt;
    macHeader: FieldAt;
    networkHeader: FieldAt;
    protocol: FieldAt;
    dev: FieldAt;
    mark: FieldAt;
  };
  dev: {
    ifindex: FieldAt;
    hardHeaderLen: FieldAt;
    /** possible_net_t nd_net: its only member is `struct net *net` (or nothing without CONFIG_NET_NS). */
    ndNet: FieldAt;
  };
  /** struct net: ns.inum, the inode number `stat /proc/PID/ns/net` shows. */
  netnsInum: FieldAt;
  /** The sk_buff bytes every field above lies in. */
  skbSpan: Span;
  /** The sk_buff bytes every field but dev lies in: the rest, once dev was read on its own (the -i check). */
  skbSpanBesidesDev: Span;
  /** The net_device bytes ifindex, hard_header_len and nd_net lie in. */
  devSpan: Span;
}

function field(btf: Btf, struct: string, path: string, expectBytes?: number[]): FieldAt {
  const m = btf.structMember(struct, path);
  if (m.bitfield || m.offsetBits % 8 !== 0) {
    throw new UserError(`${struct}.${path} is a bitfield in this kernel's BTF`, 'netcap cannot read it with a plain load; report the kernel version');
  }
  const size = m.sizeBits / 8;
  if (expectBytes && !expectBytes.includes(size)) {
    throw new UserError(
      `${struct}.${path} is ${size} bytes (${m.type}) in this kernel's BTF, netcap expects ${expectBytes.join(' or ')}`,
      'this kernel lays out sk_buff differently from the kernels netcap knows (a 32-bit kernel?); report the kernel version',
    );
  }
  return { offset: m.offsetBits / 8, size };
}

/** A bitfield within one byte (little-endian BTF bit offsets count from the byte's least significant bit). */
function bitfield(btf: Btf, struct: string, path: string): BitFieldAt {
  const m = btf.structMember(struct, path);
  const offset = Math.floor(m.offsetBits / 8);
  const shift = m.offsetBits % 8;
  if (shift + m.sizeBits > 8) throw new UserError(`${struct}.${path} spans two bytes in this kernel's BTF`, 'netcap reads it as one byte; report the kernel version');
  return { offset, shift, bits: m.sizeBits };
}

function spanOf(fields: FieldAt[]): Span {
  const start = Math.min(...fields.map((f) => f.offset));
  const end = Math.max(...fields.map((f) => f.offset + f.size));
  return { start, length: end - start };
}

let cached: SkbLayout | undefined;

/** The layout of the running kernel (from /sys/kernel/btf/vmlinux), computed once. */
export function kernelSkbLayout(): SkbLayout {
  cached ??= skbLayoutFrom(loadKernelBtf());
  return cached;
}

export function skbLayoutFrom(btf: Btf): SkbLayout {
  const skb = {
    head: field(btf, 'struct sk_buff', 'head', [8]),
    data: field(btf, 'struct sk_buff', 'data', [8]),
    len: field(btf, 'struct sk_buff', 'len', [4]),
    tail: field(btf, 'struct sk_buff', 'tail', [4]),
    macHeader: field(btf, 'struct sk_buff', 'mac_header', [2]),
    networkHeader: field(btf, 'struct sk_buff', 'network_header', [2]),
    protocol: field(btf, 'struct sk_buff', 'protocol', [2]),
    dev: field(btf, 'struct sk_buff', 'dev', [8]),
    mark: field(btf, 'struct sk_buff', 'mark', [4]),
  };
  const dev = {
    ifindex: field(btf, 'struct net_device', 'ifindex', [4]),
    hardHeaderLen: field(btf, 'struct net_device', 'hard_header_len', [2]),
    ndNet: field(btf, 'struct net_device', 'nd_net', [8]),
  };
  const netnsInum = field(btf, 'struct net', 'ns.inum', [4]);
  const pktType = bitfield(btf, 'struct sk_buff', 'pkt_type');
  const pktTypeByte = { offset: pktType.offset, size: 1 };
  const { dev: _dev, ...besidesDev } = skb;
  return {
    pktType,
    skb,
    dev,
    netnsInum,
    skbSpan: spanOf([...Object.values(skb), pktTypeByte]),
    skbSpanBesidesDev: spanOf([...Object.values(besidesDev), pktTypeByte]),
    devSpan: spanOf(Object.values(dev)),
  };
}
