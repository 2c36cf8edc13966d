// The built-in one-line decoder (`--no-tcpdump`), close to tcpdump -nn's
// style for the protocols netcap users mostly look at: Ethernet, 802.1Q/ad
// tags, ARP, IPv4, IPv6, TCP, UDP, ICMP and ICMPv6. Anything else is named by
// its EtherType or protocol number. It never throws on malformed input: a
// header cut short prints as "[|proto]", as tcpdump does. It is stateless,
// so TCP sequence numbers are absolute (as tcpdump -S prints them; tcpdump
// alone makes them relative to the connection's first packet), and it does
// not decode application protocols.
import { formatIpv4, formatIpv6, formatMac } from './addresses';
import { hexdump } from './hexdump';
import type { CapturedPacket } from './packet';
import { LINKTYPE_ETHERNET, LINKTYPE_RAW } from './linktypes';

export interface TextDecoderOptions {
  /** Print the link-level header (tcpdump -e). */
  linkHeader?: boolean;
  /** Hex dump: 'x' (without link header), 'xx' (with), 'X'/'XX' (with ascii). */
  hex?: 'x' | 'xx' | 'X' | 'XX';
  /** Time zone for the time of day: local (tcpdump's default) or UTC. */
  utc?: boolean;
}

const ETHERTYPE_NAMES: Record<number, string> = { 0x0800: 'IPv4', 0x86dd: 'IPv6', 0x0806: 'ARP', 0x8035: 'Reverse ARP', 0x8100: '802.1Q', 0x88a8: '802.1Q-QinQ', 0x8847: 'MPLS unicast', 0x8863: 'PPPoE D', 0x8864: 'PPPoE S', 0x88cc: 'LLDP' };

/** One packet as text: time, summary, and the hex dump lines when asked. */
export function formatPacket(pkt: CapturedPacket, linktype: number, options: TextDecoderOptions = {}): string {
  const time = formatTime(pkt.tsNs, options.utc ?? false);
  const { summary, networkOffset } = summarize(pkt.data, pkt.wirelen, linktype, options.linkHeader ?? false);
  let text = `${time} ${summary}`;
  if (options.hex) {
    const withLink = options.hex === 'xx' || options.hex === 'XX';
    const bytes = withLink ? pkt.data : pkt.data.subarray(Math.min(networkOffset, pkt.data.length));
    if (bytes.length) text += '\n' + hexdump(bytes, options.hex === 'X' || options.hex === 'XX');
  }
  return text;
}

/** HH:MM:SS.micro, like tcpdump's default -t-less output. */
export function formatTime(tsNs: bigint, utc: boolean): string {
  const ms = Number(tsNs / 1_000_000n);
  const d = new Date(ms);
  const [h, m, s] = utc ? [d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds()] : [d.getHours(), d.getMinutes(), d.getSeconds()];
  const micro = (tsNs % 1_000_000_000n) / 1000n;
  return `${pad(h, 2)}:${pad(m, 2)}:${pad(s, 2)}.${micro.toString().padStart(6, '0')}`;
}

/** The text after the timestamp, and where the network header starts (for -x). */
export function summarize(data: Buffer, wirelen: number, linktype: number, linkHeader: boolean): { summary: string; networkOffset: number } {
  if (linktype === LINKTYPE_RAW) return { summary: network(data, 0, -1, wirelen), networkOffset: 0 };
  if (linktype !== LINKTYPE_ETHERNET) return { summary: `link-type ${linktype}, length ${wirelen}`, networkOffset: 0 };
  if (data.length < 14) return { summary: `[|ether] length ${wirelen}`, networkOffset: data.length };
  let at = 12;
  let type = data.readUInt16BE(at);
  const tags: string[] = [];
  while ((type === 0x8100 || type === 0x88a8 || type === 0x9100) && at + 6 <= data.length) {
    const tci = data.readUInt16BE(at + 2);
    tags.push(`vlan ${tci & 0xfff}, p ${tci >> 13}`);
    at += 4;
    type = data.readUInt16BE(at);
  }
  at += 2;
  // Like tcpdump, VLAN tags are shown only with the link-level header (-e).
  const prefix: string[] = [];
  if (linkHeader) {
    const outerType = data.readUInt16BE(12);
    prefix.push(`${formatMac(data, 6)} > ${formatMac(data, 0)}, ethertype ${etherTypeName(outerType)}, length ${wirelen}:`);
    if (tags.length) prefix.push(`${tags.join(', ')}, ethertype ${etherTypeName(type)},`);
  }
  let rest: string;
  if (type <= 1500) rest = `802.3, length ${type}: LLC`;
  else rest = network(data, at, type, wirelen);
  // With -e the EtherType is already printed, and tcpdump drops the
  // protocol word ("IP ", "IP6 ", "ARP, ") from the network part.
  if (linkHeader) rest = rest.replace(/^(IP6? |ARP, )/, '');
  return { summary: [...prefix, rest].join(' '), networkOffset: at };
}

function etherTypeName(type: number): string {
  const name = ETHERTYPE_NAMES[type];
  return `${name ?? 'Unknown'} (0x${type.toString(16).padStart(4, '0')})`;
}

/** Decodes from a network header; `type` is the EtherType, -1 for raw IP (version nibble decides). */
function network(data: Buffer, at: number, type: number, wirelen: number): string {
  if (type === -1) {
    if (at >= data.length) return `[|ip] length ${wirelen}`;
    type = data[at] >> 4 === 6 ? 0x86dd : 0x0800;
  }
  switch (type) {
    case 0x0800:
      return ipv4(data, at);
    case 0x86dd:
      return ipv6(data, at);
    case 0x0806:
    case 0x8035:
      return arp(data, at, wirelen);
    default:
      return `ethertype ${etherTypeName(type)}, length ${wirelen}`;
  }
}

function ipv4(data: Buffer, at: number): string {
  if (at + 20 > data.length) return 'IP [|ip]';
  const ihl = (data[at] & 0x0f) * 4;
  const total = data.readUInt16BE(at + 2);
  const fragField = data.readUInt16BE(at + 6);
  const offset = (fragField & 0x1fff) * 8;
  const proto = data[at + 9];
  const src = formatIpv4(data, at + 12);
  const dst = formatIpv4(data, at + 16);
  const payloadLength = Math.max(0, total - ihl);
  if (offset > 0) return `IP ${src} > ${dst}: ${protoName(proto)}`; // a later fragment: no transport header
  return transport('IP', src, dst, proto, data, at + ihl, payloadLength, false);
}

function ipv6(data: Buffer, at: number): string {
  if (at + 40 > data.length) return 'IP6 [|ip6]';
  const payloadLength = data.readUInt16BE(at + 4);
  let next = data[at + 6];
  const src = formatIpv6(data, at + 8);
  const dst = formatIpv6(data, at + 24);
  let off = at + 40;
  let remaining = payloadLength;
  // Walk extension headers (hop-by-hop 0, routing 43, fragment 44, dest options 60).
  for (let hops = 0; hops < 8 && [0, 43, 44, 60].includes(next); hops++) {
    if (off + 8 > data.length) return `IP6 ${src} > ${dst}: [|ip6ext]`;
    const len = next === 44 ? 8 : (data[off + 1] + 1) * 8;
    if (next === 44 && (data.readUInt16BE(off + 2) & 0xfff8) !== 0) return `IP6 ${src} > ${dst}: frag (${data.readUInt16BE(off + 2) & 0xfff8}|${remaining - 8})`;
    next = data[off];
    off += len;
    remaining -= len;
  }
  return transport('IP6', src, dst, next, data, off, Math.max(0, remaining), true);
}

function transport(family: string, src: string, dst: string, proto: number, data: Buffer, at: number, length: number, v6: boolean): string {
  switch (proto) {
    case 6: {
      if (at + 20 > data.length) return `${family} ${src} > ${dst}: [|tcp]`;
      const sport = data.readUInt16BE(at);
      const dport = data.readUInt16BE(at + 2);
      const seq = data.readUInt32BE(at + 4);
      const ack = data.readUInt32BE(at + 8);
      const hlen = (data[at + 12] >> 4) * 4;
      const flags = data[at + 13];
      const win = data.readUInt16BE(at + 14);
      const dataLength = Math.max(0, length - hlen);
      let text = `${family} ${src}.${sport} > ${dst}.${dport}: Flags [${tcpFlags(flags)}]`;
      if (dataLength > 0 || flags & 0x07) text += `, seq ${seq}${dataLength > 0 ? `:${(seq + dataLength) >>> 0}` : ''}`;
      if (flags & 0x10) text += `, ack ${ack}`;
      text += `, win ${win}`;
      if (flags & 0x20) text += `, urg ${data.readUInt16BE(at + 18)}`;
      if (hlen > 20) {
        const options = tcpOptions(data, at + 20, Math.min(at + hlen, data.length));
        text += `, options [${options.text}`;
        if (options.bad) return text; // tcpdump stops the line at a malformed option
        text += ']';
      }
      return `${text}, length ${dataLength}`;
    }
    case 17: {
      if (at + 8 > data.length) return `${family} ${src} > ${dst}: [|udp]`;
      const sport = data.readUInt16BE(at);
      const dport = data.readUInt16BE(at + 2);
      return `${family} ${src}.${sport} > ${dst}.${dport}: UDP, length ${Math.max(0, data.readUInt16BE(at + 4) - 8)}`;
    }
    case 1:
      if (!v6) return `${family} ${src} > ${dst}: ${icmp(data, at, length)}`;
      break;
    case 58:
      if (v6) return `${family} ${src} > ${dst}: ${icmp6(data, at, length)}`;
      break;
  }
  return `${family} ${src} > ${dst}: ${v6 ? `ip-proto-${proto} ${length}` : protoName(proto)}`;
}

const TCP_OPTION_NAMES: Record<number, string> = { 0: 'eol', 1: 'nop', 2: 'mss', 3: 'wscale', 4: 'sackOK', 5: 'sack', 8: 'TS' };

/**
 * TCP options in tcpdump's words (print-tcp.c): "mss 1460,sackOK,TS val 1
 * ecr 0,nop,wscale 7". A length below 2 or past the header is "[bad opt]",
 * after which tcpdump prints nothing more for the packet. Options other
 * than the common ones are named "unknown-N" (tcpdump knows more).
 */
export function tcpOptions(data: Buffer, start: number, end: number): { text: string; bad: boolean } {
  const parts: string[] = [];
  let at = start;
  while (at < end) {
    const kind = data[at];
    if (kind === 0 || kind === 1) {
      parts.push(TCP_OPTION_NAMES[kind]);
      at++;
      if (kind === 0) break;
      continue;
    }
    if (at + 1 >= end) return { text: parts.join(',') + (parts.length ? ',' : '') + '[bad opt]', bad: true };
    const len = data[at + 1];
    if (len < 2 || at + len > end) return { text: parts.join(',') + (parts.length ? ',' : '') + '[bad opt]', bad: true };
    const body = data.subarray(at + 2, at + len);
    const name = TCP_OPTION_NAMES[kind] ?? `unknown-${kind}`;
    let text = name;
    let used = body.length;
    if (kind === 2 && body.length >= 2) [text, used] = [`mss ${body.readUInt16BE(0)}`, 2];
    else if (kind === 3 && body.length >= 1) [text, used] = [`wscale ${body[0]}`, 1];
    else if (kind === 4) used = 0;
    else if (kind === 8 && body.length >= 8) [text, used] = [`TS val ${body.readUInt32BE(0)} ecr ${body.readUInt32BE(4)}`, 8];
    // tcpdump notes a length that disagrees with what the option needs.
    if (used + 2 !== len) text += `[len ${len}]`;
    parts.push(text);
    at += len;
  }
  return { text: parts.join(','), bad: false };
}

/** tcpdump's letters in bit order (F S R P . U E W), "none" when no flag is set. */
export function tcpFlags(flags: number): string {
  const letters = 'FSRP.UEW';
  let s = '';
  for (let bit = 0; bit < 8; bit++) if (flags & (1 << bit)) s += letters[bit];
  return s || 'none';
}

function icmp(data: Buffer, at: number, length: number): string {
  if (at + 4 > data.length) return 'ICMP [|icmp]';
  const type = data[at];
  if ((type === 8 || type === 0) && at + 8 <= data.length) {
    return `ICMP echo ${type === 8 ? 'request' : 'reply'}, id ${data.readUInt16BE(at + 4)}, seq ${data.readUInt16BE(at + 6)}, length ${length}`;
  }
  const names: Record<number, string> = { 3: 'unreachable', 11: 'time exceeded in-transit', 5: 'redirect', 13: 'time stamp query', 14: 'time stamp reply' };
  return `ICMP ${names[type] ?? `type-#${type}`}, length ${length}`;
}

function icmp6(data: Buffer, at: number, length: number): string {
  if (at + 4 > data.length) return 'ICMP6 [|icmp6]';
  const type = data[at];
  if ((type === 128 || type === 129) && at + 8 <= data.length) {
    return `ICMP6, echo ${type === 128 ? 'request' : 'reply'}, id ${data.readUInt16BE(at + 4)}, seq ${data.readUInt16BE(at + 6)}, length ${length}`;
  }
  const names: Record<number, string> = { 1: 'destination unreachable', 2: 'packet too big', 3: 'time exceeded in-transit', 133: 'router solicitation', 134: 'router advertisement', 135: 'neighbor solicitation', 136: 'neighbor advertisement' };
  return `ICMP6, ${names[type] ?? `unknown icmp6 type (${type})`}, length ${length}`;
}

function arp(data: Buffer, at: number, wirelen: number): string {
  // tcpdump prints RARP frames (EtherType 0x8035) as "ARP, Reverse ..." too.
  const name = 'ARP';
  if (at + 28 > data.length) return `${name}, [|arp]`;
  const op = data.readUInt16BE(at + 6);
  const senderMac = formatMac(data, at + 8);
  const senderIp = formatIpv4(data, at + 14);
  const targetMac = formatMac(data, at + 18);
  const targetIp = formatIpv4(data, at + 24);
  const length = wirelen - at;
  switch (op) {
    case 1:
      // tcpdump shows the target hardware address when it is not all zeros.
      return `${name}, Request who-has ${targetIp}${/[^0:]/.test(targetMac) ? ` (${targetMac})` : ''} tell ${senderIp}, length ${length}`;
    case 2:
      return `${name}, Reply ${senderIp} is-at ${senderMac}, length ${length}`;
    case 3:
      return `${name}, Reverse Request who-is ${targetMac} tell ${senderMac}, length ${length}`;
    case 4:
      return `${name}, Reverse Reply ${targetMac} at ${targetIp}, length ${length}`;
    default:
      return `${name}, op ${op}, length ${length}`;
  }
}

function protoName(proto: number): string {
  const names: Record<number, string> = { 1: 'ICMP', 2: 'IGMP', 6: 'tcp', 17: 'udp', 47: 'GREv0', 50: 'ESP', 51: 'AH', 103: 'PIM', 112: 'VRRP', 132: 'sctp' };
  return names[proto] ?? `ip-proto-${proto}`;
}

function pad(n: number, width: number): string {
  return n.toString().padStart(width, '0');
}
