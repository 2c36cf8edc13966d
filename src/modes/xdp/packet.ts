// The packet `netcap xdp` writes for a record: as captured, inbound (XDP
// runs on receive), with its XDP verdict when the point knows it.
import type { PacketRecord } from '../../capture/record';
import type { CapturedPacket } from '../../output/packet';

export function xdpPacket(rec: PacketRecord, tsNs: bigint, comment: string, action: number | undefined): CapturedPacket {
  return {
    ifIndex: rec.point,
    tsNs,
    data: rec.data,
    wirelen: rec.wirelen,
    comment,
    direction: 'in',
    ...(action !== undefined ? { verdict: { type: 'xdp' as const, value: action } } : {}),
  };
}
