// src/kernel against references nobody here wrote: sk_buff/net_device/net
// offsets against gcc's offsetof on the vmlinux.h bpftool generates from the
// same BTF; drop reason names against the kernel's own __print_symbolic
// table in the kfree_skb tracepoint format; kallsyms lookups against the
// file; interfaces and namespace inodes against iproute2 and stat(1).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { UserError } from '../../src/errors';
import { kernelSkbLayout } from '../../src/kernel/skb-layout';
import { kernelDropReasons } from '../../src/kernel/drop-reasons';
import { Kallsyms, kernelSymbols } from '../../src/kernel/kallsyms';
import { currentNetns, listInterfaceInfo, listInterfaces, resolveInterface, resolveNetns, type NetnsRef } from '../../src/kernel/interfaces';
import { tracepointFormat } from '../../src/tracefs/tracepoint';
import { World, type Namespace } from '../../lab/netns';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'netcap-kernel-'));
const world = new World('kernel');
let ns: Namespace;

before(() => {
  ns = world.addNamespace();
  ns.addVeth('k0', 'k1');
});

after(async () => {
  await world.destroy();
  fs.rmSync(dir, { recursive: true, force: true });
});

void test('sk_buff, net_device and net offsets equal offsetof() on bpftool\'s vmlinux.h, compiled by gcc', () => {
  const header = path.join(dir, 'vmlinux.h');
  fs.writeFileSync(header, execFileSync('bpftool', ['btf', 'dump', 'file', '/sys/kernel/btf/vmlinux', 'format', 'c'], { maxBuffer: 64 << 20 }));
  const l = kernelSkbLayout();
  const fields: [string, string, { offset: number; size: number }][] = [
    ['sk_buff', 'head', l.skb.head],
    ['sk_buff', 'data', l.skb.data],
    ['sk_buff', 'len', l.skb.len],
    ['sk_buff', 'tail', l.skb.tail],
    ['sk_buff', 'mac_header', l.skb.macHeader],
    ['sk_buff', 'network_header', l.skb.networkHeader],
    ['sk_buff', 'protocol', l.skb.protocol],
    ['sk_buff', 'dev', l.skb.dev],
    ['sk_buff', 'mark', l.skb.mark],
    ['net_device', 'ifindex', l.dev.ifindex],
    ['net_device', 'hard_header_len', l.dev.hardHeaderLen],
    ['net_device', 'nd_net', l.dev.ndNet],
    ['net', 'ns.inum', l.netnsInum],
  ];
  const lines = fields.map(([s, f]) => `  printf("%lu %lu\\n", (unsigned long)__builtin_offsetof(struct ${s}, ${f}), (unsigned long)sizeof(((struct ${s} *)0)->${f}));`);
  const source = path.join(dir, 'offsets.c');
  fs.writeFileSync(source, `#include "vmlinux.h"\nint printf(const char *, ...);\nint main(void) {\n${lines.join('\n')}\n  return 0;\n}\n`);
  execFileSync('gcc', ['-o', path.join(dir, 'offsets'), source], { stdio: 'pipe' });
  const got = execFileSync(path.join(dir, 'offsets')).toString().trim().split('\n');
  fields.forEach(([s, f, at], i) => assert.equal(`${at.offset} ${at.size}`, got[i], `${s}.${f}`));
});

void test('drop reason names equal the kernel\'s own table in the skb:kfree_skb format', () => {
  const fmt = tracepointFormat('skb:kfree_skb').printFormat;
  const pairs = [...fmt.matchAll(/\{ (\d+), "([A-Z0-9_]+)" \}/g)].map((m) => [Number(m[1]), m[2]] as const);
  assert.ok(pairs.length > 10, 'the format lists the reasons');
  const reasons = kernelDropReasons();
  for (const [value, name] of pairs) assert.equal(reasons.name(value), name, `reason ${value}`);
  assert.equal(reasons.value('SKB_DROP_REASON_OTHERHOST'), pairs.find((p) => p[1] === 'OTHERHOST')?.[0]);
  assert.equal(reasons.name(1_000_000), 'reason 1000000');
});

void test('kallsyms: every function start maps to itself, addresses inside to name+offset', () => {
  const text = fs.readFileSync('/proc/kallsyms', 'utf8');
  const syms = kernelSymbols();
  assert.ok(syms.hasAddresses, 'root reads real addresses');
  const starts = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    const [addr, type, name, mod] = line.split(/\s+/);
    if (!name || !/^[tTwW]$/.test(type) || /^0+$/.test(addr)) continue;
    const list = starts.get(addr) ?? [];
    list.push(mod ? `${name} ${mod}` : name);
    starts.set(addr, list);
  }
  let checked = 0;
  for (const [addr, names] of starts) {
    const a = BigInt(`0x${addr}`);
    const hit = syms.lookup(a);
    assert.ok(hit && hit.offset === 0n && names.includes(hit.name), `0x${addr}: ${names.join('/')} vs ${hit?.name}`);
    if (++checked >= 20000) break;
  }
  const ipRcv = [...starts].find(([, n]) => n.includes('ip_rcv'))![0];
  assert.equal(syms.symbolize(BigInt(`0x${ipRcv}`) + 0x10n), 'ip_rcv+0x10');
  assert.equal(Kallsyms.parse('0000000000000000 T hidden\n').hasAddresses, false);
});

void test('interfaces and namespaces: iproute2\'s names and indexes, stat(1)\'s inode', () => {
  const links = JSON.parse(execFileSync('ip', ['-n', ns.name, '-j', 'link', 'show']).toString()) as { ifindex: number; ifname: string }[];
  const netns = resolveNetns(ns.name);
  assert.equal(netns.inode, Number(execFileSync('stat', ['-L', '-c', '%i', `/var/run/netns/${ns.name}`]).toString().trim()));
  assert.deepEqual([...listInterfaces(netns)].sort((a, b) => a[0] - b[0]), links.map((l) => [l.ifindex, l.ifname]).sort((a, b) => (a[0] as number) - (b[0] as number)));
  assert.equal(resolveInterface('k1', netns).ifindex, links.find((l) => l.ifname === 'k1')!.ifindex);
  assert.equal(currentNetns().inode, Number(execFileSync('stat', ['-L', '-c', '%i', '/proc/self/ns/net']).toString().trim()));
  assert.equal(resolveNetns(`/var/run/netns/${ns.name}`).inode, netns.inode);
  assert.throws(() => resolveInterface('k9', netns), (e: unknown) => e instanceof UserError && /no interface k9/.test(e.message) && /did you mean k0, k1|k1, k0/.test(e.hint ?? ''));
  assert.throws(() => resolveNetns('nc-kernel-nosuch'), (e: unknown) => e instanceof UserError && /no network namespace nc-kernel-nosuch/.test(e.message));
  assert.throws(() => resolveNetns('bad name;'), UserError);
});

/** What `ip -j addr show` says of each device, in listInterfaceInfo's terms (the device's own first IPv4 address: an alias's label is another name). */
function iproute2Info(ipArgs: string[]): { name: string; ifindex: number; linkType: string; up: boolean; ipv4Prefix?: number }[] {
  type Addr = { family: string; prefixlen: number; label?: string };
  const links = JSON.parse(execFileSync('ip', [...ipArgs, '-j', 'addr', 'show']).toString()) as { ifindex: number; ifname: string; flags: string[]; link_type: string; addr_info?: Addr[] }[];
  return links.map((l) => ({
    name: l.ifname,
    ifindex: l.ifindex,
    linkType: l.link_type,
    up: l.flags.includes('UP'),
    ipv4Prefix: (l.addr_info ?? []).find((a) => a.family === 'inet' && (a.label === undefined || a.label === l.ifname))?.prefixlen,
  }));
}

void test('interface types, states and IPv4 prefixes (getifaddrs, no process run) are what iproute2 says, here and in another namespace', () => {
  // k0 up with an alias (labelled k0:1) added before its own address, k1 down, lo up (the lab brings it up: 127.0.0.1/8).
  ns.ip(['link', 'set', 'k1', 'down']);
  ns.ip(['addr', 'add', '10.78.0.1/16', 'dev', 'k0', 'label', 'k0:1']);
  ns.ip(['addr', 'add', '10.77.0.1/24', 'dev', 'k0']);
  const strip = (netns: NetnsRef) => listInterfaceInfo(netns).map(({ netns: _, ...rest }) => (rest.ipv4Prefix === undefined ? { ...rest, ipv4Prefix: undefined } : rest));
  const sort = <T extends { ifindex: number }>(a: T[]) => [...a].sort((x, y) => x.ifindex - y.ifindex);
  const there = sort(strip(resolveNetns(ns.name)));
  assert.deepEqual(there, sort(iproute2Info(['-n', ns.name])));
  assert.deepEqual(Object.fromEntries(there.map((i) => [i.name, [i.linkType, i.up, i.ipv4Prefix]])), { lo: ['loopback', true, 8], k0: ['ether', true, 24], k1: ['ether', false, undefined] });
  assert.deepEqual(sort(strip(currentNetns())), sort(iproute2Info([])));
});
