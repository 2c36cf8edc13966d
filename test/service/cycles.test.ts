// 200 create/delete cycles of an skb capture through the API, with frames
// captured now and then: afterwards the service holds no BPF map, program
// or link more than before, the kernel has none of the ones it held, and
// its memory has not grown. The service runs in this process (the same
// code as netcap serve, over HTTP on loopback), so the heap can be
// measured after a full garbage collection: RSS alone moves with V8's
// compiled code and the allocator's arenas, and says little.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { World, type Namespace } from '../../lab/netns';
import { inject } from '../../lab/inject';
import { numberedFrames, RECEIVER_MAC, SENDER_MAC, sleep } from '../capture/numbered-frames';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import type { FastifyInstance } from 'fastify';
import { bpfObjectsOf, stillLoaded } from '../capture/netcap-child';
import { CaptureService } from '../../src/service/service';
import { buildServer } from '../../src/service/server';
import { api, bpfDescriptors, tempDir } from './serve-process';

const world = new World('srvcyc');
let ns: Namespace;
let stateDir: string;
let service: CaptureService;
let app: FastifyInstance;
let url: string;
const CYCLES = 200;
const WARM_UP = 50;

before(async () => {
  ns = world.addNamespace();
  ns.addVeth('v0', 'v1', { local: { mac: SENDER_MAC }, peer: { mac: RECEIVER_MAC, address: '192.0.2.2/24' } });
  stateDir = tempDir('cycles');
  service = new CaptureService({ stateDir });
  app = await buildServer({ service });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
});

after(async () => {
  await service?.close();
  await app?.close();
  if (stateDir) fs.rmSync(stateDir, { recursive: true, force: true });
  await world.destroy();
});

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

/** The heap after full collections, in bytes. */
async function heapAfterGc(): Promise<number> {
  for (let i = 0; i < 3; i++) {
    gc();
    await sleep(50);
  }
  return process.memoryUsage().heapUsed;
}

void test(`${CYCLES} create/delete cycles leave no BPF object and no growth in the service's memory`, async () => {
  const base = bpfDescriptors(process.pid);
  const held = { programs: new Set<number>(), links: new Set<number>() };
  const frames = numberedFrames(3, 5000, 100);
  let heapWarm = 0;
  let rssWarm = 0;
  const started = Date.now();
  for (let i = 0; i < CYCLES; i++) {
    const created = await api(url, 'POST', '/captures', { name: 'cycle', kind: 'skb', points: 'tracepoint:net:netif_receive_skb', iface: 'v1', netns: ns.name, filter: 'udp' });
    assert.equal(created.status, 201, `cycle ${i}: ${JSON.stringify(created.body)}`);
    if (i % 20 === 0) {
      // Now and then: frames through it, and what it holds in the kernel.
      await inject(ns, 'v0', frames);
      const until = Date.now() + 5000;
      while ((await api<{ counters: { captured: number } }>(url, 'GET', '/captures/cycle')).body.counters.captured < 3 && Date.now() < until) await sleep(20);
      const ids = bpfObjectsOf(process.pid);
      ids.programs.forEach((id) => held.programs.add(id));
      ids.links.forEach((id) => held.links.add(id));
    }
    assert.equal((await api(url, 'DELETE', '/captures/cycle?removeDump=true')).status, 204, `cycle ${i}`);
    if (i === WARM_UP - 1) {
      heapWarm = await heapAfterGc();
      rssWarm = process.memoryUsage().rss;
    }
  }
  const perCycleMs = (Date.now() - started) / CYCLES;
  const heapEnd = await heapAfterGc();
  const rssEnd = process.memoryUsage().rss;
  const mib = (b: number) => (b / 1048576).toFixed(1);
  const report = `${CYCLES} cycles, ${perCycleMs.toFixed(0)} ms each; heap after GC ${mib(heapWarm)} MiB after ${WARM_UP}, ${mib(heapEnd)} MiB after ${CYCLES}; RSS ${mib(rssWarm)} MiB, then ${mib(rssEnd)} MiB`;
  console.log(report);
  assert.deepEqual(bpfDescriptors(process.pid), base, 'the service holds what it held before the first capture');
  assert.ok(held.programs.size > 0 && held.links.size > 0);
  let left = stillLoaded({ programs: [...held.programs], links: [...held.links] });
  const deadline = Date.now() + 5000;
  while ((left.programs.length || left.links.length) && Date.now() < deadline) {
    await sleep(50);
    left = stillLoaded(left);
  }
  assert.deepEqual(left, { programs: [], links: [] }, 'none of the programs or links the captures held is in the kernel');
  // 2 MiB over 150 cycles is 14 KiB a cycle: a capture's packets, dump or stream kept by mistake would be more.
  assert.ok(heapEnd < heapWarm + 2 * 1048576, `no growth of the heap past the warm-up: ${report}`);
  const list = await api<{ captures: unknown[] }>(url, 'GET', '/captures');
  assert.deepEqual(list.body.captures, []);
  assert.deepEqual(fs.readdirSync(`${stateDir}/captures`), [], 'no definition is left in the state directory');
});
