'use strict';
// How bin/netcap runs the bundle (dist/cmd/netcap.bundle.js), shared with
// scripts/code-cache.cjs: V8 takes a code cache only for the source it was
// made from, so the cache must be made from the bundle compiled exactly as
// here (the same wrapped text, the same file name).
const fs = require('node:fs');
const Module = require('node:module');
const path = require('node:path');
const vm = require('node:vm');

/** The bundle compiled, from `cachedData` when given and V8 takes it (script.cachedDataRejected says). */
function compileBundle(file, encoding, cachedData) {
  return new vm.Script(Module.wrap(fs.readFileSync(file, encoding)), { filename: file, cachedData });
}

/** Runs the compiled bundle as the CommonJS module `file`, required by `parent`; its exports. */
function runBundle(script, file, parent) {
  const mod = new Module(file, parent);
  mod.filename = file;
  mod.paths = Module._nodeModulePaths(path.dirname(file));
  script.runInThisContext().call(mod.exports, mod.exports, Module.createRequire(file), mod, file, path.dirname(file));
  return mod.exports;
}

module.exports = { compileBundle, runBundle };
