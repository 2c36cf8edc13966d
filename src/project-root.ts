// Where netcap's own files are (package.json, the addon, the web page, the
// compiled helpers it starts as child processes), whichever way the code was
// loaded: as compiled modules (dist/src/..., dist/cmd) or as the one bundled
// file (dist/cmd/netcap.bundle.js), whose __dirname is that of the bundle
// for every module in it. So no module counts folders up from its own.
import * as fs from 'node:fs';
import * as path from 'node:path';

/** The nearest folder at or above `from` that holds netcap's package.json. */
function packageRoot(from: string): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    const pkg = path.join(dir, 'package.json');
    if (fs.existsSync(pkg) && (JSON.parse(fs.readFileSync(pkg, 'utf8')) as { name?: string }).name === 'netcap') return dir;
    if (path.dirname(dir) === dir) throw new Error(`netcap's package.json is in no folder above ${from}`);
  }
}

export const PROJECT_ROOT: string = packageRoot(__dirname);

/** A file of the project, by its path from the root. */
export function projectFile(...parts: string[]): string {
  return path.join(PROJECT_ROOT, ...parts);
}
