// The world of the interface-capture tests: namespace `cap` holds v0 (the
// capture interface, 198.51.100.1/24), namespace `peer` holds its veth peer
// v1. Frames injected out of v1 arrive at v0's ingress; frames injected out
// of v0 leave through its egress. tcpdump runs inside `cap` on v0 as the
// reference, at the same time as netcap, on the same traffic.
import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import { World, type Namespace } from '../../../lab/netns';
import { ETH_P_IP, ethernetFrame, ipv4Packet, tcpFrame, udpFrame } from '../../../lab/frames';
import { parseCapture } from '../../../src/output/read-capture';
import type { CapturedPacket } from '../../../src/output/packet';
import { arpRequestFrame, ipv4FragmentFrame, ipv6UdpFrame } from '../../probes/skb-frames';

export const CAP_MAC = '02:00:00:00:17:01';
export const PEER_MAC = '02:00:00:00:17:02';
export const CAP_IP = '198.51.100.1';
export const PEER_IP = '198.51.100.2';
export const PREFIX = 24;

export interface IfaceLab {
  world: World;
  cap: Namespace;
  peer: Namespace;
  /** v0's ifindex in `cap`. */
  ifindex: number;
}

export function makeIfaceLab(purpose: string): IfaceLab {
  const world = new World(purpose);
  const cap = world.addNamespace(`${purpose}-cap`);
  const peer = world.addNamespace(`${purpose}-peer`);
  cap.addVeth('v0', 'v1', { peerIn: peer, local: { mac: CAP_MAC, address: `${CAP_IP}/${PREFIX}` }, peer: { mac: PEER_MAC, address: `${PEER_IP}/${PREFIX}` } });
  return { world, cap, peer, ifindex: cap.ifindex('v0') };
}

/** An 802.1Q/802.1ad tag (TPID, TCI) inserted after the MAC addresses. */
export function tagged(frame: Buffer, tpid: number, tci: number): Buffer {
  const tag = Buffer.alloc(4);
  tag.writeUInt16BE(tpid, 0);
  tag.writeUInt16BE(tci, 2);
  return Buffer.concat([frame.subarray(0, 12), tag, frame.subarray(12)]);
}

/**
 * Frames of every kind the filters tell apart, from `src` to `dst` (MAC,
 * IPv4): unicast, broadcast and multicast, UDP/TCP/ICMP/ARP/IPv6, large and
 * minimal, VLAN-tagged (with priority bits, vid 0, 802.1ad over 802.1Q),
 * other EtherTypes, fragments. None is addressed to a local IPv4 address
 * the kernel would answer, so the only traffic is what the test sends.
 */
export function corpusFrames(src: { mac: string; ip: string }, dst: { mac: string }): Buffer[] {
  const away = '203.0.113.7';
  const u = (f: Parameters<typeof udpFrame>[0]) => udpFrame({ srcMac: src.mac, dstMac: dst.mac, srcIp: src.ip, dstIp: away, ...f });
  const t = (f: Parameters<typeof tcpFrame>[0]) => tcpFrame({ srcMac: src.mac, dstMac: dst.mac, srcIp: src.ip, dstIp: away, ...f });
  const icmp = Buffer.alloc(32, 0x69);
  icmp[0] = 8; // echo request (checksum left 0: only filters look at it)
  icmp[1] = 0;
  icmp.writeUInt16BE(0, 2);
  const icmpEcho = ethernetFrame({ dst: dst.mac, src: src.mac, type: ETH_P_IP, payload: ipv4Packet({ src: src.ip, dst: away, protocol: 1, payload: icmp }) });
  const base80 = u({ dstPort: 80 });
  return [
    u({ dstPort: 53 }),
    base80,
    u({ dstPort: 9, payload: Buffer.alloc(1400, 0x5a) }),
    u({ dstMac: 'ff:ff:ff:ff:ff:ff', dstIp: '198.51.100.255', dstPort: 67 }),
    u({ dstMac: 'ff:ff:ff:ff:ff:ff', dstIp: '255.255.255.255', dstPort: 68 }),
    u({ dstIp: '198.51.100.0', dstPort: 7 }),
    u({ dstIp: '192.0.2.255', dstPort: 7 }),
    u({ dstMac: '01:00:5e:00:00:fb', dstIp: '224.0.0.251', dstPort: 5353 }),
    u({ dstMac: '02:00:00:00:99:99', dstPort: 1234 }),
    t({ dstPort: 80, flags: 0x02 }),
    t({ dstPort: 80, flags: 0x18, payload: Buffer.alloc(200, 0x01) }),
    t({ dstPort: 443, flags: 0x18, payload: Buffer.alloc(500, 0x17) }),
    t({ srcPort: 1500, dstPort: 1999, flags: 0x10 }),
    icmpEcho,
    arpRequestFrame(src.mac, src.ip, '198.51.100.77'),
    ipv6UdpFrame(dst.mac, 53),
    ipv4FragmentFrame(dst.mac, 0, true),
    tagged(base80, 0x8100, 100),
    tagged(t({ dstPort: 80, flags: 0x18, payload: Buffer.alloc(120, 0x02) }), 0x8100, 0xa064),
    tagged(u({ dstPort: 53 }), 0x8100, 200),
    tagged(arpRequestFrame(src.mac, src.ip, '198.51.100.78'), 0x8100, 300),
    tagged(tagged(u({ dstPort: 80 }), 0x8100, 200), 0x88a8, 100),
    tagged(u({ dstPort: 4000 }), 0x8100, 0x2000),
    ethernetFrame({ dst: dst.mac, src: src.mac, type: 0x88b5, payload: Buffer.from('netcap other ethertype') }),
  ];
}

/** 48 expressions: every kind of test libpcap has, and the ones with a live capture's meaning. */
export function corpusExpressions(ifindex: number): string[] {
  return [
    '', 'udp', 'tcp', 'icmp', 'arp', 'ip6', 'not ip', 'port 80', 'tcp port 80', 'udp port 53',
    'dst port 80 or dst port 443', 'portrange 1000-2000', 'host 203.0.113.7', `src host ${PEER_IP}`, 'net 198.51.100.0/24',
    'ether broadcast', 'ether multicast', 'ip broadcast', 'ip multicast', `ether src ${PEER_MAC}`, `ether dst ${CAP_MAC}`,
    'inbound', 'outbound', 'inbound and udp', 'outbound and tcp port 80', 'not inbound',
    'vlan', 'vlan 100', 'vlan 200', 'vlan 0', 'not vlan', 'vlan 100 and udp', 'vlan and tcp port 80', 'vlan 100 or vlan 300',
    'vlan and vlan 200', 'vlan and arp', 'inbound and vlan 100', 'outbound and vlan', `ifindex ${ifindex}`,
    'greater 500', 'less 100', 'ip[8] = 64', 'tcp[tcpflags] & tcp-syn != 0', 'tcp[100] = 1', 'udp[8:4] = 0x5a5a5a5a',
    'ip[6:2] & 0x3fff != 0', 'ether proto 0x88b5', 'tcp port 80 and (((ip[2:2] - ((ip[0]&0xf)<<2)) - ((tcp[12]&0xf0)>>2)) != 0)',
  ];
}

/**
 * What tcpdump runs for the same meaning. tcpdump 4.99 compiles `ip
 * broadcast` with a netmask of 0 on live captures (and with -f a byte-swapped
 * one, see filter.test.ts); pcap-filter(7)'s meaning, with v0's /24, is
 * "the last byte of the destination is 0 or 255", written out.
 */
export function tcpdumpEquivalent(expression: string): string {
  return expression === 'ip broadcast' ? 'ip and (ip[19] = 0 or ip[19] = 255)' : expression;
}

/** A running tcpdump inside a namespace, writing a pcap file. */
export interface Tcpdump {
  child: ChildProcess;
  /** Packets in its file so far. */
  written(): number;
  /**
   * Waits until its file holds `count` packets (or `timeoutMs` passed), then
   * SIGINT, waits for it to exit and reads its file. tcpdump leaves what it
   * has not read from its ring when SIGINT stops its loop: on a busy machine
   * that is the last packets, so a stop must wait for them.
   */
  stop(count?: number, timeoutMs?: number): Promise<CapturedPacket[]>;
}

function packetsIn(file: string): number {
  try {
    return parseCapture(fs.readFileSync(file)).packets.length;
  } catch {
    return 0;
  }
}

/**
 * `tcpdump -i IFACE ARGS -w FILE` in `ns` (a ring of `bufferKiB`), in immediate mode (packets reach
 * the file as they arrive: TPACKET_V3 blocks would otherwise keep the last
 * ones until a timeout that SIGINT cuts short); resolves once it listens.
 */
export async function startTcpdump(ns: Namespace, ifname: string, args: string[], file: string, bufferKiB = 1024): Promise<Tcpdump> {
  const child = ns.spawn(['tcpdump', '-i', ifname, '--immediate-mode', '-U', '-B', String(bufferKiB), '-w', file, ...args]);
  let err = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (s: string) => (err += s));
  child.stdout?.resume();
  const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
  const deadline = Date.now() + 20_000;
  while (!/listening on/.test(err)) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`tcpdump ${args.join(' ')} did not start: ${err}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return {
    child,
    written: () => packetsIn(file),
    stop: async (count = 0, timeoutMs = 10_000) => {
      const until = Date.now() + timeoutMs;
      while (packetsIn(file) < count && Date.now() < until && child.exitCode === null) await new Promise((r) => setTimeout(r, 50));
      child.kill('SIGINT');
      await closed;
      return parseCapture(fs.readFileSync(file)).packets;
    },
  };
}

/** Packets as comparable text: hex bytes and the wire length. */
export function packetKeys(packets: readonly { data: Buffer; wirelen: number }[]): string[] {
  return packets.map((p) => `${p.data.toString('hex')}/${p.wirelen}`);
}

/**
 * A UDP socket in `ns` bound to `ip`:`port` that counts the datagrams the
 * stack hands it: proof that frames passed the TC ingress hook (an AF_PACKET
 * receiver on the device sees them before TC ingress runs).
 */
export async function udpCounter(ns: Namespace, ip: string, port: number): Promise<{ count(): Promise<number> }> {
  const child = ns.spawn([process.execPath, '-e', `const s = require('dgram').createSocket('udp4'); let n = 0; s.on('message', () => n++); process.on('SIGTERM', () => { console.log('count ' + n); process.exit(0); }); s.bind(${port}, '${ip}', () => console.log('ready'));`]);
  let out = '';
  child.stdout?.setEncoding('utf8');
  child.stdout?.on('data', (s: string) => (out += s));
  const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
  const deadline = Date.now() + 10_000;
  while (!out.includes('ready')) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`the UDP counter on ${ip}:${port} did not start`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return {
    count: async () => {
      await new Promise((r) => setTimeout(r, 200));
      child.kill('SIGTERM');
      await closed;
      return Number(/count (\d+)/.exec(out)?.[1] ?? NaN);
    },
  };
}
