// Our own ELF64 little-endian reader: the symbols of an executable or shared
// object and the FILE OFFSET a uprobe attaches at. The kernel's uprobe takes
// (inode, offset in file), so a symbol's virtual address is translated through
// the PT_LOAD segment that contains it: offset = vaddr - p_vaddr + p_offset
// (what libbpf's elf_sym_offset() does too). This holds for PIE, non-PIE and
// shared objects alike; the load bias never enters.
//
// Headers are read on open; symbol tables are decoded on first use.
import * as fs from 'node:fs';
import { UserError } from '../errors';
import * as F from './format';
import { readVersions } from './versions';

export interface ElfSection {
  index: number;
  name: string;
  type: number;
  flags: bigint;
  addr: number;
  offset: number;
  size: number;
  link: number;
  info: number;
  entsize: number;
}

export interface ElfSegment {
  type: number;
  flags: number;
  offset: number;
  vaddr: number;
  filesz: number;
  memsz: number;
}

export interface ElfSymbol {
  /** The bare name ('rte_eth_rx_burst'), without any @VERSION. */
  name: string;
  /** Symbol version from .gnu.version (dynsym only), e.g. 'DPDK_23'. */
  version?: string;
  /** True for a default version this object defines (readelf: name@@VER); false for hidden or required ones (name@VER). */
  defaultVersion?: boolean;
  type: string;
  binding: string;
  vaddr: number;
  size: number;
  sectionIndex: number;
  table: '.symtab' | '.dynsym';
}

/** A function symbol ready for a uprobe. */
export interface ElfFunction {
  name: string;
  vaddr: number;
  size: number;
  fileOffset: number;
  table: '.symtab' | '.dynsym';
  /** GNU indirect function: the symbol is a resolver run once by the dynamic linker, not the code called per use. */
  indirect: boolean;
}

function toNumber(v: bigint, what: string, path: string): number {
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new UserError(`${path}: ${what} 0x${v.toString(16)} is too large`, 'the ELF file looks corrupt');
  return Number(v);
}

export class ElfFile {
  private symbolCache = new Map<string, ElfSymbol[]>();

  private constructor(
    readonly path: string,
    /** ET_EXEC (2), ET_DYN (3: PIE executables and shared objects), ... */
    readonly type: number,
    readonly machine: number,
    readonly sections: ElfSection[],
    readonly segments: ElfSegment[],
  ) {}

  /** Opens and validates an ELF64 little-endian file; anything else is a UserError. */
  static open(path: string): ElfFile {
    let fd: number;
    try {
      fd = fs.openSync(path, 'r');
    } catch (e) {
      throw new UserError(`cannot open ${path}`, 'check the path and that the file exists', String(e));
    }
    try {
      const eh = readAt(fd, 0, F.EHDR_SIZE);
      if (eh.length < 16 || eh.readUInt32LE(0) !== F.ELF_MAGIC) {
        throw new UserError(`${path} is not an ELF file`, 'give the path of an executable or shared library');
      }
      if (eh[4] !== F.ELFCLASS64 || eh[5] !== F.ELFDATA2LSB) {
        throw new UserError(
          `${path} is ${eh[4] === 1 ? '32-bit' : '64-bit'} ${eh[5] === 2 ? 'big' : 'little'}-endian ELF; netcap reads only 64-bit little-endian ELF`,
          'probe a 64-bit x86-64 or arm64 build of the program',
        );
      }
      if (eh.length < F.EHDR_SIZE) throw new UserError(`${path}: truncated ELF header`, 'the file is damaged');
      const type = eh.readUInt16LE(16);
      const machine = eh.readUInt16LE(18);
      const phoff = toNumber(eh.readBigUInt64LE(32), 'e_phoff', path);
      const shoff = toNumber(eh.readBigUInt64LE(40), 'e_shoff', path);
      const phnum = eh.readUInt16LE(56);
      let shnum = eh.readUInt16LE(60);
      let shstrndx = eh.readUInt16LE(62);
      // Extended numbering: counts that don't fit live in section header 0 (gABI).
      if (shoff && (shnum === 0 || shstrndx === 0xffff)) {
        const sh0 = readAt(fd, shoff, F.SHDR_SIZE);
        if (shnum === 0) shnum = toNumber(sh0.readBigUInt64LE(32), 'sh_size', path);
        if (shstrndx === 0xffff) shstrndx = sh0.readUInt32LE(40);
      }
      const segments: ElfSegment[] = [];
      const ph = readAt(fd, phoff, phnum * F.PHDR_SIZE);
      for (let i = 0; i < phnum && (i + 1) * F.PHDR_SIZE <= ph.length; i++) {
        const o = i * F.PHDR_SIZE;
        segments.push({
          type: ph.readUInt32LE(o),
          flags: ph.readUInt32LE(o + 4),
          offset: toNumber(ph.readBigUInt64LE(o + 8), 'p_offset', path),
          vaddr: toNumber(ph.readBigUInt64LE(o + 16), 'p_vaddr', path),
          filesz: toNumber(ph.readBigUInt64LE(o + 32), 'p_filesz', path),
          memsz: toNumber(ph.readBigUInt64LE(o + 40), 'p_memsz', path),
        });
      }
      const sections: ElfSection[] = [];
      const sh = shoff ? readAt(fd, shoff, shnum * F.SHDR_SIZE) : Buffer.alloc(0);
      const nameOffsets: number[] = [];
      for (let i = 0; i < shnum && (i + 1) * F.SHDR_SIZE <= sh.length; i++) {
        const o = i * F.SHDR_SIZE;
        nameOffsets.push(sh.readUInt32LE(o));
        sections.push({
          index: i,
          name: '',
          type: sh.readUInt32LE(o + 4),
          flags: sh.readBigUInt64LE(o + 8),
          addr: toNumber(sh.readBigUInt64LE(o + 16), 'sh_addr', path),
          offset: toNumber(sh.readBigUInt64LE(o + 24), 'sh_offset', path),
          size: toNumber(sh.readBigUInt64LE(o + 32), 'sh_size', path),
          link: sh.readUInt32LE(o + 40),
          info: sh.readUInt32LE(o + 44),
          entsize: toNumber(sh.readBigUInt64LE(o + 56), 'sh_entsize', path),
        });
      }
      const shstr = sections[shstrndx];
      if (shstr) {
        const names = readAt(fd, shstr.offset, shstr.size);
        sections.forEach((s, i) => { s.name = cString(names, nameOffsets[i]); });
      }
      return new ElfFile(path, type, machine, sections, segments);
    } finally {
      fs.closeSync(fd);
    }
  }

  /** ET_DYN: a PIE executable or a shared object (addresses are relative to a load bias). */
  get isPositionIndependent(): boolean {
    return this.type === F.ET_DYN;
  }

  section(name: string): ElfSection | undefined {
    return this.sections.find((s) => s.name === name);
  }

  /** The bytes of a section (empty for SHT_NOBITS such as .bss). */
  sectionData(s: ElfSection): Buffer {
    if (s.type === F.SHT_NOBITS || s.size === 0) return Buffer.alloc(0);
    const fd = fs.openSync(this.path, 'r');
    try {
      return readAt(fd, s.offset, s.size);
    } finally {
      fs.closeSync(fd);
    }
  }

  /** Bytes of the file at a file offset (for peeking at code, e.g. a function's first instructions). */
  readFileBytes(offset: number, length: number): Buffer {
    const fd = fs.openSync(this.path, 'r');
    try {
      return readAt(fd, offset, length);
    } finally {
      fs.closeSync(fd);
    }
  }

  /** No .symtab: only exported (.dynsym) names are left. */
  get isStripped(): boolean {
    return !this.sections.some((s) => s.type === F.SHT_SYMTAB);
  }

  /** Symbols of '.symtab' or '.dynsym' (empty when the table is absent). */
  symbols(table: '.symtab' | '.dynsym'): ElfSymbol[] {
    let cached = this.symbolCache.get(table);
    if (!cached) {
      cached = this.readSymbols(table);
      this.symbolCache.set(table, cached);
    }
    return cached;
  }

  private readSymbols(table: '.symtab' | '.dynsym'): ElfSymbol[] {
    const sec = this.sections.find((s) => s.type === (table === '.symtab' ? F.SHT_SYMTAB : F.SHT_DYNSYM));
    if (!sec) return [];
    const strtab = this.sections[sec.link];
    const data = this.sectionData(sec);
    const strings = strtab ? this.sectionData(strtab) : Buffer.alloc(0);
    const versions = table === '.dynsym' ? readVersions(this, data.length / F.SYM_SIZE) : undefined;
    const out: ElfSymbol[] = [];
    for (let i = 0, o = 0; o + F.SYM_SIZE <= data.length; i++, o += F.SYM_SIZE) {
      const info = data[o + 4];
      const sym: ElfSymbol = {
        name: cString(strings, data.readUInt32LE(o)),
        type: F.SYMBOL_TYPES[info & 0xf] ?? `TYPE${info & 0xf}`,
        binding: F.SYMBOL_BINDINGS[info >> 4] ?? `BIND${info >> 4}`,
        sectionIndex: data.readUInt16LE(o + 6),
        vaddr: toNumber(data.readBigUInt64LE(o + 8), 'st_value', this.path),
        size: toNumber(data.readBigUInt64LE(o + 16), 'st_size', this.path),
        table,
      };
      const v = versions?.[i];
      if (v) {
        sym.version = v.name;
        sym.defaultVersion = v.defined && !v.hidden;
      }
      out.push(sym);
    }
    return out;
  }

  /** Defined functions (FUNC and GNU IFUNC with a section), .symtab first then .dynsym. */
  private definedFunctions(): ElfSymbol[] {
    const isFn = (s: ElfSymbol) => (s.type === 'FUNC' || s.type === 'IFUNC') && s.sectionIndex !== F.SHN_UNDEF && s.name !== '';
    return [...this.symbols('.symtab').filter(isFn), ...this.symbols('.dynsym').filter(isFn)];
  }

  /** Names of every defined function, without duplicates. */
  functionNames(): string[] {
    return [...new Set(this.definedFunctions().map((s) => s.name))];
  }

  /**
   * The function called `name` ('foo', or 'foo@@VER' / 'foo@VER' to pick a
   * version), with the file offset for a uprobe; undefined when absent.
   */
  findFunction(name: string): ElfFunction | undefined {
    const sym = this.findFunctionSymbol(name);
    if (!sym) return undefined;
    return { name: sym.name, vaddr: sym.vaddr, size: sym.size, fileOffset: this.fileOffsetOf(sym.vaddr), table: sym.table, indirect: sym.type === 'IFUNC' };
  }

  /** The symbol of function `name` without translating its address (for debug files, whose segments hold no code). */
  findFunctionSymbol(name: string): ElfSymbol | undefined {
    const at = name.indexOf('@');
    const bare = at < 0 ? name : name.slice(0, at);
    const version = at < 0 ? undefined : name.slice(at).replace(/^@@?/, '');
    const candidates = this.definedFunctions().filter((s) => s.name === bare && (version === undefined || s.version === version));
    // Prefer the default version of a versioned export, then any.
    return candidates.find((s) => s.defaultVersion !== false) ?? candidates[0];
  }

  /**
   * The defined data object called `name` (a global array such as
   * rte_eth_fp_ops), .symtab first then .dynsym; undefined when absent. Its
   * vaddr is relative to the load bias; it may live in .bss (no file bytes).
   */
  findDataObject(name: string): ElfSymbol | undefined {
    const isObject = (s: ElfSymbol) => s.type === 'OBJECT' && s.sectionIndex !== F.SHN_UNDEF && s.name === name;
    return this.symbols('.symtab').find(isObject) ?? this.symbols('.dynsym').find(isObject);
  }

  /** The file offset of a virtual address, through the PT_LOAD segment that maps it. */
  fileOffsetOf(vaddr: number): number {
    const seg = this.segments.find((p) => p.type === F.PT_LOAD && vaddr >= p.vaddr && vaddr < p.vaddr + p.filesz);
    if (!seg) {
      throw new UserError(`${this.path}: address 0x${vaddr.toString(16)} is in no loadable segment`, 'the symbol is not backed by file contents (corrupt or unusual ELF)');
    }
    return vaddr - seg.vaddr + seg.offset;
  }

  /** The virtual address of a file offset, through the PT_LOAD segment holding it; undefined when none does. */
  vaddrOf(fileOffset: number): number | undefined {
    const seg = this.segments.find((p) => p.type === F.PT_LOAD && fileOffset >= p.offset && fileOffset < p.offset + p.filesz);
    return seg ? fileOffset - seg.offset + seg.vaddr : undefined;
  }

  /** The GNU build-id (hex), from the NT_GNU_BUILD_ID note, or undefined. */
  buildId(): string | undefined {
    for (const s of this.sections) {
      if (s.type !== F.SHT_NOTE) continue;
      const d = this.sectionData(s);
      for (let o = 0; o + 12 <= d.length;) {
        const namesz = d.readUInt32LE(o);
        const descsz = d.readUInt32LE(o + 4);
        const type = d.readUInt32LE(o + 8);
        const nameStart = o + 12;
        const descStart = nameStart + align4(namesz);
        if (type === F.NT_GNU_BUILD_ID && d.toString('latin1', nameStart, nameStart + namesz) === 'GNU\0') {
          return d.subarray(descStart, descStart + descsz).toString('hex');
        }
        o = descStart + align4(descsz);
      }
    }
    return undefined;
  }

  /** DT_NEEDED and DT_SONAME of the dynamic section. */
  dynamic(): { needed: string[]; soname?: string } {
    const sec = this.sections.find((s) => s.type === F.SHT_DYNAMIC);
    const out: { needed: string[]; soname?: string } = { needed: [] };
    if (!sec) return out;
    const d = this.sectionData(sec);
    const strings = this.sections[sec.link] ? this.sectionData(this.sections[sec.link]) : Buffer.alloc(0);
    for (let o = 0; o + F.DYN_SIZE <= d.length; o += F.DYN_SIZE) {
      const tag = Number(d.readBigInt64LE(o));
      if (tag === F.DT_NULL) break;
      const val = Number(d.readBigUInt64LE(o + 8));
      if (tag === F.DT_NEEDED) out.needed.push(cString(strings, val));
      else if (tag === F.DT_SONAME) out.soname = cString(strings, val);
    }
    return out;
  }
}

/** Opens an ELF file (see ElfFile.open). */
export function openElf(path: string): ElfFile {
  return ElfFile.open(path);
}

function align4(n: number): number {
  return (n + 3) & ~3;
}

export function cString(buf: Buffer, offset: number): string {
  if (offset >= buf.length) return '';
  const end = buf.indexOf(0, offset);
  return buf.toString('utf8', offset, end < 0 ? buf.length : end);
}

function readAt(fd: number, position: number, length: number): Buffer {
  const buf = Buffer.alloc(length);
  let done = 0;
  while (done < length) {
    const n = fs.readSync(fd, buf, done, length - done, position + done);
    if (n === 0) break;
    done += n;
  }
  return done === length ? buf : buf.subarray(0, done);
}
