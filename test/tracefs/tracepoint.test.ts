// tracefs: mounting, tracepoint ids and formats, compared with what the
// kernel's own files and bpftrace's listing say.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { findTracefs, tracefsRoot } from '../../src/tracefs/mount';
import { listTracepoints, parseFormat, parseTracepointName, tracepointFormat, tracepointId } from '../../src/tracefs/tracepoint';
import { UserError } from '../../src/errors';

void test('tracefs is found or mounted, and is what /proc/self/mounts lists', () => {
  const root = tracefsRoot();
  assert.ok(fs.existsSync(`${root}/events`), `${root}/events exists`);
  assert.equal(findTracefs(), root);
});

void test('findTracefs reads mount tables, including escaped paths', () => {
  assert.equal(findTracefs('sysfs /sys sysfs rw 0 0\ntracefs /mnt/my\\040trace tracefs rw 0 0\n'), '/mnt/my trace');
  assert.equal(findTracefs('sysfs /sys sysfs rw 0 0\n'), undefined);
});

void test('the id of net:netif_receive_skb matches the id file and perf list', () => {
  const id = tracepointId('net:netif_receive_skb');
  const fromFile = Number(fs.readFileSync(`${tracefsRoot()}/events/net/netif_receive_skb/id`, 'utf8'));
  assert.equal(id, fromFile);
  assert.equal(tracepointId('tracepoint:net:netif_receive_skb'), id);
  assert.equal(tracepointId({ category: 'net', name: 'netif_receive_skb' }), id);
});

void test('the format of net:netif_receive_skb has the fields the kernel declares', () => {
  const f = tracepointFormat('net:netif_receive_skb');
  const byName = new Map(f.fields.map((x) => [x.name, x]));
  assert.deepEqual(byName.get('common_type'), { type: 'unsigned short', name: 'common_type', offset: 0, size: 2, signed: false, common: true });
  const skb = byName.get('skbaddr');
  assert.ok(skb);
  assert.equal(skb.type, 'void *');
  assert.equal(skb.size, 8);
  assert.equal(byName.get('name')?.type, '__data_loc char[]');
  assert.ok(f.printFormat.includes('skbaddr'));
});

void test('bpftrace agrees on the field list of skb:kfree_skb', (t) => {
  const r = spawnSync('bpftrace', ['-lv', 'tracepoint:skb:kfree_skb'], { encoding: 'utf8', timeout: 20000 });
  if (r.status !== 0) return t.skip(`bpftrace -lv failed: ${r.stderr}`);
  // bpftrace prints "    void * skbaddr" per non-common field.
  const theirs = r.stdout
    .split('\n')
    .slice(1)
    .map((l) => /([A-Za-z_][A-Za-z0-9_]*)(\[\d*\])?;?\s*$/.exec(l.trim())?.[1])
    .filter((n): n is string => !!n);
  const ours = tracepointFormat('skb:kfree_skb')
    .fields.filter((f) => !f.common)
    .map((f) => f.name);
  assert.deepEqual(ours, theirs);
});

void test('array fields keep their dimension in the type', () => {
  const f = parseFormat('name: x\nID: 7\nformat:\n\tfield:unsigned char dst[6];\toffset:8;\tsize:6;\tsigned:0;\n\nprint fmt: "x"\n');
  assert.deepEqual(f.fields[0], { type: 'unsigned char[6]', name: 'dst', offset: 8, size: 6, signed: false, common: false });
  assert.equal(f.id, 7);
});

void test('listing a category gives its tracepoints', () => {
  const net = listTracepoints('net');
  assert.ok(net.includes('net:netif_receive_skb'));
  assert.ok(net.includes('net:net_dev_xmit'));
  assert.ok(net.every((n) => n.startsWith('net:')));
  const dirs = fs.readdirSync(`${tracefsRoot()}/events/net`).filter((d) => fs.statSync(`${tracefsRoot()}/events/net/${d}`).isDirectory());
  assert.equal(net.length, dirs.length);
});

void test('an unknown tracepoint is a UserError naming close names', () => {
  assert.throws(
    () => tracepointId('net:netif_recieve_skb'),
    (e: unknown) => e instanceof UserError && e.message.includes('net:netif_recieve_skb') && (e.hint ?? '').includes('net:netif_receive_skb'),
  );
  // The right event in the wrong category.
  assert.throws(
    () => tracepointId('skb:netif_receive_skb'),
    (e: unknown) => e instanceof UserError && (e.hint ?? '').includes('net:netif_receive_skb'),
  );
});

void test('names that could leave the events directory are refused', () => {
  assert.throws(() => parseTracepointName('../../etc:passwd'), UserError);
  assert.throws(() => parseTracepointName('net'), UserError);
  assert.throws(() => tracepointId({ category: '..', name: 'x' }), UserError);
});
