// Builds small C programs for tests into a private temporary folder.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export interface BuiltProgram {
  dir: string;
  /** Compiles `source` with gcc and `flags` into dir/name, linking `libs` (after the source); returns the output path. */
  build(name: string, source: string, flags: string[], libs?: string[]): string;
  /** Removes the folder and everything built in it. */
  remove(): void;
}

export function cProgramDir(purpose: string): BuiltProgram {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `nc-${purpose}-`));
  return {
    dir,
    build(name, source, flags, libs = []) {
      const c = path.join(dir, `${name}.c`);
      const out = path.join(dir, name);
      fs.writeFileSync(c, source);
      execFileSync('gcc', [...flags, '-o', out, c, ...libs], { stdio: ['ignore', 'ignore', 'pipe'] });
      return out;
    },
    remove() {
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A program with a few probe-able functions; noinline + a side effect keep them real. */
export const SAMPLE_PROGRAM = `
#include <stdio.h>
#include <unistd.h>
volatile unsigned long sink;
__attribute__((noinline)) void nc_process_one(void *m) { sink += (unsigned long)m; }
__attribute__((noinline)) int nc_process_burst(void **ms, int n) { for (int i = 0; i < n; i++) nc_process_one(ms[i]); return n; }
static __attribute__((noinline)) void nc_local_helper(int x) { sink ^= x; }
int nc_global_counter = 7;
int main(int argc, char **argv) {
  void *ms[2] = { argv, argv + 1 };
  for (int i = 0; ; i++) { nc_process_burst(ms, 2); nc_local_helper(i); if (argc < 2) break; usleep(1000); }
  printf("%lu\\n", sink & 1);
  return 0;
}
`;
