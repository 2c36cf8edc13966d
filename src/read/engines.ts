// The two ways `netcap read` runs a compiled filter over a packet from a file:
// in JavaScript with libpcap's semantics (no kernel needed), or the real
// kernel: the filter compiled to eBPF, verified and run by the kernel with
// BPF_PROG_TEST_RUN, over a copy of the packet as a tracing probe has it
// (src/read/kernel-engine.ts, loaded only when asked for: the default
// engine starts without the BPF loader).
import type { CbpfProgram } from '../filter';
import { interpretAt } from '../filter/interpreter';
import { compileCbpfToJs } from '../filter/cbpf-js';
import { UserError } from '../errors';

export type EngineName = 'interp' | 'kernel';

export interface FilterEngine {
  /** The filter's verdict on the packet `data`: the snap length to keep, 0 = no match. */
  run(data: Buffer, wirelen: number): number;
  /** The same for the `caplen` captured bytes at `start` in `buf` (a packet among others in one buffer). */
  runAt(buf: Buffer, start: number, caplen: number, wirelen: number): number;
  close(): void;
}

/** libpcap's semantics in JavaScript: the program compiled to a function (src/filter/cbpf-js.ts), else interpreted. */
export function interpreterEngine(prog: CbpfProgram): FilterEngine {
  const insns = prog.insns;
  const runAt = compileCbpfToJs(insns) ?? ((buf: Buffer, start: number, caplen: number, wirelen: number) => interpretAt(insns, buf, start, caplen, wirelen));
  return { run: (data, wirelen) => runAt(data, 0, data.length, wirelen), runAt, close: () => undefined };
}

export function createEngine(name: EngineName, prog: CbpfProgram): FilterEngine {
  if (name !== 'kernel') return interpreterEngine(prog);
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { KernelEngine } = require('./kernel-engine') as typeof import('./kernel-engine');
  try {
    return new KernelEngine(prog);
  } catch (e) {
    if (e instanceof UserError) throw e;
    // Creating maps or loading a program needs CAP_BPF (root here); the
    // addon's errors carry the errno name.
    const code = (e as { code?: string }).code;
    throw new UserError(
      `the kernel engine could not load its program${code ? ` (${code})` : ''}: ${(e as Error).message}`,
      code === 'EPERM' || code === 'EACCES' ? 'run as root (or with CAP_BPF), or use --engine interp' : 'use --engine interp',
      (e as Error).stack,
    );
  }
}
