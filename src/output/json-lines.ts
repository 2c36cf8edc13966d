// One JSON object per packet, one per line (for jq and log pipelines):
// time, capture point, lengths, direction, the hook's verdict, comment,
// the decoder's summary line and the bytes in hex.
import type { CaptureInterface, CapturedPacket } from './packet';
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
  summary: string;
  data: string;
}

export function formatJsonLine(pkt: CapturedPacket, iface: CaptureInterface): string {
  const seconds = pkt.tsNs / 1_000_000_000n;
  const nanos = (pkt.tsNs % 1_000_000_000n).toString().padStart(9, '0');
  const iso = new Date(Number(seconds) * 1000).toISOString().replace(/\.\d{3}Z$/, `.${nanos}Z`);
  const record: JsonPacket = {
    time: iso,
    tsNs: pkt.tsNs.toString(),
    ifIndex: pkt.ifIndex,
    ...(iface.name !== undefined ? { ifName: iface.name } : {}),
    caplen: pkt.data.length,
    wirelen: pkt.wirelen,
    ...(pkt.direction ? { direction: pkt.direction } : {}),
    ...(pkt.verdict ? { verdict: { ...pkt.verdict, name: verdictName(pkt.verdict) } } : {}),
    ...(pkt.comment !== undefined ? { comment: pkt.comment } : {}),
    summary: summarize(pkt.data, pkt.wirelen, iface.linktype, false).summary,
    data: pkt.data.toString('hex'),
  };
  return JSON.stringify(record);
}
