// Where a user-space point lives: the object (executable or shared library)
// that defines the function, and the file offset a uprobe attaches at.
//
// With --pid, every object the process has mapped executable is searched,
// executable first, then libraries in address order (roughly the dynamic
// linker's lookup order), so functions in librte_*.so are found as well as
// the application's own. Without a pid, the binary and the libraries it
// names in DT_NEEDED (found in the system library folders) are searched.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { UserError, closeNames } from '../errors';
import { openElf, type ElfFile, type ElfFunction } from '../elf/elf-file';
import { DEFAULT_DEBUG_ROOTS, findDebugFile } from '../elf/debug-file';
import { exePath, mappedObjects, processExists } from '../proc/process';
import type { UserFunctionPoint } from './spec';

export interface ResolveOptions {
  pid?: number;
  binary?: string;
  /** Where separate debug files are installed (default /usr/lib/debug, also inside the process's root). */
  debugRoots?: string[];
}

export interface ResolvedUserPoint {
  point: UserFunctionPoint;
  /** The path to give the kernel's uprobe (openable by us: through /proc/PID/root or map_files when needed). */
  objectPath: string;
  /** The object as the user knows it (its path inside the process). */
  object: string;
  /** The separate debug file the symbol came from, when the object itself is stripped. */
  debugFile?: string;
  symbol: string;
  fileOffset: number;
  vaddr: number;
  size: number;
}

export interface Candidate {
  /** Path shown to the user. */
  shown: string;
  /** Path we open and attach to. */
  open: string;
}

/** Folders the dynamic linker searches by default on Debian x86-64 (ld.so.conf.d + built-ins). */
const LIBRARY_DIRS = ['/usr/local/lib/x86_64-linux-gnu', '/usr/local/lib', '/lib/x86_64-linux-gnu', '/usr/lib/x86_64-linux-gnu', '/lib64', '/usr/lib64', '/lib', '/usr/lib'];

/** The objects a point is looked for in, in lookup order: the process's (executable first), or the binary and its DT_NEEDED libraries. */
export function searchedObjects(opts: ResolveOptions): Candidate[] {
  return candidates(opts);
}

function candidates(opts: ResolveOptions): Candidate[] {
  const out: Candidate[] = [];
  if (opts.binary !== undefined && !fs.existsSync(opts.binary)) throw new UserError(`binary ${opts.binary} does not exist`, 'give the path of the program or library to probe');
  if (opts.pid !== undefined) {
    if (!processExists(opts.pid)) throw new UserError(`no process with pid ${opts.pid}`, 'check the pid (ps -e or pidof); the process may have exited');
    const exe = exePath(opts.pid);
    const objs = mappedObjects(opts.pid);
    const ordered = [...objs.filter((o) => o.path === exe), ...objs.filter((o) => o.path !== exe)];
    for (const o of ordered) out.push({ shown: o.deleted ? `${o.path} (deleted)` : o.path, open: o.openPath });
    if (opts.binary !== undefined) {
      // --binary with --pid: that object of the process (a probe on a file the process does not map would never fire).
      const mapped = out.filter((c) => objectMatches(path.resolve(opts.binary!), c) || sameFile(c.open, opts.binary!));
      if (!mapped.length) {
        throw new UserError(
          `process ${opts.pid} does not map ${opts.binary}, so no probe there would see its calls`,
          `it maps ${path.basename(out[0]?.shown ?? '?')} and ${out.length - 1} libraries (see /proc/${opts.pid}/maps); give one of them, or leave --binary out to search them all`,
        );
      }
      return mapped;
    }
  } else if (opts.binary !== undefined) {
    out.push({ shown: opts.binary, open: opts.binary });
    const elf = openElf(opts.binary);
    const rpath = path.dirname(opts.binary);
    for (const lib of elf.dynamic().needed) {
      const dir = [...LIBRARY_DIRS, rpath].find((d) => fs.existsSync(path.join(d, lib)));
      if (dir) out.push({ shown: path.join(dir, lib), open: path.join(dir, lib) });
    }
  }
  if (!out.length) throw new UserError('no process or binary to look for functions in', 'give --pid PID of the running program, or --binary PATH');
  return out;
}

/** The same file (device and inode), whatever the paths. */
function sameFile(a: string, b: string): boolean {
  try {
    const x = fs.statSync(a);
    const y = fs.statSync(b);
    return x.dev === y.dev && x.ino === y.ino;
  } catch {
    return false;
  }
}

/** Does `wanted` ('librte_ethdev', 'rte_ethdev', 'librte_ethdev.so.23', '/usr/lib/.../x.so') name this object? */
function objectMatches(wanted: string, c: Candidate): boolean {
  if (wanted.startsWith('/')) {
    const real = (p: string) => { try { return fs.realpathSync(p); } catch { return p; } };
    return c.shown === wanted || c.shown.replace(/ \(deleted\)$/, '') === wanted || real(c.open) === real(wanted);
  }
  // 'librte_ethdev.so.23.0' has the stem 'librte_ethdev': accept the stem, the stem without 'lib', or a longer prefix ending at a dot.
  const base = path.basename(c.shown.replace(/ \(deleted\)$/, ''));
  return base === wanted || base.startsWith(`${wanted}.`) || base.startsWith(`lib${wanted}.`);
}

/** Resolves one user-space point to an object and file offset; UserError with suggestions otherwise. */
export function resolveUserPoint(point: UserFunctionPoint, opts: ResolveOptions): ResolvedUserPoint {
  let objects = candidates(opts);
  if (point.object !== undefined) {
    const wanted = point.object;
    const matching = objects.filter((c) => objectMatches(wanted, c));
    if (!matching.length && wanted.startsWith('/') && fs.existsSync(wanted) && opts.pid === undefined) {
      matching.push({ shown: wanted, open: wanted });
    }
    if (!matching.length) {
      throw new UserError(
        `no object matching '${wanted}' in ${opts.pid !== undefined ? `process ${opts.pid}` : opts.binary}`,
        `objects searched: ${objects.map((c) => path.basename(c.shown)).join(', ')}`,
      );
    }
    objects = matching;
  }
  const opened: { c: Candidate; elf: ElfFile }[] = [];
  for (const c of objects) {
    let elf: ElfFile;
    try {
      elf = openElf(c.open);
    } catch {
      continue; // not ELF (e.g. a mapped data file): nothing to probe there
    }
    opened.push({ c, elf });
    const { fn, debugFile } = findWithDebugFile(elf, point.function, debugRoots(opts));
    if (fn?.indirect) {
      // A uprobe there fires once, when ld.so runs the resolver, never per call.
      throw new UserError(
        `'${point.function}' in ${c.shown} is a GNU indirect function (IFUNC): a probe on it would only see the dynamic linker choosing an implementation`,
        'probe the implementation the program actually calls (see `gdb -batch -ex "info symbol ..."` or the library\'s __<name>_<variant> functions)',
      );
    }
    if (fn) {
      return { point, objectPath: c.open, object: c.shown, symbol: fn.name, fileOffset: fn.fileOffset, vaddr: fn.vaddr, size: fn.size, ...(debugFile ? { debugFile } : {}) };
    }
  }
  const where = opts.pid !== undefined ? `process ${opts.pid}` : opts.binary;
  const stripped = opened.filter((o) => o.elf.isStripped && (point.object !== undefined || o === opened[0])).map((o) => o.c.shown);
  const near = closeNames(point.function, opened.flatMap((o) => o.elf.functionNames()));
  const hints: string[] = [];
  if (near.length) hints.push(`did you mean: ${near.join(', ')}?`);
  if (stripped.length) hints.push(`${stripped.join(', ')} ${stripped.length > 1 ? 'are' : 'is'} stripped (no .symtab) and no debug file was found under ${debugRoots(opts).join(', ')}: only exported functions can be found; install its debug symbols (e.g. the -dbgsym package), probe an unstripped build, or an exported function`);
  if (!hints.length) hints.push('check the name with `nm` or `readelf -s`; static functions inlined by the compiler have no symbol');
  throw new UserError(`function '${point.function}' not found in ${where}${point.object !== undefined ? ` (object ${point.object})` : ''}`, hints.join('; '));
}

/** Where separate debug files are looked for. */
export function debugRoots(opts: ResolveOptions): string[] {
  if (opts.debugRoots) return opts.debugRoots;
  // A containerised process has its debug files in its own root.
  return opts.pid !== undefined ? [...DEFAULT_DEBUG_ROOTS.map((r) => `/proc/${opts.pid}/root${r}`), ...DEFAULT_DEBUG_ROOTS] : DEFAULT_DEBUG_ROOTS;
}

/** The function from the object's own tables or, for a stripped object, from its separate debug file. */
export function findWithDebugFile(elf: ElfFile, name: string, roots: string[]): { fn?: ElfFunction; debugFile?: string } {
  const own = elf.findFunction(name);
  if (own || !elf.isStripped) return { fn: own };
  const debugFile = findDebugFile(elf, roots);
  if (!debugFile) return {};
  const sym = openElf(debugFile).findFunctionSymbol(name);
  if (!sym) return {};
  // Same addresses, but the code is in the original: translate through its segments.
  return { fn: { name: sym.name, vaddr: sym.vaddr, size: sym.size, fileOffset: elf.fileOffsetOf(sym.vaddr), table: sym.table, indirect: sym.type === 'IFUNC' }, debugFile };
}
