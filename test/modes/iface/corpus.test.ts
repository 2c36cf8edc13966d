// The kernel side of `netcap iface` against tcpdump -i, expression by
// expression: for each of 48 expressions (inbound, outbound, vlan, vlan 100,
// ip broadcast, ifindex, tcp[100] = 1, ...) netcap's TC programs (prepared by
// the capture library as the command opens them, both directions) and three
// tcpdumps (-Q in, -Q out, -Q inout) watch v0 at the same time, while the
// corpus frames (VLAN-tagged ones too) arrive at v0 and then leave it.
// netcap's ingress packets must equal tcpdump -Q in (same packets, same
// bytes, same wire lengths, same order), its egress packets tcpdump -Q out,
// and all packets in ring order tcpdump -Q inout.
//
// At ingress the kernel takes the 802.1Q tag out of the packet into
// skb->vlan_tci (skb_vlan_untag, before taps and TC: this kernel has no
// 8021q module and needs none); at egress an injected tag stays in the
// bytes. The first test shows it with the program's own view.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { inject } from '../../../lab/inject';
import { closeAll } from '../../../src/bpf/registry';
import { openCapture, type Capture, type CapturedPacket } from '../../../src/index';
import { tempDir } from '../../capture/netcap-child';
import { CAP_IP, CAP_MAC, PEER_IP, PEER_MAC, corpusExpressions, corpusFrames, tcpdumpEquivalent, makeIfaceLab, packetKeys, startTcpdump, tagged, type IfaceLab, type Tcpdump } from './iface-lab';
import { udpFrame } from '../../../lab/frames';
import * as fs from 'node:fs';

let lab: IfaceLab;
const dir = tempDir('iface-corpus');
before(() => {
  lab = makeIfaceLab('ifcorp');
});
after(async () => {
  closeAll();
  await lab?.world.destroy();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** netcap in-process: the library's capture, as the command opens it (both directions), its packets collected in ring order. */
class InProcessCapture {
  readonly packets: CapturedPacket[] = [];
  readonly capture: Capture;

  constructor(readonly expression: string) {
    this.capture = openCapture({ mode: 'iface', interfaces: 'v0', netns: lab.cap.name, filter: expression, snaplen: 262144, ringBytes: 1 << 20 });
    this.capture.on('packets', (batch) => this.packets.push(...batch));
  }

  attach(): Promise<void> {
    return this.capture.start();
  }

  async finish(): Promise<CapturedPacket[]> {
    await this.capture.stop();
    return this.packets;
  }
}

const ingressFrames = () => corpusFrames({ mac: PEER_MAC, ip: PEER_IP }, { mac: CAP_MAC });
const egressFrames = () => corpusFrames({ mac: CAP_MAC, ip: CAP_IP }, { mac: PEER_MAC });

/**
 * ROUNDS: the frames are sent twice and the second round is compared. After
 * pcap_setfilter, libpcap runs the new filter again in user space on the
 * first ring frame (pcap-linux.c, blocks_to_filter_in_userland: packets the
 * old filter let in), and its user-space bpf_filter answers 0 for the socket
 * filter's packet-type and ifindex loads: tcpdump -i drops the first packet
 * an `inbound`, `outbound` or `ifindex` filter accepts. netcap has no such
 * gap; tcpdump may have exactly that one packet less, in the first round.
 */
function readsSocketMetadata(expression: string): boolean {
  return /inbound|outbound|ifindex/.test(expression);
}

/** Frames in (from v1) then out (of v0), with a pause between so the two phases never interleave. */
async function sendBothWays(): Promise<void> {
  const inFrames = ingressFrames();
  assert.equal(await inject(lab.peer, 'v1', inFrames, { rate: 2000 }), inFrames.length);
  await new Promise((r) => setTimeout(r, 150));
  const outFrames = egressFrames();
  assert.equal(await inject(lab.cap, 'v0', outFrames, { rate: 2000 }), outFrames.length);
  await new Promise((r) => setTimeout(r, 300));
}

void test('the kernel hands TC an ingress 802.1Q frame untagged with the tag in skb->vlan_tci, an egress one with its tag in the bytes; netcap puts it back', async () => {
  const c = new InProcessCapture('vlan 100');
  await c.attach();
  const frame = tagged(udpFrame({ srcMac: PEER_MAC, dstMac: CAP_MAC, srcIp: PEER_IP, dstIp: '203.0.113.7', dstPort: 80 }), 0x8100, 0xa064);
  const td = await startTcpdump(lab.cap, 'v0', ['-Q', 'in', 'vlan 100'], path.join(dir, 'vlan.pcap'));
  await inject(lab.peer, 'v1', [frame]);
  await inject(lab.cap, 'v0', [frame]);
  await new Promise((r) => setTimeout(r, 300));
  const records = await c.finish();
  const tdIn = await td.stop();
  const ingress = records.filter((r) => r.direction === 'in');
  const egress = records.filter((r) => r.direction === 'out');
  assert.equal(ingress.length, 1, 'the ingress frame matched vlan 100 through skb->vlan_tci');
  assert.equal(egress.length, 1, 'the egress frame matched vlan 100 through its bytes');
  // The program saw the untagged packet at ingress: its wire length before the tag went back in was 4 bytes less.
  assert.equal(ingress[0].wirelen, frame.length);
  assert.deepEqual(ingress[0].data, frame, 'the tag (TPID 0x8100, TCI 0xa064: priority 5, vid 100) is back in the bytes');
  assert.deepEqual(egress[0].data, frame);
  assert.deepEqual(packetKeys(ingress), packetKeys(tdIn), 'tcpdump -Q in shows the same bytes');
});

void test('48 expressions, frames in and out of v0: netcap per direction and in order equals tcpdump -Q in, -Q out and -Q inout', async () => {
  const expressions = corpusExpressions(lab.ifindex);
  assert.ok(expressions.length >= 40);
  const failures: string[] = [];
  let compared = 0;
  // 8 at a time: 16 programs per hook (tcx allows 64) and 24 tcpdumps.
  for (let at = 0; at < expressions.length; at += 8) {
    const batch = expressions.slice(at, at + 8);
    const captures = batch.map((e) => new InProcessCapture(e));
    const dumps: { q: string; td: Tcpdump }[][] = [];
    for (const [i, e] of batch.entries()) {
      const expr = tcpdumpEquivalent(e);
      dumps.push(
        await Promise.all(
          ['in', 'out', 'inout'].map(async (q) => ({ q, td: await startTcpdump(lab.cap, 'v0', ['-Q', q, ...(expr ? [expr] : [])], path.join(dir, `${at + i}-${q}.pcap`)) })),
        ),
      );
    }
    for (const c of captures) await c.attach();
    // Two identical rounds; the second is compared (see ROUNDS).
    await sendBothWays();
    await sendBothWays();
    for (const [i, c] of captures.entries()) {
      const records = await c.finish();
      const mine: Record<string, CapturedPacket[]> = { in: records.filter((r) => r.direction === 'in'), out: records.filter((r) => r.direction === 'out'), inout: records };
      for (const { q, td } of dumps[i]) {
        // tcpdump may lack one packet (see ROUNDS), never more.
        const theirs = packetKeys(await td.stop(mine[q].length - 1));
        compared++;
        const all = packetKeys(mine[q]);
        const round = all.length / 2;
        const a = all.slice(round);
        const b = theirs.slice(theirs.length - round);
        const where = `"${c.expression}" -Q ${q}`;
        if (all.slice(0, round).join() !== a.join()) failures.push(`${where}: netcap saw the two rounds differently`);
        else if (a.join() !== b.join()) {
          const at = a.findIndex((x, k) => x !== b[k]);
          failures.push(`${where}: netcap ${a.length} packets in the second round, tcpdump ${b.length}; first difference at ${at}: netcap ${a[at]?.slice(0, 64)}, tcpdump ${b[at]?.slice(0, 64)}`);
        } else if (theirs.length !== 2 * round && !(theirs.length === 2 * round - 1 && readsSocketMetadata(c.expression))) {
          failures.push(`${where}: tcpdump has ${theirs.length} packets for netcap's ${2 * round}`);
        }
      }
    }
  }
  assert.deepEqual(failures, [], `${failures.length} of ${compared} comparisons differ`);
  assert.equal(compared, expressions.length * 3);
});
