// Just enough DWARF (versions 2 to 5, dwarfstd.org) to know the prototypes
// of an object's functions: which of them take a `struct rte_mbuf *` or an
// array of them, for `netcap mbuf --list`. Read from .debug_info and
// .debug_abbrev (zlib-compressed sections too, as objcopy
// --compress-debug-sections leaves them), with the names in .debug_str,
// .debug_line_str and .debug_str_offsets.
//
// Only functions with code of their own are reported (DW_AT_low_pc or
// DW_AT_ranges: not those inlined everywhere), named and typed through
// DW_AT_abstract_origin / DW_AT_specification when the code's entry only
// points at the declaration. Types print as C writes them
// ("struct rte_mbuf **", "const char *", "uint16_t").
//
// Caveats: references into another file (dwz's DW_FORM_GNU_ref_alt, as
// Debian's -dbgsym packages use) and type units print as "?"; a function
// whose parameters gcc rewrote (.isra/.constprop clones) is described by
// the source's prototype, so callers match it against the symbol table.
import { inflateSync } from 'node:zlib';
import type { ElfFile } from './elf-file';
import { SHT_NOBITS } from './format';

export interface Prototype {
  name: string;
  /** The return type as C writes it ("void", "uint16_t"). */
  returns: string;
  /** The return type is a whole number under its typedefs (a count: func@N@ret). */
  returnsInteger?: boolean;
  /** `integer`: the type is a whole number under its typedefs (uint16_t, a count_t of it), as a burst's count must be. */
  params: { name: string; type: string; integer?: boolean }[];
  /**
   * The code takes other arguments than the source declares: gcc rewrote it
   * (an .isra or .constprop clone: parameters dropped, reordered or split),
   * so the argument registers do not follow `params`.
   */
  rewritten?: boolean;
}

// DW_TAG_*, DW_AT_*, DW_FORM_* (DWARF 5, section 7.5; GNU extensions from gcc's dwarf2.def).
const TAG = {
  array: 0x01, formalParameter: 0x05, pointer: 0x0f, unspecifiedParameters: 0x18, reference: 0x10, compileUnit: 0x11, structure: 0x13, subroutineType: 0x15,
  typedef: 0x16, union: 0x17, baseType: 0x24, const: 0x26, enumeration: 0x04, subprogram: 0x2e, volatile: 0x35, restrict: 0x37, atomic: 0x47,
} as const;
const AT = { name: 0x03, lowPc: 0x11, type: 0x49, abstractOrigin: 0x31, specification: 0x47, ranges: 0x55, strOffsetsBase: 0x72 } as const;
const WANTED_ATTRS = new Set<number>(Object.values(AT));

/** A value as read: a number, a string, a reference (absolute .debug_info offset), a string index (DW_FORM_strx*), or something we do not keep. */
type Value = number | bigint | string | { ref: number } | { strx: number } | { foreign: true } | undefined;

interface Die {
  tag: number;
  attrs: Map<number, Value>;
  children: number[];
  unit: Unit;
}

interface Unit {
  strOffsetsBase: number;
}

const SHF_COMPRESSED = 0x800n;
const ELFCOMPRESS_ZLIB = 1;

/** A section's bytes, inflated when compressed (gABI Elf64_Chdr); undefined when absent or in a form we do not read. */
function sectionBytes(elf: ElfFile, name: string): Buffer | undefined {
  const s = elf.section(name);
  if (!s || s.type === SHT_NOBITS || s.size === 0) return undefined;
  const data = elf.sectionData(s);
  if ((s.flags & SHF_COMPRESSED) === 0n) return data;
  if (data.readUInt32LE(0) !== ELFCOMPRESS_ZLIB) return undefined; // zstd: Node 20 has no decoder
  return inflateSync(data.subarray(24));
}

class Reader {
  pos: number;
  constructor(
    readonly buf: Buffer,
    pos = 0,
  ) {
    this.pos = pos;
  }
  u8(): number {
    return this.buf[this.pos++];
  }
  u16(): number {
    const v = this.buf.readUInt16LE(this.pos);
    this.pos += 2;
    return v;
  }
  u32(): number {
    const v = this.buf.readUInt32LE(this.pos);
    this.pos += 4;
    return v;
  }
  u64(): bigint {
    const v = this.buf.readBigUInt64LE(this.pos);
    this.pos += 8;
    return v;
  }
  uint(size: number): number {
    let v = 0;
    for (let i = 0; i < size; i++) v += this.buf[this.pos + i] * 2 ** (8 * i);
    this.pos += size;
    return v;
  }
  uleb(): number {
    let v = 0;
    let shift = 0;
    for (;;) {
      const b = this.buf[this.pos++];
      v += (b & 0x7f) * 2 ** shift;
      shift += 7;
      if ((b & 0x80) === 0 || this.pos >= this.buf.length) return v;
    }
  }
  sleb(): number {
    let v = 0;
    let shift = 0;
    let b: number;
    do {
      b = this.buf[this.pos++];
      v += (b & 0x7f) * 2 ** shift;
      shift += 7;
    } while (b & 0x80 && this.pos < this.buf.length);
    return b & 0x40 ? v - 2 ** shift : v;
  }
  /** Skips `n` bytes (a block's contents). */
  skip(n: number): undefined {
    this.pos += n;
    return undefined;
  }
  cstring(): string {
    const end = this.buf.indexOf(0, this.pos);
    const s = this.buf.toString('utf8', this.pos, end < 0 ? this.buf.length : end);
    this.pos = end < 0 ? this.buf.length : end + 1;
    return s;
  }
}

interface Abbrev {
  tag: number;
  children: boolean;
  attrs: { name: number; form: number; implicit?: number }[];
}

function parseAbbrevs(buf: Buffer, offset: number): Map<number, Abbrev> {
  const r = new Reader(buf, offset);
  const out = new Map<number, Abbrev>();
  for (;;) {
    const code = r.uleb();
    if (code === 0 || r.pos >= buf.length) return out;
    const tag = r.uleb();
    const children = r.u8() === 1;
    const attrs: Abbrev['attrs'] = [];
    for (;;) {
      const name = r.uleb();
      const form = r.uleb();
      if (name === 0 && form === 0) break;
      attrs.push(form === 0x21 ? { name, form, implicit: r.sleb() } : { name, form });
    }
    out.set(code, { tag, children, attrs });
  }
}

interface UnitHeader {
  version: number;
  addressSize: number;
  offsetSize: number;
  unitStart: number;
}

/** Reads one attribute value of `form` (skipping what we do not keep). */
function readForm(r: Reader, form: number, h: UnitHeader, sections: Sections, implicit?: number): Value {
  switch (form) {
    case 0x01: return r.uint(h.addressSize); // addr
    case 0x03: return r.skip(r.u16()); // block2
    case 0x04: return r.skip(r.u32()); // block4
    case 0x05: return r.u16(); // data2
    case 0x06: return r.u32(); // data4
    case 0x07: return r.u64(); // data8
    case 0x08: return r.cstring(); // string
    case 0x09: case 0x18: return r.skip(r.uleb()); // block, exprloc
    case 0x0a: return r.skip(r.u8()); // block1
    case 0x0b: case 0x0c: return r.u8(); // data1, flag
    case 0x0d: return r.sleb(); // sdata
    case 0x0e: return cstringAt(sections.str, r.uint(h.offsetSize)); // strp
    case 0x0f: return r.uleb(); // udata
    case 0x10: return { ref: r.uint(h.version <= 2 ? h.addressSize : h.offsetSize) }; // ref_addr
    case 0x11: return { ref: h.unitStart + r.u8() };
    case 0x12: return { ref: h.unitStart + r.u16() };
    case 0x13: return { ref: h.unitStart + r.u32() };
    case 0x14: return { ref: h.unitStart + Number(r.u64()) };
    case 0x15: return { ref: h.unitStart + r.uleb() };
    case 0x16: return readForm(r, r.uleb(), h, sections); // indirect
    case 0x17: return r.uint(h.offsetSize); // sec_offset
    case 0x19: return 1; // flag_present
    case 0x1a: return { strx: r.uleb() };
    case 0x1b: case 0x22: case 0x23: return r.uleb(); // addrx, loclistx, rnglistx
    case 0x1c: r.pos += 4; return { foreign: true }; // ref_sup4
    case 0x1d: r.pos += h.offsetSize; return { foreign: true }; // strp_sup
    case 0x1e: r.pos += 16; return undefined; // data16
    case 0x1f: return cstringAt(sections.lineStr, r.uint(h.offsetSize)); // line_strp
    case 0x20: r.pos += 8; return { foreign: true }; // ref_sig8 (a type unit)
    case 0x21: return implicit; // implicit_const
    case 0x24: r.pos += 8; return { foreign: true }; // ref_sup8
    case 0x25: return { strx: r.u8() };
    case 0x26: return { strx: r.u16() };
    case 0x27: return { strx: r.uint(3) };
    case 0x28: return { strx: r.u32() };
    case 0x29: return r.u8(); // addrx1..4
    case 0x2a: return r.u16();
    case 0x2b: return r.uint(3);
    case 0x2c: return r.u32();
    case 0x1f01: case 0x1f02: return r.uleb(); // GNU_addr_index, GNU_str_index
    case 0x1f20: case 0x1f21: r.pos += h.offsetSize; return { foreign: true }; // GNU_ref_alt, GNU_strp_alt (dwz)
    default:
      throw new Error(`DWARF form 0x${form.toString(16)} at 0x${r.pos.toString(16)} is unknown`);
  }
}

function cstringAt(buf: Buffer | undefined, offset: number): string | undefined {
  if (!buf || offset >= buf.length) return undefined;
  const end = buf.indexOf(0, offset);
  return buf.toString('utf8', offset, end < 0 ? buf.length : end);
}

interface Sections {
  info: Buffer;
  abbrev: Buffer;
  str?: Buffer;
  lineStr?: Buffer;
  strOffsets?: Buffer;
}

/** Tags whose DIEs we keep: functions, their parameters, and the types those name. */
const KEPT_TAGS = new Set<number>([TAG.subprogram, TAG.formalParameter, TAG.unspecifiedParameters, TAG.pointer, TAG.reference, TAG.const, TAG.volatile, TAG.restrict, TAG.atomic, TAG.typedef, TAG.structure, TAG.union, TAG.enumeration, TAG.baseType, TAG.array, TAG.subroutineType, TAG.compileUnit]);

/** Every kept DIE of .debug_info by offset. */
function readDies(s: Sections): Map<number, Die> {
  const dies = new Map<number, Die>();
  const abbrevCache = new Map<number, Map<number, Abbrev>>();
  const r = new Reader(s.info);
  while (r.pos + 11 <= s.info.length) {
    const unitStart = r.pos;
    let length = r.u32();
    let offsetSize = 4;
    if (length === 0xffffffff) {
      length = Number(r.u64());
      offsetSize = 8;
    }
    const end = r.pos + length;
    const version = r.u16();
    let addressSize: number;
    let abbrevOffset: number;
    if (version >= 5) {
      const unitType = r.u8();
      addressSize = r.u8();
      abbrevOffset = r.uint(offsetSize);
      if (unitType === 0x04 || unitType === 0x05) r.pos += 8; // skeleton, split_compile: dwo_id
      if (unitType === 0x02 || unitType === 0x06) r.pos += 8 + offsetSize; // type units: signature, type_offset
    } else {
      abbrevOffset = r.uint(offsetSize);
      addressSize = r.u8();
    }
    if (version < 2 || version > 5) {
      r.pos = end;
      continue;
    }
    let abbrevs = abbrevCache.get(abbrevOffset);
    if (!abbrevs) abbrevCache.set(abbrevOffset, (abbrevs = parseAbbrevs(s.abbrev, abbrevOffset)));
    const h: UnitHeader = { version, addressSize, offsetSize, unitStart };
    const unit: Unit = { strOffsetsBase: 8 };
    const parents: (Die | undefined)[] = [];
    while (r.pos < end) {
      const offset = r.pos;
      const code = r.uleb();
      if (code === 0) {
        parents.pop();
        continue;
      }
      const abbrev = abbrevs.get(code);
      if (!abbrev) break; // damaged: stop reading this unit
      const keep = KEPT_TAGS.has(abbrev.tag);
      const attrs = new Map<number, Value>();
      for (const a of abbrev.attrs) {
        const v = readForm(r, a.form, h, s, a.implicit);
        if (keep && WANTED_ATTRS.has(a.name)) attrs.set(a.name, v);
      }
      const die: Die | undefined = keep ? { tag: abbrev.tag, attrs, children: [], unit } : undefined;
      if (die) {
        dies.set(offset, die);
        parents[parents.length - 1]?.children.push(offset);
        if (die.tag === TAG.compileUnit && typeof attrs.get(AT.strOffsetsBase) === 'number') unit.strOffsetsBase = attrs.get(AT.strOffsetsBase) as number;
      }
      if (abbrev.children) parents.push(die);
    }
    r.pos = end;
  }
  return dies;
}

/**
 * The prototypes of the functions `elf` has code for, from its DWARF;
 * undefined when it has none we can read. With `mentioning`, an object whose
 * strings never name it (libc, for "rte_mbuf") gives [] without its DIEs
 * being read.
 */
export function dwarfPrototypes(elf: ElfFile, mentioning?: string): Prototype[] | undefined {
  const info = sectionBytes(elf, '.debug_info');
  const abbrev = sectionBytes(elf, '.debug_abbrev');
  if (!info || !abbrev) return undefined;
  const s: Sections = { info, abbrev, str: sectionBytes(elf, '.debug_str'), lineStr: sectionBytes(elf, '.debug_line_str'), strOffsets: sectionBytes(elf, '.debug_str_offsets') };
  if (mentioning !== undefined && !s.str?.includes(mentioning) && !info.includes(mentioning)) return [];
  const dies = readDies(s);
  const text = (die: Die, v: Value): string | undefined => {
    if (typeof v === 'string') return v;
    if (v && typeof v === 'object' && 'strx' in v && s.strOffsets) {
      const at = die.unit.strOffsetsBase + v.strx * 4;
      return at + 4 <= s.strOffsets.length ? cstringAt(s.str, s.strOffsets.readUInt32LE(at)) : undefined;
    }
    return undefined;
  };
  // An attribute of the DIE, or of the declaration or abstract instance it points at.
  const inherited = (die: Die, attr: number, depth = 0): { die: Die; value: Value } | undefined => {
    if (die.attrs.has(attr)) return { die, value: die.attrs.get(attr) };
    if (depth > 4) return undefined;
    for (const link of [AT.abstractOrigin, AT.specification]) {
      const v = die.attrs.get(link);
      const target = v && typeof v === 'object' && 'ref' in v ? dies.get(v.ref) : undefined;
      if (target) {
        const found = inherited(target, attr, depth + 1);
        if (found) return found;
      }
    }
    return undefined;
  };
  const nameOf = (die: Die): string | undefined => {
    const n = inherited(die, AT.name);
    return n ? text(n.die, n.value) : undefined;
  };
  const typeName = (v: Value, depth = 0): string => {
    if (v === undefined) return 'void';
    if (typeof v !== 'object' || !('ref' in v) || depth > 16) return '?';
    const die = dies.get(v.ref);
    if (!die) return '?';
    const name = nameOf(die);
    const inner = () => typeName(die.attrs.get(AT.type), depth + 1);
    switch (die.tag) {
      case TAG.baseType:
      case TAG.typedef:
        return name ?? '?';
      case TAG.structure:
        return `struct ${name ?? '(anonymous)'}`;
      case TAG.union:
        return `union ${name ?? '(anonymous)'}`;
      case TAG.enumeration:
        return `enum ${name ?? '(anonymous)'}`;
      case TAG.pointer:
      case TAG.reference: {
        const t = inner();
        return t.endsWith('*') ? `${t}*` : `${t} *`;
      }
      case TAG.const:
      case TAG.volatile: {
        const q = die.tag === TAG.const ? 'const' : 'volatile';
        const t = inner();
        return t.endsWith('*') ? `${t} ${q}` : `${q} ${t}`;
      }
      case TAG.restrict:
      case TAG.atomic:
        return inner();
      case TAG.array:
        return `${inner()} []`;
      case TAG.subroutineType:
        return 'function';
      default:
        return '?';
    }
  };
  // A whole number under typedefs and qualifiers: a base type whose name says so (DWARF's base types are C's names).
  const isInteger = (v: Value, depth = 0): boolean => {
    const die = v && typeof v === 'object' && 'ref' in v && depth < 16 ? dies.get(v.ref) : undefined;
    if (!die) return false;
    if (die.tag === TAG.typedef || die.tag === TAG.const || die.tag === TAG.volatile) return isInteger(die.attrs.get(AT.type), depth + 1);
    return die.tag === TAG.baseType && /\b(int|char|short|long)\b|^_Bool$/.test(nameOf(die) ?? '');
  };
  const out: Prototype[] = [];
  for (const die of dies.values()) {
    if (die.tag !== TAG.subprogram || !(die.attrs.has(AT.lowPc) || die.attrs.has(AT.ranges))) continue;
    const name = nameOf(die);
    if (!name) continue;
    // Parameters as the source declares them: the declaration's (abstract
    // instance's) when the code points at one, else the code's own. The
    // code's entries name the declaration's they stand for, in the order the
    // code takes them: any other list is a clone gcc rewrote.
    const isParam = (o: number) => {
      const tag = dies.get(o)!.tag;
      return tag === TAG.formalParameter || tag === TAG.unspecifiedParameters;
    };
    const own = die.children.filter(isParam);
    const origin = inherited(die, AT.name)?.die;
    const declared = origin && origin !== die ? origin.children.filter(isParam) : [];
    const params = declared.length ? declared : own;
    const standsFor = (o: number) => {
      const v = dies.get(o)!.attrs.get(AT.abstractOrigin);
      return v && typeof v === 'object' && 'ref' in v ? v.ref : o;
    };
    const rewritten = declared.length > 0 && own.length > 0 && (own.length !== declared.length || own.some((o, i) => standsFor(o) !== declared[i]));
    const returned = inherited(die, AT.type)?.value;
    out.push({
      name,
      returns: typeName(returned),
      ...(isInteger(returned) ? { returnsInteger: true } : {}),
      // A variadic function's "..." is a parameter of its own, without a name.
      params: params.map((o) => {
        const p = dies.get(o)!;
        if (p.tag === TAG.unspecifiedParameters) return { name: '', type: '...' };
        const type = inherited(p, AT.type)?.value;
        return { name: nameOf(p) ?? '', type: typeName(type), ...(isInteger(type) ? { integer: true } : {}) };
      }),
      ...(rewritten ? { rewritten } : {}),
    });
  }
  return out;
}
