// struct rte_mbuf layouts of 64-bit DPDK, as FACTS per release range. Each
// range was checked by compiling the struct from DPDK's own header at every
// release tag (v16.04 .. v25.11) with gcc and printing offsetof():
//
//  * 16.04 - 17.02: buf_len sits before the rearm marker, so data_off is at
//    18, and nb_segs/port are one byte each (22, 23).
//  * 17.05 (commit "mbuf: use 2 bytes for port and nb segments") - 20.08:
//    data_off 16, refcnt 18, nb_segs 20 and port 22 as u16; the second cache
//    line starts with userdata, so pool is at 72 and next at 80.
//  * 20.11 - today: userdata and timestamp became dynamic fields; pool moved
//    to 56 and next to 64 (start of the second cache line).
//  * 22.11 added a build option without the IOVA field (RTE_IOVA_AS_PA=0,
//    renamed RTE_IOVA_IN_MBUF in 23.03); then `next` takes the IOVA's slot at
//    8. Distribution and default meson builds keep the IOVA (next at 64).
//
// Fields every packet probe needs: the data is at buf_addr + data_off,
// data_len bytes in this segment, pkt_len in the whole chain, next segment.
import { UserError } from '../errors';

export interface MbufField {
  offset: number;
  size: number;
}

export interface MbufLayout {
  /** The first release of the range this layout describes ('17.05'). */
  since: string;
  /** The release asked for. */
  release: string;
  iovaInMbuf: boolean;
  size: number;
  buf_addr: MbufField;
  /** Absent when the build leaves the IOVA out of the mbuf. */
  buf_iova?: MbufField;
  buf_len: MbufField;
  data_off: MbufField;
  refcnt: MbufField;
  nb_segs: MbufField;
  port: MbufField;
  ol_flags: MbufField;
  packet_type: MbufField;
  pkt_len: MbufField;
  data_len: MbufField;
  vlan_tci: MbufField;
  hash: MbufField;
  vlan_tci_outer: MbufField;
  pool: MbufField;
  next: MbufField;
}

type Fields = Omit<MbufLayout, 'since' | 'release' | 'iovaInMbuf'>;
const f = (offset: number, size: number): MbufField => ({ offset, size });

const COMMON_CACHELINE0 = {
  size: 128,
  buf_addr: f(0, 8),
  ol_flags: f(24, 8),
  packet_type: f(32, 4),
  pkt_len: f(36, 4),
  data_len: f(40, 2),
  vlan_tci: f(42, 2),
  hash: f(44, 8),
};

const LAYOUT_16_04: Fields = {
  ...COMMON_CACHELINE0,
  buf_iova: f(8, 8),
  buf_len: f(16, 2),
  data_off: f(18, 2),
  refcnt: f(20, 2),
  nb_segs: f(22, 1),
  port: f(23, 1),
  vlan_tci_outer: f(56, 2),
  pool: f(72, 8),
  next: f(80, 8),
};

const LAYOUT_17_05: Fields = {
  ...COMMON_CACHELINE0,
  buf_iova: f(8, 8),
  data_off: f(16, 2),
  refcnt: f(18, 2),
  nb_segs: f(20, 2),
  port: f(22, 2),
  vlan_tci_outer: f(52, 2),
  buf_len: f(54, 2),
  pool: f(72, 8),
  next: f(80, 8),
};

const LAYOUT_20_11: Fields = { ...LAYOUT_17_05, pool: f(56, 8), next: f(64, 8) };

/** Release as a comparable number: '22.11' -> 2211. */
function releaseNumber(release: string): number {
  const [y, m] = release.split('.').map(Number);
  return y * 100 + m;
}

/** Normalises a DPDK version ('22.11', '22.11.3', 'v23.11', 'DPDK 24.11.1') to 'YY.MM'; UserError otherwise. */
export function parseDpdkVersion(text: string): string {
  const m = /^\s*(?:DPDK\s*|v)?(\d{2})\.(\d{2})(?:\.\d+)?(?:-rc\d+)?\s*$/i.exec(text);
  if (!m || +m[2] < 1 || +m[2] > 12) {
    throw new UserError(`'${text}' is not a DPDK version`, "give the release as YY.MM, e.g. --dpdk-version 22.11");
  }
  return `${m[1]}.${m[2]}`;
}

/**
 * The rte_mbuf layout of a 64-bit DPDK release ('22.11'). `iovaInMbuf: false`
 * describes a 22.11+ build configured without the IOVA field
 * (-Denable_iova_as_pa=false).
 */
export function mbufLayout(release: string, opts: { iovaInMbuf?: boolean } = {}): MbufLayout {
  const r = parseDpdkVersion(release);
  const n = releaseNumber(r);
  const iovaInMbuf = opts.iovaInMbuf ?? true;
  if (n < 1604) {
    throw new UserError(`DPDK ${r} is older than netcap knows (the oldest mbuf layout it has is 16.04's)`, 'upgrade DPDK, or pass --dpdk-version with the closest known release if you know the layout matches');
  }
  if (!iovaInMbuf && n < 2211) {
    throw new UserError(`DPDK ${r} has no build without the IOVA field in rte_mbuf (that option arrived in 22.11)`, 'leave the IOVA setting at its default for this release');
  }
  const [since, fields] = n < 1705 ? ['16.04', LAYOUT_16_04] : n < 2011 ? ['17.05', LAYOUT_17_05] : ['20.11', LAYOUT_20_11];
  if (iovaInMbuf) return { since, release: r, iovaInMbuf, ...fields };
  const { buf_iova: _dropped, ...rest } = fields;
  return { since: '22.11', release: r, iovaInMbuf, ...rest, next: f(8, 8) };
}
