// The packet `netcap xdp` writes for a record, hook and direct capture
// alike: as captured, inbound (XDP runs on receive), with its XDP verdict
// when the point knows it (pcapng epb_verdict, JSON "verdict", and
// `action=` in the metadata text).
import type { PacketRecord } from '../../capture/record';
import type { ModePacket } from '../../capture/mode';
import type { PacketMeta } from '../../output/packet';
import { actionName } from './actions';

/** `where`: the point's name and the interface, as far as the mode knows them. */
export function xdpPacket(rec: PacketRecord, where: Pick<PacketMeta, 'point' | 'ifindex' | 'ifname'>, action: number | undefined): ModePacket {
  const flags = [...(action !== undefined ? [`action=${actionName(action)}`] : []), ...(rec.readFailed ? ['truncated=read-error'] : [])];
  return {
    data: rec.data,
    wirelen: rec.wirelen,
    linktype: rec.linktype,
    direction: 'in',
    meta: { ...where, cpu: rec.cpu, ...(flags.length ? { flags } : {}) },
    ...(action !== undefined ? { verdict: { type: 'xdp' as const, value: action } } : {}),
  };
}
