// Builds the lab's small C tools with gcc into lab/build/, on demand:
// a tool is rebuilt only when its source is newer than the binary, so the
// first test pays ~0.2 s and later ones nothing.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { runCommand } from './netns';
import { labBuildDir, labSourceDir } from './paths';

function mtimeMs(file: string): number {
  try {
    return fs.statSync(file).mtimeMs;
  } catch {
    return -1;
  }
}

/** Compiles lab/<name>.c to test/build/<name> unless up to date; returns the binary's path. */
export function buildTool(name: string): string {
  const source = path.join(labSourceDir, `${name}.c`);
  const binary = path.join(labBuildDir, name);
  if (mtimeMs(source) < 0) throw new Error(`tool source ${source} is missing`);
  if (mtimeMs(binary) >= mtimeMs(source)) return binary;
  fs.mkdirSync(labBuildDir, { recursive: true });
  // Build to a temporary name and rename, so a parallel run never executes a half-written file.
  const tmp = `${binary}.${process.pid}.tmp`;
  runCommand(['gcc', '-O2', '-Wall', '-Wextra', '-Werror', '-o', tmp, source], { timeoutMs: 60_000 });
  fs.renameSync(tmp, binary);
  return binary;
}

/** The frame injector/receiver (lab/inject.c). */
export function injectorPath(): string {
  return buildTool('inject');
}
