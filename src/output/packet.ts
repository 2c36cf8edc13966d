// What the output layer writes and reads: one captured packet, the capture
// point ("interface" in pcapng terms) it came from, and per-point counters.
// Independent of the kernel record layout (src/capture/record.ts): the
// session turns its records into these, and file readers produce them too.

/** One packet as stored in a capture file. */
export interface CapturedPacket {
  /** Index of the capture point (pcapng interface id; 0 for pcap files). */
  ifIndex: number;
  /** Wall-clock time in nanoseconds since the Unix epoch. */
  tsNs: bigint;
  /** The captured bytes (caplen = data.length). */
  data: Buffer;
  /** Length on the wire (normally >= data.length; a file's smaller value is kept as written). */
  wirelen: number;
  /**
   * A pcap record's timestamp fields as the file has them (seconds, and the
   * fraction in µs or ns): a pcap writer of the same precision writes them
   * back unchanged, as libpcap does, even a fraction out of range
   * (1,000,000 µs or more) that tsNs carries into the seconds.
   */
  pcapTime?: PcapTime;
  /** Free text kept with the packet (pcapng opt_comment), as read from a file; captured packets carry `meta` instead. */
  comment?: string;
  /** Where and how a capture saw the packet; its pcapng comment is formatMeta(meta). */
  meta?: PacketMeta;
  /** Direction, when the capture point knows it (pcapng epb_flags). */
  direction?: 'in' | 'out';
  /** A raw-IP packet's EtherType (skb->protocol), for a synthesised Ethernet header (ethernetFallback). */
  etherType?: number;
  /** The verdict the hook's program returned for the packet (pcapng epb_verdict). */
  verdict?: PacketVerdict;
}

/**
 * What an eBPF hook decided for a packet, as its program returned it: an
 * XDP action (enum xdp_action: 0 aborted .. 4 redirect) or a TC action
 * (TC_ACT_*, -1 = unspec). pcapng keeps it as a 64-bit value with its type.
 */
export interface PacketVerdict {
  type: 'xdp' | 'tc';
  value: number;
}

/**
 * A packet's context as fields: what JSON output shows and what the pcapng
 * comment is made of. Modes fill what they know.
 */
export interface PacketMeta {
  pid?: number;
  tid?: number;
  comm?: string;
  cpu?: number;
  /** The capture point's name. */
  point?: string;
  /** What the address is of ('mbuf', 'skb', 'data') and the address. */
  object?: { kind: string; address: bigint };
  /** The DPDK port of an mbuf. */
  port?: number;
  ifindex?: number;
  /** The interface's name, where it is known (-i's namespace, netcap's own). */
  ifname?: string;
  /** Inode of the device's network namespace. */
  netns?: number;
  mark?: number;
  /** The drop reason's name (skb:kfree_skb). */
  reason?: string;
  /** Short markers: 'truncated=read-error', 'l3-start'. */
  flags?: string[];
  /** Gather mode's note on this packet ("gather #3 +12.4us after ..."). */
  gather?: string;
  /** Kernel stack, innermost frame first (-S). */
  stack?: string[];
}

/** The pcapng comment of a captured packet: "pid=1 tid=1 comm=x cpu=0 point=... mbuf=0x... port=0", then stack frames on lines of their own. */
export function formatMeta(m: PacketMeta): string {
  const parts: string[] = [];
  if (m.pid !== undefined) parts.push(`pid=${m.pid}`);
  if (m.tid !== undefined) parts.push(`tid=${m.tid}`);
  if (m.comm !== undefined) parts.push(`comm=${m.comm}`);
  if (m.cpu !== undefined) parts.push(`cpu=${m.cpu}`);
  if (m.point !== undefined) parts.push(`point=${m.point}`);
  if (m.object) parts.push(`${m.object.kind}=0x${m.object.address.toString(16)}`);
  if (m.port !== undefined) parts.push(`port=${m.port}`);
  if (m.ifindex !== undefined) parts.push(`ifindex=${m.ifindex}${m.ifname ? ` (${m.ifname})` : ''}`);
  if (m.netns !== undefined) parts.push(`netns=${m.netns}`);
  if (m.mark !== undefined) parts.push(`mark=0x${m.mark.toString(16)}`);
  if (m.reason !== undefined) parts.push(`reason=${m.reason}`);
  parts.push(...(m.flags ?? []));
  if (m.gather !== undefined) parts.push(m.gather);
  return parts.join(' ') + (m.stack ?? []).map((frame) => `\n    ${frame}`).join('');
}

/** The text a packet keeps in a file: its comment as read, else its metadata formatted. */
export function packetComment(pkt: CapturedPacket): string | undefined {
  return pkt.comment ?? (pkt.meta ? formatMeta(pkt.meta) : undefined);
}

export interface PcapTime {
  seconds: number;
  fraction: number;
  nanosecond: boolean;
}

/** A capture point: one pcapng Interface Description Block. */
export interface CaptureInterface {
  /** DLT_/LINKTYPE_ value: 1 Ethernet, 101 raw IP... */
  linktype: number;
  snaplen: number;
  /**
   * A pcap file's link-type field above the link type (bits 26-31: whether
   * and how long an FCS the frames carry), written back by a pcap writer as
   * libpcap writes it.
   */
  linktypeExt?: number;
  /** if_name, e.g. "mbuf:l2fwd_simple_forward@1" or "eth0". */
  name?: string;
  /** if_description, e.g. the filter expression. */
  description?: string;
  /** if_filter (libpcap filter string). */
  filter?: string;
  /**
   * For a raw-IP interface (LINKTYPE_RAW) of captured packets that start at
   * the IP header: an output that holds one link type (a pcap file,
   * tcpdump) writes them behind a synthesised Ethernet header (zero MACs, the
   * packet's EtherType) as packets of this Ethernet interface (the capture
   * point's). Without it such an output refuses them.
   */
  ethernetFallback?: number;
}

/** Counters for one capture point (pcapng Interface Statistics Block). */
export interface CaptureStatistics {
  /** isb_ifrecv: packets the capture point saw. */
  received?: bigint;
  /** isb_ifdrop: packets lost by the interface / ring buffer. */
  interfaceDropped?: bigint;
  /** isb_osdrop: packets lost by the OS (e.g. ring buffer full). */
  osDropped?: bigint;
  /** isb_filteraccept: packets the filter accepted. */
  filterAccepted?: bigint;
  /** isb_usrdeliv: packets delivered to the user (written). */
  delivered?: bigint;
  comment?: string;
  /** When the counters were read (ns since the epoch). */
  tsNs?: bigint;
}
