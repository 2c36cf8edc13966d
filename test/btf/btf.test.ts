// The BTF reader against two references nobody here wrote: bpftool's own
// decoding of /sys/kernel/btf/vmlinux (JSON), and gcc compiling bpftool's C
// dump of the same BTF (vmlinux.h) with offsetof()/sizeof()/enum values.
import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadKernelBtf } from '../../src/btf/kernel';
import { native } from '../../src/native';
import { Btf } from '../../src/btf/btf';
import { BtfKind, kindName } from '../../src/btf/kinds';
import { UserError } from '../../src/errors';

const VMLINUX = '/sys/kernel/btf/vmlinux';
interface BpftoolType {
  id: number; kind: string; name: string; size?: number; type_id?: number; vlen?: number;
  members?: { name: string; type_id: number; bits_offset: number; bitfield_size?: number }[];
  values?: { name: string; val: number }[];
  params?: { name: string; type_id: number }[];
  ret_type_id?: number; nr_elems?: number;
}

let workDir = '';
let reference: BpftoolType[] = [];
/** Enum values from bpftool's raw text dump (its JSON prints unsigned 32-bit enums sign-extended). */
const enumText = new Map<number, [string, bigint][]>();
const have = fs.existsSync(VMLINUX);

before(() => {
  if (!have) return;
  workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nc-btf-'));
  const json = execFileSync('bpftool', ['-j', 'btf', 'dump', 'file', VMLINUX], { maxBuffer: 1 << 30 }).toString();
  reference = (JSON.parse(json) as { types: BpftoolType[] }).types;
  let current: [string, bigint][] | undefined;
  for (const line of execFileSync('bpftool', ['btf', 'dump', 'file', VMLINUX, 'format', 'raw'], { maxBuffer: 1 << 30 }).toString().split('\n')) {
    const head = /^\[(\d+)\] (\w+) /.exec(line);
    if (head) {
      current = head[2] === 'ENUM' || head[2] === 'ENUM64' ? [] : undefined;
      if (current) enumText.set(Number(head[1]), current);
      continue;
    }
    const v = /^\t'(.*)' val=(-?\d+)(ULL|LL)?$/.exec(line);
    if (v && current) current.push([v[1], BigInt(v[2])]);
  }
  fs.writeFileSync(path.join(workDir, 'vmlinux.h'), execFileSync('bpftool', ['btf', 'dump', 'file', VMLINUX, 'format', 'c'], { maxBuffer: 1 << 30 }));
});
after(() => {
  if (workDir) fs.rmSync(workDir, { recursive: true, force: true });
});

/** Compiles `exprs` (unsigned long C expressions) against vmlinux.h with gcc and returns their values. */
function gccValues(exprs: string[]): bigint[] {
  const src = [
    '#include "vmlinux.h"',
    'int printf(const char *, ...);',
    'int main(void) {',
    ...exprs.map((e) => `  printf("%llu\\n", (unsigned long long)(${e}));`),
    '  return 0;',
    '}',
  ].join('\n');
  const c = path.join(workDir, 'probe.c');
  const exe = path.join(workDir, 'probe');
  fs.writeFileSync(c, src);
  execFileSync('gcc', ['-w', '-o', exe, c]);
  return execFileSync(exe).toString().trim().split('\n').map((l) => BigInt(l));
}

void test('every type matches bpftool: kind, name, size or target, members, params', { skip: !have && 'no /sys/kernel/btf/vmlinux' }, () => {
  const btf = loadKernelBtf();
  assert.equal(btf.typeCount - 1, reference.length);
  for (const r of reference) {
    const id = r.id;
    assert.equal(kindName(btf.kind(id)), r.kind, `kind of ${id}`);
    assert.equal(btf.name(id) || '(anon)', r.name, `name of ${id}`);
    if (r.members) {
      const ms = btf.members(id);
      assert.equal(ms.length, r.members.length);
      ms.forEach((m, i) => {
        const rm = r.members![i];
        assert.deepEqual([m.name || '(anon)', m.typeId, m.bitOffset, m.bitfieldSize], [rm.name, rm.type_id, rm.bits_offset, rm.bitfield_size ?? 0], `member ${i} of ${id}`);
      });
    }
    if (r.size !== undefined && r.kind !== 'ENUM' && r.kind !== 'ENUM64') assert.equal(btf.sizeOrType(id), r.size, `size of ${id}`);
    if (r.type_id !== undefined && r.kind !== 'ARRAY') assert.equal(btf.sizeOrType(id), r.type_id, `target of ${id}`);
    if (r.kind === 'ARRAY') assert.deepEqual([btf.arrayInfo(id).elemTypeId, btf.arrayInfo(id).nelems], [r.type_id, r.nr_elems]);
    if (r.params) {
      assert.equal(btf.sizeOrType(id), r.ret_type_id);
      assert.deepEqual(btf.params(id).map((p) => [p.name || '(anon)', p.typeId]), r.params.map((p) => [p.name, p.type_id]));
    }
    if (r.values) assert.deepEqual(btf.enumerators(id).map((e) => [e.name, e.value]), enumText.get(id), `values of ${id}`);
  }
});

void test('sk_buff and net_device member offsets and sizes match gcc on bpftool\'s vmlinux.h', { skip: !have && 'no BTF' }, () => {
  const btf = loadKernelBtf();
  const wanted: [string, string][] = [
    ['sk_buff', 'len'], ['sk_buff', 'data_len'], ['sk_buff', 'data'], ['sk_buff', 'head'], ['sk_buff', 'mac_header'],
    ['sk_buff', 'network_header'], ['sk_buff', 'transport_header'], ['sk_buff', 'protocol'], ['sk_buff', 'dev'],
    ['sk_buff', 'mark'], ['sk_buff', 'skb_iif'], ['sk_buff', 'tstamp'], ['sk_buff', 'headers.mac_header'],
    ['net_device', 'ifindex'], ['net_device', 'nd_net'], ['net_device', 'name'], ['net', 'ns.inum'],
  ];
  const ref = gccValues([
    ...wanted.map(([s, m]) => `__builtin_offsetof(struct ${s}, ${m})`),
    ...wanted.map(([s, m]) => `sizeof(((struct ${s} *)0)->${m})`),
    'sizeof(struct sk_buff)', 'sizeof(struct net_device)', 'sizeof(struct pt_regs)',
  ]);
  const n = wanted.length;
  wanted.forEach(([s, m], i) => {
    const loc = btf.structMember(s, m);
    assert.equal(loc.bitfield, undefined);
    assert.equal(BigInt(loc.offsetBits / 8), ref[i], `offset of ${s}.${m}`);
    assert.equal(BigInt(loc.sizeBits / 8), ref[n + i], `size of ${s}.${m}`);
  });
  assert.equal(BigInt(btf.sizeof('struct sk_buff')), ref[2 * n]);
  assert.equal(BigInt(btf.sizeof('net_device')), ref[2 * n + 1]);
  assert.equal(BigInt(btf.sizeof('pt_regs')), ref[2 * n + 2]);
  assert.equal(btf.structMember('sk_buff', 'dev').type, 'struct net_device *');
});

void test('bitfields: sk_buff.pkt_type position agrees with gcc (set the bits, find them)', { skip: !have && 'no BTF' }, () => {
  const btf = loadKernelBtf();
  const loc = btf.structMember('sk_buff', 'pkt_type');
  assert.ok(loc.bitfield);
  assert.equal(loc.sizeBits, loc.bitfield.bitSize);
  // offsetof() can't take a bitfield: set every bit of it in a zeroed struct and see which bits light up.
  const size = btf.sizeof('sk_buff');
  const bytes = gccValues(Array.from({ length: size }, (_, i) => `({ static struct sk_buff s; s.pkt_type = -1; ((unsigned char *)&s)[${i}]; })`));
  const lit: number[] = [];
  bytes.forEach((b, i) => { for (let bit = 0; bit < 8; bit++) if ((b >> BigInt(bit)) & 1n) lit.push(i * 8 + bit); });
  assert.deepEqual(lit, Array.from({ length: loc.bitfield.bitSize }, (_, i) => loc.bitfield!.bitOffset + i));
});

void test('enum skb_drop_reason values match gcc, enum64 values are exact', { skip: !have && 'no BTF' }, () => {
  const btf = loadKernelBtf();
  const values = btf.enumValues('skb_drop_reason');
  for (const name of ['SKB_DROP_REASON_NOT_SPECIFIED', 'SKB_DROP_REASON_NO_SOCKET', 'SKB_DROP_REASON_OTHERHOST']) assert.ok(values.has(name), name);
  const names = [...values.keys()];
  assert.deepEqual(gccValues(names), names.map((k) => values.get(k)));
  // An ENUM64 with values past 2^53, and the unsigned 32-bit init_ns_ino.
  for (const e64 of reference.filter((r) => (r.kind === 'ENUM64' && r.values!.some((v) => v.val > 2 ** 53)) || r.name === 'init_ns_ino')) {
    const entries = btf.enumerators(e64.id);
    assert.deepEqual(gccValues(entries.map((e) => e.name)), entries.map((e) => BigInt.asUintN(64, e.value)));
  }
});

void test('function prototypes: ip_rcv, netif_receive_skb, the kfree_skb reason function', { skip: !have && 'no BTF' }, () => {
  const btf = loadKernelBtf();
  const ip = btf.funcProto('ip_rcv');
  assert.deepEqual(ip.params.map((p) => p.name), ['skb', 'dev', 'pt', 'orig_dev']);
  assert.deepEqual(ip.params.map((p) => p.type), ['struct sk_buff *', 'struct net_device *', 'struct packet_type *', 'struct net_device *']);
  assert.equal(ip.returnType, 'int');
  const byName = (kind: string, name: string) => reference.find((r) => r.kind === kind && r.name === name)!;
  assert.equal(ip.btfId, byName('FUNC', 'ip_rcv').id);
  const nrs = btf.funcProto('netif_receive_skb');
  assert.deepEqual(nrs.params.map((p) => `${p.type} ${p.name}`), ['struct sk_buff * skb']);
  // kfree_skb_reason became an inline wrapper of sk_skb_reason_drop in 6.11; take whichever exists.
  const dropFn = btf.typeIdByName(BtfKind.Func, 'kfree_skb_reason') !== undefined ? 'kfree_skb_reason' : 'sk_skb_reason_drop';
  const drop = btf.funcProto(dropFn);
  const ref = byName('FUNC', dropFn);
  const protoRef = reference[byName('FUNC', dropFn).type_id! - 1];
  assert.equal(drop.btfId, ref.id);
  assert.deepEqual(drop.params.map((p) => [p.name, p.typeId]), protoRef.params!.map((p) => [p.name, p.type_id]));
  assert.ok(drop.params.some((p) => p.type === 'struct sk_buff *'));
  assert.ok(drop.params.some((p) => p.type === 'enum skb_drop_reason'));
});

void test('tp_btf prototypes: btf_trace_kfree_skb typedef id and arguments without void *__data', { skip: !have && 'no BTF' }, () => {
  const btf = loadKernelBtf();
  const tp = btf.tracepointProto('kfree_skb');
  const td = reference.find((r) => r.kind === 'TYPEDEF' && r.name === 'btf_trace_kfree_skb')!;
  assert.equal(tp.btfId, td.id);
  assert.equal(btf.typeIdByName(BtfKind.Typedef, 'btf_trace_kfree_skb'), td.id);
  const proto = reference[reference[td.type_id! - 1].type_id! - 1];
  assert.equal(proto.kind, 'FUNC_PROTO');
  assert.equal(btf.typeName(proto.params![0].type_id), 'void *');
  assert.deepEqual(tp.params.map((p) => p.typeId), proto.params!.slice(1).map((p) => p.type_id));
  assert.equal(tp.params[0].type, 'struct sk_buff *');
  assert.equal(btf.tracepointProto('netif_receive_skb').params[0].type, 'struct sk_buff *');
});

void test('mistakes are UserErrors with close names', { skip: !have && 'no BTF' }, () => {
  const btf = loadKernelBtf();
  assert.throws(() => btf.structMember('sk_buf', 'len'), (e: unknown) => e instanceof UserError && /sk_buff/.test(e.hint ?? ''));
  assert.throws(() => btf.structMember('sk_buff', 'lenn'), (e: unknown) => e instanceof UserError && /\blen\b/.test(e.hint ?? ''));
  assert.throws(() => btf.structMember('sk_buff', 'dev.ifindex'), (e: unknown) => e instanceof UserError && /pointer/.test(e.hint ?? ''));
  assert.throws(() => btf.funcProto('ip_rcvv'), (e: unknown) => e instanceof UserError && /ip_rcv/.test(e.hint ?? ''));
  assert.throws(() => btf.tracepointProto('kfree_skbb'), (e: unknown) => e instanceof UserError && /kfree_skb/.test(e.hint ?? ''));
  assert.throws(() => btf.enumValues('skb_drop_reasons'), UserError);
  assert.throws(() => Btf.parse(Buffer.from('\x7fELF not btf at all, long enough'), 'x'), UserError);
});

void test('split BTF made here (a struct and a function on top of vmlinux) reads like bpftool reads it', { skip: !have && 'no BTF' }, () => {
  const base = loadKernelBtf();
  const byName = (kind: string, name: string) => reference.find((r) => r.kind === kind && r.name === name)!.id;
  const skbId = byName('STRUCT', 'sk_buff');
  const uintId = byName('INT', 'unsigned int');
  const intId = byName('INT', 'int');
  const first = reference.length + 1;
  // Strings continue the base's string section; a split section starts with its own '\0'.
  const strs = ['', 'nc_split_test', 'skb', 'len', 'nc_split_fn'];
  const strOff: number[] = [];
  let at = 0;
  for (const str of strs) { strOff.push(at); at += str.length + 1; }
  const baseStrLen = fs.readFileSync(VMLINUX).readUInt32LE(20); // str_len in the base's header
  const so = (i: number) => baseStrLen + strOff[i];
  const words = [
    // [first] STRUCT nc_split_test size 16, 2 members
    so(1), (4 << 24) | 2, 16, so(2), first + 1, 0, so(3), uintId, 64,
    // [first+1] PTR -> struct sk_buff
    0, 2 << 24, skbId,
    // [first+2] FUNC_PROTO int (struct sk_buff *skb)
    0, (13 << 24) | 1, intId, so(2), first + 1,
    // [first+3] FUNC nc_split_fn (global linkage)
    so(4), (12 << 24) | 1, first + 2,
  ];
  const types = Buffer.alloc(words.length * 4);
  words.forEach((w, i) => types.writeUInt32LE(w >>> 0, i * 4));
  const strings = Buffer.from(strs.join('\0') + '\0', 'latin1');
  const header = Buffer.alloc(24);
  header.writeUInt16LE(0xeb9f, 0);
  header[2] = 1;
  header.writeUInt32LE(24, 4);
  header.writeUInt32LE(0, 8);
  header.writeUInt32LE(types.length, 12);
  header.writeUInt32LE(types.length, 16);
  header.writeUInt32LE(strings.length, 20);
  const data = Buffer.concat([header, types, strings]);
  const file = path.join(workDir, 'split.btf');
  fs.writeFileSync(file, data);
  const ref = (JSON.parse(execFileSync('bpftool', ['-j', '-B', VMLINUX, 'btf', 'dump', 'file', file], { maxBuffer: 1 << 30 }).toString()) as { types: BpftoolType[] }).types
    .filter((r) => r.id >= first);
  const split = Btf.parse(data, file, base);
  assert.equal(split.firstId, first);
  assert.deepEqual(ref.map((r) => r.id), [first, first + 1, first + 2, first + 3]);
  for (const r of ref) {
    assert.equal(kindName(split.kind(r.id)), r.kind);
    assert.equal(split.name(r.id) || '(anon)', r.name);
  }
  assert.deepEqual(split.members(first).map((m) => [m.name, m.typeId, m.bitOffset]), ref[0].members!.map((m) => [m.name, m.type_id, m.bits_offset]));
  assert.deepEqual(split.structMember('nc_split_test', 'len'), { offsetBits: 64, sizeBits: 32, type: 'unsigned int', typeId: uintId });
  assert.equal(split.structMember('nc_split_test', 'skb').type, 'struct sk_buff *');
  const fn = split.funcProto('nc_split_fn');
  assert.deepEqual([fn.btfId, fn.returnType, fn.params.map((p) => `${p.type} ${p.name}`)], [first + 3, 'int', ['struct sk_buff * skb']]);
  assert.equal(split.sizeof('sk_buff'), base.sizeof('sk_buff'), 'base types are reachable through the split BTF');
});

void test('split BTF of a module resolves ids through vmlinux', (t) => {
  const mods = fs.existsSync('/sys/kernel/btf') ? fs.readdirSync('/sys/kernel/btf').filter((n) => n !== 'vmlinux') : [];
  if (!mods.length) return t.skip('no kernel module carries BTF on this machine (/sys/kernel/btf has only vmlinux)');
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { loadModuleBtf } = require('../../src/btf/kernel') as typeof import('../../src/btf/kernel');
  const mod = loadModuleBtf(mods[0]);
  const ref = (JSON.parse(execFileSync('bpftool', ['-j', '-B', VMLINUX, 'btf', 'dump', 'file', `/sys/kernel/btf/${mods[0]}`], { maxBuffer: 1 << 30 }).toString()) as { types: BpftoolType[] }).types
    .filter((r) => r.id >= mod.firstId);
  assert.equal(mod.firstId, loadKernelBtf().typeCount);
  for (const r of ref) {
    assert.equal(kindName(mod.kind(r.id)), r.kind);
    assert.equal(mod.name(r.id) || '(anon)', r.name);
  }
});

void test('the addon maps a file read-only, byte for byte what reading it gives, and names what it cannot map', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nc-map-'));
  try {
    const file = path.join(dir, 'bytes');
    const bytes = Buffer.from(Array.from({ length: 10_000 }, (_, i) => (i * 7) & 0xff));
    fs.writeFileSync(file, bytes);
    assert.deepEqual(Buffer.from(native().mapFile(file)), bytes);
    // procfs files have no size: the caller reads them instead.
    assert.throws(() => native().mapFile('/proc/self/status'), { code: 'EINVAL' });
    assert.throws(() => native().mapFile(path.join(dir, 'absent')), { code: 'ENOENT' });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

void test("the kernel's BTF: mapped where the kernel maps it (6.16 on), the same bytes as read(2) gives", (t) => {
  if (!have) return t.skip('no /sys/kernel/btf/vmlinux');
  let mapped: Buffer;
  try {
    mapped = Buffer.from(native().mapFile(VMLINUX));
  } catch (e) {
    return t.skip(`this kernel does not map ${VMLINUX} (${(e as { code?: string }).code}): netcap reads it`);
  }
  assert.ok(mapped.equals(fs.readFileSync(VMLINUX)), 'the mapping holds the file as read(2) returns it');
});
