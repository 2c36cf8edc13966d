// Where the repository and the build folders are, found from this file's
// location, which differs between the sources (lab) and the compiled
// output (dist/lab).
import * as fs from 'node:fs';
import * as path from 'node:path';

function findRepoRoot(): string {
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    const pkg = path.join(dir, 'package.json');
    if (fs.existsSync(pkg) && (JSON.parse(fs.readFileSync(pkg, 'utf8')) as { name?: string }).name === 'netcap') return dir;
    if (path.dirname(dir) === dir) throw new Error(`netcap's package.json not found above ${__dirname}`);
  }
}

/** The repository root (holds package.json). */
export const repoRoot = findRepoRoot();
/** Sources of the test-world tools (C files). */
export const labSourceDir = path.join(repoRoot, 'lab');
/** Built test tools (gitignored). */
export const labBuildDir = path.join(repoRoot, 'lab', 'build');
/** Built example and DPDK programs (gitignored). */
export const examplesBuildDir = path.join(repoRoot, 'examples', 'build');
