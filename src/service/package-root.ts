// Where netcap's package is on disk: the first folder above this file that
// holds a package.json. The modules sit in dist/src/service, the bundle
// bin/netcap starts in dist/cmd (scripts/bundle.mjs), so a path counted in
// folders from __dirname led out of the package from one of them, and
// netcap serve did not start from the bundle.
import * as fs from 'node:fs';
import * as path from 'node:path';

function findPackageRoot(): string {
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'package.json'))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`netcap's package.json not found above ${__dirname}`);
  }
}

export const PACKAGE_ROOT = findPackageRoot();
