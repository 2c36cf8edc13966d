// The dump's rotation fields over the API, each dump file read by tcpdump:
// megabytes + files (tcpdump's -C and -W: a ring of files, the oldest
// overwritten), seconds (-G: a new file named by its time), keepLast (only
// the last packets, on disk once the capture ends).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { World, type Namespace } from '../../lab/netns';
import { inject } from '../../lab/inject';
import { numberedFrames, numbersByTcpdump, sleep } from '../capture/numbered-frames';
import { api, senderNamespace, startServe, type Served } from './serve-process';

const world = new World('srvrot');
let ns: Namespace;
let served: Served;
const POINT = 'tracepoint:net:netif_receive_skb';

before(async () => {
  ns = senderNamespace(world);
  served = await startServe({ world });
});

after(async () => {
  await served?.discard();
  await world.destroy();
});

interface View {
  counters: { captured: number };
  dump: { files: { name: string; bytes: number }[] };
}

/** Creates the capture, sends `frames` at `rate`, waits until all are captured, and returns the view then and the dump files after the stop, by name. */
async function capture(name: string, rotation: Record<string, number>, frames: Buffer[], rate: number): Promise<{ running: View; files: { name: string; bytes: number; numbers: number[] }[] }> {
  const r = await api(served.url, 'POST', '/captures', { name, kind: 'skb', points: POINT, iface: 'v1', netns: ns.name, filter: 'udp', rotation });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  await inject(ns, 'v0', frames, { rate });
  const deadline = Date.now() + 10_000;
  let running: View;
  while ((running = (await api<View>(served.url, 'GET', `/captures/${name}`)).body).counters.captured < frames.length) {
    if (Date.now() > deadline) assert.fail(`${name}: ${running.counters.captured} of ${frames.length} frames captured`);
    await sleep(50);
  }
  const stopped = await api<View>(served.url, 'POST', `/captures/${name}/stop`);
  assert.equal(stopped.status, 200);
  const folder = path.join(served.stateDir, 'dumps', name);
  const files = stopped.body.dump.files
    .map((f) => ({ ...f, numbers: numbersByTcpdump(path.join(folder, f.name)) }))
    .sort((a, b) => a.name.localeCompare(b.name));
  assert.deepEqual(files.map((f) => f.name), fs.readdirSync(folder).sort(), 'the API lists the files of the dump folder');
  return { running, files };
}

void test('megabytes and files: a ring of files of that size, the oldest packets overwritten, the newest kept in order', async () => {
  const sent = 600;
  const { files } = await capture('ring', { megabytes: 0.02, files: 3 }, numberedFrames(sent, 5000, 200), 3000);
  assert.equal(files.length, 3, `three files: ${files.map((f) => f.name).join(', ')}`);
  // -C: a new file once this one is larger than 20,000 bytes, so none is larger by more than a packet (and the headers).
  for (const f of files) assert.ok(f.bytes > 10_000 && f.bytes <= 20_000 + 1000, `${f.name}: ${f.bytes} bytes`);
  const kept = files.flatMap((f) => f.numbers).sort((a, b) => a - b);
  assert.ok(kept.length < sent, `older files were overwritten (${kept.length} of ${sent} kept)`);
  assert.deepEqual(kept, Array.from({ length: kept.length }, (_, i) => sent - kept.length + i), 'the last packets, none missing or twice');
  for (const f of files) assert.deepEqual(f.numbers, Array.from({ length: f.numbers.length }, (_, i) => f.numbers[0] + i), `${f.name} holds consecutive packets`);
});

void test('seconds: a new file every second, named by its time; together every packet in order', async () => {
  const sent = 750;
  const { files } = await capture('timed', { seconds: 1 }, numberedFrames(sent, 5000, 200), 300);
  assert.ok(files.length >= 2, `a file per second over 2.5 s: ${files.map((f) => f.name).join(', ')}`);
  for (const f of files) assert.match(f.name, /^timed-\d{8}-\d{6}\.pcapng$/);
  assert.deepEqual(files.flatMap((f) => f.numbers), Array.from({ length: sent }, (_, i) => i), 'the files by name hold every packet once, in order');
});

void test('keepLast: nothing on disk while it runs, the last packets once it stops', async () => {
  const sent = 300;
  const { running, files } = await capture('last', { keepLast: 50 }, numberedFrames(sent, 5000, 200), 3000);
  assert.deepEqual(running.dump.files.filter((f) => f.bytes > 0), [], 'no packet is on disk before the end');
  assert.equal(files.length, 1);
  assert.deepEqual(files[0].numbers, Array.from({ length: 50 }, (_, i) => sent - 50 + i));
});
