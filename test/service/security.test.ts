// netcap serve's defences: dumps stay inside the dump directory (a name
// with '..', a folder or a file that is a symbolic link, a download of a
// file that is not a dump: refused), a listener beyond loopback without a
// token refuses to start, a missing or wrong token gets 401 (the page stays
// public), an oversize body 413, a capture beyond the limit 429, and TLS
// with a given certificate, which netcap remote trusts through --ca.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { World, type Namespace } from '../../lab/netns';
import { RECEIVER_MAC, SENDER_MAC } from '../capture/numbered-frames';
import { NETCAP } from '../capture/netcap-child';
import { api, startServe, tempDir, type Served } from './serve-process';

const world = new World('srvsec');
let ns: Namespace;
let tmp: string;
const running: Served[] = [];
const TOKEN = 'k6JvYw2nQ9s4Tf8bX1pL0aZc';
const POINT = 'tracepoint:net:netif_receive_skb';

before(() => {
  ns = world.addNamespace();
  ns.addVeth('v0', 'v1', { local: { mac: SENDER_MAC }, peer: { mac: RECEIVER_MAC, address: '192.0.2.2/24' } });
  tmp = tempDir('sec');
});

after(async () => {
  for (const s of running) {
    await s.stop();
    fs.rmSync(s.stateDir, { recursive: true, force: true });
  }
  await world.destroy();
  fs.rmSync(tmp, { recursive: true, force: true });
});

async function serve(args: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<Served> {
  const s = await startServe({ args, env, world });
  running.push(s);
  return s;
}

/** netcap with these arguments, to its end. */
async function netcap(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; out: string; err: string }> {
  const child = spawn(process.execPath, [NETCAP, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NETCAP_TOKEN: '', ...env } });
  world.track(child);
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const [code] = (await once(child, 'close')) as [number];
  return { code, out, err };
}

const capture = (name: string, extra: Record<string, unknown> = {}) => ({ name, kind: 'skb', points: POINT, iface: 'v1', netns: ns.name, ...extra });

void test('dumps stay inside the dump directory: .. in a name, a symbolic link for the folder or the file, a download of another file', async () => {
  const s = await serve();
  const dumps = path.join(s.stateDir, 'dumps');
  const outside = path.join(tmp, 'outside');
  fs.mkdirSync(outside);
  const target = path.join(outside, 'target.pcapng');
  fs.writeFileSync(target, 'precious');
  for (const dump of ['../x.pcapng', '..', 'a/../../x.pcapng', `${outside}/x.pcapng`, 'x..pcapng']) {
    const r = await api<{ field: string; detail: string }>(s.url, 'POST', '/captures', capture('dotdot', { dump }));
    assert.equal(r.status, 400, dump);
    assert.equal(r.body.field, 'dump', dump);
  }
  fs.symlinkSync(outside, path.join(dumps, 'linked'));
  let r = await api<{ field: string; detail: string }>(s.url, 'POST', '/captures', capture('linked'));
  assert.equal(r.status, 400);
  assert.match(r.body.detail, /dump folder of 'linked' is a symbolic link/);
  fs.mkdirSync(path.join(dumps, 'filelink'));
  fs.symlinkSync(target, path.join(dumps, 'filelink', 'target.pcapng'));
  r = await api(s.url, 'POST', '/captures', capture('filelink', { dump: 'target.pcapng' }));
  assert.equal(r.status, 400);
  assert.match(r.body.detail, /'target.pcapng' is a symbolic link/);
  assert.equal(r.body.field, 'dump');
  assert.equal(fs.readFileSync(target, 'utf8'), 'precious', 'nothing was written through the links');
  assert.equal((await api(s.url, 'POST', '/captures', capture('fine'))).status, 201);
  for (const file of ['../../captures/fine.json', '../filelink/target.pcapng', 'nosuch.pcapng']) {
    const d = await api(s.url, 'GET', `/captures/fine/dump?file=${encodeURIComponent(file)}`);
    assert.equal(d.status, 404, file);
  }
  assert.equal((await api(s.url, 'GET', '/captures/fine/dump')).status, 200, 'its own dump downloads');
  const mode = fs.statSync(dumps).mode & 0o777;
  assert.equal(mode, 0o700, 'the dump directory is private');
});

void test('a listener beyond loopback without a token refuses to start; a short token is refused', async () => {
  let r = await netcap(['serve', '--listen', '0.0.0.0:0', '--state-dir', path.join(tmp, 'never')]);
  assert.equal(r.code, 2);
  assert.match(r.err, /^netcap: listening on 0\.0\.0\.0 needs a token/);
  assert.match(r.err, /--token-file/);
  assert.ok(!fs.existsSync(path.join(tmp, 'never')), 'it refused before making anything');
  r = await netcap(['serve', '--listen', '0.0.0.0:0', '--state-dir', path.join(tmp, 'never')], { NETCAP_TOKEN: 'short' });
  assert.equal(r.code, 2);
  assert.match(r.err, /the token is 5 characters long/);
});

void test('a token: missing or wrong gets 401, the right one passes (netcap remote from NETCAP_TOKEN or --token-file); the page is public', async () => {
  const tokenFile = path.join(tmp, 'token');
  fs.writeFileSync(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
  const s = await serve(['--token-file', tokenFile]);
  assert.match(s.stderr(), /token required/);
  let r = await api<{ detail: string; hint: string }>(s.url, 'GET', '/captures');
  assert.equal(r.status, 401);
  assert.equal(r.headers.get('www-authenticate'), 'Bearer realm="netcap"');
  assert.match(r.body.detail, /needs a token/);
  r = await api(s.url, 'GET', '/captures', undefined, { token: 'wrong-token-of-some-length' });
  assert.equal(r.status, 401);
  assert.match(r.body.detail, /the token is wrong/);
  r = await api(s.url, 'POST', '/captures', capture('x'), { token: 'wrong-token-of-some-length' });
  assert.equal(r.status, 401, 'nothing is created without the token');
  assert.equal((await api(s.url, 'GET', '/captures', undefined, { token: TOKEN })).status, 200);
  assert.equal((await api(s.url, 'GET', '/')).status, 200, 'the page loads without the token (it asks for it)');
  assert.equal((await api(s.url, 'GET', '/openapi.json')).status, 200);
  let cli = await netcap(['remote', 'show', '--url', s.url]);
  assert.equal(cli.code, 2);
  assert.match(cli.err, /netcap: this service needs a token/);
  cli = await netcap(['remote', 'show', '--url', s.url], { NETCAP_TOKEN: TOKEN });
  assert.equal(cli.code, 0, cli.err);
  assert.match(cli.out, /no captures/);
  cli = await netcap(['remote', 'show', '--url', s.url, '--token-file', tokenFile]);
  assert.equal(cli.code, 0, cli.err);
});

void test('an oversize body gets 413 and a capture beyond the limit 429; the service goes on', async () => {
  const s = await serve(['--max-body-bytes', '2048', '--max-captures', '1']);
  const r = await api(s.url, 'POST', '/captures', capture('big', { filter: `udp${' or udp'.repeat(600)}` }));
  assert.equal(r.status, 413);
  assert.match(r.type, /problem\+json/);
  assert.equal((await api(s.url, 'POST', '/captures', capture('one'))).status, 201);
  const second = await api<{ detail: string }>(s.url, 'POST', '/captures', capture('two'));
  assert.equal(second.status, 429);
  assert.match(second.body.detail, /runs 1 captures, its limit/);
  assert.equal((await api(s.url, 'GET', '/captures/one')).status, 200);
});

void test('TLS with a given certificate and key: netcap remote trusts it through --ca, and says so when it does not', async () => {
  const cert = path.join(tmp, 'cert.pem');
  const key = path.join(tmp, 'key.pem');
  const made = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { encoding: 'utf8' });
  assert.equal(made.status, 0, made.stderr);
  const s = await serve(['--tls-cert', cert, '--tls-key', key], { NETCAP_TOKEN: TOKEN });
  assert.match(s.url, /^https:\/\/127\.0\.0\.1:\d+$/);
  let cli = await netcap(['remote', 'show', '--url', s.url, '--ca', cert], { NETCAP_TOKEN: TOKEN });
  assert.equal(cli.code, 0, cli.err);
  cli = await netcap(['remote', 'show', '--url', s.url], { NETCAP_TOKEN: TOKEN });
  assert.equal(cli.code, 2);
  assert.match(cli.err, /the TLS certificate is not trusted/);
  assert.match(cli.err, /--ca/);
  cli = await netcap(['remote', 'show', '--url', s.url.replace('https', 'http'), '--ca', cert], { NETCAP_TOKEN: TOKEN });
  assert.notEqual(cli.code, 0, 'plain HTTP to the TLS port is no way in');
});
