// Agents that fail, each alone: one unreachable, one whose token is wrong,
// one running another netcap version (this very netcap, run from a tree
// whose package.json says another version), one lacking the interface.
// Each is reported with its reason, the good agent does the work, and the
// exit status says some failed (4); every agent failing on bad input is 2.
// Real netcap serve processes on loopback; the good agent captures a veth
// in a namespace of the test's own.
import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { World, type Namespace } from '../../lab/netns';
import { inject } from '../../lab/inject';
import { udpFrame } from '../../lab/frames';
import { repoRoot } from '../../lab/paths';
import { readPcapng } from '../../src/output/pcapng-reader';
import { runNetcap, tempDir } from '../capture/netcap-child';
import { startServe, type Served } from '../service/serve-process';

const world = new World('fleet-fail');
let dir: string;
let ns: Namespace;
let good: Served;
let otherVersion: Served;
let noIface: Served;
const token = randomBytes(24).toString('base64');
let agents: string;
let tokens: string;

/** A tree that is this netcap (links to its build) with its own package.json: another version, for real. */
function otherVersionTree(root: string): string[] {
  for (const entry of ['bin', 'dist', 'native', 'node_modules', 'src']) fs.symlinkSync(path.join(repoRoot, entry), path.join(root, entry));
  const pkg = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { version: string };
  fs.writeFileSync(path.join(root, 'package.json'), JSON.stringify({ ...pkg, version: `${pkg.version}-other` }));
  // Node keeps the links' paths (not their targets'), so the tree's package.json is the one read.
  return [process.execPath, '--preserve-symlinks', '--preserve-symlinks-main', path.join(root, 'bin', 'netcap')];
}

before(async () => {
  dir = tempDir('fleet-fail');
  ns = world.addNamespace();
  ns.addVeth('v0', 'v1');
  const tokenFile = path.join(dir, 'token');
  fs.writeFileSync(tokenFile, `${token}\n`, { mode: 0o600 });
  const tree = path.join(dir, 'other');
  fs.mkdirSync(tree);
  const start = (name: string, extra: { netcap?: string[] } = {}) => startServe({ world, stateDir: path.join(dir, name), args: ['--token-file', tokenFile], ...extra });
  fs.mkdirSync(path.join(dir, 'good'));
  fs.mkdirSync(path.join(dir, 'old'));
  fs.mkdirSync(path.join(dir, 'bare'));
  [good, otherVersion, noIface] = await Promise.all([start('good'), start('old', { netcap: otherVersionTree(tree) }), start('bare')]);
  agents = path.join(dir, 'agents');
  fs.writeFileSync(
    agents,
    [
      `good ${good.url} netns=${ns.name}`,
      `wrong-token ${good.url}`,
      'unreachable http://127.0.0.1:1',
      `old ${otherVersion.url} netns=${ns.name}`,
      `bare ${noIface.url} iface=nosuch0`,
    ].join('\n') + '\n',
  );
  tokens = path.join(dir, 'tokens');
  fs.writeFileSync(tokens, `wrong-token ${randomBytes(24).toString('base64')}\n* ${token}\n`, { mode: 0o600 });
});
after(async () => {
  await world.destroy();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

async function fleet(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const run = runNetcap(['fleet', ...args], world);
  const { code } = await run.exited;
  return { code, stdout: run.stdout().toString(), stderr: run.stderr() };
}

describe('netcap fleet: agents that fail', () => {
  it('reports each failing agent with its reason, the others do the work, and the exit status is 4', async () => {
    const add = await fleet(['--agents-file', agents, '--token-file', tokens, 'add', 'cap', '--iface', 'v1', '-Q', 'in', '-e', 'udp']);
    assert.equal(add.code, 4, add.stderr);
    assert.match(add.stdout, /^good: cap {2}iface v1 {2}running/m);
    assert.doesNotMatch(add.stdout, /^(wrong-token|unreachable|old|bare):/m);
    assert.match(add.stderr, /^netcap: agent wrong-token: the token is wrong/m);
    assert.match(add.stderr, /^netcap: agent unreachable: no service at http:\/\/127\.0\.0\.1:1: connection refused/m);
    assert.match(add.stderr, /^netcap: agent old: runs netcap \S+-other, this client is netcap \S+ \(run one netcap version across the fleet, or give --any-version/m);
    assert.match(add.stderr, /^netcap: agent bare: .*nosuch0/m);
    assert.match(add.stderr, /^netcap: 4 of 5 agents failed; the others did it$/m);

    // The stream: the good agent's packets, the others reported.
    const file = path.join(dir, 'cap.pcapng');
    const stream = runNetcap(['fleet', '--agents-file', agents, '--token-file', tokens, 'stream', 'cap', '-w', file, '--duration', '3'], world);
    await stream.ready();
    assert.match(stream.stderr(), /listening on 1 of 5 agents \(good\), capture cap/);
    await inject(ns, 'v0', [udpFrame({ dstPort: 53 })], { count: 50, rate: 200 });
    const end = await stream.exited;
    assert.equal(end.code, 4, stream.stderr());
    for (const agent of ['wrong-token', 'unreachable', 'old', 'bare']) assert.match(stream.stderr(), new RegExp(`^netcap: agent ${agent}: `, 'm'));
    assert.match(stream.stderr(), /^ {2}bare: failed: no such resource|^ {2}bare: failed: .*cap/m);
    const merged = readPcapng(fs.readFileSync(file));
    // The agent declares both directions of v1 (its direction can change while it runs); -Q in captures one.
    assert.deepEqual(merged.interfaces.map((i) => i.name), ['good/v1 ingress', 'good/v1 egress']);
    assert.equal(merged.packets.length, 50);
    assert.ok(merged.packets.every((p) => p.ifIndex === 0), 'every packet on good/v1 ingress');
    const read = execFileSync('tshark', ['-r', file, '-T', 'fields', '-e', 'frame.interface_name'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    assert.equal(read.trim().split('\n').length, 50);
  });

  it('takes another version with --any-version', async () => {
    const r = await fleet(['--agents', `old=${otherVersion.url}`, '--token-file', tokens, '--any-version', 'agents']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^old: \S+ netcap \S+-other \(API 1\), clock agent-client [+-]/m);
  });

  it('takes the agents from NETCAP_AGENTS when none are given, else NETCAP_URL (a fleet of one), else asks', async () => {
    const saved = { agents: process.env.NETCAP_AGENTS, url: process.env.NETCAP_URL };
    try {
      process.env.NETCAP_AGENTS = `old=${otherVersion.url}`;
      process.env.NETCAP_URL = good.url;
      const fromList = await fleet(['--token-file', tokens, '--any-version', 'agents']);
      assert.equal(fromList.code, 0, fromList.stderr);
      assert.match(fromList.stdout, /^old: \S+ netcap \S+-other /m);
      assert.equal(fromList.stdout.trim().split('\n').length, 1, fromList.stdout);
      delete process.env.NETCAP_AGENTS;
      const fromUrl = await fleet(['--token-file', tokens, 'agents']);
      assert.equal(fromUrl.code, 0, fromUrl.stderr);
      assert.match(fromUrl.stdout, /^127\.0\.0\.1: \S+ netcap \S+ \(API 1\)/m);
      assert.doesNotMatch(fromUrl.stdout, /-other/);
      process.env.NETCAP_AGENTS = 'node-a';
      const bad = await fleet(['agents']);
      assert.equal(bad.code, 2, bad.stderr);
      assert.match(bad.stderr, /^netcap: NETCAP_AGENTS: 'node-a' is not a URL$/m);
      delete process.env.NETCAP_AGENTS;
      delete process.env.NETCAP_URL;
      const none = await fleet(['agents']);
      assert.equal(none.code, 2, none.stderr);
      assert.match(none.stderr, /^netcap: which agents\?$/m);
    } finally {
      for (const [key, value] of [['NETCAP_AGENTS', saved.agents], ['NETCAP_URL', saved.url]] as const) {
        if (value === undefined) delete process.env[key];
        else process.env[key] = value;
      }
    }
  });

  it('exits 2 when every agent fails on bad input, and takes no token from the command line', async () => {
    const none = await fleet(['--agents', 'http://127.0.0.1:1', 'add', 'x', '--iface', 'v1']);
    assert.equal(none.code, 2, none.stderr);
    assert.match(none.stderr, /^netcap: every agent failed$/m);
    const arg = await fleet(['--agents', good.url, '--token', token, 'agents']);
    assert.equal(arg.code, 2);
    assert.match(arg.stderr, /^netcap: unknown option --token for netcap fleet$/m);
    assert.doesNotMatch(arg.stderr, new RegExp(token.replace(/[+/]/g, '\\$&')));
  });
});
