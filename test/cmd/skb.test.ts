// `netcap skb` as a user runs it (bin/netcap as a child process) against a
// veth pair in a namespace made here: the pcap it writes holds exactly the
// frames libpcap's filter selects from what was sent (read back by our
// parser and by tcpdump), drops show their reason and stack, gather mode
// reports latencies, bad input exits 2 with a clear message, and nothing
// stays loaded or attached once it exits.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { compileCbpf, libpcapFilter } from '../../src/filter/libpcap';
import { probeFeature, skipReason } from '../../src/bpf/features';
import { World, type Namespace } from '../../lab/netns';
import { inject } from '../../lab/inject';
import { udpFrame } from '../../lab/frames';
import { NETCAP, bpfObjectsOf, runNetcap, stillLoaded, tempDir } from '../capture/netcap-child';
import { arpRequestFrame, mixedFrames } from '../probes/skb-frames';

const world = new World('skbcli');
let ns: Namespace;
const SENDER_MAC = '02:00:00:00:6b:01';
const RECEIVER_MAC = '02:00:00:00:6b:02';
const dir = tempDir('skb');

before(() => {
  ns = world.addNamespace();
  ns.addVeth('v0', 'v1', { local: { mac: SENDER_MAC }, peer: { mac: RECEIVER_MAC, address: '192.0.2.2/24' } });
});

after(async () => {
  await world.destroy();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** The records of a classic pcap file (little-endian, as netcap writes it). */
function readPcap(file: string): { linktype: number; packets: { data: Buffer; wirelen: number }[] } {
  const b = fs.readFileSync(file);
  assert.equal(b.readUInt32LE(0), 0xa1b2c3d4, 'pcap magic (microseconds)');
  const packets: { data: Buffer; wirelen: number }[] = [];
  for (let off = 24; off + 16 <= b.length;) {
    const caplen = b.readUInt32LE(off + 8);
    packets.push({ wirelen: b.readUInt32LE(off + 12), data: b.subarray(off + 16, off + 16 + caplen) });
    off += 16 + caplen;
  }
  return { linktype: b.readUInt32LE(20), packets };
}

async function capture(args: string[], send: Buffer[], expectCount: number) {
  const run = runNetcap(args, world);
  await run.ready();
  const held = bpfObjectsOf(run.child.pid!);
  assert.equal(await inject(ns, 'v0', send), send.length);
  const deadline = setTimeout(() => run.child.kill('SIGINT'), 10_000);
  // -c N ends the capture by itself once N packets were written.
  const exit = expectCount > 0 ? await run.exited : await new Promise((r) => setTimeout(r, 500)).then(() => run.stop());
  clearTimeout(deadline);
  return { exit, stdout: run.stdout().toString(), stderr: run.stderr(), held, leftover: stillLoaded(held) };
}

void test('-i v1 --netns: the pcap holds exactly what libpcap selects, in order; tcpdump reads it', async () => {
  const expression = 'udp or arp or vlan or ip6';
  const frames = mixedFrames(RECEIVER_MAC, SENDER_MAC);
  const prog = compileCbpf(expression, { linktype: 'EN10MB', snaplen: 262144 });
  const expected = frames.filter((f) => libpcapFilter(prog, f, f.length) > 0);
  assert.ok(expected.length > 0 && expected.length < frames.length, 'the filter selects some frames, not all');
  const file = path.join(dir, 'rx.pcap');
  const r = await capture(
    ['skb', '-f', 'tracepoint:net:netif_receive_skb', '-i', 'v1', '--netns', ns.name, '-e', expression, '-w', file, '-c', String(expected.length)],
    frames,
    expected.length,
  );
  assert.equal(r.exit.code, 0, r.stderr);
  assert.match(r.stderr, /listening on tracepoint:net:netif_receive_skb on v1 \(netns nc-skbcli-/);
  const pcap = readPcap(file);
  assert.equal(pcap.linktype, 1);
  assert.deepEqual(pcap.packets.map((p) => p.data.toString('hex')), expected.map((f) => f.toString('hex')));
  assert.deepEqual(pcap.packets.map((p) => p.wirelen), expected.map((f) => f.length));
  const lines = execFileSync('tcpdump', ['-nn', '-r', file], { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim().split('\n');
  assert.equal(lines.length, expected.length);
  assert.ok(r.held.programs.length >= 1 && r.held.links.length >= 1, `netcap held ${JSON.stringify(r.held)}`);
  assert.deepEqual(r.leftover, { programs: [], links: [] }, 'nothing stays loaded or attached');
  assert.match(r.stderr, new RegExp(`${expected.length} packets captured`));
});

void test('kfree_skb -S: a frame for another host shows reason OTHERHOST and a stack through ip_rcv', async () => {
  const frame = udpFrame({ dstMac: '02:00:00:00:99:99', srcMac: SENDER_MAC, dstIp: '192.0.2.2', dstPort: 7101 });
  const r = await capture(['skb', '-f', 'tracepoint:skb:kfree_skb', '-i', 'v1', '--netns', ns.name, '-e', 'udp port 7101', '-S', '-c', '1'], [frame], 1);
  assert.equal(r.exit.code, 0, r.stderr);
  assert.match(r.stdout, /reason=OTHERHOST/);
  assert.match(r.stdout, /\(v1\)/);
  assert.match(r.stdout, /^\s+ip_rcv(_core)?\+0x[0-9a-f]+$/m);
  assert.match(r.stdout, /192\.0\.2\.1\.40000 > 192\.0\.2\.2\.7101/);
  assert.deepEqual(r.leftover, { programs: [], links: [] });
});

void test('kfree_skb: a UDP datagram to a closed port shows reason NO_SOCKET in the pcapng comment', async () => {
  const file = path.join(dir, 'drop.pcapng');
  const frame = udpFrame({ dstMac: RECEIVER_MAC, srcMac: SENDER_MAC, dstIp: '192.0.2.2', dstPort: 7102 });
  const r = await capture(['skb', '-f', 'tracepoint:skb:kfree_skb', '-e', 'udp port 7102', '-w', file, '-c', '1'], [frame], 1);
  assert.equal(r.exit.code, 0, r.stderr);
  // tshark (a reader nobody here wrote) shows the comment and the interface name.
  const out = execFileSync('tshark', ['-r', file, '-T', 'fields', '-e', 'frame.comment', '-e', 'frame.interface_name'], { stdio: ['ignore', 'pipe', 'ignore'] }).toString();
  assert.match(out, /reason=NO_SOCKET/);
  assert.match(out, /\ttracepoint:skb:kfree_skb\n/);
});

void test('kfree_skb decoded on stdout shows the drop reason with each packet (no -S needed)', async () => {
  const frame = udpFrame({ dstMac: RECEIVER_MAC, srcMac: SENDER_MAC, dstIp: '192.0.2.2', dstPort: 7107 });
  const r = await capture(['skb', '-f', 'tracepoint:skb:kfree_skb', '-e', 'udp port 7107', '-c', '1'], [frame], 1);
  assert.equal(r.exit.code, 0, r.stderr);
  assert.match(r.stdout, /\[tracepoint:skb:kfree_skb\] .* reason=NO_SOCKET\n.*192\.0\.2\.1\.40000 > 192\.0\.2\.2\.7107/);
});

void test('-G: one packet at netif_receive_skb and kfree_skb with the latency between them', async () => {
  const frame = udpFrame({ dstMac: RECEIVER_MAC, srcMac: SENDER_MAC, dstIp: '192.0.2.2', dstPort: 7103 });
  const r = await capture(
    ['skb', '-G', '-f', 'tracepoint:net:netif_receive_skb,tracepoint:skb:kfree_skb,tracepoint:net:net_dev_xmit', '-e', 'udp port 7103', '-c', '2'],
    [frame],
    2,
  );
  assert.equal(r.exit.code, 0, r.stderr);
  assert.match(r.stdout, /gather: 1 packet\n/);
  assert.match(r.stdout, /#1 skb 0x[0-9a-f]+: tracepoint:net:netif_receive_skb \+0us -> tracepoint:skb:kfree_skb \+\d+\.\dus \(\+\d+\.\dus\); not seen at tracepoint:net:net_dev_xmit/);
});

void test('an skb without a MAC header is written behind a synthesised Ethernet header carrying skb->protocol', async () => {
  // A datagram stuck in the neighbour queue (no Ethernet header yet) and dropped when ARP gives up after 50 ms.
  ns.run(['sysctl', '-q', '-w', 'net.ipv4.neigh.v1.mcast_solicit=1', 'net.ipv4.neigh.v1.ucast_solicit=0', 'net.ipv4.neigh.v1.app_solicit=0', 'net.ipv4.neigh.v1.retrans_time_ms=50']);
  const file = path.join(dir, 'l3.pcap');
  const run = runNetcap(['skb', '-f', 'tracepoint:skb:kfree_skb', '-i', 'v1', '--netns', ns.name, '-e', 'udp port 7201', '-w', file, '-c', '1'], world);
  await run.ready();
  ns.run([process.execPath, '-e', "const s=require('node:dgram').createSocket('udp4'); s.send(Buffer.from('l3'), 7201, '192.0.2.88', () => s.close())"]);
  const killer = setTimeout(() => run.child.kill('SIGINT'), 10_000);
  const exit = await run.exited;
  clearTimeout(killer);
  assert.equal(exit.code, 0, run.stderr());
  const [p] = readPcap(file).packets;
  assert.ok(p, 'one packet written');
  assert.deepEqual([...p.data.subarray(0, 12)], new Array(12).fill(0), 'zero MAC addresses');
  assert.equal(p.data.readUInt16BE(12), 0x0800, 'EtherType = skb->protocol');
  assert.equal(p.data[14] >> 4, 4, 'the IPv4 header follows');
  assert.equal(p.wirelen, p.data.length);
  const line = execFileSync('tcpdump', ['-nn', '-r', file], { stdio: ['ignore', 'pipe', 'ignore'] }).toString();
  assert.match(line, /IP 192\.0\.2\.2\.\d+ > 192\.0\.2\.88\.7201: UDP, length 2/);
});

void test('in pcapng an skb without a MAC header goes to a raw-IP interface of its point, bytes as captured (tshark)', async () => {
  ns.run(['sysctl', '-q', '-w', 'net.ipv4.neigh.v1.mcast_solicit=1', 'net.ipv4.neigh.v1.ucast_solicit=0', 'net.ipv4.neigh.v1.app_solicit=0', 'net.ipv4.neigh.v1.retrans_time_ms=50']);
  const file = path.join(dir, 'l3.pcapng');
  const run = runNetcap(['skb', '-f', 'tracepoint:skb:kfree_skb', '-i', 'v1', '--netns', ns.name, '-e', 'udp port 7202', '-w', file, '-c', '1'], world);
  await run.ready();
  const send = () => ns.run([process.execPath, '-e', "const s=require('node:dgram').createSocket('udp4'); s.send(Buffer.from('l3'), 7202, '192.0.2.89', () => s.close())"]);
  send();
  // Once in a full-suite run the datagram was not seen dropped within 10 s
  // (never in 25 runs of this test alone); a datagram to a neighbour that
  // failed restarts resolution and is dropped the same way, so send again
  // each second until netcap has its one packet.
  const again = setInterval(send, 1000);
  const killer = setTimeout(() => run.child.kill('SIGINT'), 10_000);
  const exit = await run.exited;
  clearInterval(again);
  clearTimeout(killer);
  assert.equal(exit.code, 0, run.stderr());
  const fields = ['frame.interface_name', 'frame.len', 'ip.dst', 'udp.dstport', 'frame.comment'];
  const out = execFileSync('tshark', ['-r', file, '-T', 'fields', ...fields.flatMap((f) => ['-e', f])], { stdio: ['ignore', 'pipe', 'ignore'] }).toString();
  const [name, len, dst, port, comment] = out.trim().split('\t');
  assert.equal(name, 'v1@tracepoint:skb:kfree_skb (raw IP)', `netcap:\n${run.stderr()}\nneighbours of v1:\n${ns.run(['ip', 'neigh', 'show', 'dev', 'v1'])}`);
  assert.equal(Number(len), 20 + 8 + 2, 'the IP packet, no Ethernet header');
  assert.equal(dst, '192.0.2.89');
  assert.equal(port, '7202');
  assert.match(comment, /reason=NEIGH_FAILED l3-start/);
});

void test('--gather-by-content: the packet followed by its bytes', async () => {
  const frame = udpFrame({ dstMac: RECEIVER_MAC, srcMac: SENDER_MAC, dstIp: '192.0.2.2', dstPort: 7105 });
  const r = await capture(
    ['skb', '--gather-by-content', '--gather-bytes', '24', '-f', 'tracepoint:net:netif_receive_skb,tracepoint:skb:kfree_skb', '-e', 'udp port 7105', '-c', '2'],
    [frame],
    2,
  );
  assert.equal(r.exit.code, 0, r.stderr);
  assert.match(r.stderr, /\(gather by 24 bytes of content\)/);
  assert.match(r.stdout, /#1 content 0x[0-9a-f]{8}: tracepoint:net:netif_receive_skb \+0us -> tracepoint:skb:kfree_skb \+\d+\.\dus/);
});

void test('two points in pcapng: one interface each, direction in at netif_receive_skb and out at net_dev_queue (tshark)', async () => {
  const file = path.join(dir, 'arp.pcapng');
  const request = arpRequestFrame(SENDER_MAC, '192.0.2.1', '192.0.2.2');
  const r = await capture(
    // net_dev_queue, not net_dev_xmit: by net_dev_xmit a veth has already handed the skb to its peer (skb->dev is v1 for v0's frames).
    ['skb', '-f', 'tracepoint:net:netif_receive_skb,tracepoint:net:net_dev_queue', '-i', 'v1', '--netns', ns.name, '-e', 'arp', '-w', file, '-c', '2'],
    [request],
    2,
  );
  assert.equal(r.exit.code, 0, r.stderr);
  const out = execFileSync('tshark', ['-r', file, '-T', 'fields', '-e', 'frame.interface_name', '-e', 'frame.packet_flags_direction', '-e', 'arp.opcode'], {
    stdio: ['ignore', 'pipe', 'ignore'],
  }).toString();
  const rows = out.trim().split('\n').map((l) => l.split('\t'));
  assert.deepEqual(rows, [
    ['v1@tracepoint:net:netif_receive_skb', '0x00000001', '1'],
    ['v1@tracepoint:net:net_dev_queue', '0x00000002', '2'],
  ]);
});

void test('-i without --netns means netcap\'s own namespace (netcap started inside the test namespace)', async () => {
  const file = path.join(dir, 'inside.pcap');
  const child = ns.spawn([process.execPath, NETCAP, 'skb', '-f', 'tracepoint:net:netif_receive_skb', '-i', 'v1', '-e', 'udp port 7106', '-w', file, '-c', '1']);
  let stderr = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (d: string) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  for (let i = 0; i < 200 && !/listening on/.test(stderr); i++) await new Promise((r) => setTimeout(r, 50));
  assert.match(stderr, /listening on tracepoint:net:netif_receive_skb on v1,/);
  const frame = udpFrame({ dstMac: RECEIVER_MAC, srcMac: SENDER_MAC, dstIp: '192.0.2.2', dstPort: 7106 });
  await inject(ns, 'v0', [frame]);
  const killer = setTimeout(() => child.kill('SIGINT'), 10_000);
  assert.equal(await exited, 0, stderr);
  clearTimeout(killer);
  assert.deepEqual(readPcap(file).packets.map((p) => p.data.toString('hex')), [frame.toString('hex')]);
});

void test('--dry-run lists the offsets and the programs, and attaches nothing', () => {
  const out = execFileSync(process.execPath, [path.join(__dirname, '..', '..', '..', 'bin', 'netcap'), 'skb', '-f', 'tracepoint:skb:kfree_skb', '-e', 'tcp', '--dry-run']).toString();
  assert.match(out, /^sk_buff \(BTF\): head \d+, data \d+/m);
  assert.match(out, /point 0: tracepoint:skb:kfree_skb \(tracepoint\): skb at ctx\+8, drop reason at ctx\+\d+/);
  assert.match(out, /call bpf_ringbuf_output#130/);
});

const badInput: [string, string[], RegExp][] = [
  ['an unknown tracepoint names close ones', ['-f', 'tracepoint:net:netif_recieve_skb'], /unknown tracepoint net:netif_recieve_skb\n\s+did you mean net:netif_receive_skb/],
  ['a tracepoint without an skb field lists its fields', ['-f', 'tracepoint:sched:sched_switch'], /sched:sched_switch has no sk_buff address field\n\s+its fields are: .*prev_comm/],
  ['an unknown interface', ['-f', 'tracepoint:net:netif_receive_skb', '-i', 'nc-nosuch0'], /no interface nc-nosuch0 in network namespace current/],
  ['an unknown namespace', ['-f', 'tracepoint:net:netif_receive_skb', '-i', 'v1', '--netns', 'nc-nosuch-ns'], /no network namespace nc-nosuch-ns/],
  ['an argument that is not an sk_buff', ['-f', 'ip_rcv@2'], /argument 2 of ip_rcv is struct net_device \* dev, not a struct sk_buff \*\n\s+did you mean ip_rcv@1\?/],
  ['an unknown kernel function', ['-f', 'ip_rcvv@1'], /no kernel function 'ip_rcvv'/],
  ['a malformed point', ['-f', 'tracepoint:'], /bad point 'tracepoint:' in -f: a tracepoint is tracepoint:CATEGORY:NAME/],
  ['a bad filter', ['-f', 'tracepoint:skb:kfree_skb', '-e', 'tcp port'], /bad filter expression "tcp port"/],
  ['a content hash of too many bytes', ['-f', 'tracepoint:skb:kfree_skb', '--gather-by-content', '--gather-bytes', '4096'], /--gather-bytes 4096: not a whole number between 4 and 128/],
];
for (const [what, args, message] of badInput) {
  void test(`bad input: ${what} -> exit 2, a message, no stack trace`, async () => {
    const run = runNetcap(['skb', ...args], world);
    const exit = await run.exited;
    assert.equal(exit.code, 2, run.stderr());
    assert.match(run.stderr(), message);
    assert.doesNotMatch(run.stderr(), /\n\s+at .*\.js:\d+/, 'no stack trace');
  });
}

void test('func@N where the kernel has neither fentry nor kprobes: exit 2 naming the tracepoints', async (t) => {
  if (probeFeature('fentry').status === 'supported' || probeFeature('kprobes').status === 'supported') {
    t.skip('this kernel has fentry or kprobes: the next test covers it');
    return;
  }
  const run = runNetcap(['skb', '-f', 'ip_rcv@1', '-e', 'udp'], world);
  const exit = await run.exited;
  assert.equal(exit.code, 2);
  assert.match(run.stderr(), /ip_rcv@1: kernel functions need fentry or kprobes, and this kernel has neither\n\s+use a tracepoint instead, e\.g\. tracepoint:net:netif_receive_skb/);
});

for (const feature of ['fentry', 'kprobes'] as const) {
  void test(`func@N through ${feature}: ip_rcv@1 captures a received frame`, async (t) => {
    const reason = skipReason(feature);
    if (reason !== undefined) {
      t.skip(reason);
      return;
    }
    const frame = udpFrame({ dstMac: RECEIVER_MAC, srcMac: SENDER_MAC, dstIp: '192.0.2.2', dstPort: 7104 });
    const r = await capture(['skb', '-f', 'ip_rcv@1', '-i', 'v1', '--netns', ns.name, '-e', 'udp port 7104', '--json', '-c', '1'], [frame], 1);
    assert.equal(r.exit.code, 0, r.stderr);
    assert.match(r.stdout, /7104|1bc0/);
  });
}
