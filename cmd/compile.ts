// `netcap compile`: show what a tcpdump expression becomes — libpcap's
// classic BPF (as `tcpdump -d` prints it), our eBPF (wrapped in the complete
// XDP program that would be loaded, printed like the verifier log), or C.
import type { Argv } from 'yargs';
import type { Command } from './command';
import { filterOptions, FILTER_USAGE } from './capture-options';

export type Emit = 'cbpf' | 'ebpf' | 'c';

export const compileCommand: Command = {
  command: 'compile [filter..]',
  describe: 'compile a tcpdump filter and print it as classic BPF, eBPF or C',
  builder: (y: Argv) =>
    filterOptions(y)
      .usage(`netcap compile ${FILTER_USAGE} [--emit cbpf|ebpf|c] [--linktype TYPE] [-s SNAPLEN] [-O]`)
      .option('linktype', { type: 'string', describe: 'link type the packets start with: en10mb (Ethernet, the default), raw (IP), or any libpcap DLT name' })
      .option('s', { alias: 'snaplen', type: 'string', describe: 'bytes a match keeps (the value the filter returns; default 262144, -s 0 the same)' })
      .option('emit', { type: 'string', describe: 'what to print: cbpf (like tcpdump -d), ebpf (the default), c' })
      .option('O', { alias: 'no-optimize', type: 'boolean', describe: "don't run libpcap's optimizer (like tcpdump -O)" }),
  examples: [
    { command: 'netcap compile -e "tcp port 80" --emit cbpf', describe: 'the same listing as tcpdump -d' },
    { command: 'netcap compile udp --linktype raw --emit c', describe: 'the filter as C, for packets starting at the IP header' },
  ],
  // Loaded on use: the other commands and --help skip the compilers.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  run: (args) => (require('./compile-run') as typeof import('./compile-run')).runCompile(args),
};
