// BTF type kinds and record sizes, as defined by the kernel's UAPI header
// include/uapi/linux/btf.h (BTF_KIND_*). Each type record is a 12-byte
// `struct btf_type` followed by kind-specific data whose size this module
// knows, so the parser can walk the type section without decoding it.

export const enum BtfKind {
  Unknown = 0,
  Int = 1,
  Ptr = 2,
  Array = 3,
  Struct = 4,
  Union = 5,
  Enum = 6,
  Fwd = 7,
  Typedef = 8,
  Volatile = 9,
  Const = 10,
  Restrict = 11,
  Func = 12,
  FuncProto = 13,
  Var = 14,
  Datasec = 15,
  Float = 16,
  DeclTag = 17,
  TypeTag = 18,
  Enum64 = 19,
}

const KIND_NAMES = [
  'UNKN', 'INT', 'PTR', 'ARRAY', 'STRUCT', 'UNION', 'ENUM', 'FWD', 'TYPEDEF', 'VOLATILE',
  'CONST', 'RESTRICT', 'FUNC', 'FUNC_PROTO', 'VAR', 'DATASEC', 'FLOAT', 'DECL_TAG', 'TYPE_TAG', 'ENUM64',
] as const;

/** The kind names bpftool prints ("STRUCT", "FUNC_PROTO", ...). */
export type BtfKindName = (typeof KIND_NAMES)[number];

export function kindName(kind: BtfKind): BtfKindName {
  return KIND_NAMES[kind] ?? 'UNKN';
}

export function kindByName(name: string): BtfKind | undefined {
  const i = (KIND_NAMES as readonly string[]).indexOf(name.toUpperCase());
  return i > 0 ? (i as BtfKind) : undefined;
}

/** Bytes that follow the 12-byte header of a type of this kind with `vlen` entries. */
export function trailingBytes(kind: BtfKind, vlen: number): number {
  switch (kind) {
    case BtfKind.Int: return 4; // encoding | offset | bits
    case BtfKind.Array: return 12; // struct btf_array
    case BtfKind.Struct:
    case BtfKind.Union: return 12 * vlen; // struct btf_member
    case BtfKind.Enum: return 8 * vlen; // struct btf_enum
    case BtfKind.FuncProto: return 8 * vlen; // struct btf_param
    case BtfKind.Var: return 4; // struct btf_var (linkage)
    case BtfKind.Datasec: return 12 * vlen; // struct btf_var_secinfo
    case BtfKind.DeclTag: return 4; // struct btf_decl_tag (component_idx)
    case BtfKind.Enum64: return 12 * vlen; // struct btf_enum64
    case BtfKind.Ptr:
    case BtfKind.Fwd:
    case BtfKind.Typedef:
    case BtfKind.Volatile:
    case BtfKind.Const:
    case BtfKind.Restrict:
    case BtfKind.Func:
    case BtfKind.Float:
    case BtfKind.TypeTag: return 0;
    default: return -1;
  }
}
