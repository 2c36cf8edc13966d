// Bundles the compiled command line (dist/cmd/netcap.js and everything it
// requires, yargs included) into one file, dist/cmd/netcap.bundle.js, makes
// V8's code cache of it (dist/cmd/netcap.bundle.cache, scripts/code-cache.cjs),
// and lists the files it was made of with their sizes and times in
// dist/cmd/netcap.bundle.json. bin/netcap loads the bundle (through the code
// cache) only while every one of those files is unchanged, else the modules
// themselves: a `tsc` without this step never runs stale code.
//
// Why (issue 18): Node spends its start-up on ~170 modules, each found,
// read and compiled on its own; one file found once and compiled from a
// code cache starts tens of milliseconds sooner.
//
//   node scripts/bundle.mjs     (after tsc; npm run build, test, bench and demo run it)
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

const root = path.join(import.meta.dirname, '..');
const dist = path.join(root, 'dist', 'cmd');
const entry = path.join(dist, 'netcap.js');
const out = path.join(dist, 'netcap.bundle.js');
const manifest = path.join(dist, 'netcap.bundle.json');
const cache = path.join(dist, 'netcap.bundle.cache');

async function main() {
  // An old bundle must not outlive a failed build.
  for (const f of [manifest, out, cache]) fs.rmSync(f, { force: true });
  let esbuild;
  try {
    esbuild = await import('esbuild');
  } catch {
    process.stderr.write('bundle: esbuild is not installed (npm ci): bin/netcap loads the modules one by one\n');
    return;
  }
  const result = esbuild.buildSync({
    entryPoints: [entry],
    outfile: out,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    absWorkingDir: root,
    // src/native.ts finds the addon two folders above its own (dist/src); the bundle is as deep (dist/cmd).
    logLevel: 'warning',
    metafile: true,
    // The packages' licence comments are the only text esbuild leaves
    // outside ASCII; they stay in node_modules, and the bundle is only
    // netcap's start-up.
    legalComments: 'none',
    // The service's web framework and its API description, with what they
    // pull in (validators, schema compilers, yaml: two thirds of the
    // bundle's 3.8 MB), are required from node_modules when `netcap serve`
    // runs: every other command read and decoded them at each start
    // (~4 ms of the CLI's ~20 beyond Node's own start, issue 18).
    external: ['fastify', '@fastify/swagger'],
  });
  const files = Object.keys(result.metafile.inputs).map((rel) => path.relative(root, path.resolve(root, rel)));
  // The packages stand for themselves through npm's record of the tree it
  // installed (rewritten by every npm install and npm ci): one stat at each
  // start instead of ~550 (~5 ms).
  const npmTree = path.join('node_modules', '.package-lock.json');
  const packaged = (file) => file.startsWith(`node_modules${path.sep}`);
  const stamped = fs.existsSync(path.join(root, npmTree)) ? [...files.filter((f) => !packaged(f)), npmTree] : files;
  const inputs = stamped.map((file) => {
    const st = fs.statSync(path.join(root, file));
    return [file, st.size, st.mtimeMs];
  });
  // Latin-1 is decoded several times faster than UTF-8 and is the same text
  // while every byte is ASCII (esbuild escapes the rest of the source).
  const encoding = fs.readFileSync(out).every((b) => b < 0x80) ? 'latin1' : 'utf8';
  if (encoding !== 'latin1') process.stderr.write('bundle: the bundle is not all ASCII: bin/netcap reads it as UTF-8, a few ms slower\n');
  writeCodeCache(encoding);
  const st = fs.statSync(out);
  fs.writeFileSync(manifest, JSON.stringify({ bundle: [st.size, st.mtimeMs], encoding, inputs }));
}

/**
 * The code cache of the bundle, made by scripts/code-cache.cjs in a process
 * of its own: an ordinary `node` (V8 refuses a cache made under other
 * flags; bin/netcap then compiles as it goes) running a few commands
 * through the bundle first, so the cache holds what they compiled.
 */
function writeCodeCache(encoding) {
  const made = spawnSync(process.execPath, [path.join(import.meta.dirname, 'code-cache.cjs'), out, encoding, cache], { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8', timeout: 120_000 });
  if (made.status !== 0) throw new Error(`scripts/code-cache.cjs failed (${made.error?.message ?? `exit status ${made.status}`}): ${made.stderr}`);
  // Its own notes only: the commands' summaries are theirs.
  for (const line of made.stderr.split('\n')) if (line.startsWith('code cache:')) process.stderr.write(`bundle: ${line}\n`);
}

await main();
