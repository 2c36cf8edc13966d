// A reader of raw BTF (the format of /sys/kernel/btf/vmlinux and of module
// BTF, described in the kernel's Documentation/bpf/btf.rst). Parsing only
// records where each type starts; names and members are decoded on demand, and
// the name index is built once, on the first lookup by name.
//
// Split BTF (kernel modules): type ids continue after the base's last id and
// string offsets continue after the base's string section, so a module's
// types can refer to vmlinux types (libbpf's btf__parse_split does the same).
import { UserError, closeNames } from '../errors';
import { BtfKind, kindName, trailingBytes } from './kinds';
import { formatType } from './format';
import { findMember, type MemberLocation } from './members';
import { enumValuesOf } from './enums';
import { funcProtoOf, tracepointProtoOf, type FuncProto } from './functions';

const BTF_MAGIC = 0xeb9f;
const HEADER_MIN = 24;

/** One member of a struct or union, as stored (offsets relative to its parent). */
export interface BtfMember {
  name: string;
  typeId: number;
  /** Bit offset from the start of the parent struct/union. */
  bitOffset: number;
  /** Non-zero for a bitfield: its width in bits. */
  bitfieldSize: number;
}

/** One entry of an enum or enum64. */
export interface BtfEnumerator {
  name: string;
  value: bigint;
}

/** One parameter of a function prototype; name is '' when BTF has none. */
export interface BtfParam {
  name: string;
  typeId: number;
}

/** trailingBytes(kind, vlen) / 4 as TRAILING_WORDS[kind] + vlen * TRAILING_WORDS_PER_ENTRY[kind] (-1: a kind unknown here), for each 5-bit kind. */
const TRAILING_WORDS = Int8Array.from({ length: 32 }, (_, kind) => {
  const fixed = trailingBytes(kind as BtfKind, 0);
  return fixed < 0 ? -1 : fixed / 4;
});
const TRAILING_WORDS_PER_ENTRY = Uint8Array.from({ length: 32 }, (_, kind) => Math.max(0, (trailingBytes(kind as BtfKind, 1) - trailingBytes(kind as BtfKind, 0)) / 4));

/** Whether `buf` holds the bytes of `wanted` at `at`. */
function bytesAt(buf: Buffer, at: number, wanted: Buffer): boolean {
  if (at + wanted.length > buf.length) return false;
  for (let i = 0; i < wanted.length; i++) if (buf[at + i] !== wanted[i]) return false;
  return true;
}

export class Btf {
  /** Type id of this BTF's first type (1 for vmlinux, base.typeCount for split BTF). */
  readonly firstId: number;
  /** One past the last valid type id. */
  readonly typeCount: number;
  private nameIndex: { first: Map<string, number>; more: Map<string, number[]> } | undefined;
  private stringText: string | undefined;
  /** Names looked up before any index was built (see scanIdsByName). */
  private readonly scanned = new Map<string, number[]>();

  private constructor(
    readonly source: string,
    private readonly words: Uint32Array,
    /** Word index of each local type's header; local index = id - firstId. */
    private readonly starts: Uint32Array,
    private readonly strings: Buffer,
    readonly base: Btf | undefined,
  ) {
    this.firstId = base ? base.typeCount : 1;
    this.typeCount = this.firstId + starts.length;
  }

  /** Parses raw BTF bytes. `base` is given for split BTF (a module's, on top of vmlinux). */
  static parse(data: Buffer, source: string, base?: Btf): Btf {
    if (data.length < HEADER_MIN || data.readUInt16LE(0) !== BTF_MAGIC) {
      throw new UserError(`${source} is not raw BTF (no 0xeb9f magic)`, 'pass a file such as /sys/kernel/btf/vmlinux');
    }
    const hdrLen = data.readUInt32LE(4);
    const typeOff = hdrLen + data.readUInt32LE(8);
    const typeLen = data.readUInt32LE(12);
    const strOff = hdrLen + data.readUInt32LE(16);
    const strLen = data.readUInt32LE(20);
    if (typeOff + typeLen > data.length || strOff + strLen > data.length || typeLen % 4 !== 0) {
      throw new UserError(`${source}: BTF header points past the end of the data`, 'the file is truncated or corrupt');
    }
    // A Uint32Array view needs 4-byte alignment; copy when the buffer lacks it.
    const typeBytes = data.subarray(typeOff, typeOff + typeLen);
    const aligned = typeBytes.byteOffset % 4 === 0 ? typeBytes : Buffer.from(typeBytes);
    const words = new Uint32Array(aligned.buffer, aligned.byteOffset, typeLen / 4);
    // Every type is at least its 3-word header; the walk runs once, mostly
    // before V8 optimises it, so it reads two small tables instead of
    // calling trailingBytes per type (vmlinux: 126k types, 7.8 -> 3.4 ms).
    const starts = new Uint32Array(Math.floor(words.length / 3));
    let n = 0;
    for (let w = 0; w < words.length; n++) {
      starts[n] = w;
      const info = words[w + 1];
      const kind = (info >>> 24) & 0x1f;
      const fixed = TRAILING_WORDS[kind];
      if (fixed < 0) {
        throw new UserError(`${source}: unknown BTF kind ${kind} at type ${n + 1}`, 'this BTF is newer than netcap understands');
      }
      w += 3 + fixed + TRAILING_WORDS_PER_ENTRY[kind] * (info & 0xffff);
    }
    return new Btf(source, words, starts.slice(0, n), data.subarray(strOff, strOff + strLen), base);
  }

  private stringsLength(): number {
    return (this.base ? this.base.stringsLength() : 0) + this.strings.length;
  }

  /** The string at a BTF string offset (split BTF continues the base's offsets). */
  string(offset: number): string {
    const baseLen = this.base ? this.base.stringsLength() : 0;
    if (offset < baseLen) return this.base!.string(offset);
    const start = offset - baseLen;
    // Once the whole section is decoded (the name index: one latin1 decode,
    // byte offsets stay character offsets, BTF names are ASCII), cheap
    // substrings; before, each name alone: a capture reads a few hundred
    // member names, and a string of vmlinux's 2.5 MB of names for them was
    // 2 MiB of its peak RSS.
    if (this.stringText === undefined) {
      const end = this.strings.indexOf(0, start);
      return this.strings.toString('latin1', start, end < 0 ? this.strings.length : end);
    }
    const end = this.stringText.indexOf('\0', start);
    return this.stringText.slice(start, end < 0 ? this.stringText.length : end);
  }

  private owner(id: number): Btf {
    if (id >= this.firstId && id < this.typeCount) return this;
    if (this.base && id < this.firstId) return this.base.owner(id);
    throw new Error(`BTF type id ${id} out of range in ${this.source}`);
  }

  private header(id: number): number {
    return this.starts[id - this.firstId];
  }

  kind(id: number): BtfKind {
    if (id === 0) return BtfKind.Unknown; // id 0 is void
    const o = this.owner(id);
    return ((o.words[o.header(id) + 1] >>> 24) & 0x1f) as BtfKind;
  }

  name(id: number): string {
    if (id === 0) return 'void';
    const o = this.owner(id);
    return this.string(o.words[o.header(id)]);
  }

  vlen(id: number): number {
    const o = this.owner(id);
    return o.words[o.header(id) + 1] & 0xffff;
  }

  kindFlag(id: number): boolean {
    const o = this.owner(id);
    return (o.words[o.header(id) + 1] >>> 31) === 1;
  }

  /** The `size` (INT, STRUCT, UNION, ENUM, FLOAT, DATASEC) or `type` (the others) word. */
  sizeOrType(id: number): number {
    const o = this.owner(id);
    return o.words[o.header(id) + 2];
  }

  /** Word `i` of the kind-specific data after the 12-byte header. */
  private extra(id: number, i: number): number {
    const o = this.owner(id);
    return o.words[o.header(id) + 3 + i];
  }

  /** INT: bit width and whether it is signed (BTF_INT_ENCODING / BTF_INT_BITS). */
  intInfo(id: number): { bits: number; signed: boolean; bitOffset: number } {
    const v = this.extra(id, 0);
    return { bits: v & 0xff, bitOffset: (v >>> 16) & 0xff, signed: ((v >>> 24) & 0x1) !== 0 };
  }

  arrayInfo(id: number): { elemTypeId: number; indexTypeId: number; nelems: number } {
    return { elemTypeId: this.extra(id, 0), indexTypeId: this.extra(id, 1), nelems: this.extra(id, 2) };
  }

  /** STRUCT/UNION members. With kind_flag set, the offset word packs bitfield size (top 8 bits). */
  members(id: number): BtfMember[] {
    const k = this.kind(id);
    if (k !== BtfKind.Struct && k !== BtfKind.Union) throw new Error(`BTF type ${id} is not a struct or union`);
    const packed = this.kindFlag(id);
    const out: BtfMember[] = [];
    for (let i = 0, n = this.vlen(id); i < n; i++) {
      const off = this.extra(id, i * 3 + 2);
      out.push({
        name: this.string(this.extra(id, i * 3)),
        typeId: this.extra(id, i * 3 + 1),
        bitOffset: packed ? off & 0xffffff : off,
        bitfieldSize: packed ? off >>> 24 : 0,
      });
    }
    return out;
  }

  /** ENUM (32-bit, signed when kind_flag) and ENUM64 entries. */
  enumerators(id: number): BtfEnumerator[] {
    const k = this.kind(id);
    const signed = this.kindFlag(id);
    const out: BtfEnumerator[] = [];
    for (let i = 0, n = this.vlen(id); i < n; i++) {
      if (k === BtfKind.Enum) {
        const raw = this.extra(id, i * 2 + 1);
        out.push({ name: this.string(this.extra(id, i * 2)), value: BigInt(signed ? raw | 0 : raw) });
      } else if (k === BtfKind.Enum64) {
        const v = (BigInt(this.extra(id, i * 3 + 2)) << 32n) | BigInt(this.extra(id, i * 3 + 1));
        out.push({ name: this.string(this.extra(id, i * 3)), value: signed ? BigInt.asIntN(64, v) : v });
      } else {
        throw new Error(`BTF type ${id} is not an enum`);
      }
    }
    return out;
  }

  /** FUNC_PROTO parameters; a last entry with type 0 means "..." (variadic). */
  params(id: number): BtfParam[] {
    if (this.kind(id) !== BtfKind.FuncProto) throw new Error(`BTF type ${id} is not a FUNC_PROTO`);
    const out: BtfParam[] = [];
    for (let i = 0, n = this.vlen(id); i < n; i++) {
      out.push({ name: this.string(this.extra(id, i * 2)), typeId: this.extra(id, i * 2 + 1) });
    }
    return out;
  }

  /** Follows typedef/const/volatile/restrict/type_tag to the underlying type id. */
  resolve(id: number): number {
    for (let guard = 0; guard < 64; guard++) {
      switch (this.kind(id)) {
        case BtfKind.Typedef:
        case BtfKind.Const:
        case BtfKind.Volatile:
        case BtfKind.Restrict:
        case BtfKind.TypeTag:
          id = this.sizeOrType(id);
          break;
        default:
          return id;
      }
    }
    throw new Error(`BTF type chain too long at ${id}`);
  }

  /** Size in bytes of a type (after resolving qualifiers); pointers are 8 bytes. */
  sizeOfId(id: number): number {
    id = this.resolve(id);
    switch (this.kind(id)) {
      case BtfKind.Int:
      case BtfKind.Struct:
      case BtfKind.Union:
      case BtfKind.Enum:
      case BtfKind.Enum64:
      case BtfKind.Float:
      case BtfKind.Datasec:
        return this.sizeOrType(id);
      case BtfKind.Ptr:
        return 8;
      case BtfKind.Array: {
        const a = this.arrayInfo(id);
        return a.nelems * this.sizeOfId(a.elemTypeId);
      }
      default:
        throw new Error(`BTF type ${id} (${kindName(this.kind(id))}) has no size`);
    }
  }

  /**
   * name -> first id, and name -> all ids for the few names several types
   * share (a struct and its typedef): one small array per duplicate instead
   * of one per type keeps the index build cheap.
   */
  private index(): { first: Map<string, number>; more: Map<string, number[]> } {
    if (!this.nameIndex) {
      const first = new Map<string, number>();
      const more = new Map<string, number[]>();
      // Decoding each name from the Buffer alone made this several times slower.
      this.stringText ??= this.strings.toString('latin1');
      for (let id = this.firstId; id < this.typeCount; id++) {
        const off = this.words[this.header(id)];
        if (off === 0) continue;
        const n = this.string(off);
        const prev = first.get(n);
        if (prev === undefined) first.set(n, id);
        else {
          const list = more.get(n);
          if (list) list.push(id);
          else more.set(n, [prev, id]);
        }
      }
      this.nameIndex = { first, more };
    }
    return this.nameIndex;
  }

  /** Every type id with this name (of any kind), base BTF first. */
  idsByName(name: string): number[] {
    let own: number[];
    if (this.nameIndex) {
      const { first, more } = this.nameIndex;
      const id = first.get(name);
      own = more.get(name) ?? (id === undefined ? [] : [id]);
    } else {
      own = this.scanned.get(name) ?? this.scanIdsByName(name);
      this.scanned.set(name, own);
    }
    return this.base ? [...this.base.idsByName(name), ...own] : own;
  }

  /**
   * This BTF's ids named `name`, found without the name index: the string
   * offsets where `name\0` lies (indexOf over the section's text), then one
   * pass over the type headers comparing name offsets. On vmlinux that is
   * ~1 ms a name, where building the index of every name costs 30-40 ms;
   * a capture looks up a handful of names, at start-up.
   */
  private scanIdsByName(name: string): number[] {
    if (name === '') return [];
    const offsets = new Set(this.stringOffsetsOf(name));
    const ids: number[] = [];
    for (let id = this.firstId; id < this.typeCount; id++) {
      if (offsets.has(this.words[this.header(id)])) ids.push(id);
    }
    return ids;
  }

  /** Every string offset (split BTF: continuing the base's) at which the string `name` can be read. */
  private stringOffsetsOf(name: string): number[] {
    const baseLen = this.base ? this.base.stringsLength() : 0;
    const out = this.base ? this.base.stringOffsetsOf(name) : [];
    this.stringText ??= this.strings.toString('latin1');
    // Suffixes count too: a name may share the tail of a longer string.
    const needle = `${name}\0`;
    for (let p = this.stringText.indexOf(needle); p >= 0; p = this.stringText.indexOf(needle, p + 1)) out.push(baseLen + p);
    return out;
  }

  /** Names of every type of one kind (for "did you mean" hints). */
  namesOfKind(kind: BtfKind): string[] {
    const out: string[] = this.base ? this.base.namesOfKind(kind) : [];
    const { first, more } = this.index();
    for (const [n, id] of first) if ((more.get(n) ?? [id]).some((i) => this.kind(i) === kind)) out.push(n);
    return out;
  }

  /** The id of the type of `kind` called `name`, or undefined. Forward declarations lose to definitions. */
  typeIdByName(kind: BtfKind, name: string): number | undefined {
    if (this.nameIndex || this.scanned.has(name)) return this.idsByName(name).find((id) => this.kind(id) === kind);
    return this.base?.typeIdByName(kind, name) ?? this.scanFirstOfKind(kind, name);
  }

  /**
   * Without the name index: the first of this BTF's types of `kind` named
   * `name`, by one pass in id order that compares the name's bytes only for
   * types of that kind and stops at the first match. The structs a capture
   * needs come early in vmlinux (sk_buff is type ~900 of ~127,000), so this
   * takes microseconds where finding every id with the name (scanIdsByName)
   * takes milliseconds.
   */
  private scanFirstOfKind(kind: BtfKind, name: string): number | undefined {
    if (name === '') return undefined;
    const wanted = Buffer.from(`${name}\0`, 'latin1');
    const baseLen = this.base ? this.base.stringsLength() : 0;
    const { words, starts, strings } = this;
    for (let i = 0; i < starts.length; i++) {
      const h = starts[i];
      if (((words[h + 1] >>> 24) & 0x1f) !== kind) continue;
      const off = words[h];
      if (off < baseLen ? this.base!.string(off) === name : bytesAt(strings, off - baseLen, wanted)) return this.firstId + i;
    }
    return undefined;
  }

  /** Like typeIdByName, but a missing name is a UserError with close names. */
  requireType(kind: BtfKind, name: string, what = kindName(kind).toLowerCase()): number {
    const id = this.typeIdByName(kind, name);
    if (id !== undefined) return id;
    const near = closeNames(name, this.namesOfKind(kind));
    throw new UserError(
      `no ${what} named '${name}' in the kernel's BTF (${this.source})`,
      near.length ? `did you mean: ${near.join(', ')}?` : 'check the spelling against `bpftool btf dump file /sys/kernel/btf/vmlinux`',
    );
  }

  /** The C spelling of a type: 'struct sk_buff *', 'const char *', 'u32', 'u8 [16]'. */
  typeName(id: number): string {
    return formatType(this, id);
  }

  /** sizeof(struct/union/typedef/enum NAME); 'struct x' and 'union x' prefixes are accepted. */
  sizeof(name: string): number {
    return this.sizeOfId(this.typeByCName(name));
  }

  /** A type id from a C-ish name: 'struct sk_buff', 'union x', 'enum y', or a bare struct/typedef/int name. */
  typeByCName(name: string): number {
    const m = /^\s*(struct|union|enum)\s+(\w+)\s*$/.exec(name);
    if (m) {
      const kind = m[1] === 'struct' ? BtfKind.Struct : m[1] === 'union' ? BtfKind.Union : BtfKind.Enum;
      if (kind === BtfKind.Enum) return this.typeIdByName(BtfKind.Enum64, m[2]) ?? this.requireType(kind, m[2]);
      return this.requireType(kind, m[2]);
    }
    const bare = name.trim();
    for (const k of [BtfKind.Struct, BtfKind.Union, BtfKind.Typedef, BtfKind.Int, BtfKind.Enum, BtfKind.Enum64, BtfKind.Float]) {
      const id = this.typeIdByName(k, bare);
      if (id !== undefined) return id;
    }
    return this.requireType(BtfKind.Struct, bare, 'type');
  }

  /** Where `path` ('len', 'headers.mac_header', 'dev') lies inside struct `structName`. */
  structMember(structName: string, path: string): MemberLocation {
    return findMember(this, this.typeByCName(structName), structName, path);
  }

  /** Values of an enum or enum64 by name ('skb_drop_reason'). */
  enumValues(enumName: string): Map<string, bigint> {
    return enumValuesOf(this, enumName.replace(/^\s*enum\s+/, ''));
  }

  /** The prototype of kernel function `funcName` (a BTF FUNC). */
  funcProto(funcName: string): FuncProto {
    return funcProtoOf(this, funcName);
  }

  /**
   * The prototype behind tp_btf/raw_tp tracepoint `name` (the typedef
   * btf_trace_<name>): params without the leading `void *__data`, and the
   * typedef's id (the attach_btf_id a tp_btf program is loaded with).
   */
  tracepointProto(name: string): FuncProto {
    return tracepointProtoOf(this, name);
  }
}
