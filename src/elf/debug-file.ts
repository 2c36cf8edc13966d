// Separate debug files: distributions strip .symtab from what they install
// and ship it in debug packages (Debian's *-dbgsym) under /usr/lib/debug,
// found by GNU build-id (.build-id/ab/cdef...debug) or by .gnu_debuglink
// name (gdb's lookup order, "Debugging Information in Separate Files").
// The debug file has the same symbol addresses; its sections hold no code
// (SHT_NOBITS), so file offsets are still computed through the ORIGINAL
// file's program headers.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { openElf, cString, type ElfFile } from './elf-file';

export const DEFAULT_DEBUG_ROOTS = ['/usr/lib/debug'];

/** The debug file holding `elf`'s full symbol table, if one is installed. */
export function findDebugFile(elf: ElfFile, roots: readonly string[] = DEFAULT_DEBUG_ROOTS): string | undefined {
  const id = elf.buildId();
  const candidates: string[] = [];
  if (id && id.length > 2) {
    for (const root of roots) candidates.push(path.join(root, '.build-id', id.slice(0, 2), `${id.slice(2)}.debug`));
  }
  const link = elf.section('.gnu_debuglink');
  if (link) {
    const name = cString(elf.sectionData(link), 0);
    const dir = path.dirname(elf.path);
    if (name) {
      candidates.push(path.join(dir, name), path.join(dir, '.debug', name));
      for (const root of roots) candidates.push(path.join(root, dir, name));
    }
  }
  for (const c of candidates) {
    if (!fs.existsSync(c) || path.resolve(c) === path.resolve(elf.path)) continue;
    try {
      const dbg = openElf(c);
      // A debug file for another build would give wrong addresses: the build-ids must agree.
      if (id && dbg.buildId() !== id) continue;
      if (!dbg.isStripped) return c;
    } catch {
      // not ELF: keep looking
    }
  }
  return undefined;
}
