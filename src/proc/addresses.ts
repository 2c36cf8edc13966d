// Between a process's virtual addresses and the files it maps: where a
// symbol of a mapped object lives at run time (its vaddr plus the object's
// load bias), and which file and file offset hold the code at a run-time
// address (what a uprobe attaches at: the kernel's uprobe takes an inode and
// a file offset, so a function pointer read from the process needs no symbol).
import type { ElfFile } from '../elf/elf-file';
import { PT_LOAD } from '../elf/format';
import type { MapEntry } from './maps';
import type { MappedObject } from './process';

/**
 * The load bias of `obj` (run-time address minus ELF vaddr): from its mapping
 * of the lowest file offset and the PT_LOAD segment that mapping starts in
 * (mmap offsets are the segment's p_offset rounded down to a page). 0 for a
 * non-PIE executable; undefined when no mapping matches a segment.
 */
export function loadBias(obj: MappedObject, elf: ElfFile): bigint | undefined {
  const first = [...obj.mappings].sort((a, b) => (a.offset < b.offset ? -1 : a.offset > b.offset ? 1 : 0))[0];
  if (!first) return undefined;
  const offset = Number(first.offset);
  // The segment that mapping starts in: its p_offset rounded down by at most a (64 KiB) page.
  const seg = elf.segments.filter((s) => s.type === PT_LOAD && s.offset >= offset && s.offset - offset < 0x10000).sort((a, b) => a.offset - b.offset)[0];
  if (!seg) return undefined;
  // The mapping starts `seg.offset - offset` bytes before the segment's first byte.
  return first.start + BigInt(seg.offset - offset) - BigInt(seg.vaddr);
}

/** Where a code address lives: the mapped file, and the offset in it. */
export interface CodeLocation {
  address: bigint;
  /** The file as the process sees it. */
  object: string;
  /** A path we can open (and attach a uprobe to): /proc/PID/root/..., or map_files for a deleted file. */
  openPath: string;
  fileOffset: number;
  mapping: MapEntry;
}

/** The executable file mapping holding `address`, or undefined (anonymous memory, JIT code, not mapped). */
export function codeLocation(objects: MappedObject[], address: bigint): CodeLocation | undefined {
  for (const o of objects) {
    for (const m of o.mappings) {
      if (address >= m.start && address < m.end && m.perms[2] === 'x') {
        return { address, object: o.path, openPath: o.openPath, fileOffset: Number(address - m.start + m.offset), mapping: m };
      }
    }
  }
  return undefined;
}
