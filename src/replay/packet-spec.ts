// Hand-built packets for --inject: a small spec on the command line,
//   icmp-echo,src=192.0.2.1,dst=192.0.2.2
//   udp,src=2001:db8::1,dst=2001:db8::2,dport=53,payload=hello,count=3,gap=10ms
//   tcp,dport=80,flags=SA,seq=1000
// or a JSON file holding one such object or an array of them
// ({"kind": "udp", "dport": 53, "payload": "hex:0102"}). The packets are
// built for the output's link type (an Ethernet header or raw IP), with
// correct IP, UDP, TCP and ICMP checksums.
import { UserError } from '../errors';
import { LINKTYPE_ETHERNET, LINKTYPE_RAW } from '../output/linktypes';
import { parseDurationNs } from './durations';
import {
  ETHERTYPE_IPV4,
  ETHERTYPE_IPV6,
  IPPROTO_ICMP,
  IPPROTO_ICMPV6,
  IPPROTO_TCP,
  IPPROTO_UDP,
  ethernetHeader,
  icmpEcho,
  ipBytes,
  ipPacket,
  macBytes,
  tcpSegment,
  udpSegment,
} from './headers';

export const PACKET_KINDS = ['udp', 'tcp', 'icmp-echo', 'icmp-reply'] as const;
export type PacketKind = (typeof PACKET_KINDS)[number];

const FIELDS = ['kind', 'src', 'dst', 'smac', 'dmac', 'sport', 'dport', 'ttl', 'id', 'seq', 'ack', 'flags', 'payload', 'size', 'count', 'gap'] as const;
type Field = (typeof FIELDS)[number];

/** One packet of a spec and its place after the injection's moment. */
export interface BuiltPacket {
  data: Buffer;
  /** ns after the injection's moment (count/gap spread copies out). */
  afterNs: number;
}

const TCP_FLAG_BITS: Record<string, number> = { F: 0x01, S: 0x02, R: 0x04, P: 0x08, A: 0x10, U: 0x20 };

/** Is `text` (before the @TIME) a packet spec rather than a file name? */
export function looksLikePacketSpec(text: string): boolean {
  return (PACKET_KINDS as readonly string[]).includes(text.split(',')[0]);
}

/** The packets of a command-line spec ("icmp-echo,src=...,dst=..."). */
export function packetsFromSpec(text: string, linktype: number): BuiltPacket[] {
  const [kind, ...pairs] = text.split(',');
  const fields: Partial<Record<Field, string>> = { kind };
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new UserError(`--inject ${text}: "${pair}" is not key=value`, `keys: ${FIELDS.slice(1).join(', ')}`);
    fields[checkField(pair.slice(0, eq), text)] = pair.slice(eq + 1);
  }
  return buildPackets(fields, text, linktype);
}

/** The packets of a JSON spec file's content: one object or an array of them, in order. */
export function packetsFromJson(json: unknown, name: string, linktype: number): BuiltPacket[] {
  const list = Array.isArray(json) ? json : [json];
  const out: BuiltPacket[] = [];
  let after = 0;
  for (const [i, item] of list.entries()) {
    const label = `${name} packet ${i + 1}`;
    if (typeof item !== 'object' || item === null || Array.isArray(item)) throw new UserError(`${label} is not an object`, 'write {"kind": "udp", "dst": "192.0.2.2", ...} or an array of such objects');
    const fields: Partial<Record<Field, string>> = {};
    for (const [k, v] of Object.entries(item as Record<string, unknown>)) {
      if (typeof v !== 'string' && typeof v !== 'number') throw new UserError(`${label}: "${k}" must be a string or a number`, `e.g. "dport": 53`);
      fields[checkField(k, label)] = String(v);
    }
    // Objects follow each other: each starts after the previous one's last copy.
    const built = buildPackets(fields, label, linktype);
    for (const p of built) out.push({ data: p.data, afterNs: after + p.afterNs });
    after += built[built.length - 1].afterNs;
  }
  return out;
}

function checkField(key: string, where: string): Field {
  if (!(FIELDS as readonly string[]).includes(key)) throw new UserError(`${where}: unknown key "${key}"`, `keys: ${FIELDS.join(', ')}`);
  return key as Field;
}

function buildPackets(f: Partial<Record<Field, string>>, where: string, linktype: number): BuiltPacket[] {
  const kind = f.kind as PacketKind;
  if (!(PACKET_KINDS as readonly string[]).includes(kind)) throw new UserError(`${where}: unknown packet kind "${f.kind ?? ''}"`, `kinds: ${PACKET_KINDS.join(', ')}`);
  if (linktype !== LINKTYPE_ETHERNET && linktype !== LINKTYPE_RAW) throw new UserError(`${where}: packets can be built for Ethernet or raw IP, not for link type ${linktype}`, 'inject a trace of that link type instead');
  const v6Default = (f.src !== undefined && f.src.includes(':')) || (f.dst !== undefined && f.dst.includes(':'));
  const src = address(f.src ?? (v6Default ? '2001:db8::1' : '192.0.2.1'), 'src', where);
  const dst = address(f.dst ?? (v6Default ? '2001:db8::2' : '192.0.2.2'), 'dst', where);
  if (src.length !== dst.length) throw new UserError(`${where}: src and dst are of different IP versions`, 'give two IPv4 or two IPv6 addresses');
  const count = integer(f, 'count', 1, 1, 1_000_000, where);
  const gapNs = f.gap === undefined ? 0 : parseDurationNs(f.gap, `${where}: gap`);
  const ttl = integer(f, 'ttl', 64, 0, 255, where);
  const id = integer(f, 'id', 1, 0, 0xffff, where);
  const seq = integer(f, 'seq', 1, 0, 0xffffffff, where);
  const payload = payloadBytes(f, where);
  const out: BuiltPacket[] = [];
  for (let i = 0; i < count; i++) {
    let protocol: number;
    let l4: Buffer;
    if (kind === 'udp') {
      protocol = IPPROTO_UDP;
      l4 = udpSegment(src, dst, integer(f, 'sport', 40000, 0, 0xffff, where), integer(f, 'dport', 9, 0, 0xffff, where), payload);
    } else if (kind === 'tcp') {
      protocol = IPPROTO_TCP;
      const fields = { sport: integer(f, 'sport', 40000, 0, 0xffff, where), dport: integer(f, 'dport', 80, 0, 0xffff, where), seq: seq + i * Math.max(1, payload.length), ack: integer(f, 'ack', 0, 0, 0xffffffff, where), flags: tcpFlags(f.flags, where) };
      l4 = tcpSegment(src, dst, fields, payload);
    } else {
      protocol = src.length === 4 ? IPPROTO_ICMP : IPPROTO_ICMPV6;
      l4 = icmpEcho(src, dst, kind === 'icmp-reply', id, seq + i, payload);
    }
    const ip = ipPacket({ src, dst, protocol, ttl, id: id + i }, l4);
    const data = linktype === LINKTYPE_RAW ? ip : Buffer.concat([ethernetHeader(mac(f.dmac ?? 'ff:ff:ff:ff:ff:ff', 'dmac', where), mac(f.smac ?? '02:00:00:00:00:01', 'smac', where), src.length === 4 ? ETHERTYPE_IPV4 : ETHERTYPE_IPV6), ip]);
    out.push({ data, afterNs: i * gapNs });
  }
  return out;
}

function address(text: string, key: string, where: string): Buffer {
  const b = ipBytes(text);
  if (!b) throw new UserError(`${where}: ${key}=${text} is not an IPv4 or IPv6 address`, `e.g. ${key}=192.0.2.1 or ${key}=2001:db8::1`);
  return b;
}

function mac(text: string, key: string, where: string): Buffer {
  const b = macBytes(text);
  if (!b) throw new UserError(`${where}: ${key}=${text} is not a MAC address`, `e.g. ${key}=02:00:00:00:00:01`);
  return b;
}

function integer(f: Partial<Record<Field, string>>, key: Field, fallback: number, min: number, max: number, where: string): number {
  const text = f[key];
  if (text === undefined) return fallback;
  const n = /^(0x[0-9a-fA-F]+|\d+)$/.test(text) ? Number(text) : NaN;
  if (!Number.isInteger(n) || n < min || n > max) throw new UserError(`${where}: ${key}=${text} is not a whole number from ${min} to ${max}`, `e.g. ${key}=${fallback}`);
  return n;
}

function tcpFlags(text: string | undefined, where: string): number {
  if (text === undefined) return TCP_FLAG_BITS.S;
  if (/^(0x[0-9a-fA-F]+|\d+)$/.test(text) && Number(text) <= 0xff) return Number(text);
  let bits = 0;
  for (const letter of text.toUpperCase()) {
    const bit = TCP_FLAG_BITS[letter];
    if (bit === undefined) throw new UserError(`${where}: flags=${text}: "${letter}" is no TCP flag`, 'letters F S R P A U (flags=SA is SYN+ACK), or a number');
    bits |= bit;
  }
  return bits;
}

/** payload=TEXT or payload=hex:0102..., padded with zeros to size=N. */
function payloadBytes(f: Partial<Record<Field, string>>, where: string): Buffer {
  let payload = Buffer.alloc(0);
  if (f.payload !== undefined) {
    if (f.payload.startsWith('hex:')) {
      const hex = f.payload.slice(4);
      if (!/^([0-9a-fA-F]{2})*$/.test(hex)) throw new UserError(`${where}: payload=${f.payload} is not hex bytes`, 'e.g. payload=hex:deadbeef');
      payload = Buffer.from(hex, 'hex');
    } else payload = Buffer.from(f.payload, 'utf8');
  }
  const size = integer(f, 'size', payload.length, 0, 65000, where);
  if (size < payload.length) throw new UserError(`${where}: size=${size} is smaller than the payload (${payload.length} bytes)`, 'leave size out, or make it at least the payload length');
  return size > payload.length ? Buffer.concat([payload, Buffer.alloc(size - payload.length)]) : payload;
}
