// Raw tracepoints (Linux 4.17+): the program gets the tracepoint's raw
// arguments (for net:netif_receive_skb, the struct sk_buff *) instead of the
// formatted record. Two flavours, both attached with
// BPF_RAW_TRACEPOINT_OPEN, whose fd is a BPF link:
//  - raw_tp: a RAW_TRACEPOINT program, tracepoint chosen by name at attach;
//  - tp_btf (Linux 5.5+): a TRACING program loaded with expectedAttachType
//    BPF_TRACE_RAW_TP and attachBtfId = the btf_trace_<name> typedef
//    (src/btf tracepointProtoOf), so the verifier knows the argument types
//    and allows direct reads of the sk_buff; the target is fixed at load.
import { isNativeError, native } from '../../native';
import { UserError } from '../../errors';
import { OwnedFd } from '../fd';
import type { Program } from '../program';
import { Link } from './link';

function open(prog: Program, name: string | null, kind: string, target: string): Link {
  let fd: number;
  try {
    fd = native().bpf.rawTracepointOpen(name, prog.fd);
  } catch (e) {
    if (isNativeError(e) && e.code === 'ENOENT') {
      throw new UserError(`no raw tracepoint ${target}`, 'list them with `ls /sys/kernel/tracing/events/*/`', e.message);
    }
    if (isNativeError(e)) throw new UserError(`cannot attach ${kind} ${target}: ${e.message}`, 'run with --verbose for details', e.stack);
    throw e;
  }
  const owned = new OwnedFd(fd, `${kind} link ${target}`);
  return new Link(kind, target, [owned], owned.value);
}

/** Attaches a RAW_TRACEPOINT program to the raw tracepoint `name` ("netif_receive_skb", no category). */
export function attachRawTracepoint(prog: Program, name: string): Link {
  const bare = name.replace(/^(raw_tp|raw_tracepoint):/, '').replace(/^[A-Za-z0-9_]+:/, '');
  return open(prog, bare, 'raw_tp', bare);
}

/** Attaches a tp_btf program (its tracepoint was fixed at load); `name` is for messages. */
export function attachTpBtf(prog: Program, name: string): Link {
  return open(prog, null, 'tp_btf', name);
}
