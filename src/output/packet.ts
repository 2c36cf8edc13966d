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
  /** Length on the wire (>= data.length). */
  wirelen: number;
  /** Free text kept with the packet (pcapng opt_comment): pid, comm, function... */
  comment?: string;
  /** Direction, when the capture point knows it (pcapng epb_flags). */
  direction?: 'in' | 'out';
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

/** A capture point: one pcapng Interface Description Block. */
export interface CaptureInterface {
  /** DLT_/LINKTYPE_ value: 1 Ethernet, 101 raw IP... */
  linktype: number;
  snaplen: number;
  /** if_name, e.g. "mbuf:l2fwd_simple_forward@1" or "eth0". */
  name?: string;
  /** if_description, e.g. the filter expression. */
  description?: string;
  /** if_filter (libpcap filter string). */
  filter?: string;
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

/** Ethernet and raw IP, the link types netcap produces. */
export const LINKTYPE_ETHERNET = 1;
export const LINKTYPE_RAW = 101;
