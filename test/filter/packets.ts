// Deterministic generated frames for filter tests: Ethernet frames carrying
// the protocols the corpus asks about (IPv4 with options and fragments, IPv6
// with extension headers, TCP/UDP/ICMP/ICMPv6/SCTP, ARP/RARP, 802.1Q, QinQ,
// MPLS, PPPoE, Geneve, 802.3 + LLC), with addresses and ports biased towards
// the literals the corpus uses, plus truncated captures, runts and garbage.
// Same (count, seed) -> same packets, so a failure names a reproducible case.
import { expressions, refused, rejectsAll } from './corpus';

export interface GeneratedPacket {
  /** What the frame is, e.g. "eth/vlan100/ipv4-frag-first/udp 1024>53 trunc@37". */
  name: string;
  /** The captured bytes (caplen = data.length). */
  data: Buffer;
  /** Length on the wire (>= data.length). */
  wirelen: number;
}

/** A small, fast, seedable PRNG (mulberry32); Math.random is not reproducible. */
export class Random {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  /** Uniform in [0, 2^32). */
  u32(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }
  /** Uniform integer in [0, n). */
  below(n: number): number {
    return Math.floor((this.u32() / 0x100000000) * n);
  }
  chance(p: number): boolean {
    return this.u32() / 0x100000000 < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[this.below(items.length)];
  }
  bytes(n: number): Buffer {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = this.below(256);
    return b;
  }
}

/** Host, net, port, MAC, VLAN and MPLS literals taken from the corpus, so random frames hit them. */
interface Literals {
  ipv4: number[][];
  ipv6: Buffer[];
  macs: Buffer[];
  ports: number[];
  vlans: number[];
  mplsLabels: number[];
}

function corpusLiterals(): Literals {
  const text = [...expressions, ...refused, ...rejectsAll].join(' ');
  const ipv4: number[][] = [];
  // Dotted quads and the shorter network forms ("128.3", "192.168.1"): pad
  // with random bytes later.
  for (const m of text.matchAll(/(?<![\w:.])(\d{1,3}(?:\.\d{1,3}){1,3})(?![\w:.])/g)) {
    const parts = m[1].split('.').map(Number);
    if (parts.every((p) => p <= 255)) ipv4.push(parts);
  }
  const ipv6: Buffer[] = [];
  for (const m of text.matchAll(/\b([0-9a-f]{1,4}(?::[0-9a-f]{0,4}){2,7})(?:\/\d+)?/gi)) {
    const parsed = parseIpv6(m[1]);
    if (parsed) ipv6.push(parsed);
  }
  const macs: Buffer[] = [];
  for (const m of text.matchAll(/\b([0-9a-f]{1,2}(?::[0-9a-f]{1,2}){5})\b/gi)) {
    macs.push(Buffer.from(m[1].split(':').map((h) => parseInt(h, 16))));
  }
  const ports = new Set<number>([20, 21, 22, 53, 80, 443, 513, 6081, 8080]);
  for (const m of text.matchAll(/port (\d+)/g)) ports.add(Number(m[1]));
  for (const m of text.matchAll(/portrange (\d+)-(\d+)/g)) {
    for (const p of [Number(m[1]), Number(m[2])]) for (const d of [-1, 0, 1]) if (p + d >= 0 && p + d <= 65535) ports.add(p + d);
  }
  const vlans = new Set<number>([1]);
  for (const m of text.matchAll(/vlan (\d+)/g)) vlans.add(Number(m[1]));
  const mplsLabels = new Set<number>([0, 3]);
  for (const m of text.matchAll(/mpls (\d+)/g)) mplsLabels.add(Number(m[1]));
  return { ipv4, ipv6, macs, ports: [...ports], vlans: [...vlans], mplsLabels: [...mplsLabels] };
}

function parseIpv6(text: string): Buffer | undefined {
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const head = halves[0] ? halves[0].split(':') : [];
  const tail = halves.length === 2 && halves[1] ? halves[1].split(':') : [];
  const fill = 8 - head.length - tail.length;
  if (fill < 0 || (halves.length === 1 && fill !== 0)) return undefined;
  const groups = [...head, ...Array<string>(fill).fill('0'), ...tail];
  const out = Buffer.alloc(16);
  for (let i = 0; i < 8; i++) {
    const v = parseInt(groups[i] || '0', 16);
    if (Number.isNaN(v) || v > 0xffff) return undefined;
    out.writeUInt16BE(v, i * 2);
  }
  return out;
}

// EtherTypes and IP protocol numbers (IANA; the same values libpcap tests).
const ETH_IPV4 = 0x0800;
const ETH_ARP = 0x0806;
const ETH_RARP = 0x8035;
const ETH_VLAN = 0x8100;
const ETH_QINQ = 0x88a8;
const ETH_IPV6 = 0x86dd;
const ETH_MPLS = 0x8847;
const ETH_PPPOE_DISC = 0x8863;
const ETH_PPPOE_SESS = 0x8864;
const OTHER_ETHERTYPES = [0x6003, 0x809b, 0x80f3, 0x6004, 0x6001, 0x6002, 0x8137, 0x88cc, 0x9000, 0x0600, 0xffff];
const IPPROTO = { icmp: 1, tcp: 6, udp: 17, icmpv6: 58, sctp: 132, esp: 50, ah: 51, pim: 103, vrrp: 112, igmp: 2 };
const GENEVE_PORT = 6081;
const COMMON_PORTS = [20, 21, 22, 53, 80, 443];

class FrameBuilder {
  constructor(
    private readonly rng: Random,
    private readonly lit: Literals,
  ) {}

  ipv4(): Buffer {
    const r = this.rng;
    if (this.lit.ipv4.length && r.chance(0.6)) {
      const parts = r.pick(this.lit.ipv4);
      const out = Buffer.from([...parts, 0, 0, 0, 0].slice(0, 4));
      for (let i = parts.length; i < 4; i++) out[i] = r.chance(0.3) ? r.pick([0, 1, 255]) : r.below(256);
      return out;
    }
    if (r.chance(0.1)) return Buffer.from([r.pick([224, 239, 255]), r.below(256), r.below(256), r.pick([1, 255])]);
    return r.bytes(4);
  }

  ipv6(): Buffer {
    const r = this.rng;
    if (this.lit.ipv6.length && r.chance(0.5)) {
      const base = Buffer.from(r.pick(this.lit.ipv6));
      if (r.chance(0.3)) base[15] = r.below(256);
      return base;
    }
    if (r.chance(0.15)) return Buffer.concat([Buffer.from([0xff, r.pick([0x02, 0x05, 0x0e])]), r.bytes(14)]);
    return r.bytes(16);
  }

  mac(): Buffer {
    const r = this.rng;
    const roll = r.below(10);
    if (roll === 0) return Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
    if (roll === 1) return Buffer.from([0x01, 0x00, 0x5e, r.below(128), r.below(256), r.below(256)]);
    if (roll === 2) return Buffer.from([0x33, 0x33, 0, 0, 0, r.below(3)]);
    if (roll <= 4 && this.lit.macs.length) return Buffer.from(r.pick(this.lit.macs));
    const m = r.bytes(6);
    if (r.chance(0.7)) m[0] &= 0xfe; // mostly unicast
    return m;
  }

  port(): number {
    const r = this.rng;
    if (r.chance(0.35)) return r.pick(COMMON_PORTS);
    return r.chance(0.55) ? r.pick(this.lit.ports) : r.below(65536);
  }

  payload(): Buffer {
    const r = this.rng;
    const n = r.pick([0, 0, 1, 4, 12, 40, 100, 300, 600, 1400]) + r.below(8);
    return r.bytes(n);
  }

  tcp(): { bytes: Buffer; what: string } {
    const r = this.rng;
    const optionWords = r.chance(0.3) ? r.below(11) : 0;
    const h = Buffer.alloc(20 + optionWords * 4);
    const sport = this.port();
    const dport = this.port();
    h.writeUInt16BE(sport, 0);
    h.writeUInt16BE(dport, 2);
    h.writeUInt32BE(r.u32(), 4);
    h.writeUInt32BE(r.chance(0.3) ? 0 : r.u32(), 8);
    h[12] = ((5 + optionWords) << 4) | (r.chance(0.1) ? r.below(16) : 0);
    // Flag sets tcpdump users filter on, and random ones.
    h[13] = r.chance(0.7) ? r.pick([0x02, 0x12, 0x10, 0x18, 0x11, 0x04, 0x14, 0x01, 0x00, 0x29, 0xc2, 0x52]) : r.below(256);
    h.writeUInt16BE(r.below(65536), 14);
    for (let i = 20; i < h.length; i++) h[i] = r.chance(0.5) ? 1 : r.below(256);
    return { bytes: Buffer.concat([h, this.payload()]), what: `tcp ${sport}>${dport} [${h[13].toString(16)}]` };
  }

  udp(): { bytes: Buffer; what: string } {
    const r = this.rng;
    const sport = this.port();
    const dport = r.chance(0.05) ? GENEVE_PORT : this.port();
    let payload = this.payload();
    if (dport === GENEVE_PORT) payload = this.geneve();
    else if (r.chance(0.1)) payload = Buffer.concat([Buffer.from([0x12, 0x34, 0x56, 0x78, 0xde, 0xad, 0xbe, 0xef]), payload]);
    const h = Buffer.alloc(8);
    h.writeUInt16BE(sport, 0);
    h.writeUInt16BE(dport, 2);
    h.writeUInt16BE((8 + payload.length) & 0xffff, 4);
    return { bytes: Buffer.concat([h, payload]), what: `udp ${sport}>${dport}` };
  }

  /** Geneve (RFC 8926) header with a VNI, then an inner Ethernet frame. */
  geneve(): Buffer {
    const r = this.rng;
    const h = Buffer.alloc(8);
    h[0] = 0; // version 0, no options
    h.writeUInt16BE(0x6558, 2); // Transparent Ethernet Bridging
    const vni = r.chance(0.5) ? 0xb : r.below(1 << 24);
    h.writeUIntBE(vni, 4, 3);
    const inner = Buffer.concat([this.mac(), this.mac(), u16(ETH_IPV4), this.ipv4Packet(false).bytes]);
    return Buffer.concat([h, inner]);
  }

  icmp(): { bytes: Buffer; what: string } {
    const r = this.rng;
    const type = r.chance(0.8) ? r.pick([0, 3, 8, 11, 5, 13]) : r.below(256);
    const h = Buffer.concat([Buffer.from([type, r.chance(0.7) ? r.below(4) : r.below(256), 0, 0]), r.chance(0.2) ? Buffer.from([0x12, 0x34, 0, 1]) : r.bytes(4)]);
    return { bytes: Buffer.concat([h, this.payload()]), what: `icmp ${type}` };
  }

  icmp6(): { bytes: Buffer; what: string } {
    const r = this.rng;
    const type = r.chance(0.8) ? r.pick([128, 129, 133, 134, 135, 136, 1, 3]) : r.below(256);
    return { bytes: Buffer.concat([Buffer.from([type, 0, 0, 0]), r.bytes(4), this.payload()]), what: `icmp6 ${type}` };
  }

  l4(proto: number): { bytes: Buffer; what: string } {
    if (proto === IPPROTO.tcp) return this.tcp();
    if (proto === IPPROTO.udp) return this.udp();
    if (proto === IPPROTO.icmp) return this.icmp();
    if (proto === IPPROTO.icmpv6) return this.icmp6();
    if (proto === IPPROTO.sctp) {
      const h = Buffer.alloc(12);
      h.writeUInt16BE(this.port(), 0);
      h.writeUInt16BE(this.port(), 2);
      return { bytes: Buffer.concat([h, this.payload()]), what: 'sctp' };
    }
    return { bytes: this.payload(), what: `proto ${proto}` };
  }

  ipv4Packet(allowFragments = true): { bytes: Buffer; what: string } {
    const r = this.rng;
    const proto = r.chance(0.85) ? r.pick([IPPROTO.tcp, IPPROTO.tcp, IPPROTO.udp, IPPROTO.udp, IPPROTO.icmp, IPPROTO.sctp]) : r.pick([...Object.values(IPPROTO), r.below(256)]);
    const optionWords = r.chance(0.15) ? 1 + r.below(10) : 0;
    const h = Buffer.alloc(20 + optionWords * 4);
    h[0] = 0x40 | (5 + optionWords);
    if (r.chance(0.03)) h[0] = r.below(256); // wrong version/IHL
    h[1] = r.chance(0.2) ? 0xb8 : r.below(4) * 4;
    h.writeUInt16BE(r.u32() & 0xffff, 4);
    let frag = 'unfragmented';
    let fragField = r.chance(0.3) ? 0x4000 : 0;
    if (allowFragments && r.chance(0.2)) {
      const kind = r.pick(['first', 'middle', 'last'] as const);
      const offset = 1 + r.below(0x1fff);
      fragField = kind === 'first' ? 0x2000 : kind === 'middle' ? 0x2000 | offset : offset;
      frag = `frag-${kind}`;
    }
    h.writeUInt16BE(fragField, 6);
    h[8] = r.pick([1, 2, 4, 64, 128, 255]);
    h[9] = proto;
    this.ipv4().copy(h, 12);
    this.ipv4().copy(h, 16);
    for (let i = 20; i < h.length; i++) h[i] = r.chance(0.5) ? 1 : r.below(256);
    // A non-first fragment carries payload bytes, not a transport header.
    const body = frag === 'frag-middle' || frag === 'frag-last' ? { bytes: this.payload(), what: `proto ${proto} data` } : this.l4(proto);
    const total = h.length + body.bytes.length;
    h.writeUInt16BE(r.chance(0.05) ? r.below(65536) : total & 0xffff, 2);
    return { bytes: Buffer.concat([h, body.bytes]), what: `ipv4${optionWords ? `+opt${optionWords}` : ''} ${frag} ${body.what}` };
  }

  ipv6Packet(): { bytes: Buffer; what: string } {
    const r = this.rng;
    const proto = r.chance(0.85) ? r.pick([IPPROTO.tcp, IPPROTO.udp, IPPROTO.icmpv6, IPPROTO.icmpv6, IPPROTO.sctp]) : r.below(256);
    // Extension headers: hop-by-hop (0) must come first; routing (43),
    // destination options (60), fragment (44).
    const chain: number[] = [];
    if (r.chance(0.25)) {
      if (r.chance(0.5)) chain.push(0);
      for (const ext of [60, 43, 44]) if (r.chance(0.4)) chain.push(ext);
    }
    const l4 = this.l4(proto);
    const parts: Buffer[] = [];
    for (let i = 0; i < chain.length; i++) {
      const next = i + 1 < chain.length ? chain[i + 1] : proto;
      if (chain[i] === 44) {
        const f = Buffer.alloc(8);
        f[0] = next;
        f.writeUInt16BE(r.chance(0.5) ? 1 : (r.below(0x1fff) << 3) | r.below(2), 2);
        f.writeUInt32BE(r.u32(), 4);
        parts.push(f);
      } else {
        const lenUnits = r.below(3);
        const e = Buffer.alloc(8 + lenUnits * 8);
        e[0] = next;
        e[1] = lenUnits;
        for (let j = 2; j < e.length; j++) e[j] = r.below(256);
        parts.push(e);
      }
    }
    parts.push(l4.bytes);
    const payload = Buffer.concat(parts);
    const h = Buffer.alloc(40);
    h.writeUInt32BE((0x6 << 28) | r.below(1 << 28), 0);
    h.writeUInt16BE(payload.length & 0xffff, 4);
    h[6] = chain.length ? chain[0] : proto;
    h[7] = r.pick([1, 64, 255]);
    this.ipv6().copy(h, 8);
    this.ipv6().copy(h, 24);
    return { bytes: Buffer.concat([h, payload]), what: `ipv6${chain.map((c) => `+ext${c}`).join('')} ${l4.what}` };
  }

  arp(rarp: boolean): { bytes: Buffer; what: string } {
    const r = this.rng;
    const h = Buffer.alloc(28);
    h.writeUInt16BE(1, 0);
    h.writeUInt16BE(ETH_IPV4, 2);
    h[4] = 6;
    h[5] = 4;
    const op = rarp ? r.pick([3, 4]) : r.pick([1, 2, 1, 2, 3]);
    h.writeUInt16BE(op, 6);
    this.mac().copy(h, 8);
    this.ipv4().copy(h, 14);
    this.mac().copy(h, 18);
    this.ipv4().copy(h, 24);
    return { bytes: h, what: `${rarp ? 'rarp' : 'arp'} op${op}` };
  }

  /** 802.3 length field + LLC: STP, NetBEUI, ISO (CLNP, ES-IS, IS-IS), IPX, SNAP. */
  llc(): { bytes: Buffer; what: string } {
    const r = this.rng;
    const sap = r.pick([0x42, 0xf0, 0xfe, 0xe0, 0xaa, 0xff, 0x06, r.below(256)]);
    // Control: I-frame (bit0 = 0), S-frame (01: RR/RNR/REJ), U-frame (11: UI 0x03, SABME 0x6f, DISC 0x43, XID 0xaf, TEST 0xe3).
    const control = r.pick([0x03, 0x03, 0x00, 0x02, 0x01, 0x05, 0x09, 0x6f, 0x43, 0xaf, 0xe3, 0xbf, r.below(256)]);
    let body: Buffer;
    if (sap === 0xfe) body = Buffer.from([r.pick([0x81, 0x82, 0x83, r.below(256)]), 0x1b, 1, 0, r.pick([15, 16, 17, 18, 20, 24, 25, 26, 27, r.below(32)]), ...r.bytes(20)]);
    else if (sap === 0xaa) body = Buffer.concat([Buffer.from([0x08, 0x00, 0x07, 0x80, 0x9b]), r.bytes(20)]);
    else body = this.payload();
    const llc = Buffer.from([sap, r.chance(0.8) ? sap : r.below(256), control]);
    if (r.chance(0.1)) llc[0] = 0xff; // raw 802.3 IPX (Novell) starts 0xffff
    const all = Buffer.concat([llc, body]);
    return { bytes: all, what: `llc ${sap.toString(16)} ctl ${control.toString(16)}` };
  }

  /** One Ethernet frame (the headers after the MACs decide the rest). */
  frame(): { bytes: Buffer; what: string } {
    const r = this.rng;
    const dst = this.mac();
    const src = this.mac();
    const tags: Buffer[] = [];
    const names: string[] = [];
    const tagRoll = r.below(20);
    if (tagRoll < 3) {
      const vid = r.pick(this.lit.vlans);
      tags.push(u16(ETH_VLAN), u16((r.below(8) << 13) | vid));
      names.push(`vlan${vid}`);
    } else if (tagRoll < 5) {
      const outer = r.chance(0.5) ? ETH_QINQ : ETH_VLAN;
      const o = r.pick(this.lit.vlans);
      const i = r.pick(this.lit.vlans);
      tags.push(u16(outer), u16(o), u16(ETH_VLAN), u16(i));
      names.push(`${outer === ETH_QINQ ? 'qinq' : 'vlan'}${o}+vlan${i}`);
    }
    const kind = r.below(100);
    let type: number;
    let body: { bytes: Buffer; what: string };
    if (kind < 38) [type, body] = [ETH_IPV4, this.ipv4Packet()];
    else if (kind < 58) [type, body] = [ETH_IPV6, this.ipv6Packet()];
    else if (kind < 65) [type, body] = [ETH_ARP, this.arp(false)];
    else if (kind < 68) [type, body] = [ETH_RARP, this.arp(true)];
    else if (kind < 76) [type, body] = [ETH_MPLS, this.mpls()];
    else if (kind < 80) [type, body] = this.pppoe();
    else if (kind < 90) {
      body = this.llc();
      type = r.chance(0.9) ? body.bytes.length : r.below(1536);
    } else [type, body] = [r.pick(OTHER_ETHERTYPES), { bytes: this.payload(), what: 'other' }];
    const what = ['eth', ...names, `${type.toString(16)}`, body.what].join('/');
    return { bytes: Buffer.concat([dst, src, ...tags, u16(type), body.bytes]), what };
  }

  mpls(): { bytes: Buffer; what: string } {
    const r = this.rng;
    const depth = 1 + r.below(3);
    const labels: Buffer[] = [];
    const names: number[] = [];
    for (let i = 0; i < depth; i++) {
      const label = r.chance(0.6) ? r.pick(this.lit.mplsLabels) : r.below(1 << 20);
      const bottom = i === depth - 1 ? 1 : 0;
      labels.push(u32(((label << 12) | (r.below(8) << 9) | (bottom << 8) | 64) >>> 0));
      names.push(label);
    }
    const inner = r.chance(0.7) ? this.ipv4Packet() : r.chance(0.5) ? this.ipv6Packet() : { bytes: this.payload(), what: 'data' };
    return { bytes: Buffer.concat([...labels, inner.bytes]), what: `mpls${names.join('+')} ${inner.what}` };
  }

  pppoe(): [number, { bytes: Buffer; what: string }] {
    const r = this.rng;
    if (r.chance(0.3)) return [ETH_PPPOE_DISC, { bytes: Buffer.concat([Buffer.from([0x11, 0x09, 0, 0, 0, 4]), r.bytes(4)]), what: 'pppoed' }];
    const session = r.chance(0.5) ? 0x27 : r.below(65536);
    const ip = r.chance(0.7) ? this.ipv4Packet() : this.ipv6Packet();
    const pppProto = ip.what.startsWith('ipv4') ? 0x0021 : 0x0057;
    const h = Buffer.alloc(8);
    h[0] = 0x11;
    h.writeUInt16BE(session, 2);
    h.writeUInt16BE(ip.bytes.length + 2, 4);
    h.writeUInt16BE(pppProto, 6);
    return [ETH_PPPOE_SESS, { bytes: Buffer.concat([h, ip.bytes]), what: `pppoes${session} ${ip.what}` }];
  }
}

function u16(v: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(v & 0xffff);
  return b;
}

function u32(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(v >>> 0);
  return b;
}

/**
 * `count` frames from `seed`: about 85% well-formed frames (some captured
 * short of their wire length, some padded to Ethernet's 60-byte minimum),
 * the rest runts shorter than an Ethernet header and random garbage.
 */
export function generatePackets(count: number, seed: number): GeneratedPacket[] {
  const rng = new Random(seed);
  const builder = new FrameBuilder(rng, corpusLiterals());
  const out: GeneratedPacket[] = [];
  for (let i = 0; i < count; i++) {
    const roll = rng.below(100);
    if (roll < 4) {
      const data = rng.bytes(rng.below(14));
      out.push({ name: `#${i} runt ${data.length}`, data, wirelen: data.length });
      continue;
    }
    if (roll < 8) {
      const data = rng.bytes(14 + rng.below(200));
      out.push({ name: `#${i} garbage ${data.length}`, data, wirelen: data.length + (rng.chance(0.3) ? rng.below(100) : 0) });
      continue;
    }
    const frame = builder.frame();
    let full = frame.bytes;
    if (full.length < 60 && rng.chance(0.5)) full = Buffer.concat([full, Buffer.alloc(60 - full.length)]);
    let data = full;
    let name = `#${i} ${frame.what}`;
    if (rng.chance(0.15)) {
      // A capture cut short by the snap length, at any point (inside headers too).
      const caplen = rng.below(full.length);
      data = full.subarray(0, caplen);
      name += ` trunc@${caplen}`;
    }
    out.push({ name, data: Buffer.from(data), wirelen: full.length });
  }
  return out;
}
