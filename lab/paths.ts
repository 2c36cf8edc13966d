// Where the repository and the build folders are, found from this file's
// location, which differs between the sources (lab) and the compiled
// output (dist/lab).
import * as path from 'node:path';
import { PROJECT_ROOT } from '../src/project-root';

/** The repository root (holds package.json). */
export const repoRoot = PROJECT_ROOT;
/** Sources of the test-world tools (C files). */
export const labSourceDir = path.join(repoRoot, 'lab');
/** Built test tools (gitignored). */
export const labBuildDir = path.join(repoRoot, 'lab', 'build');
/** Built example and DPDK programs (gitignored). */
export const examplesBuildDir = path.join(repoRoot, 'examples', 'build');
