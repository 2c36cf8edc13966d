// netcap serve killed with SIGKILL while frames flow: its dump is read by
// tcpdump to the last flush (every numbered frame up to then, in order,
// nothing damaged), the kernel holds none of its programs or links, and a
// new service on the same state directory brings the captures back (saying
// they were restored), continues the dump with a new section, and at a
// SIGTERM closes it with its statistics.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { World, type Namespace } from '../../lab/netns';
import { inject } from '../../lab/inject';
import { numberedFrames, numbersByTcpdump, RECEIVER_MAC, SENDER_MAC, sleep } from '../capture/numbered-frames';
import { bpfObjectsOf, stillLoaded } from '../capture/netcap-child';
import { readPcapng } from '../../src/output/pcapng-reader';
import { api, startServe, tempDir, type Served } from './serve-process';

const world = new World('srvkill');
let ns: Namespace;
let stateDir: string;
const running: Served[] = [];
const POINT = 'tracepoint:net:netif_receive_skb';

before(() => {
  ns = world.addNamespace();
  ns.addVeth('v0', 'v1', { local: { mac: SENDER_MAC }, peer: { mac: RECEIVER_MAC, address: '192.0.2.2/24' } });
  stateDir = tempDir('kill');
});

after(async () => {
  for (const s of running) await s.stop('SIGKILL');
  await world.destroy();
  fs.rmSync(stateDir, { recursive: true, force: true });
});

interface View {
  name: string;
  status: string;
  restored: boolean;
  message?: string;
  counters: { captured: number };
  dump: { flushed?: number; flushedAtMs?: number };
}

async function serve(): Promise<Served> {
  const s = await startServe({ stateDir, world });
  running.push(s);
  return s;
}

async function until(s: Served, name: string, ok: (v: View) => boolean, what: string): Promise<View> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const v = (await api<View>(s.url, 'GET', `/captures/${name}`)).body;
    if (ok(v)) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(v)}`);
    await sleep(50);
  }
}

void test('SIGKILL mid-capture: tcpdump reads the dump to its last flush, no program or link is left; a restart brings the captures back and continues the dump', async () => {
  const first = await serve();
  const create = async (body: Record<string, unknown>) => assert.equal((await api(first.url, 'POST', '/captures', { kind: 'skb', points: POINT, iface: 'v1', netns: ns.name, filter: 'udp', ...body })).status, 201);
  await create({ name: 'keep' });
  await create({ name: 'halted' });
  assert.equal((await api(first.url, 'POST', '/captures/halted/stop')).status, 200);
  const sent = 3000;
  const sending = inject(ns, 'v0', numberedFrames(sent, 5000, 100), { rate: 600 });
  await sleep(2500);
  const before = await until(first, 'keep', (v) => (v.dump.flushed ?? 0) > 0, 'a flush');
  const flushed = before.dump.flushed!;
  const held = bpfObjectsOf(first.pid);
  assert.ok(held.programs.length > 0 && held.links.length > 0, 'the service holds programs and links');
  first.child.kill('SIGKILL');
  assert.equal((await first.exited).signal, 'SIGKILL');
  const dump = path.join(stateDir, 'dumps', 'keep', 'keep.pcapng');
  const read = spawnSync('tcpdump', ['-r', dump, '-nn'], { encoding: 'utf8' });
  assert.equal(read.status, 0, `tcpdump reads the killed service's dump without complaint: ${read.stderr}`);
  const numbers = numbersByTcpdump(dump);
  assert.ok(numbers.length >= flushed, `every packet of the flush seen before the kill is there (${numbers.length} >= ${flushed})`);
  assert.ok(numbers.length < sent, 'and the capture did end mid-stream');
  assert.deepEqual(numbers, Array.from({ length: numbers.length }, (_, i) => i), 'in order, from the first, none missing');
  // The kernel frees a killed process's objects shortly after it is gone.
  const deadline = Date.now() + 5000;
  let left = stillLoaded(held);
  while ((left.programs.length || left.links.length) && Date.now() < deadline) {
    await sleep(50);
    left = stillLoaded(held);
  }
  assert.deepEqual(left, { programs: [], links: [] }, 'no program or link of the killed service is left');
  await sending;

  const second = await serve();
  assert.match(second.stderr(), /2 captures restored/);
  const list = (await api<{ captures: View[] }>(second.url, 'GET', '/captures')).body.captures;
  assert.deepEqual(list.map((c) => [c.name, c.status, c.restored]), [['keep', 'running', true], ['halted', 'stopped', true]]);
  await inject(ns, 'v0', numberedFrames(10, 5000, 100, 100_000));
  await until(second, 'keep', (v) => v.counters.captured === 10, 'ten frames after the restart');
  const stopped = await second.stop('SIGTERM');
  assert.equal(stopped.code, 0, second.stderr());
  const again = readPcapng(fs.readFileSync(dump));
  assert.equal(again.damage, undefined);
  assert.equal(again.sections.length, 2, 'the restored capture continued the dump in a new section');
  assert.deepEqual(numbersByTcpdump(dump), [...numbers, ...Array.from({ length: 10 }, (_, i) => 100_000 + i)], 'tcpdump reads both lives of the dump');
  assert.equal(again.statistics.length, 1, 'the SIGTERM closed the dump with its statistics');
  assert.equal(again.statistics[0].stats.filterAccepted, 10n);
  // The definitions stay for the next start.
  assert.deepEqual(fs.readdirSync(path.join(stateDir, 'captures')).sort(), ['halted.json', 'keep.json']);
});
