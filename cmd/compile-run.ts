// `netcap compile`'s work, loaded only when the command runs (cmd/compile.ts
// describes the command and its options).
import type { ArgumentsCamelCase } from 'yargs';
import { UserError } from '../src/errors';
import { compileCbpf, emitC, formatCbpf, linktypeName } from '../src/filter';
import { xdpPacketProgram } from '../probes/filter-programs';
import { disassemble, link } from '../src/ebpf';
import type { Emit } from './compile';
import { filterExpression, oneOf, refuseRepeated, snaplenOption } from './capture-args';

/** The command's run(): compiles -e and prints it in the --emit form. */
export function runCompile(args: ArgumentsCamelCase): number {
  refuseRepeated(args);
  const expression = filterExpression(args);
  if (expression === '') throw new UserError('the filter expression is empty', 'give it after the options or with -e, e.g. netcap compile tcp port 80');
  const snaplen = snaplenOption(args.s);
  const emit: Emit = oneOf(args.emit, '--emit', ['cbpf', 'ebpf', 'c'] as const) ?? 'ebpf';
  const prog = compileCbpf(expression, { linktype: args.linktype === undefined ? 'en10mb' : String(args.linktype), snaplen, optimize: args.O !== true });
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
