// 200 create/delete cycles of an skb capture through the API, with a few
// frames captured in each: afterwards the service holds no BPF map, program
// or link more than before, the kernel has none of the ones it held, and
// its memory has not grown past the warm-up.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { World, type Namespace } from '../../lab/netns';
import { inject } from '../../lab/inject';
import { numberedFrames, RECEIVER_MAC, SENDER_MAC, sleep } from '../capture/numbered-frames';
import { bpfObjectsOf, stillLoaded } from '../capture/netcap-child';
import { api, bpfDescriptors, rssKiB, startServe, type Served } from './serve-process';

const world = new World('srvcyc');
let ns: Namespace;
let served: Served;
const CYCLES = 200;
const WARM_UP = 20;

before(async () => {
  ns = world.addNamespace();
  ns.addVeth('v0', 'v1', { local: { mac: SENDER_MAC }, peer: { mac: RECEIVER_MAC, address: '192.0.2.2/24' } });
  served = await startServe({ world });
});

after(async () => {
  await served?.stop();
  if (served) fs.rmSync(served.stateDir, { recursive: true, force: true });
  await world.destroy();
});

void test(`${CYCLES} create/delete cycles leave no BPF object and no growth in the service's memory`, async () => {
  const base = bpfDescriptors(served.pid);
  const held = { programs: new Set<number>(), links: new Set<number>() };
  const frames = numberedFrames(3, 5000, 100);
  let rssWarm = 0;
  const started = Date.now();
  for (let i = 0; i < CYCLES; i++) {
    const created = await api(served.url, 'POST', '/captures', { name: 'cycle', kind: 'skb', points: 'tracepoint:net:netif_receive_skb', iface: 'v1', netns: ns.name, filter: 'udp' });
    assert.equal(created.status, 201, `cycle ${i}: ${JSON.stringify(created.body)}`);
    if (i % 20 === 0) {
      // Now and then: frames through it, and what it holds in the kernel.
      await inject(ns, 'v0', frames);
      const until = Date.now() + 5000;
      while ((await api<{ counters: { captured: number } }>(served.url, 'GET', '/captures/cycle')).body.counters.captured < 3 && Date.now() < until) await sleep(20);
      const ids = bpfObjectsOf(served.pid);
      ids.programs.forEach((id) => held.programs.add(id));
      ids.links.forEach((id) => held.links.add(id));
    }
    assert.equal((await api(served.url, 'DELETE', '/captures/cycle?removeDump=true')).status, 204, `cycle ${i}`);
    if (i === WARM_UP - 1) rssWarm = rssKiB(served.pid);
  }
  const perCycleMs = (Date.now() - started) / CYCLES;
  await sleep(500);
  const rssEnd = rssKiB(served.pid);
  const report = `${CYCLES} cycles, ${perCycleMs.toFixed(0)} ms each; RSS ${Math.round(rssWarm / 1024)} MiB after ${WARM_UP}, ${Math.round(rssEnd / 1024)} MiB after ${CYCLES}`;
  console.log(report);
  assert.deepEqual(bpfDescriptors(served.pid), base, 'the service holds what it held before the first capture');
  assert.ok(held.programs.size > 0 && held.links.size > 0);
  let left = stillLoaded({ programs: [...held.programs], links: [...held.links] });
  const deadline = Date.now() + 5000;
  while ((left.programs.length || left.links.length) && Date.now() < deadline) {
    await sleep(50);
    left = stillLoaded(left);
  }
  assert.deepEqual(left, { programs: [], links: [] }, 'none of the programs or links the captures held is in the kernel');
  assert.ok(rssEnd < rssWarm + 24 * 1024, `no growth past the warm-up: ${report}`);
  const list = await api<{ captures: unknown[] }>(served.url, 'GET', '/captures');
  assert.deepEqual(list.body.captures, []);
  assert.deepEqual(fs.readdirSync(`${served.stateDir}/captures`), [], 'no definition is left in the state directory');
});
