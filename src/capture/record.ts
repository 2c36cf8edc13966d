// The one declared layout of a captured-packet record, shared by the probe
// builders (which write it in the kernel) and the reader (which decodes it).
// Every mode (mbuf, raw, skb, tc, xdp) emits the same header, then `caplen`
// packet bytes. Fields a mode does not know stay zero.
//
//   off size field
//     0    8 tsNs       bpf_ktime_get_ns() (CLOCK_MONOTONIC); the reader adds the realtime offset
//     8    8 addr       rte_mbuf / sk_buff address (0 in raw mode: the data pointer)
//    16    4 pid        tgid of the current task
//    20    4 tid        pid of the current task (the thread)
//    24    4 cpu        bpf_get_smp_processor_id()
//    28    4 point      index of the capture point in the session's list
//    32    4 wirelen    rte_mbuf.pkt_len / skb->len / the raw length argument
//    36    4 caplen     bytes of packet that follow the header
//    40    4 ifindex    skb->dev->ifindex, or the mbuf's port
//    44    4 netns      inode number of skb->dev's network namespace
//    48    4 mark       skb->mark
//    52    4 reason     drop reason (skb:kfree_skb), 0 when none
//    56    4 stackId    kernel stack id in the stack map, -1 when none
//    60    2 protocol   skb->protocol (network byte order, as the kernel keeps it)
//    62    1 linktype   LINKTYPE_ of the bytes: 1 = Ethernet header first, 101 = IP header first
//    63    1 flags      bit 0: the packet was truncated by a failed read; bit 1: direction known, bit 2: outbound
//    64   16 comm       bpf_get_current_comm()
//    80    - data

export const RECORD = {
  tsNs: 0,
  addr: 8,
  pid: 16,
  tid: 20,
  cpu: 24,
  point: 28,
  wirelen: 32,
  caplen: 36,
  ifindex: 40,
  netns: 44,
  mark: 48,
  reason: 52,
  stackId: 56,
  protocol: 60,
  linktype: 62,
  flags: 63,
  comm: 64,
  /** Size of the header; packet bytes start here. */
  headerSize: 80,
} as const;

export const FLAG_READ_FAILED = 1;
export const FLAG_DIRECTION_KNOWN = 2;
export const FLAG_OUTBOUND = 4;

/** A decoded record. `data` is a copy (never a view into the ring). */
export interface PacketRecord {
  tsNs: bigint;
  addr: bigint;
  pid: number;
  tid: number;
  cpu: number;
  point: number;
  wirelen: number;
  ifindex: number;
  netns: number;
  mark: number;
  reason: number;
  stackId: number;
  protocol: number;
  /** LINKTYPE_ETHERNET, or LINKTYPE_RAW for packets that start at the IP header (src/output/linktypes.ts). */
  linktype: number;
  readFailed: boolean;
  direction?: 'in' | 'out';
  comm: string;
  data: Buffer;
}

/** Decodes one record. `buf` may be a view into a batch: the data is copied. */
export function decodeRecord(buf: Buffer): PacketRecord {
  const caplen = Math.min(buf.readUInt32LE(RECORD.caplen), buf.length - RECORD.headerSize);
  const flags = buf[RECORD.flags];
  const commEnd = buf.indexOf(0, RECORD.comm);
  const comm = buf.toString('latin1', RECORD.comm, commEnd >= 0 && commEnd < RECORD.comm + 16 ? commEnd : RECORD.comm + 16);
  return {
    tsNs: buf.readBigUInt64LE(RECORD.tsNs),
    addr: buf.readBigUInt64LE(RECORD.addr),
    pid: buf.readUInt32LE(RECORD.pid),
    tid: buf.readUInt32LE(RECORD.tid),
    cpu: buf.readUInt32LE(RECORD.cpu),
    point: buf.readUInt32LE(RECORD.point),
    wirelen: buf.readUInt32LE(RECORD.wirelen),
    ifindex: buf.readUInt32LE(RECORD.ifindex),
    netns: buf.readUInt32LE(RECORD.netns),
    mark: buf.readUInt32LE(RECORD.mark),
    reason: buf.readUInt32LE(RECORD.reason),
    stackId: buf.readInt32LE(RECORD.stackId),
    protocol: buf.readUInt16BE(RECORD.protocol),
    linktype: buf[RECORD.linktype],
    readFailed: (flags & FLAG_READ_FAILED) !== 0,
    direction: flags & FLAG_DIRECTION_KNOWN ? (flags & FLAG_OUTBOUND ? 'out' : 'in') : undefined,
    comm,
    data: Buffer.from(buf.subarray(RECORD.headerSize, RECORD.headerSize + caplen)),
  };
}

// Per-point counters live in one per-CPU array map of u64, indexed
// point * COUNTERS_PER_POINT + counter. The reader sums over CPUs.
export const COUNTER = {
  /** Probe hits: packets (mbufs, skbs) the probe looked at. */
  seen: 0,
  /** Packets the filter accepted. */
  matched: 1,
  /** Matched packets that found the ring full (bpf_ringbuf_output failed). */
  lost: 2,
  /** Packets whose bytes could not be read (bad pointer, paged out). */
  readErrors: 3,
} as const;
export const COUNTERS_PER_POINT = 4;
