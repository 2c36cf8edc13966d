// fentry/fexit (Linux 5.5+): a TRACING program loaded with
// expectedAttachType BPF_TRACE_FENTRY/FEXIT and attachBtfId = the kernel
// function's BTF id (src/btf funcProtoOf) gets the function's typed
// arguments through a BPF trampoline. The target is fixed at load time, so
// attaching is BPF_RAW_TRACEPOINT_OPEN with no name. Trampolines need
// ftrace's direct calls: where ftrace is locked (this development kernel
// gives EPERM at load) we fail up front and name the tracepoints instead.
import { UserError } from '../../errors';
import { describeStatus, probeFeature } from '../features';
import type { Program } from '../program';
import { alternativesHint } from './alternatives';
import { Link } from './link';
import { attachTpBtf } from './rawtp';

/** Throws a UserError naming the tracepoint alternatives when fentry/fexit can't be used here. Call before building the program. */
export function requireFentry(what = 'fentry/fexit probes'): void {
  const status = probeFeature('fentry');
  if (status.status !== 'supported') {
    throw new UserError(`${what} are not available on this kernel`, alternativesHint(), describeStatus('fentry', status));
  }
}

/** Attaches a loaded fentry/fexit program to the function it was loaded for (`fn` is for messages). */
export function attachFentry(prog: Program, fn: string): Link {
  requireFentry();
  // Same mechanism as tp_btf; the outer Link names the hook for what it is.
  const inner = attachTpBtf(prog, fn);
  return new Link('fentry', fn, [inner], inner.linkFd);
}
