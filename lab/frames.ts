// Builders for the Ethernet frames tests inject: plain Ethernet, IPv4/UDP and
// IPv4/TCP with correct checksums (so the kernel and tcpdump accept them), and
// the world's own marker frames used to probe whether a datapath forwards.
import { randomBytes } from 'node:crypto';

export const ETH_P_IP = 0x0800;
/** IEEE 802 "local experimental" EtherType: never produced by the kernel. */
export const ETH_P_WORLD_PROBE = 0x88b5;

function macBytes(mac: string): Buffer {
  const parts = mac.split(':');
  if (parts.length !== 6) throw new Error(`bad MAC address "${mac}"`);
  return Buffer.from(parts.map((p) => parseInt(p, 16)));
}

function ipv4Bytes(ip: string): Buffer {
  const parts = ip.split('.').map(Number);
  if (parts.length !== 4 || parts.some((p) => !(p >= 0 && p <= 255))) throw new Error(`bad IPv4 address "${ip}"`);
  return Buffer.from(parts);
}

/** The ones'-complement sum of 16-bit words (RFC 1071), folded, not inverted. */
function onesSum(buf: Buffer, sum = 0): number {
  for (let i = 0; i + 1 < buf.length; i += 2) sum += buf.readUInt16BE(i);
  if (buf.length % 2) sum += buf[buf.length - 1] << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return sum;
}

export interface EthernetFields {
  dst?: string;
  src?: string;
  type: number;
  payload: Buffer;
}

/** dst, src, EtherType, payload; padded to the 60-byte Ethernet minimum like a NIC would. */
export function ethernetFrame(f: EthernetFields): Buffer {
  const hdr = Buffer.alloc(14);
  macBytes(f.dst ?? 'ff:ff:ff:ff:ff:ff').copy(hdr, 0);
  macBytes(f.src ?? '02:00:00:00:00:01').copy(hdr, 6);
  hdr.writeUInt16BE(f.type, 12);
  const frame = Buffer.concat([hdr, f.payload]);
  return frame.length >= 60 ? frame : Buffer.concat([frame, Buffer.alloc(60 - frame.length)]);
}

export interface Ipv4Fields {
  src: string;
  dst: string;
  protocol: number;
  payload: Buffer;
  ttl?: number;
  id?: number;
}

export function ipv4Packet(f: Ipv4Fields): Buffer {
  const hdr = Buffer.alloc(20);
  hdr[0] = 0x45;
  hdr.writeUInt16BE(20 + f.payload.length, 2);
  hdr.writeUInt16BE(f.id ?? 1, 4);
  hdr.writeUInt16BE(0x4000, 6); // don't fragment: the af_packet PMD defragments fragments away
  hdr[8] = f.ttl ?? 64;
  hdr[9] = f.protocol;
  ipv4Bytes(f.src).copy(hdr, 12);
  ipv4Bytes(f.dst).copy(hdr, 16);
  hdr.writeUInt16BE(~onesSum(hdr) & 0xffff, 10);
  return Buffer.concat([hdr, f.payload]);
}

function pseudoHeaderSum(src: string, dst: string, protocol: number, length: number): number {
  const ph = Buffer.alloc(12);
  ipv4Bytes(src).copy(ph, 0);
  ipv4Bytes(dst).copy(ph, 4);
  ph[9] = protocol;
  ph.writeUInt16BE(length, 10);
  return onesSum(ph);
}

export interface UdpFrameFields {
  srcMac?: string;
  dstMac?: string;
  srcIp?: string;
  dstIp?: string;
  srcPort?: number;
  dstPort?: number;
  payload?: Buffer;
}

/** An Ethernet/IPv4/UDP frame with valid IP and UDP checksums. */
export function udpFrame(f: UdpFrameFields = {}): Buffer {
  const srcIp = f.srcIp ?? '192.0.2.1';
  const dstIp = f.dstIp ?? '192.0.2.2';
  const payload = f.payload ?? Buffer.from('netcap test');
  const udp = Buffer.alloc(8);
  udp.writeUInt16BE(f.srcPort ?? 40000, 0);
  udp.writeUInt16BE(f.dstPort ?? 9, 2);
  udp.writeUInt16BE(8 + payload.length, 4);
  const seg = Buffer.concat([udp, payload]);
  const sum = ~onesSum(seg, pseudoHeaderSum(srcIp, dstIp, 17, seg.length)) & 0xffff;
  seg.writeUInt16BE(sum === 0 ? 0xffff : sum, 6);
  return ethernetFrame({ dst: f.dstMac, src: f.srcMac, type: ETH_P_IP, payload: ipv4Packet({ src: srcIp, dst: dstIp, protocol: 17, payload: seg }) });
}

export interface TcpFrameFields extends Omit<UdpFrameFields, 'payload'> {
  payload?: Buffer;
  /** TCP flag bits (0x02 SYN, 0x10 ACK, 0x18 PSH|ACK...). */
  flags?: number;
  seq?: number;
  ack?: number;
}

/** An Ethernet/IPv4/TCP frame (20-byte header, no options) with valid checksums. */
export function tcpFrame(f: TcpFrameFields = {}): Buffer {
  const srcIp = f.srcIp ?? '192.0.2.1';
  const dstIp = f.dstIp ?? '192.0.2.2';
  const payload = f.payload ?? Buffer.alloc(0);
  const tcp = Buffer.alloc(20);
  tcp.writeUInt16BE(f.srcPort ?? 40000, 0);
  tcp.writeUInt16BE(f.dstPort ?? 80, 2);
  tcp.writeUInt32BE(f.seq ?? 1, 4);
  tcp.writeUInt32BE(f.ack ?? 0, 8);
  tcp[12] = 5 << 4;
  tcp[13] = f.flags ?? 0x02;
  tcp.writeUInt16BE(65535, 14);
  const seg = Buffer.concat([tcp, payload]);
  seg.writeUInt16BE(~onesSum(seg, pseudoHeaderSum(srcIp, dstIp, 6, seg.length)) & 0xffff, 16);
  return ethernetFrame({ dst: f.dstMac, src: f.srcMac, type: ETH_P_IP, payload: ipv4Packet({ src: srcIp, dst: dstIp, protocol: 6, payload: seg }) });
}

/**
 * A marker frame: EtherType 0x88b5, "NCPROBE", a per-run random tag and a
 * sequence number. Used to check a datapath forwards without touching IP.
 */
export function probeFrame(tag: Buffer, seq: number): Buffer {
  const payload = Buffer.alloc(7 + tag.length + 4);
  payload.write('NCPROBE', 0, 'latin1');
  tag.copy(payload, 7);
  payload.writeUInt32BE(seq, 7 + tag.length);
  return ethernetFrame({ dst: '02:00:00:00:00:ff', src: '02:00:00:00:00:fe', type: ETH_P_WORLD_PROBE, payload });
}

/** The sequence number of a probe frame carrying `tag`, or undefined for any other frame. */
export function probeSeq(frame: Buffer, tag: Buffer): number | undefined {
  if (frame.length < 14 + 7 + tag.length + 4 || frame.readUInt16BE(12) !== ETH_P_WORLD_PROBE) return undefined;
  if (frame.toString('latin1', 14, 21) !== 'NCPROBE' || !frame.subarray(21, 21 + tag.length).equals(tag)) return undefined;
  return frame.readUInt32BE(21 + tag.length);
}

/** True for any world probe frame (whatever its tag): tests skip these. */
export function isProbeFrame(frame: Buffer): boolean {
  return frame.length >= 21 && frame.readUInt16BE(12) === ETH_P_WORLD_PROBE && frame.toString('latin1', 14, 21) === 'NCPROBE';
}

export function newProbeTag(): Buffer {
  return randomBytes(8);
}
