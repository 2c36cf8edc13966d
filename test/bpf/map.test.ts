// Maps against the real kernel; bpftool (not our code) confirms what the
// kernel holds.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createMap, u32, u64, type BpfMap } from '../../src/bpf/map';
import { possibleCpus } from '../../src/bpf/cpus';
import { LossCounters } from './programs';
import { closeAll, openCount } from '../../src/bpf/registry';
import { UserError } from '../../src/errors';

const made: BpfMap[] = [];
after(() => {
  for (const m of made) m.close();
});
function make(...args: Parameters<typeof createMap>): BpfMap {
  const m = createMap(...args);
  made.push(m);
  return m;
}

interface BpftoolMap {
  id: number;
  type: string;
  name: string;
  bytes_key: number;
  bytes_value: number;
  max_entries: number;
}
function bpftoolMaps(): BpftoolMap[] {
  const r = spawnSync('bpftool', ['map', 'list', '-j'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as BpftoolMap[];
}

void test('a hash map stores, finds, walks and deletes; bpftool sees its shape', () => {
  const m = make({ type: 'hash', name: 'nc_t_hash', keySize: 8, valueSize: 4, maxEntries: 16 });
  m.update(u64(1n), u32(100));
  m.update(u64(2n), u32(200));
  assert.deepEqual(m.lookupU64Key(2n), u32(200));
  assert.equal(m.lookupU64Key(3n), undefined);
  assert.deepEqual(new Set([...m.keys()].map((k) => k.readBigUInt64LE(0))), new Set([1n, 2n]));
  assert.throws(() => m.update(u64(1n), u32(1), 'noexist'), { code: 'EEXIST' });
  assert.equal(m.delete(u64(1n)), true);
  assert.equal(m.delete(u64(1n)), false);
  const theirs = bpftoolMaps().find((x) => x.name === 'nc_t_hash');
  assert.ok(theirs, 'bpftool lists the map');
  assert.equal(theirs.type, 'hash');
  assert.equal(theirs.bytes_key, 8);
  assert.equal(theirs.bytes_value, 4);
  assert.equal(theirs.max_entries, 16);
  const dump = spawnSync('bpftool', ['map', 'dump', 'id', String(theirs.id), '-j'], { encoding: 'utf8' });
  const entries = JSON.parse(dump.stdout) as { key: string[]; value: string[] }[];
  assert.equal(entries.length, 1);
  assert.deepEqual(entries[0].value.map((h) => parseInt(h, 16)), [200, 0, 0, 0]);
});

void test('an array map has every index; u32 helpers', () => {
  const m = make({ type: 'array', name: 'nc_t_array', keySize: 4, valueSize: 8, maxEntries: 4 });
  assert.deepEqual(m.lookupU32Key(3), Buffer.alloc(8));
  m.updateU32Key(3, u64(0x1122334455667788n));
  assert.equal(m.lookupU32Key(3)?.readBigUInt64LE(0), 0x1122334455667788n);
  assert.equal([...m.keys()].length, 4);
  assert.throws(() => m.lookup(Buffer.alloc(8)), /key is 8 bytes, expected 4/);
});

void test('per-CPU values have one slot per possible CPU, rounded up to 8 bytes', () => {
  const cpus = possibleCpus();
  assert.ok(cpus >= 1);
  const m = make({ type: 'percpu_array', name: 'nc_t_pcpu', keySize: 4, valueSize: 4, maxEntries: 2 });
  assert.equal(m.slotSize, 8);
  const values = Array.from({ length: cpus }, (_, cpu) => u32(10 + cpu));
  m.update(u32(1), values);
  assert.deepEqual(m.lookupPerCpu(u32(1)), values);
  // bpftool prints per-CPU values CPU by CPU: same numbers.
  const id = bpftoolMaps().find((x) => x.name === 'nc_t_pcpu')?.id;
  const dump = JSON.parse(spawnSync('bpftool', ['map', 'lookup', 'id', String(id), 'key', '1', '0', '0', '0', '-j'], { encoding: 'utf8' }).stdout) as {
    values: { cpu: number; value: string[] }[];
  };
  assert.deepEqual(
    dump.values.map((v) => parseInt(v.value[0], 16)),
    values.map((v) => v.readUInt32LE(0)),
  );
  assert.throws(() => m.lookup(u32(1)), /per-CPU/);
});

void test('LossCounters sums u64 counters over CPUs', () => {
  const loss = LossCounters.create('nc_t_loss', 2);
  made.push(loss.map);
  const cpus = possibleCpus();
  loss.map.update(u32(1), Array.from({ length: cpus }, (_, cpu) => u64(BigInt(cpu + 1) * 5n)));
  assert.equal(loss.lost(0), 0n);
  assert.equal(loss.lost(1), BigInt((cpus * (cpus + 1)) / 2) * 5n);
  assert.equal(loss.total(), loss.lost(1));
});

void test('LRU hash evicts instead of failing when full', () => {
  const m = make({ type: 'lru_hash', name: 'nc_t_lru', keySize: 4, valueSize: 4, maxEntries: 64 });
  for (let i = 0; i < 1000; i++) m.update(u32(i), u32(i));
  const n = [...m.keys()].length;
  assert.ok(n > 0 && n <= 64 * possibleCpus(), `${n} entries`);
});

void test('ring buffer and stack trace maps are created with checked shapes', () => {
  const rb = make({ type: 'ringbuf', name: 'nc_t_ring', keySize: 0, valueSize: 0, maxEntries: 1 << 16 });
  assert.equal(bpftoolMaps().find((x) => x.name === 'nc_t_ring')?.type, 'ringbuf');
  assert.throws(() => [...rb.keys()], /RingReader/);
  assert.throws(() => createMap({ type: 'ringbuf', name: 'bad', keySize: 0, valueSize: 0, maxEntries: 5000 }), UserError);
  const st = make({ type: 'stack_trace', name: 'nc_t_stack', keySize: 4, valueSize: 8 * 16, maxEntries: 8 });
  assert.equal(st.stackTrace(0), undefined);
});

void test('close is idempotent, frees the map, and closeAll closes what is left', () => {
  const before = openCount();
  const a = createMap({ type: 'array', name: 'nc_t_close_a', keySize: 4, valueSize: 4, maxEntries: 1 });
  const b = createMap({ type: 'array', name: 'nc_t_close_b', keySize: 4, valueSize: 4, maxEntries: 1 });
  assert.equal(openCount(), before + 2);
  a.close();
  a.close();
  assert.throws(() => a.fd, /closed/);
  assert.equal(openCount(), before + 1);
  // closeAll is process-wide: close the others first so this test owns the count.
  for (const m of made) m.close();
  assert.deepEqual(closeAll(), []);
  assert.equal(b.closed, true);
  assert.equal(openCount(), 0);
  // The kernel frees maps asynchronously (RCU): poll briefly.
  const deadline = Date.now() + 5000;
  let names: string[] = [];
  do {
    names = bpftoolMaps().map((x) => x.name);
  } while (names.some((n) => n.startsWith('nc_t_close')) && Date.now() < deadline);
  assert.ok(!names.some((n) => n.startsWith('nc_t_close')), 'the kernel freed the maps');
});

void test('bad names and shapes are refused before the kernel sees them', () => {
  assert.throws(() => createMap({ type: 'hash', name: 'this-name-is-far-too-long', keySize: 4, valueSize: 4, maxEntries: 1 }), /at most 15/);
  assert.throws(() => createMap({ type: 'array', name: 'x', keySize: 8, valueSize: 4, maxEntries: 1 }), /4 bytes/);
});
