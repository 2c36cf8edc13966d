// The filter of `netcap iface`: compiled by libpcap on a live handle on
// loopback in netcap's namespace, it is the program tcpdump -d -i v0 prints
// for the capture interface itself in another namespace (libpcap's Linux
// code depends on the link type, the snap length, the netmask and the
// kernel's BPF extensions, not on the device). `ip broadcast` uses the
// interface's netmask as pcap-filter(7) says, which is not what tcpdump 4.99
// does (shown here); metadata loads are refused where no context has them.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { compileCbpf, libpcapFilter } from '../../../src/filter/libpcap';
import { compileToEbpf, CompileError, type AncillaryLoads } from '../../../src/filter/compiler';
import { R0, R1, R2, R3, R4, R5 } from '../../../src/ebpf/registers';
import { Mov } from '../../../src/ebpf/builders';
import { COMPILE_DEVICE, IfaceFilters, netmaskOf } from '../../../src/modes/iface/filter';
import { currentNetns } from '../../../src/kernel/interfaces';
import { CAP_MAC, PEER_IP, PEER_MAC, corpusExpressions, corpusFrames, makeIfaceLab, type IfaceLab } from './iface-lab';

let lab: IfaceLab;
before(() => {
  lab = makeIfaceLab('iffilter');
});
after(async () => {
  await lab?.world.destroy();
});

/** `tcpdump -ddd` of an expression on v0 inside the lab namespace: "code jt jf k" per instruction. */
function tcpdumpProgram(expression: string, flags: string[] = []): string[] {
  const lines = lab.cap.run(['tcpdump', ...flags, '-ddd', '-i', 'v0', expression]).trim().split('\n');
  assert.equal(Number(lines[0]), lines.length - 1);
  return lines.slice(1);
}

function ours(expression: string, netmask: number): string[] {
  return compileCbpf(expression, { handle: { live: COMPILE_DEVICE }, snaplen: 262144, netmask }).insns.map((i) => `${i.code} ${i.jt} ${i.jf} ${i.k >>> 0}`);
}

void test('every corpus expression compiled on lo here is the program tcpdump -d -i v0 prints in the lab namespace', () => {
  const expressions = corpusExpressions(lab.ifindex).filter((e) => e !== '');
  for (const e of expressions) {
    // tcpdump 4.99 passes pcap_compile a netmask of 0 without -f.
    assert.deepEqual(ours(e, 0), tcpdumpProgram(e), e);
  }
  assert.ok(expressions.length >= 40);
});

void test('ip broadcast: the /24 of v0, as pcap-filter(7) says; tcpdump 4.99 uses 0, and with -f the mask byte-swapped', () => {
  const mask = netmaskOf(24)!;
  assert.equal(mask, 0xffffff00);
  // tcpdump -f passes pcap_lookupnet's value, in network byte order, which gencode compares as host order.
  assert.deepEqual(ours('ip broadcast', 0x00ffffff), tcpdumpProgram('ip broadcast', ['-f']), 'tcpdump -f = the swapped mask');
  assert.notDeepEqual(ours('ip broadcast', mask), tcpdumpProgram('ip broadcast', ['-f']));

  const frames = corpusFrames({ mac: PEER_MAC, ip: PEER_IP }, { mac: CAP_MAC });
  const dst = (f: Buffer) => (f.readUInt16BE(12) === 0x0800 ? [...f.subarray(30, 34)].join('.') : '-');
  const verdicts = (p: ReturnType<typeof compileCbpf>) => frames.map((f) => libpcapFilter(p, f, f.length) > 0);
  const netcap = verdicts(compileCbpf('ip broadcast', { handle: { live: COMPILE_DEVICE }, netmask: mask }));
  assert.deepEqual(netcap, verdicts(compileCbpf('ip and (ip[19] = 0 or ip[19] = 255)')), 'the explicit equivalent');
  const differ = (other: boolean[]) => frames.filter((_, i) => other[i] !== netcap[i]).map(dst).sort();
  // tcpdump's own `ip broadcast` (netmask 0): only 0.0.0.0 and 255.255.255.255.
  assert.deepEqual(differ(verdicts(compileCbpf('ip broadcast', { netmask: 0 }))), ['192.0.2.255', '198.51.100.0', '198.51.100.255']);
  // The written-out form agrees on the subnet's own broadcast; libpcap's mask test also
  // matches the network address and x.y.z.255 of other networks.
  assert.deepEqual(differ(verdicts(compileCbpf('ip dst 0.0.0.0 or ip dst 255.255.255.255 or ip dst host 198.51.100.255'))), ['192.0.2.255', '198.51.100.0']);
});

void test('ip broadcast on an interface without an IPv4 address: libpcap\'s own message, naming the interface', () => {
  const filters = new IfaceFilters('ip broadcast', 262144);
  const bare = { name: 'v9', ifindex: 99, netns: currentNetns(), linkType: 'ether', up: true };
  assert.throws(() => filters.forInterface(bare), /netmask not known, so 'ip broadcast' not supported \(v9 has no IPv4 address\)/);
  assert.ok(filters.forInterface({ ...bare, ipv4Prefix: 24 }));
  // An expression that never reads the mask is compiled once for every interface.
  const plain = new IfaceFilters('udp', 262144);
  assert.equal(plain.forInterface(bare), plain.forInterface({ ...bare, ipv4Prefix: 16 }));
});

void test('metadata loads are refused where the context has none, translated where it has them', () => {
  const frag = (expression: string, ancillary?: AncillaryLoads) =>
    compileToEbpf(compileCbpf(expression, { handle: { live: COMPILE_DEVICE } }).insns, {
      model: { kind: 'buffer', data: R1, caplen: R2, bufferSize: 256 },
      a: R0, x: R3, tmp: R4, wirelen: R5, result: R0, stackBase: -64, match: 'm', noMatch: 'n', ancillary,
    });
  assert.throws(() => frag('inbound'), (e: unknown) => e instanceof CompileError && /the packet type \(inbound\/outbound\)/.test(e.message));
  assert.throws(() => frag('vlan 100'), /took a VLAN tag out of the packet \(vlan\)/);
  assert.throws(() => frag('ifindex 3'), /interface index/);
  // With the field: its emitter's instruction, whatever the load's width (ldh here).
  const marker = Mov.imm32(R0, 4).withComment('pkttype');
  assert.ok(frag('inbound', { pkttype: () => [marker] }).some((i) => i.comment === 'pkttype'));
});
