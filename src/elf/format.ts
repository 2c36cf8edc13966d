// ELF64 constants and record layouts (System V gABI, glibc's <elf.h>). Only
// what a uprobe needs: sections, symbols, program headers, notes, dynamic tags.

export const ELF_MAGIC = 0x464c457f; // "\x7fELF" read little-endian
export const ELFCLASS64 = 2;
export const ELFDATA2LSB = 1;

export const ET_EXEC = 2;
export const ET_DYN = 3;

export const SHT_SYMTAB = 2;
export const SHT_NOTE = 7;
export const SHT_NOBITS = 8;
export const SHT_DYNAMIC = 6;
export const SHT_DYNSYM = 11;
export const SHT_GNU_VERDEF = 0x6ffffffd;
export const SHT_GNU_VERNEED = 0x6ffffffe;
export const SHT_GNU_VERSYM = 0x6fffffff;

export const PT_LOAD = 1;
export const PF_X = 1;

export const SHN_UNDEF = 0;
export const SHN_ABS = 0xfff1;

export const STT_OBJECT = 1;
export const STT_FUNC = 2;
export const STT_GNU_IFUNC = 10;

export const NT_GNU_BUILD_ID = 3;

export const DT_NULL = 0;
export const DT_NEEDED = 1;
export const DT_SONAME = 14;

/** Sizes of the ELF64 records. */
export const EHDR_SIZE = 64;
export const SHDR_SIZE = 64;
export const PHDR_SIZE = 56;
export const SYM_SIZE = 24;
export const DYN_SIZE = 16;

export const SYMBOL_TYPES: Record<number, string> = {
  0: 'NOTYPE', 1: 'OBJECT', 2: 'FUNC', 3: 'SECTION', 4: 'FILE', 5: 'COMMON', 6: 'TLS', 10: 'IFUNC',
};
export const SYMBOL_BINDINGS: Record<number, string> = { 0: 'LOCAL', 1: 'GLOBAL', 2: 'WEAK', 10: 'UNIQUE' };
