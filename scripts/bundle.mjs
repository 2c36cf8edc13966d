// Bundles the compiled command line (dist/cmd/netcap.js and everything it
// requires, yargs included) into one file, dist/cmd/netcap.bundle.js, makes
// V8's code cache of every function in it (dist/cmd/netcap.bundle.cache),
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
import * as fs from 'node:fs';
import Module from 'node:module';
import * as path from 'node:path';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';

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
  });
  const inputs = Object.keys(result.metafile.inputs).map((rel) => {
    const file = path.resolve(root, rel);
    const st = fs.statSync(file);
    return [path.relative(root, file), st.size, st.mtimeMs];
  });
  writeCodeCache();
  const st = fs.statSync(out);
  fs.writeFileSync(manifest, JSON.stringify({ bundle: [st.size, st.mtimeMs], inputs }));
}

/**
 * The code cache of the bundle as bin/netcap compiles it (the same wrapped
 * source), with every function compiled: V8 compiles eagerly under
 * --no-lazy, and the default is back before the cache is serialised, so the
 * cache carries the flags of an ordinary `node` run (V8 refuses a cache made
 * under other flags; bin/netcap then compiles as it goes). Whatever command
 * runs first finds its code compiled.
 */
function writeCodeCache() {
  const source = Module.wrap(fs.readFileSync(out, 'utf8'));
  v8.setFlagsFromString('--no-lazy');
  let script;
  try {
    script = new vm.Script(source, { filename: out });
  } finally {
    v8.setFlagsFromString('--lazy');
  }
  fs.writeFileSync(cache, script.createCachedData());
}

await main();
