// Enum lookups (enum skb_drop_reason and friends). Some enums are ENUM64 in
// newer kernels' BTF (pahole emits ENUM64 when a value needs 64 bits), so both
// kinds are searched.
import { UserError, closeNames } from '../errors';
import type { Btf } from './btf';
import { BtfKind } from './kinds';

export function enumValuesOf(btf: Btf, name: string): Map<string, bigint> {
  const id = btf.typeIdByName(BtfKind.Enum, name) ?? btf.typeIdByName(BtfKind.Enum64, name);
  if (id === undefined) {
    const near = closeNames(name, [...btf.namesOfKind(BtfKind.Enum), ...btf.namesOfKind(BtfKind.Enum64)]);
    throw new UserError(
      `no enum named '${name}' in the kernel's BTF (${btf.source})`,
      near.length ? `did you mean: ${near.join(', ')}?` : 'the kernel may be too old to have it',
    );
  }
  return new Map(btf.enumerators(id).map((e) => [e.name, e.value]));
}
