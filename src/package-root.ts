// Where netcap's files are: the folder of its package.json, the first one
// above the running code (dist/src/... module by module, dist/cmd for the
// bundle, which puts every module's __dirname there).
import * as fs from 'node:fs';
import * as path from 'node:path';

function findPackageRoot(): string {
  for (let dir = __dirname; path.dirname(dir) !== dir; dir = path.dirname(dir)) if (fs.existsSync(path.join(dir, 'package.json'))) return dir;
  throw new Error(`netcap's package.json not found above ${__dirname}`);
}

export const PACKAGE_ROOT: string = findPackageRoot();
