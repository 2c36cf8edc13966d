// bin/netcap's two starts (issue 18): from the bundle scripts/bundle.mjs
// makes (one file, compiled from the V8 code cache made with it) while it is up to date,
// else from the modules in dist/ one by one. Both must be the same netcap:
// the same help, the same file from `netcap read`, the same refusal of bad
// input; a bundle older than any file it was made of is never run.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PcapWriter } from '../../src/output/pcap-writer';
import { generatePackets } from '../filter/packets';
import { tempDir } from '../output/reference-tools';

const ROOT = path.join(__dirname, '..', '..', '..');
const NETCAP = path.join(ROOT, 'bin', 'netcap');
const MANIFEST = path.join(ROOT, 'dist', 'cmd', 'netcap.bundle.json');
const CACHE = path.join(ROOT, 'dist', 'cmd', 'netcap.bundle.cache');
const tmp = tempDir('bundle');
const input = path.join(tmp.dir, 'in.pcap');
const modulesStart = path.join(tmp.dir, 'modules-start.js');
let manifestBefore: string | undefined;

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
  /** What bin/netcap said about its start (NETCAP_TRACE_STARTUP=1). */
  start: string;
}

/** bin/netcap, or (modules) the CLI of dist/cmd/netcap.js without bin/netcap's choice. */
function netcap(args: string[], how: 'bin' | 'modules' = 'bin'): Run {
  const argv = [how === 'bin' ? NETCAP : modulesStart, ...args];
  const r = spawnSync(process.execPath, argv, { encoding: 'utf8', timeout: 60_000, env: { ...process.env, NETCAP_TRACE_STARTUP: '1' } });
  const lines = r.stderr.split('\n');
  const start = lines.filter((l) => /netcap startup: .*(bundle|modules one by one)/.test(l)).join('\n');
  return { status: r.status, stdout: r.stdout, stderr: lines.filter((l) => !l.startsWith('netcap startup:')).join('\n'), start };
}

before(async () => {
  // The bundle of this build (npm test makes it; a bare tsc does not).
  const made = spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'bundle.mjs')], { encoding: 'utf8' });
  assert.equal(made.status, 0, made.stderr);
  manifestBefore = fs.readFileSync(MANIFEST, 'utf8');
  fs.writeFileSync(modulesStart, `require(${JSON.stringify(path.join(ROOT, 'dist', 'cmd', 'netcap.js'))}).cli();\n`);
  const w = new PcapWriter(fs.createWriteStream(input), { linktype: 1, snaplen: 262144 });
  let ts = 1_700_000_000_000_000_000n;
  for (const p of generatePackets(500, 18)) await w.writePacket({ ifIndex: 0, tsNs: (ts += 999_000n), data: p.data, wirelen: p.wirelen });
  await w.close();
});

after(() => {
  if (manifestBefore !== undefined) fs.writeFileSync(MANIFEST, manifestBefore);
  tmp.remove();
});

void test('an up-to-date bundle runs, from its code cache, and behaves as the modules do', () => {
  // All ASCII, so bin/netcap reads it as Latin-1, several times faster than UTF-8 (a µ in a regular expression was the last exception).
  assert.equal((JSON.parse(manifestBefore!) as { encoding: string }).encoding, 'latin1');
  const second = netcap(['--help']);
  assert.match(second.start, /bundle compiled \(from the code cache\)/);
  const modules = netcap(['--help'], 'modules');
  assert.equal(second.status, 0);
  assert.equal(second.stdout, modules.stdout);

  for (const expression of ['tcp port 80', 'ip6 and (tcp or udp)']) {
    const out = { bundle: path.join(tmp.dir, 'bundle.pcap'), modules: path.join(tmp.dir, 'modules.pcap') };
    const a = netcap(['read', '-r', input, '-e', expression, '-w', out.bundle]);
    const b = netcap(['read', '-r', input, '-e', expression, '-w', out.modules], 'modules');
    assert.equal(a.status, 0, a.stderr);
    assert.match(a.start, /bundle compiled/);
    assert.equal(a.stderr.replace(out.bundle, 'OUT'), b.stderr.replace(out.modules, 'OUT'));
    assert.ok(fs.readFileSync(out.bundle).equals(fs.readFileSync(out.modules)), `${expression}: the same file`);
    assert.ok(fs.statSync(out.bundle).size > 24, `${expression}: kept packets`);
  }

  const bad = netcap(['read', '-r', input, '-e', 'tcp port eighty']);
  const badModules = netcap(['read', '-r', input, '-e', 'tcp port eighty'], 'modules');
  assert.equal(bad.status, 2);
  assert.equal(bad.stderr, badModules.stderr);
});

void test('a code cache V8 refuses only costs the compilation: the bundle still runs', () => {
  const cache = fs.readFileSync(CACHE);
  try {
    fs.writeFileSync(CACHE, Buffer.alloc(cache.length, 0x5a));
    const r = netcap(['--help']);
    assert.equal(r.status, 0);
    assert.match(r.start, /bundle compiled \(code cache refused/);
    assert.equal(r.stdout, netcap(['--help'], 'modules').stdout);
  } finally {
    fs.writeFileSync(CACHE, cache);
  }
});

void test('a bundle older than a file it was made of is not run: the modules start instead', () => {
  const manifest = JSON.parse(manifestBefore!) as { inputs: [string, number, number][] };
  const changed = manifest.inputs.find(([file]) => file === path.join('dist', 'src', 'read', 'filter-capture.js'));
  assert.ok(changed, 'the manifest lists the files of netcap read');
  changed[1] += 1; // as if the file had been rebuilt since
  fs.writeFileSync(MANIFEST, JSON.stringify(manifest));
  const r = netcap(['read', '-r', input, '-e', 'udp', '-w', path.join(tmp.dir, 'stale.pcap')]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.start, /bundle out of date \(dist\/src\/read\/filter-capture\.js changed since scripts\/bundle\.mjs ran\): modules one by one/);
  fs.writeFileSync(MANIFEST, manifestBefore!);
  assert.match(netcap(['--help']).start, /bundle compiled/);
});
