// `netcap compile`: show what a tcpdump expression becomes — libpcap's
// classic BPF (as `tcpdump -d` prints it), our eBPF (wrapped in the complete
// XDP program that would be loaded, printed like the verifier log), or C.
import type { Argv } from 'yargs';
import type { Command } from './command';
import { DEFAULT_SNAPLEN } from '../src/filter/libpcap';

export type Emit = 'cbpf' | 'ebpf' | 'c';

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
  // Loaded on use: the other commands and --help skip the compilers.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  run: async (args) => (require('./compile-run') as typeof import('./compile-run')).runCompile(args),
};
