// Lookups by name answer the same ids whether the BTF reader scans for the
// name (what start-up does: a few names, no index), stops at the first type
// of the kind asked for (typeIdByName before any index), or has built the
// index of every name, and all agree with bpftool's listing of
// /sys/kernel/btf/vmlinux.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import { Btf } from '../../src/btf/btf';
import { BtfKind } from '../../src/btf/kinds';

const VMLINUX = '/sys/kernel/btf/vmlinux';

void test('idsByName by scan and by index equal bpftool\'s ids for the same names', { skip: !fs.existsSync(VMLINUX) && 'needs kernel BTF (CONFIG_DEBUG_INFO_BTF)' }, () => {
  // "[873] STRUCT 'sk_buff' size=232 vlen=..." : id and name of every type.
  const listing = execFileSync('bpftool', ['btf', 'dump', 'file', VMLINUX], { maxBuffer: 1 << 30 }).toString();
  const byName = new Map<string, number[]>();
  for (const m of listing.matchAll(/^\[(\d+)\] \w+ '([^']*)'/gm)) {
    if (m[2] === '(anon)') continue;
    const ids = byName.get(m[2]) ?? [];
    ids.push(Number(m[1]));
    byName.set(m[2], ids);
  }
  const all = [...byName.keys()];
  const names = ['sk_buff', 'net_device', 'net', 'pt_regs', 'task_struct', ...all.filter((_, i) => i % 997 === 0)];
  assert.ok(names.length > 20, `bpftool listed ${all.length} names`);
  const data = fs.readFileSync(VMLINUX);
  const scanning = Btf.parse(data, VMLINUX);
  const indexed = Btf.parse(data, VMLINUX);
  indexed.namesOfKind(BtfKind.Struct); // builds the index of every name
  for (const name of names) {
    const expected = byName.get(name) ?? [];
    assert.deepEqual(scanning.idsByName(name), expected, `'${name}' by scan`);
    assert.deepEqual(indexed.idsByName(name), expected, `'${name}' by index`);
  }
  assert.deepEqual(scanning.idsByName('netcap_no_such_type'), []);
  assert.equal(scanning.typeIdByName(BtfKind.Struct, 'sk_buff'), byName.get('sk_buff')?.[0]);
  // The first of a kind, found without any list of ids (a Btf that never looked a name up).
  const firstOnly = Btf.parse(data, VMLINUX);
  for (const name of [...names, 'netcap_no_such_type']) {
    for (const kind of [BtfKind.Struct, BtfKind.Union, BtfKind.Typedef, BtfKind.Func, BtfKind.Enum, BtfKind.Int, BtfKind.Fwd]) {
      assert.equal(firstOnly.typeIdByName(kind, name), indexed.typeIdByName(kind, name), `first ${kind} named '${name}'`);
    }
  }
});
