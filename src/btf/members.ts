// Member lookup through nested and anonymous structs/unions: the offsets a
// probe uses to read sk_buff->len or net_device->ifindex on this kernel,
// instead of offsets hard-coded for one kernel build.
import { UserError, closeNames } from '../errors';
import type { Btf, BtfMember } from './btf';
import { BtfKind } from './kinds';

export interface MemberLocation {
  /** Bit offset from the start of the outermost struct. */
  offsetBits: number;
  /** Width in bits (the bitfield width for bitfields). */
  sizeBits: number;
  /** Present for bitfields: where the bits are, from the start of the outermost struct. */
  bitfield?: { bitOffset: number; bitSize: number };
  /** C spelling of the member's type ('unsigned int', 'struct net_device *'). */
  type: string;
  typeId: number;
}

function isComposite(btf: Btf, id: number): boolean {
  const k = btf.kind(btf.resolve(id));
  return k === BtfKind.Struct || k === BtfKind.Union;
}

/** Depth-first search, stepping into anonymous members (C11 anonymous structs/unions). */
function search(btf: Btf, compositeId: number, name: string, baseBits: number): { member: BtfMember; bits: number } | undefined {
  for (const m of btf.members(compositeId)) {
    if (m.name === name) return { member: m, bits: baseBits + m.bitOffset };
    if (m.name === '' && isComposite(btf, m.typeId)) {
      const hit = search(btf, btf.resolve(m.typeId), name, baseBits + m.bitOffset);
      if (hit) return hit;
    }
  }
  return undefined;
}

function memberNames(btf: Btf, compositeId: number, out: string[] = []): string[] {
  for (const m of btf.members(compositeId)) {
    if (m.name) out.push(m.name);
    else if (isComposite(btf, m.typeId)) memberNames(btf, btf.resolve(m.typeId), out);
  }
  return out;
}

export function findMember(btf: Btf, structId: number, structName: string, path: string): MemberLocation {
  const parts = path.split('.');
  let current = btf.resolve(structId);
  let bits = 0;
  let where = structName;
  for (let i = 0; i < parts.length; i++) {
    if (!isComposite(btf, current)) {
      throw new UserError(
        `'${where}' is ${btf.typeName(current)}, not a struct or union, so it has no member '${parts[i]}'`,
        btf.kind(btf.resolve(current)) === BtfKind.Ptr ? 'a pointer must be read before its members: look them up on the pointed-to struct' : undefined,
      );
    }
    const hit = search(btf, current, parts[i], bits);
    if (!hit) {
      const near = closeNames(parts[i], memberNames(btf, current));
      throw new UserError(
        `${where} has no member '${parts[i]}' in the kernel's BTF`,
        near.length ? `did you mean: ${near.join(', ')}?` : `see \`bpftool btf dump file ${btf.source}\` for its members`,
      );
    }
    bits = hit.bits;
    where = `${where}.${parts[i]}`;
    if (i === parts.length - 1) return describe(btf, hit.member, bits);
    current = btf.resolve(hit.member.typeId);
  }
  throw new UserError(`empty member path for ${structName}`, "name a member such as 'len'");
}

function describe(btf: Btf, m: BtfMember, bits: number): MemberLocation {
  const type = btf.typeName(m.typeId);
  if (m.bitfieldSize > 0) {
    return { offsetBits: bits, sizeBits: m.bitfieldSize, bitfield: { bitOffset: bits, bitSize: m.bitfieldSize }, type, typeId: m.typeId };
  }
  const target = btf.resolve(m.typeId);
  // Old-style bitfields (no kind_flag) are INTs whose bit width is not their byte size.
  if (btf.kind(target) === BtfKind.Int) {
    const info = btf.intInfo(target);
    if (info.bitOffset !== 0 || info.bits !== btf.sizeOrType(target) * 8) {
      const at = bits + info.bitOffset;
      return { offsetBits: at, sizeBits: info.bits, bitfield: { bitOffset: at, bitSize: info.bits }, type, typeId: m.typeId };
    }
  }
  const k = btf.kind(target);
  // Flexible array members (u8 data[]) have no size.
  const sizeBits = k === BtfKind.FuncProto || k === BtfKind.Fwd ? 0 : btf.sizeOfId(target) * 8;
  return { offsetBits: bits, sizeBits, type, typeId: m.typeId };
}
