// Protocol headers for hand-built packets, with correct checksums:
// Ethernet II, IPv4 (RFC 791), IPv6 (RFC 8200), UDP (RFC 768), TCP (RFC 9293,
// 20-byte header), ICMP echo (RFC 792) and ICMPv6 echo (RFC 4443). Checksums
// are RFC 1071 ones'-complement sums; UDP, TCP and ICMPv6 cover the
// pseudo-header of their IP version.
import * as net from 'node:net';

export const ETHERTYPE_IPV4 = 0x0800;
export const ETHERTYPE_IPV6 = 0x86dd;
export const IPPROTO_ICMP = 1;
export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;
export const IPPROTO_ICMPV6 = 58;

/** 4 or 16 bytes of an IPv4 or IPv6 address; undefined if `text` is neither. */
export function ipBytes(text: string): Buffer | undefined {
  const family = net.isIP(text);
  if (family === 4) return Buffer.from(text.split('.').map(Number));
  if (family !== 6) return undefined;
  // net.isIP accepted it: expand "::", and a trailing dotted IPv4 part.
  let words = text;
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(words);
  if (v4) {
    const b = text.slice(v4.index).split('.').map(Number);
    words = `${text.slice(0, v4.index)}${((b[0] << 8) | b[1]).toString(16)}:${((b[2] << 8) | b[3]).toString(16)}`;
  }
  const [head, tail] = words.includes('::') ? words.split('::') : [words, undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const all = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  const out = Buffer.alloc(16);
  all.forEach((w, i) => out.writeUInt16BE(parseInt(w, 16), i * 2));
  return out;
}

/** 6 bytes of "02:00:00:00:00:01"; undefined if it is not a MAC address. */
export function macBytes(text: string): Buffer | undefined {
  if (!/^[0-9a-fA-F]{1,2}(:[0-9a-fA-F]{1,2}){5}$/.test(text)) return undefined;
  return Buffer.from(text.split(':').map((p) => parseInt(p, 16)));
}

/** The RFC 1071 sum of `buf` added to `sum`, folded to 16 bits, not inverted. */
export function onesComplementSum(buf: Buffer, sum = 0): number {
  for (let i = 0; i + 1 < buf.length; i += 2) sum += buf.readUInt16BE(i);
  if (buf.length % 2) sum += buf[buf.length - 1] << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return sum;
}

function checksum(buf: Buffer, sum = 0): number {
  return ~onesComplementSum(buf, sum) & 0xffff;
}

/** The pseudo-header's sum for a transport checksum (RFC 768 for IPv4, RFC 8200 8.1 for IPv6). */
function pseudoHeaderSum(src: Buffer, dst: Buffer, protocol: number, length: number): number {
  const ph = Buffer.alloc(src.length === 4 ? 12 : 40);
  src.copy(ph, 0);
  dst.copy(ph, src.length);
  if (src.length === 4) {
    ph[9] = protocol;
    ph.writeUInt16BE(length, 10);
  } else {
    ph.writeUInt32BE(length, 32);
    ph[39] = protocol;
  }
  return onesComplementSum(ph);
}

export function ethernetHeader(dst: Buffer, src: Buffer, ethertype: number): Buffer {
  const h = Buffer.alloc(14);
  dst.copy(h, 0);
  src.copy(h, 6);
  h.writeUInt16BE(ethertype, 12);
  return h;
}

export interface IpFields {
  src: Buffer;
  dst: Buffer;
  protocol: number;
  /** IPv4 TTL or IPv6 hop limit. */
  ttl: number;
  /** IPv4 identification. */
  id: number;
}

/** An IPv4 header (no options, don't fragment) or an IPv6 header, followed by `payload`. */
export function ipPacket(f: IpFields, payload: Buffer): Buffer {
  if (f.src.length === 4) {
    const h = Buffer.alloc(20);
    h[0] = 0x45;
    h.writeUInt16BE(20 + payload.length, 2);
    h.writeUInt16BE(f.id & 0xffff, 4);
    h.writeUInt16BE(0x4000, 6);
    h[8] = f.ttl;
    h[9] = f.protocol;
    f.src.copy(h, 12);
    f.dst.copy(h, 16);
    h.writeUInt16BE(checksum(h), 10);
    return Buffer.concat([h, payload]);
  }
  const h = Buffer.alloc(40);
  h.writeUInt32BE(0x60000000, 0);
  h.writeUInt16BE(payload.length, 4);
  h[6] = f.protocol;
  h[7] = f.ttl;
  f.src.copy(h, 8);
  f.dst.copy(h, 24);
  return Buffer.concat([h, payload]);
}

export function udpSegment(src: Buffer, dst: Buffer, sport: number, dport: number, payload: Buffer): Buffer {
  const seg = Buffer.concat([Buffer.alloc(8), payload]);
  seg.writeUInt16BE(sport, 0);
  seg.writeUInt16BE(dport, 2);
  seg.writeUInt16BE(seg.length, 4);
  const sum = checksum(seg, pseudoHeaderSum(src, dst, IPPROTO_UDP, seg.length));
  seg.writeUInt16BE(sum === 0 ? 0xffff : sum, 6); // 0 means "no checksum" in UDP over IPv4
  return seg;
}

export interface TcpFields {
  sport: number;
  dport: number;
  seq: number;
  ack: number;
  /** Flag bits: 0x01 FIN, 0x02 SYN, 0x04 RST, 0x08 PSH, 0x10 ACK, 0x20 URG. */
  flags: number;
}

export function tcpSegment(src: Buffer, dst: Buffer, f: TcpFields, payload: Buffer): Buffer {
  const seg = Buffer.concat([Buffer.alloc(20), payload]);
  seg.writeUInt16BE(f.sport, 0);
  seg.writeUInt16BE(f.dport, 2);
  seg.writeUInt32BE(f.seq >>> 0, 4);
  seg.writeUInt32BE(f.ack >>> 0, 8);
  seg[12] = 5 << 4;
  seg[13] = f.flags;
  seg.writeUInt16BE(65535, 14);
  seg.writeUInt16BE(checksum(seg, pseudoHeaderSum(src, dst, IPPROTO_TCP, seg.length)), 16);
  return seg;
}

/** An ICMP (IPv4) or ICMPv6 echo request or reply; ICMPv6's checksum covers the pseudo-header. */
export function icmpEcho(src: Buffer, dst: Buffer, reply: boolean, id: number, seq: number, payload: Buffer): Buffer {
  const v6 = src.length === 16;
  const msg = Buffer.concat([Buffer.alloc(8), payload]);
  msg[0] = v6 ? (reply ? 129 : 128) : reply ? 0 : 8;
  msg.writeUInt16BE(id & 0xffff, 4);
  msg.writeUInt16BE(seq & 0xffff, 6);
  msg.writeUInt16BE(checksum(msg, v6 ? pseudoHeaderSum(src, dst, IPPROTO_ICMPV6, msg.length) : 0), 2);
  return msg;
}
