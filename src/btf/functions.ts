// Function and tracepoint prototypes from BTF. A kernel function is a FUNC
// whose type is a FUNC_PROTO; a raw tracepoint `foo` has a typedef
// `btf_trace_foo` = pointer to FUNC_PROTO whose first parameter is the
// `void *__data` the kernel passes itself (include/trace/bpf_probe.h), and the
// typedef's id is what a tp_btf program is loaded against (libbpf looks up
// "btf_trace_" + name the same way).
import { UserError, closeNames } from '../errors';
import type { Btf } from './btf';
import { BtfKind } from './kinds';

export interface FuncProto {
  name: string;
  /** Id of the FUNC (functions) or of the btf_trace_ typedef (tracepoints). */
  btfId: number;
  returnType: string;
  params: { name: string; type: string; typeId: number }[];
}

function protoParams(btf: Btf, protoId: number): FuncProto['params'] {
  return btf.params(protoId).map((p) => ({ name: p.name, type: p.typeId === 0 ? '...' : btf.typeName(p.typeId), typeId: p.typeId }));
}

export function funcProtoOf(btf: Btf, name: string): FuncProto {
  const id = btf.typeIdByName(BtfKind.Func, name);
  if (id === undefined) {
    const near = closeNames(name, btf.namesOfKind(BtfKind.Func));
    throw new UserError(
      `no kernel function '${name}' in BTF (${btf.source})`,
      near.length ? `did you mean: ${near.join(', ')}?` : 'the function may be inlined or static without BTF',
    );
  }
  const proto = btf.sizeOrType(id);
  return { name, btfId: id, returnType: btf.typeName(btf.sizeOrType(proto)), params: protoParams(btf, proto) };
}

export function tracepointProtoOf(btf: Btf, name: string): FuncProto {
  const typedefName = `btf_trace_${name}`;
  const id = btf.typeIdByName(BtfKind.Typedef, typedefName);
  if (id === undefined) {
    const near = closeNames(typedefName, btf.namesOfKind(BtfKind.Typedef).filter((n) => n.startsWith('btf_trace_')))
      .map((n) => n.slice('btf_trace_'.length));
    throw new UserError(
      `no raw tracepoint '${name}' in the kernel's BTF (no typedef ${typedefName})`,
      near.length ? `did you mean: ${near.join(', ')}?` : 'list them with `ls /sys/kernel/tracing/events/*/`',
    );
  }
  const ptr = btf.sizeOrType(id);
  const proto = btf.kind(ptr) === BtfKind.Ptr ? btf.sizeOrType(ptr) : 0;
  if (btf.kind(proto) !== BtfKind.FuncProto) throw new Error(`${typedefName} is not a pointer to a function prototype`);
  const params = protoParams(btf, proto);
  // The first parameter is the tracepoint's private `void *__data`, not an argument of the event.
  return { name, btfId: id, returnType: btf.typeName(btf.sizeOrType(proto)), params: params.slice(1) };
}
