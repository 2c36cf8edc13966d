// deploy/Containerfile cannot be built here (no container engine on this
// machine); what can be checked is checked:
//   - its build context: every file the build stage copies from the
//     repository is in it, and .containerignore keeps the host's builds out;
//   - the runtime stage's files: the same paths copied out of this (built)
//     tree make a netcap that runs: `netcap serve` answers /info and serves
//     its page, every command's help loads;
//   - its shared libraries: each library the addon links is in a Debian
//     package the runtime stage installs, or Node's own (libc, libstdc++);
//   - its Node: the base image's major version is the one package.json asks.
import { after, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { repoRoot } from '../../lab/paths';
import { tempDir } from '../capture/netcap-child';
import { api, startServe } from '../service/serve-process';

const FILE = path.join(repoRoot, 'deploy', 'Containerfile');

interface Instruction {
  stage: number;
  op: string;
  args: string;
}

/** The instructions, continuation lines joined, comments dropped, each with its stage (FROM starts one). */
function parseContainerfile(text: string): Instruction[] {
  const out: Instruction[] = [];
  let stage = -1;
  for (const line of text.replace(/\\\n/g, ' ').split('\n')) {
    const t = line.trim();
    if (!t || t.startsWith('#')) continue;
    const m = /^([A-Z]+)\s+(.*)$/.exec(t);
    assert.ok(m, `an instruction: ${t}`);
    if (m[1] === 'FROM') stage++;
    out.push({ stage, op: m[1], args: m[2] });
  }
  return out;
}

const instructions = parseContainerfile(fs.readFileSync(FILE, 'utf8'));
const runtimeCopies = instructions.filter((i) => i.op === 'COPY' && i.args.startsWith('--from=build ')).map((i) => {
  const [from, to] = i.args.replace('--from=build ', '').split(/\s+/);
  assert.ok(from.startsWith('/src/'), `copied from the build's /src: ${from}`);
  return { from: from.slice('/src/'.length), to };
});
const dir = tempDir('containerfile');

/** The Debian package holding a file, by the path ldd gave or the one it leads to (/lib is /usr/lib on merged systems). */
function owner(file: string): string {
  for (const candidate of [file, fs.realpathSync(file)]) {
    try {
      return execFileSync('dpkg', ['-S', candidate], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    } catch {
      // not under this name
    }
  }
  throw new Error(`no Debian package holds ${file}`);
}
after(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('deploy/Containerfile', () => {
  it('builds from the repository: what the build stage copies is there, and the host\'s builds stay out of the context', () => {
    const tracked = new Set(execFileSync('git', ['ls-files'], { cwd: repoRoot, encoding: 'utf8' }).trim().split('\n'));
    for (const copy of instructions.filter((i) => i.op === 'COPY' && !i.args.startsWith('--from'))) {
      const sources = copy.args.split(/\s+/).slice(0, -1);
      for (const s of sources) assert.ok(s === '.' || tracked.has(s), `${s} is in the repository`);
    }
    const ignored = fs.readFileSync(path.join(repoRoot, '.containerignore'), 'utf8').split('\n').map((l) => l.trim());
    for (const build of ['node_modules', 'dist', 'native/build', '.git']) assert.ok(ignored.includes(build), `.containerignore keeps ${build} out`);
    const build = instructions.filter((i) => i.stage === 0 && i.op === 'RUN').map((i) => i.args).join('\n');
    assert.match(build, /npm ci/);
    assert.match(build, /npx tsc -p \./, 'npm run build\'s compile');
    assert.match(build, /node-gyp rebuild --nodedir=/, 'the addon, as scripts/setup.sh builds it');
    assert.match(build, /npm prune --omit=dev/);
  });

  it('uses the Node version package.json asks for, in both stages', () => {
    const engines = (JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { engines: { node: string } }).engines.node;
    const wanted = Number(/\d+/.exec(engines)![0]);
    const froms = instructions.filter((i) => i.op === 'FROM').map((i) => i.args.split(/\s+/)[0]);
    assert.equal(froms.length, 2);
    for (const f of froms) assert.equal(Number(/^node:(\d+)-bookworm/.exec(f)?.[1]), wanted, f);
    assert.equal(Number(process.versions.node.split('.')[0]), wanted, 'the tests run that Node too');
  });

  it('links only libraries the runtime stage installs, or Node\'s own', () => {
    const runtimeRun = instructions.filter((i) => i.stage === 1 && i.op === 'RUN').map((i) => i.args).join(' ');
    const installed = new Set(/apt-get install -y --no-install-recommends ([^&]+)/.exec(runtimeRun)![1].trim().split(/\s+/));
    const addon = path.join(repoRoot, 'native', 'build', 'Release', 'netcap.node');
    const needed = [...execFileSync('readelf', ['-d', addon], { encoding: 'utf8' }).matchAll(/\(NEEDED\)\s+Shared library: \[([^\]]+)\]/g)].map((m) => m[1]);
    const resolved = new Map([...execFileSync('ldd', [addon], { encoding: 'utf8' }).matchAll(/^\s*(\S+) => (\S+)/gm)].map((m) => [m[1], m[2]]));
    const nodeOwn = new Set(['libc6', 'libstdc++6', 'libgcc-s1']);
    assert.ok(needed.includes('libbpf.so.1') && needed.includes('libpcap.so.0.8'));
    for (const lib of needed) {
      const file = resolved.get(lib);
      assert.ok(file, `${lib} resolves here`);
      const pkg = owner(file).split(':')[0];
      assert.ok(installed.has(pkg) || nodeOwn.has(pkg), `${lib} comes from ${pkg}, which the runtime stage installs or Node's image has`);
    }
  });

  it('the runtime stage\'s files make a netcap that serves: /info, its page, every command\'s help', async () => {
    const image = path.join(dir, 'opt', 'netcap');
    for (const { from, to } of runtimeCopies) {
      const target = path.join(image, to);
      fs.mkdirSync(path.dirname(target), { recursive: true });
      // node_modules is linked, not copied (the image's is pruned of devDependencies: not checked here).
      if (from === 'node_modules') fs.symlinkSync(path.join(repoRoot, from), target);
      else fs.cpSync(path.join(repoRoot, from), target, { recursive: true });
    }
    assert.deepEqual(runtimeCopies.map((c) => c.from).sort(), ['bin', 'dist/cmd', 'dist/probes', 'dist/src', 'native/build/Release/netcap.node', 'node_modules', 'package.json', 'src/service/web']);
    const entry = instructions.find((i) => i.op === 'ENTRYPOINT')!.args;
    assert.equal(entry, '["/opt/netcap/bin/netcap"]');
    const netcap = [process.execPath, '--preserve-symlinks', path.join(image, 'bin', 'netcap')];
    const help = execFileSync(netcap[0], [...netcap.slice(1), '--help'], { encoding: 'utf8' });
    for (const command of ['serve', 'remote', 'fleet', 'iface', 'skb', 'mbuf', 'xdp', 'read']) {
      assert.match(help, new RegExp(`netcap ${command}\\b`));
      execFileSync(netcap[0], [...netcap.slice(1), command, '--help'], { encoding: 'utf8' });
    }
    const served = await startServe({ netcap, stateDir: path.join(dir, 'state') });
    try {
      const info = await api<{ netcap: string; kinds: { name: string }[] }>(served.url, 'GET', '/info');
      assert.equal(info.status, 200);
      assert.deepEqual(info.body.kinds.map((k) => k.name).sort(), ['iface', 'mbuf', 'raw', 'skb', 'xdp']);
      const page = await fetch(`${served.url}/`);
      assert.equal(page.status, 200);
      assert.equal(await page.text(), fs.readFileSync(path.join(repoRoot, 'src', 'service', 'web', 'index.html'), 'utf8'));
    } finally {
      await served.stop();
    }
  });
});
