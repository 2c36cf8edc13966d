// Frames the skb tests send beyond lab's UDP/TCP: IPv6, 802.1Q VLAN,
// IPv4 fragments and ARP, built byte by byte (the references judging them
// are libpcap and the kernel, not this file).
import { ethernetFrame, udpFrame, tcpFrame } from '../../lab/frames';

function mac(s: string): Buffer {
  return Buffer.from(s.split(':').map((x) => parseInt(x, 16)));
}

function ip4(s: string): Buffer {
  return Buffer.from(s.split('.').map(Number));
}

/** An IPv6/UDP frame (checksum left 0: only filters look at it). */
export function ipv6UdpFrame(dstMac: string, dstPort: number): Buffer {
  const payload = Buffer.from('netcap ipv6');
  const udp = Buffer.alloc(8);
  udp.writeUInt16BE(40000, 0);
  udp.writeUInt16BE(dstPort, 2);
  udp.writeUInt16BE(8 + payload.length, 4);
  const ip = Buffer.alloc(40);
  ip[0] = 0x60;
  ip.writeUInt16BE(8 + payload.length, 4);
  ip[6] = 17;
  ip[7] = 64;
  Buffer.from('20010db8000000000000000000000001', 'hex').copy(ip, 8);
  Buffer.from('20010db8000000000000000000000002', 'hex').copy(ip, 24);
  return ethernetFrame({ dst: dstMac, type: 0x86dd, payload: Buffer.concat([ip, udp, payload]) });
}

/** The UDP frame with an 802.1Q tag (VLAN `vid`) inserted after the MAC addresses. */
export function vlanFrame(dstMac: string, vid: number, dstPort: number): Buffer {
  const inner = udpFrame({ dstMac, dstPort });
  const tag = Buffer.alloc(4);
  tag.writeUInt16BE(0x8100, 0);
  tag.writeUInt16BE(vid, 2);
  return Buffer.concat([inner.subarray(0, 12), tag, inner.subarray(12)]);
}

/** An IPv4 fragment (more-fragments set, or a later fragment at `offset8` * 8 bytes). */
export function ipv4FragmentFrame(dstMac: string, offset8: number, more: boolean): Buffer {
  const f = udpFrame({ dstMac, dstPort: 5353, payload: Buffer.alloc(32, 0x61) });
  const ip = f.subarray(14);
  ip.writeUInt16BE((more ? 0x2000 : 0) | offset8, 6);
  ip.writeUInt16BE(0, 10);
  let sum = 0;
  for (let i = 0; i < 20; i += 2) sum += ip.readUInt16BE(i);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  ip.writeUInt16BE(~sum & 0xffff, 10);
  return f;
}

/** An ARP request for `targetIp`. */
export function arpRequestFrame(srcMac: string, srcIp: string, targetIp: string): Buffer {
  const arp = Buffer.alloc(28);
  arp.writeUInt16BE(1, 0);
  arp.writeUInt16BE(0x0800, 2);
  arp[4] = 6;
  arp[5] = 4;
  arp.writeUInt16BE(1, 6);
  mac(srcMac).copy(arp, 8);
  ip4(srcIp).copy(arp, 14);
  ip4(targetIp).copy(arp, 24);
  return ethernetFrame({ dst: 'ff:ff:ff:ff:ff:ff', src: srcMac, type: 0x0806, payload: arp });
}

/** A mix of every kind the capture tests send to `dstMac`, in a fixed order. */
export function mixedFrames(dstMac: string, srcMac: string): Buffer[] {
  return [
    udpFrame({ dstMac, srcMac, dstPort: 53 }),
    tcpFrame({ dstMac, srcMac, dstPort: 80 }),
    ipv6UdpFrame(dstMac, 53),
    vlanFrame(dstMac, 100, 53),
    ipv4FragmentFrame(dstMac, 0, true),
    ipv4FragmentFrame(dstMac, 8, false),
    arpRequestFrame(srcMac, '192.0.2.1', '192.0.2.2'),
    tcpFrame({ dstMac, srcMac, dstPort: 443, flags: 0x18, payload: Buffer.from('hello') }),
    udpFrame({ dstMac, srcMac, dstPort: 9999, payload: Buffer.alloc(300, 0x42) }),
  ];
}
