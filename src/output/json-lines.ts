// One JSON object per packet, one per line (for jq and log pipelines):
// time, capture point, lengths, direction, the hook's verdict, the capture's
// metadata as fields (and as the comment text pcapng would hold), the
// decoder's summary line and the bytes in hex.
import { packetComment, type CaptureInterface, type CapturedPacket, type PacketMeta } from './packet';
import { summarize } from './text-decoder';
import { verdictName } from './verdict';

export interface JsonPacket {
  time: string;
  tsNs: string;
  ifIndex: number;
  ifName?: string;
  caplen: number;
  wirelen: number;
  direction?: 'in' | 'out';
  /** { type: 'xdp', value: 1, name: 'XDP_DROP' } */
  verdict?: { type: 'xdp' | 'tc'; value: number; name: string };
  comment?: string;
  /** The metadata fields of a captured packet (addresses as hex strings). */
  meta?: Omit<PacketMeta, 'object'> & { object?: { kind: string; address: string } };
  summary: string;
  data: string;
}

export function formatJsonLine(pkt: CapturedPacket, iface: CaptureInterface): string {
  const seconds = pkt.tsNs / 1_000_000_000n;
  const nanos = (pkt.tsNs % 1_000_000_000n).toString().padStart(9, '0');
  const iso = new Date(Number(seconds) * 1000).toISOString().replace(/\.\d{3}Z$/, `.${nanos}Z`);
  const comment = packetComment(pkt);
  const record: JsonPacket = {
    time: iso,
    tsNs: pkt.tsNs.toString(),
    ifIndex: pkt.ifIndex,
    ...(iface.name !== undefined ? { ifName: iface.name } : {}),
    caplen: pkt.data.length,
    wirelen: pkt.wirelen,
    ...(pkt.direction ? { direction: pkt.direction } : {}),
    ...(pkt.verdict ? { verdict: { ...pkt.verdict, name: verdictName(pkt.verdict) } } : {}),
    ...(comment !== undefined ? { comment } : {}),
    ...(pkt.meta ? { meta: jsonMeta(pkt.meta) } : {}),
    summary: summarize(pkt.data, pkt.wirelen, iface.linktype, false).summary,
    data: pkt.data.toString('hex'),
  };
  return JSON.stringify(record);
}

function jsonMeta(m: PacketMeta): NonNullable<JsonPacket['meta']> {
  const { object, ...rest } = m;
  return object ? { ...rest, object: { kind: object.kind, address: `0x${object.address.toString(16)}` } } : rest;
}
