// The folder holding netcap's package.json, found from this file's place:
// the compiled modules (dist/src/...) and the bundle of the command line
// (dist/cmd/netcap.bundle.js) sit at different depths, so a fixed number of
// '..' is right for one and wrong for the other.
import * as fs from 'node:fs';
import * as path from 'node:path';

function findPackageRoot(): string {
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    const pkg = path.join(dir, 'package.json');
    if (fs.existsSync(pkg) && (JSON.parse(fs.readFileSync(pkg, 'utf8')) as { name?: string }).name === 'netcap') return dir;
    if (path.dirname(dir) === dir) throw new Error(`netcap's package.json not found above ${__dirname}`);
  }
}

export const packageRoot = findPackageRoot();
