// The packet `netcap xdp` writes for a record, hook and direct capture
// alike: as captured, inbound (XDP runs on receive), with its XDP verdict
// when the point knows it (pcapng epb_verdict, JSON "verdict", and
// `action=` in the metadata text).
import type { PacketRecord } from '../../capture/record';
import type { ModePacket } from '../../capture/mode';
import { actionName } from './actions';

export function xdpPacket(rec: PacketRecord, point: string, action: number | undefined): ModePacket {
  const flags = [...(action !== undefined ? [`action=${actionName(action)}`] : []), ...(rec.readFailed ? ['truncated=read-error'] : [])];
  return {
    data: rec.data,
    wirelen: rec.wirelen,
    linktype: rec.linktype,
    direction: 'in',
    meta: { point, ifindex: rec.ifindex, cpu: rec.cpu, ...(flags.length ? { flags } : {}) },
    ...(action !== undefined ? { verdict: { type: 'xdp' as const, value: action } } : {}),
  };
}
