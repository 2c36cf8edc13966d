// The sk_buff probe on the real kernel: frames injected through AF_PACKET
// into a veth pair inside a namespace made here are captured at
// net:netif_receive_skb exactly as libpcap's filter selects them; drops
// show at skb:kfree_skb with the kernel's reason and stack; gather mode
// follows one skb across two points.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { closeAll } from '../../src/bpf/registry';
import { skipReason } from '../../src/bpf/features';
import { compileCbpf, libpcapFilter } from '../../src/filter/libpcap';
import { kernelDropReasons } from '../../src/kernel/drop-reasons';
import { kernelSymbols } from '../../src/kernel/kallsyms';
import { resolveSkbPoints } from '../../src/modes/skb/points';
import { LINKTYPE_ETHERNET, LINKTYPE_RAW } from '../../src/output/linktypes';
import { World, type Namespace } from '../../lab/netns';
import { inject } from '../../lab/inject';
import { udpFrame } from '../../lab/frames';
import { CollectedCapture, netnsInode } from './skb-harness';
import { mixedFrames, vlanFrame } from './skb-frames';
import { contentKey } from '../../src/modes/skb/gather';

const world = new World('skb');
let ns: Namespace;
const SENDER_MAC = '02:00:00:00:5a:01';
const RECEIVER_MAC = '02:00:00:00:5a:02';
const captures: CollectedCapture[] = [];

before(() => {
  ns = world.addNamespace();
  ns.addVeth('v0', 'v1', { local: { mac: SENDER_MAC }, peer: { mac: RECEIVER_MAC, address: '192.0.2.2/24' } });
});

after(async () => {
  for (const c of captures) c.close();
  closeAll();
  await world.destroy();
});

function open(points: string, expression: string, extra: { stacks?: boolean; gather?: boolean; byContent?: number; iface?: boolean } = {}): CollectedCapture {
  const c = new CollectedCapture({
    points: resolveSkbPoints(points),
    expression,
    snaplen: 262144,
    stacks: extra.stacks,
    gather: extra.gather,
    gatherByContent: extra.byContent,
    iface: extra.iface === false ? undefined : { ifindex: ns.ifindex('v1'), netnsInode: netnsInode(ns) },
  });
  captures.push(c);
  return c;
}

for (const expression of ['', 'udp', 'tcp port 80 or arp', 'vlan 100', 'ip6', 'ip[6:2] & 0x3fff != 0', 'greater 200', 'ether dst 02:00:00:00:5a:02 and not arp']) {
  void test(`netif_receive_skb with -i captures what libpcap selects: "${expression}"`, async () => {
    const frames = mixedFrames(RECEIVER_MAC, SENDER_MAC);
    const prog = compileCbpf(expression, { linktype: 'EN10MB', snaplen: 262144 });
    const expected = frames.filter((f) => libpcapFilter(prog, f, f.length) > 0);
    const c = open('tracepoint:net:netif_receive_skb', expression);
    try {
      assert.equal(await inject(ns, 'v0', frames), frames.length);
      const got = await c.waitFor(expected.length);
      // Give stragglers a moment: more records than expected is a failure too.
      await new Promise((r) => setTimeout(r, 100));
      await c.waitFor(expected.length);
      assert.deepEqual(c.records.map((r) => r.data.toString('hex')), expected.map((f) => f.toString('hex')));
      for (const r of got) {
        assert.equal(r.linktype, LINKTYPE_ETHERNET);
        assert.equal(r.wirelen, r.data.length);
        assert.equal(r.ifindex, ns.ifindex('v1'));
        assert.equal(r.netns, netnsInode(ns));
        assert.notEqual(r.addr, 0n);
      }
      assert.equal(c.counter(0, 1), BigInt(expected.length), 'matched counter');
      assert.equal(c.counter(0, 0), BigInt(frames.length), 'seen: every frame on v1, nothing else');
    } finally {
      c.close();
    }
  });
}

void test('-i names the interface by ifindex AND namespace: the same ifindex elsewhere is not captured', async () => {
  const c = new CollectedCapture({
    points: resolveSkbPoints('tracepoint:net:netif_receive_skb'),
    expression: 'udp port 7008',
    snaplen: 262144,
    // The right ifindex, but the namespace netcap runs in (not the test's).
    iface: { ifindex: ns.ifindex('v1'), netnsInode: fs.statSync('/proc/self/ns/net').ino },
  });
  captures.push(c);
  // The same frame through the right pair: it did pass the tracepoint.
  const control = open('tracepoint:net:netif_receive_skb', 'udp port 7008');
  try {
    await inject(ns, 'v0', [udpFrame({ dstMac: RECEIVER_MAC, dstPort: 7008 })]);
    assert.equal((await control.waitFor(1)).length, 1, 'the frame passed the tracepoint');
    await c.waitFor(1, 200);
    assert.equal(c.records.length, 0);
    assert.equal(c.counter(0, 0), 0n, 'nothing seen on that interface');
  } finally {
    c.close();
    control.close();
  }
});

void test('a frame for another host is dropped at kfree_skb with reason OTHERHOST and a stack through ip_rcv', async () => {
  const c = open('tracepoint:skb:kfree_skb', 'udp port 7001', { stacks: true });
  try {
    await inject(ns, 'v0', [udpFrame({ dstMac: '02:00:00:00:99:99', srcMac: SENDER_MAC, dstIp: '192.0.2.2', dstPort: 7001 })]);
    const [r] = await c.waitFor(1);
    assert.ok(r, 'the drop was captured');
    assert.equal(kernelDropReasons().name(r.reason), 'OTHERHOST');
    const stack = c.stack(r.stackId);
    assert.ok(stack && stack.length > 0, `stack id ${r.stackId} resolves`);
    const names = stack.map((ip) => kernelSymbols().symbolize(ip));
    assert.ok(names.some((n) => /^ip_rcv(_core)?\+/.test(n)), names.join(' <- '));
    assert.equal(r.linktype, LINKTYPE_ETHERNET);
    assert.equal(r.data.readUInt16BE(12), 0x0800);
    assert.equal(r.protocol, 0x0800);
  } finally {
    c.close();
  }
});

void test('a UDP datagram to a closed port is dropped with reason NO_SOCKET', async () => {
  const c = open('tracepoint:skb:kfree_skb', 'udp port 7002');
  try {
    await inject(ns, 'v0', [udpFrame({ dstMac: RECEIVER_MAC, srcMac: SENDER_MAC, dstIp: '192.0.2.2', dstPort: 7002 })]);
    const records = await c.waitFor(1);
    assert.ok(records.length >= 1, 'the drop was captured');
    assert.deepEqual(records.map((r) => kernelDropReasons().name(r.reason)), ['NO_SOCKET']);
  } finally {
    c.close();
  }
});

void test('gather mode: one skb seen at netif_receive_skb, then at kfree_skb, with a latency', async () => {
  const c = open('tracepoint:net:netif_receive_skb,tracepoint:skb:kfree_skb', 'udp port 7003', { gather: true, iface: false });
  try {
    await inject(ns, 'v0', [udpFrame({ dstMac: RECEIVER_MAC, srcMac: SENDER_MAC, dstIp: '192.0.2.2', dstPort: 7003 })]);
    const records = await c.waitFor(2);
    assert.deepEqual(records.map((r) => r.point), [0, 1]);
    assert.equal(records[0].addr, records[1].addr);
    assert.ok(records[1].tsNs > records[0].tsNs);
  } finally {
    c.close();
  }
});

void test('an skb without a MAC header is captured from the network header, filtered as raw IP', async () => {
  // A datagram from a socket in the namespace to a neighbour that never
  // answers ARP waits in the neighbour queue before any Ethernet header
  // exists, and is dropped there (NEIGH_FAILED) once resolution gives up:
  // one solicitation, 50 ms, instead of 3 x 1 s.
  ns.run(['sysctl', '-q', '-w', 'net.ipv4.neigh.v1.mcast_solicit=1', 'net.ipv4.neigh.v1.ucast_solicit=0', 'net.ipv4.neigh.v1.app_solicit=0', 'net.ipv4.neigh.v1.retrans_time_ms=50']);
  const expression = 'udp port 7200';
  const c = open('tracepoint:skb:kfree_skb', expression);
  try {
    // An address no earlier test resolved: its neighbour entry is new (INCOMPLETE, then FAILED).
    ns.run([process.execPath, '-e', "const s=require('node:dgram').createSocket('udp4'); s.send(Buffer.from('netcap l3 start'), 7200, '192.0.2.77', () => s.close())"]);
    const [r] = await c.waitFor(1, 5000);
    assert.ok(r, 'the drop was captured');
    assert.equal(r.linktype, LINKTYPE_RAW);
    assert.equal(r.data[0] >> 4, 4, 'starts at the IPv4 header');
    assert.equal(r.protocol, 0x0800);
    assert.equal(r.wirelen, r.data.length);
    assert.equal(kernelDropReasons().name(r.reason), 'NEIGH_FAILED');
    const raw = compileCbpf(expression, { linktype: 'RAW', snaplen: 262144 });
    assert.ok(libpcapFilter(raw, r.data, r.wirelen) > 0, "libpcap's RAW filter accepts what was captured");
    assert.equal(r.data.readUInt16BE(22), 7200);
    assert.equal(r.data.subarray(28).toString(), 'netcap l3 start');
  } finally {
    c.close();
  }
});

void test('gather by content: one packet at both points (same content key), other packets are not followed', async () => {
  const bytes = 24;
  const c = open('tracepoint:net:netif_receive_skb,tracepoint:skb:kfree_skb', 'udp port 7004', { byContent: bytes, iface: false });
  try {
    // Only the first is selected at the first point; the second (same drop, other port) must not be followed.
    await inject(ns, 'v0', [
      udpFrame({ dstMac: RECEIVER_MAC, srcMac: SENDER_MAC, dstIp: '192.0.2.2', dstPort: 7004 }),
      udpFrame({ dstMac: RECEIVER_MAC, srcMac: SENDER_MAC, dstIp: '192.0.2.2', dstPort: 7005 }),
    ]);
    const records = await c.waitFor(2);
    await new Promise((r) => setTimeout(r, 200));
    await c.waitFor(3, 100);
    assert.deepEqual(c.records.map((r) => r.point), [0, 1]);
    const keys = c.records.map((r) => contentKey(r, bytes));
    assert.ok(keys[0] !== undefined && keys[0] === keys[1], `same content key at both points (${keys.join(', ')})`);
    // kfree_skb frees the skb, so the kernel forgot the key there: the map is empty again.
    assert.deepEqual([...c.gatherMap!.keys()], []);
    assert.equal(records[0].data.readUInt16BE(36), 7004);
  } finally {
    c.close();
  }
});

void test('gather by content: the kernel\'s key is the reader\'s hash, past a VLAN tag', async () => {
  const bytes = 16;
  const c = open('tracepoint:net:netif_receive_skb', 'vlan 100', { byContent: bytes });
  try {
    await inject(ns, 'v0', [vlanFrame(RECEIVER_MAC, 100, 7006)]);
    const [r] = await c.waitFor(1);
    assert.ok(r);
    const key = contentKey(r, bytes);
    assert.ok(key !== undefined);
    assert.deepEqual([...c.gatherMap!.keys()].map((k) => k.readUInt32LE(0)), [key]);
  } finally {
    c.close();
  }
});

for (const kind of ['raw_tp', 'tp_btf'] as const) {
  void test(`${kind}:netif_receive_skb captures the same bytes, and ${kind}:kfree_skb the drop reason from its argument`, async (t) => {
    if (kind === 'tp_btf') {
      const reason = skipReason('tp_btf');
      if (reason !== undefined) {
        t.skip(reason);
        return;
      }
    }
    const frames = mixedFrames(RECEIVER_MAC, SENDER_MAC);
    const expression = 'udp or arp';
    const prog = compileCbpf(expression, { linktype: 'EN10MB', snaplen: 262144 });
    const expected = frames.filter((f) => libpcapFilter(prog, f, f.length) > 0);
    const rx = open(`${kind}:netif_receive_skb`, expression);
    try {
      await inject(ns, 'v0', frames);
      await rx.waitFor(expected.length);
      await new Promise((r) => setTimeout(r, 100));
      await rx.waitFor(expected.length + 1, 50);
      assert.deepEqual(rx.records.map((r) => r.data.toString('hex')), expected.map((f) => f.toString('hex')));
    } finally {
      rx.close();
    }
    const drops = open(`${kind}:kfree_skb`, 'udp port 7007');
    try {
      await inject(ns, 'v0', [udpFrame({ dstMac: RECEIVER_MAC, srcMac: SENDER_MAC, dstIp: '192.0.2.2', dstPort: 7007 })]);
      const [r] = await drops.waitFor(1);
      assert.ok(r, 'the drop was captured');
      assert.equal(kernelDropReasons().name(r.reason), 'NO_SOCKET');
    } finally {
      drops.close();
    }
  });
}
