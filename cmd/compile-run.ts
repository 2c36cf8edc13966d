// `netcap compile`'s work, loaded only when the command runs (cmd/compile.ts
// describes the command and its options).
import type { ArgumentsCamelCase } from 'yargs';
import { UserError } from '../src/errors';
import { compileCbpf, emitC, formatCbpf, linktypeName } from '../src/filter';
import { xdpPacketProgram } from '../probes/filter-programs';
import { disassemble, link } from '../src/ebpf';
import type { Emit } from './compile';

/** The command's run(): compiles -e and prints it in the --emit form. */
export function runCompile(args: ArgumentsCamelCase): number {
  const expression = String(args.e ?? '');
  if (expression.trim() === '') throw new UserError('the filter expression is empty', 'give one with -e, e.g. -e "tcp port 80"');
  const snaplen = Number(args.snaplen);
  const emit = args.emit as Emit;
  const prog = compileCbpf(expression, { linktype: String(args.linktype), snaplen, optimize: !args.O });
  const where = `link type ${linktypeName(prog.linktype)}, snaplen ${prog.snaplen}`;
  let text: string;
  if (emit === 'cbpf') {
    text = `; ${expression} (${where}): ${prog.insns.length} cBPF instructions\n` + formatCbpf(prog.insns);
  } else if (emit === 'c') {
    text = emitC(prog.insns, { title: `${expression} (${where}): ${prog.insns.length} cBPF instructions` });
  } else {
    const linked = link(xdpPacketProgram(prog.insns));
    text =
      `; ${expression} (${where}): ${prog.insns.length} cBPF -> ${linked.slots} eBPF instructions\n` +
      '; as an XDP program returning the snap length (0 = no match)\n' +
      disassemble(linked);
  }
  process.stdout.write(text);
  return 0;
}
