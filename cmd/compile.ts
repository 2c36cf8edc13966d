// `netcap compile`: show what a tcpdump expression becomes — libpcap's
// classic BPF (as `tcpdump -d` prints it), our eBPF (wrapped in the complete
// XDP program that would be loaded, printed like the verifier log), or C.
import type { Argv, ArgumentsCamelCase } from 'yargs';
import type { Command } from './command';
import { UserError } from '../src/errors';
import { compileCbpf, DEFAULT_SNAPLEN, emitC, formatCbpf, linktypeName, xdpPacketProgram } from '../src/filter';
import { disassemble, link } from '../src/ebpf';

type Emit = 'cbpf' | 'ebpf' | 'c';

export const compileCommand: Command = {
  command: 'compile',
  describe: 'compile a tcpdump filter and print it as classic BPF, eBPF or C',
  builder: (y: Argv) =>
    y
      .option('e', { alias: 'expression', type: 'string', demandOption: true, describe: 'tcpdump filter expression (man 7 pcap-filter)' })
      .option('linktype', { type: 'string', default: 'en10mb', describe: 'link type the packets start with: en10mb (Ethernet), raw (IP), or any libpcap DLT name' })
      .option('snaplen', { type: 'number', default: DEFAULT_SNAPLEN, describe: 'bytes a match keeps (the value the filter returns)' })
      .option('emit', { choices: ['cbpf', 'ebpf', 'c'] as const, default: 'ebpf' as Emit, describe: 'what to print' })
      .option('O', { alias: 'no-optimize', type: 'boolean', default: false, describe: "don't run libpcap's optimizer (like tcpdump -O)" })
      .example('netcap compile -e "tcp port 80" --emit cbpf', 'the same listing as tcpdump -d')
      .example('netcap compile -e "udp" --linktype raw --emit c', 'the filter as C, for packets starting at the IP header'),
  run: async (args: ArgumentsCamelCase) => {
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
  },
};
