// `inbound` / `outbound` in netcap skb, where the point tells the direction:
// at a receive tracepoint the packet type is skb->pkt_type (read at the
// offset BTF gives for the bitfield), at a transmit one PACKET_OUTGOING; at
// a point with no direction (kfree_skb) the filter is refused, clearly.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { inject } from '../../lab/inject';
import { udpFrame } from '../../lab/frames';
import { runNetcap } from '../capture/netcap-child';
import { CAP_MAC, PEER_MAC, makeIfaceLab, type IfaceLab } from '../modes/iface/iface-lab';

let lab: IfaceLab;
before(() => {
  lab = makeIfaceLab('skbdir');
});
after(async () => {
  await lab?.world.destroy();
});

/** The number of packets `netcap skb` captured while `send` ran. */
async function captured(point: string, expression: string, send: () => Promise<unknown>): Promise<number> {
  const run = runNetcap(['skb', '-f', point, '-i', 'v0', '--netns', lab.cap.name, '-e', expression, '-w', '/dev/null'], lab.world);
  await run.ready();
  await send();
  await new Promise((r) => setTimeout(r, 300));
  const exit = await run.stop('SIGINT');
  assert.equal(exit.code, 0, run.stderr());
  return Number(/(\d+) packets captured/.exec(run.stderr())?.[1]);
}

void test('netif_receive_skb: inbound matches (skb->pkt_type of frames to this host, another host, everyone), outbound never; net_dev_queue: the other way round', async () => {
  const toOther = udpFrame({ srcMac: PEER_MAC, dstMac: '02:00:00:00:99:99', dstPort: 7301 });
  const toAll = udpFrame({ srcMac: PEER_MAC, dstMac: 'ff:ff:ff:ff:ff:ff', dstPort: 7301 });
  const arrive = () => inject(lab.peer, 'v1', [toOther, toAll, udpFrame({ srcMac: PEER_MAC, dstMac: CAP_MAC, dstPort: 7301 })]);
  const leave = () => inject(lab.cap, 'v0', [udpFrame({ srcMac: CAP_MAC, dstMac: PEER_MAC, dstPort: 7301 }), udpFrame({ srcMac: CAP_MAC, dstMac: PEER_MAC, dstPort: 7301 })]);
  assert.equal(await captured('tracepoint:net:netif_receive_skb', 'inbound and udp port 7301', arrive), 3);
  assert.equal(await captured('tracepoint:net:netif_receive_skb', 'outbound and udp port 7301', arrive), 0);
  assert.equal(await captured('tracepoint:net:net_dev_queue', 'outbound and udp port 7301', leave), 2);
  assert.equal(await captured('tracepoint:net:net_dev_queue', 'inbound and udp port 7301', leave), 0);
});

void test('kfree_skb has no direction: inbound is refused with a message naming the test, exit 2', async () => {
  const run = runNetcap(['skb', '-f', 'tracepoint:skb:kfree_skb', '-e', 'inbound'], lab.world);
  const exit = await run.exited;
  assert.equal(exit.code, 2, run.stderr());
  assert.match(run.stderr(), /the filter tests the packet type \(inbound\/outbound\), which this capture point does not know/);
});
