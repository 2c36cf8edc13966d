// `netcap mbuf --list`: the functions of a DPDK process (or binary) that take
// a struct rte_mbuf * or an array of them, with the -f forms that probe
// them. Prototypes come from DWARF where an object has it (in itself or in
// its separate debug file), else, for DPDK's own libraries, from the table
// of their exported functions (src/dpdk/mbuf-functions.ts). Every function
// listed has the symbol -f resolves (the test resolves each form), so a
// form can be pasted as is.
//
// The listing is made of sections; this module gives the functions one
// (mbufFunctionSection), and the command prints the sections in order.
import * as path from 'node:path';
import { UserError } from '../../errors';
import { openElf, type ElfFile } from '../../elf/elf-file';
import { findDebugFile } from '../../elf/debug-file';
import { dwarfPrototypes, type Prototype } from '../../elf/dwarf';
import { DPDK_MBUF_FUNCTIONS } from '../../dpdk/mbuf-functions';
import { MAX_ARG } from '../../targets/spec';
import { debugRoots, findWithDebugFile, searchedObjects, type Candidate } from '../../targets/resolve';
import type { UserTarget } from '../uprobe-mode';

export interface MbufFunction {
  /** The object as the process sees it. */
  object: string;
  prototype: Prototype;
  /** Where the prototype came from. */
  source: 'DWARF' | 'DPDK ABI';
  /** -f forms that resolve to it. */
  forms: string[];
}

export interface ListingSection {
  title: string;
  lines: string[];
}

const MBUF = /^(const )?struct rte_mbuf \*$/;
const MBUF_ARRAY = /^(const )?struct rte_mbuf \*( const)?\*$/;
const INTEGER = /^(const )?(u?int(8|16|32|64)_t|unsigned|signed|(unsigned |signed )?(char|short|int|long|long int|long long|short int|long long int)|short unsigned int|long unsigned int|size_t|ssize_t)$/;

/** The -f forms a prototype allows (arguments 1-6 only: later ones are on the stack). */
export function mbufForms(proto: Prototype): string[] {
  const forms: string[] = [];
  const inRegisters = proto.params.slice(0, MAX_ARG);
  inRegisters.forEach((param, i) => {
    if (MBUF.test(param.type)) forms.push(`${proto.name}@${i + 1}`);
    if (!MBUF_ARRAY.test(param.type)) return;
    // The count: the first integer argument after the array (before it, failing that).
    const integer = (q: Prototype['params'][number]) => q.integer ?? INTEGER.test(q.type);
    const after = inRegisters.findIndex((q, j) => j > i && integer(q));
    const count = after >= 0 ? after : inRegisters.findIndex(integer);
    if (count >= 0) forms.push(`${proto.name}@${i + 1}@${count + 1}`);
    if (proto.returnsInteger ?? INTEGER.test(proto.returns)) forms.push(`${proto.name}@${i + 1}@ret`);
  });
  return forms;
}

function prototypesOf(elf: ElfFile, roots: string[]): Prototype[] | undefined {
  const fromDwarf = (e: ElfFile) => {
    try {
      return dwarfPrototypes(e, 'rte_mbuf');
    } catch {
      return undefined; // a form or layout this reader does not know: no DWARF to use
    }
  };
  const own = fromDwarf(elf);
  if (own?.length) return own;
  const debugFile = findDebugFile(elf, roots);
  return debugFile ? fromDwarf(openElf(debugFile)) : undefined;
}

/** The library stem `-f lib:func` takes: "librte_mbuf" for librte_mbuf.so.23.0. */
function libraryStem(object: string): string {
  return path.basename(object.replace(/ \(deleted\)$/, '')).replace(/\.so(\..*)?$/, '');
}

/** The functions taking mbufs, by object in lookup order, and the objects that said nothing (no DWARF). */
export function mbufFunctions(target: UserTarget): { functions: MbufFunction[]; withoutTypes: string[] } {
  if (target.pid === undefined && target.binary === undefined) throw new UserError('netcap mbuf --list needs the process or the binary', 'give --pid PID (or --binary PATH)');
  const objects = searchedObjects(target);
  const roots = debugRoots(target);
  const functions: MbufFunction[] = [];
  const withoutTypes: string[] = [];
  objects.forEach((c: Candidate, index) => {
    let elf: ElfFile;
    try {
      elf = openElf(c.open);
    } catch {
      return; // not ELF
    }
    const isDpdk = libraryStem(c.shown).startsWith('librte_');
    const dwarf = prototypesOf(elf, roots);
    const protos = dwarf ?? (isDpdk ? DPDK_MBUF_FUNCTIONS.filter((f) => f.library === libraryStem(c.shown)) : undefined);
    if (!protos) {
      if (index === 0) withoutTypes.push(c.shown);
      return;
    }
    const seen = new Set<string>();
    for (const proto of protos) {
      if (seen.has(proto.name)) continue;
      seen.add(proto.name);
      // The executable's functions need no prefix (it is searched first); a library's name it.
      const prefix = index === 0 ? '' : `${libraryStem(c.shown)}:`;
      // A clone gcc rewrote takes its arguments elsewhere: its forms would read the wrong registers.
      if (proto.rewritten) continue;
      const forms = mbufForms(proto).map((f) => prefix + f);
      if (!forms.length || !probeable(elf, proto.name, roots)) continue; // no mbuf; or inlined everywhere, or only clones under other names
      functions.push({ object: c.shown, prototype: proto, source: dwarf ? 'DWARF' : 'DPDK ABI', forms });
    }
  });
  return { functions, withoutTypes };
}

/**
 * Does the function resolve in this object as -f resolves it: a symbol of
 * its own tables or of its debug file, not an IFUNC resolver? (The
 * executable is searched first, and a library is named by its stem, so the
 * object found is this one.)
 */
function probeable(elf: ElfFile, name: string, roots: string[]): boolean {
  const { fn } = findWithDebugFile(elf, name, roots);
  return fn !== undefined && !fn.indirect;
}

function signature(p: Prototype): string {
  const param = (q: Prototype['params'][number]) => (q.type.endsWith('*') ? `${q.type}${q.name}` : `${q.type} ${q.name}`.trim());
  return `${p.returns}${p.returns.endsWith('*') ? '' : ' '}${p.name}(${p.params.map(param).join(', ') || 'void'})`;
}

/** The functions section of `netcap mbuf --list`. */
export function mbufFunctionSection(target: UserTarget): ListingSection {
  const { functions, withoutTypes } = mbufFunctions(target);
  const lines: string[] = [];
  let object = '';
  for (const f of functions) {
    if (f.object !== object) {
      object = f.object;
      lines.push(`  ${object} (${f.source}):`);
    }
    lines.push(`    ${signature(f.prototype)}`, `      -f ${f.forms.join('  or  ')}`);
  }
  if (!functions.length) lines.push('  (none found)');
  for (const o of withoutTypes) lines.push(`  ${o}: no DWARF, so the types of its own functions are unknown (build it with -g, or install its debug symbols, to list them)`);
  const where = target.pid !== undefined ? `process ${target.pid}` : target.binary!;
  return { title: `Functions of ${where} that take a struct rte_mbuf * or an array of them (@N: one mbuf, @N@M: an array and its count, @N@ret: the array filled when the function returns):`, lines };
}
