// C spelling of BTF types, the way a kernel prototype reads:
// 'struct sk_buff *', 'const struct net_device *', 'u8 [6]', 'void (*)(void *)'.
import type { Btf } from './btf';
import { BtfKind } from './kinds';

export function formatType(btf: Btf, id: number, depth = 0): string {
  if (depth > 32) return '...';
  const k = btf.kind(id);
  const inner = () => formatType(btf, btf.sizeOrType(id), depth + 1);
  switch (k) {
    case BtfKind.Unknown:
      return 'void';
    case BtfKind.Int:
    case BtfKind.Float:
    case BtfKind.Typedef:
    case BtfKind.Func:
      return btf.name(id);
    case BtfKind.Struct:
    case BtfKind.Union:
    case BtfKind.Enum:
    case BtfKind.Enum64:
    case BtfKind.Fwd: {
      const tag = k === BtfKind.Union || (k === BtfKind.Fwd && btf.kindFlag(id)) ? 'union'
        : k === BtfKind.Enum || k === BtfKind.Enum64 ? 'enum' : 'struct';
      return `${tag} ${btf.name(id) || '{...}'}`;
    }
    case BtfKind.Ptr: {
      const target = btf.sizeOrType(id);
      if (btf.kind(target) === BtfKind.FuncProto) return formatProto(btf, target, '(*)', depth);
      const s = formatType(btf, target, depth + 1);
      return s.endsWith('*') ? `${s}*` : `${s} *`;
    }
    case BtfKind.Const:
    case BtfKind.Volatile:
    case BtfKind.Restrict: {
      const q = k === BtfKind.Const ? 'const' : k === BtfKind.Volatile ? 'volatile' : 'restrict';
      const s = inner();
      // A qualified pointer reads 'char * const'; a qualified value 'const char'.
      return s.endsWith('*') ? `${s} ${q}` : `${q} ${s}`;
    }
    case BtfKind.TypeTag:
      return inner();
    case BtfKind.Array: {
      const a = btf.arrayInfo(id);
      return `${formatType(btf, a.elemTypeId, depth + 1)} [${a.nelems}]`;
    }
    case BtfKind.FuncProto:
      return formatProto(btf, id, '', depth);
    default:
      return btf.name(id) || `<kind ${k}>`;
  }
}

function formatProto(btf: Btf, protoId: number, declarator: string, depth: number): string {
  const ret = formatType(btf, btf.sizeOrType(protoId), depth + 1);
  const params = btf.params(protoId).map((p) => (p.typeId === 0 ? '...' : formatType(btf, p.typeId, depth + 1)));
  return `${ret} ${declarator}(${params.length ? params.join(', ') : 'void'})`;
}
