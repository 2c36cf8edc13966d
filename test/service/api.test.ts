// The REST API against a real `netcap serve` on loopback, with skb
// captures on a veth of a test namespace: create (Polycube's field names
// too), list, show with per-point counters, change, delete with its
// programs gone; every kind of bad input answered by a 4xx problem naming
// the field while another capture goes on undisturbed; and the OpenAPI
// document describing every route the service answers.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { World, type Namespace } from '../../lab/netns';
import { inject } from '../../lab/inject';
import { numberedFrames, RECEIVER_MAC, SENDER_MAC, sleep } from '../capture/numbered-frames';
import { api, bpfDescriptors, startServe, type Served } from './serve-process';

const world = new World('srvapi');
let ns: Namespace;
let served: Served;
const POINT = 'tracepoint:net:netif_receive_skb';

before(async () => {
  ns = world.addNamespace();
  ns.addVeth('v0', 'v1', { local: { mac: SENDER_MAC }, peer: { mac: RECEIVER_MAC, address: '192.0.2.2/24' } });
  ns.addVeth('w0', 'w1', { local: { mac: SENDER_MAC }, peer: { mac: RECEIVER_MAC, address: '198.51.100.2/24' } });
  served = await startServe({ world });
});

after(async () => {
  await served?.stop();
  if (served) fs.rmSync(served.stateDir, { recursive: true, force: true });
  await world.destroy();
});

interface View {
  name: string;
  status: string;
  definition: Record<string, unknown>;
  counters: { points: { name: string; seen: number; matched: number; lost: number; captured: number; bytes: number }[]; captured: number };
}

const get = (name: string) => api<View>(served.url, 'GET', `/captures/${name}`);

/** The capture's view once it has captured `n` packets (or after 5 s, to fail on). */
async function capturedAtLeast(name: string, n: number): Promise<View> {
  const until = Date.now() + 5000;
  for (;;) {
    const view = (await get(name)).body;
    if (view.counters.captured >= n || Date.now() > until) return view;
    await sleep(50);
  }
}

void test('create with Polycube\'s names, list, show counters per point, change, delete: its programs are gone', async () => {
  const base = bpfDescriptors(served.pid);
  const created = await api<View>(served.url, 'POST', '/captures', { name: 'poly', kind: 'skb', points: POINT, iface: 'v1', netns: ns.name, filter: 'all', networkmode: false, snaplen: 128, dump: 'poly.pcapng' });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  assert.equal(created.headers.get('location'), '/captures/poly');
  assert.equal(created.body.status, 'running');
  assert.deepEqual({ ...created.body.definition }, { name: 'poly', kind: 'skb', points: POINT, iface: 'v1', netns: ns.name, filter: '', snaplen: 128, mode: 'local', dump: 'poly.pcapng', flush: 'second' });
  assert.ok(bpfDescriptors(served.pid).programs > base.programs, 'the capture holds programs');
  const frames = numberedFrames(30, 1000, 200);
  await inject(ns, 'v0', frames);
  let view = await capturedAtLeast('poly', 30);
  assert.deepEqual(view.counters.points.map((p) => [p.name, p.seen, p.matched, p.lost, p.captured, p.bytes]), [[`skb:${POINT}`, 30, 30, 0, 30, 30 * 128]]);
  const list = await api<{ captures: View[] }>(served.url, 'GET', '/captures');
  assert.deepEqual(list.body.captures.map((c) => c.name), ['poly']);
  const changed = await api<View>(served.url, 'PATCH', '/captures/poly', { filter: 'udp port 2000', snaplen: 64 });
  assert.equal(changed.status, 200, JSON.stringify(changed.body));
  assert.equal(changed.body.definition.filter, 'udp port 2000');
  assert.equal(changed.body.definition.snaplen, 64);
  await inject(ns, 'v0', [...numberedFrames(3, 1000, 200, 30), ...numberedFrames(3, 2000, 200, 33)]);
  view = await capturedAtLeast('poly', 33);
  assert.equal(view.counters.points[0].captured, 33, 'only the port 2000 frames after the change');
  assert.equal(view.counters.points[0].bytes, 30 * 128 + 3 * 64);
  const deleted = await api(served.url, 'DELETE', '/captures/poly');
  assert.equal(deleted.status, 204);
  assert.equal((await get('poly')).status, 404);
  assert.deepEqual(bpfDescriptors(served.pid), base, 'no program, link or map of the capture is left');
  const again = await api(served.url, 'PATCH', '/captures/poly', { filter: 'udp' });
  assert.equal(again.status, 404, 'a change to a deleted capture');
  assert.match(again.type, /application\/problem\+json/);
});

void test('bad input: a 4xx problem naming the field and what to do; the service and another capture go on', async () => {
  const other = await api<View>(served.url, 'POST', '/captures', { name: 'steady', kind: 'skb', points: POINT, iface: 'w1', netns: ns.name, filter: 'udp' });
  assert.equal(other.status, 201, JSON.stringify(other.body));
  const sending = inject(ns, 'w0', numberedFrames(400, 1000, 100), { rate: 200 });
  const good = { name: 'bad', kind: 'skb', points: POINT, iface: 'v1', netns: ns.name };
  const cases: { what: string; method?: string; route?: string; body: unknown; contentType?: string; status: number; field?: string; detail: RegExp }[] = [
    { what: 'malformed JSON', body: '{"name": "bad",', status: 400, detail: /not valid JSON/ },
    { what: 'not an object', body: '[1, 2]', status: 400, detail: /not a JSON object/ },
    { what: 'not JSON at all', body: 'name=bad', contentType: 'text/plain', status: 415, detail: /not JSON/ },
    { what: 'an unknown field', body: { ...good, fitler: 'udp' }, status: 400, field: 'fitler', detail: /unknown field 'fitler'/ },
    { what: 'a field of the wrong type', body: { ...good, snaplen: '80' }, status: 400, field: 'snaplen', detail: /snaplen must be a whole number/ },
    { what: 'a snap length too large', body: { ...good, snaplen: 300000 }, status: 400, field: 'snaplen', detail: /snaplen/ },
    { what: 'a bad name', body: { ...good, name: '../x' }, status: 400, field: 'name', detail: /name/ },
    { what: 'a filter libpcap refuses', body: { ...good, filter: 'udp port' }, status: 400, field: 'filter', detail: /syntax error/ },
    { what: 'an interface that does not exist', body: { ...good, iface: 'nosuch0' }, status: 400, field: 'iface', detail: /nosuch0/ },
    { what: 'a point that does not exist', body: { ...good, points: 'tracepoint:net:no_such_point' }, status: 400, field: 'points', detail: /no_such_point/ },
    { what: 'a field of another kind', body: { ...good, pid: 1 }, status: 400, field: 'pid', detail: /pid does not apply to skb/ },
    { what: 'a direction for a kind without one', body: { ...good, capture: 'ingress' }, status: 400, field: 'capture', detail: /direction/ },
    { what: 'no kind', body: { name: 'bad', points: POINT }, status: 400, field: 'kind', detail: /kind is missing/ },
    { what: 'a dump name leaving the directory', body: { ...good, dump: '../../etc/x.pcapng' }, status: 400, field: 'dump', detail: /is a path/ },
    { what: 'a dump name that is not pcapng', body: { ...good, dump: 'x.txt' }, status: 400, field: 'dump', detail: /not a dump name/ },
    { what: 'Polycube and netcap names that disagree', body: { ...good, mode: 'local', networkmode: true }, status: 400, field: 'networkmode', detail: /disagree/ },
    { what: 'a duplicate name', body: { ...good, name: 'steady' }, status: 409, field: 'name', detail: /exists/ },
    { what: 'an oversize body', body: { ...good, filter: `udp or ${'tcp or '.repeat(15000)}udp` }, status: 413, detail: /too large/ },
    { what: 'a change of a field that cannot change', method: 'PATCH', route: '/captures/steady', body: { iface: 'v1' }, status: 400, field: 'iface', detail: /unknown field 'iface'/ },
    { what: 'a change of nothing', method: 'PATCH', route: '/captures/steady', body: {}, status: 400, detail: /nothing to change/ },
    { what: 'a refused filter change', method: 'PATCH', route: '/captures/steady', body: { filter: 'udp port 99999' }, status: 400, field: 'filter', detail: /port/ },
    { what: 'a change to a capture that does not exist', method: 'PATCH', route: '/captures/nosuch', body: { filter: 'udp' }, status: 404, detail: /no capture named 'nosuch'/ },
    { what: 'an unknown route', method: 'GET', route: '/nothing', body: undefined, status: 404, detail: /no such resource/ },
  ];
  for (const c of cases) {
    const r = await api<{ status: number; detail: string; hint?: string; field?: string }>(served.url, c.method ?? 'POST', c.route ?? '/captures', c.body, { contentType: c.contentType });
    assert.equal(r.status, c.status, `${c.what}: ${JSON.stringify(r.body)}`);
    assert.match(r.type, /^application\/problem\+json/, c.what);
    assert.equal(r.body.status, c.status, c.what);
    assert.match(r.body.detail, c.detail, `${c.what}: ${r.body.detail}`);
    if (c.field) assert.equal(r.body.field, c.field, `${c.what}: the field`);
    if (c.status !== 404) assert.ok(r.body.hint && r.body.hint.length > 10, `${c.what}: says what to do (${r.body.hint})`);
    assert.doesNotMatch(JSON.stringify(r.body), /at [\w.]+ \(|node:internal|FST_ERR/, `${c.what}: no stack or internal text`);
  }
  assert.equal((await get('bad')).status, 404, 'nothing was created');
  const steady = (await get('steady')).body;
  assert.equal(steady.definition.filter, 'udp', 'the refused change left the filter');
  await sending;
  assert.equal((await capturedAtLeast('steady', 400)).counters.captured, 400, 'the other capture took every frame meanwhile');
  assert.equal((await api(served.url, 'DELETE', '/captures/steady')).status, 204);
});

void test('the OpenAPI document describes every route, and the service answers each', async () => {
  const doc = await api<{ openapi: string; info: { version: string }; paths: Record<string, Record<string, { requestBody?: { content: Record<string, { schema: { additionalProperties?: boolean } }> }; responses: Record<string, unknown> }>> }>(served.url, 'GET', '/openapi.json');
  assert.equal(doc.status, 200);
  assert.match(doc.body.openapi, /^3\./);
  const routes = Object.entries(doc.body.paths).flatMap(([p, methods]) => Object.keys(methods).map((m) => `${m.toUpperCase()} ${p}`)).sort();
  assert.deepEqual(routes, [
    'DELETE /captures/{name}',
    'GET /captures',
    'GET /captures/{name}',
    'GET /captures/{name}/dump',
    'GET /captures/{name}/packets',
    'GET /captures/{name}/stream',
    'GET /events',
    'GET /info',
    'PATCH /captures/{name}',
    'POST /captures',
    'POST /captures/{name}/stop',
  ]);
  assert.equal(doc.body.paths['/captures'].post.requestBody!.content['application/json'].schema.additionalProperties, false, 'unknown fields are refused, and the document says so');
  for (const [route, methods] of Object.entries(doc.body.paths)) {
    for (const [m, op] of Object.entries(methods)) assert.ok(Object.keys(op.responses).length > 0, `${m} ${route} documents its answers`);
  }
  // Every documented route answers (a capture that does not exist: 404 problems, not "no such resource").
  const events = new AbortController();
  const stream = await fetch(`${served.url}/events`, { signal: events.signal });
  assert.equal(stream.status, 200);
  assert.match(stream.headers.get('content-type') ?? '', /^text\/event-stream/);
  events.abort();
  for (const r of routes.filter((x) => x !== 'GET /events')) {
    const [method, route] = r.split(' ');
    const answer = await api<{ detail?: string }>(served.url, method, route.replace('{name}', 'nosuch'), method === 'POST' || method === 'PATCH' ? {} : undefined);
    assert.notEqual(answer.status, 500, r);
    assert.doesNotMatch(String(answer.body.detail ?? ''), /no such resource/, r);
  }
  const info = await api<{ netcap: string; api: number; kinds: { name: string }[]; clock: { realtimeNs: string } }>(served.url, 'GET', '/info');
  assert.equal(info.body.netcap, doc.body.info.version);
  assert.equal(info.body.api, 1);
  assert.deepEqual(info.body.kinds.map((k) => k.name).sort(), ['mbuf', 'raw', 'skb', 'xdp']);
  const skew = Number(BigInt(info.body.clock.realtimeNs) / 1_000_000n) - Date.now();
  assert.ok(Math.abs(skew) < 2000, `the service's realtime clock is this machine's (${skew} ms)`);
});
