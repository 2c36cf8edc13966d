// `netcap read`: filter a pcap/pcapng file with a tcpdump expression, like
// `tcpdump -r FILE -w OUT EXPR`: timestamps, captured and wire lengths are
// kept (and pcapng interfaces and comments when writing pcapng). The filter
// is compiled for each interface's link type and run by our interpreter or
// by the kernel (BPF_PROG_TEST_RUN of the eBPF a live capture would load),
// so a file doubles as a test bench for the filter path. It takes the same
// output options as the capturing commands.
import type { Argv } from 'yargs';
import type { Command } from './command';
import { filterOptions, FILTER_USAGE, outputOptions } from './capture-options';

export const readCommand: Command = {
  command: 'read [filter..]',
  describe: 'filter a pcap/pcapng file with a tcpdump expression (like tcpdump -r FILE -w OUT EXPR)',
  builder: (y: Argv) =>
    filterOptions(outputOptions(y))
      .usage(`netcap read -r FILE ${FILTER_USAGE} [-w OUT] [options]\n\n-r - reads standard input (netcap skb ... -w - | netcap read -r - udp).`)
      .option('r', { alias: 'read-file', type: 'string', describe: 'pcap or pcapng file to read (- for standard input)' })
      .option('engine', { type: 'string', describe: 'run the filter in our cBPF interpreter (interp, the default) or in the kernel (kernel: eBPF via BPF_PROG_TEST_RUN)' })
      .epilog('Exit status: 0 done; 2 bad input, or a damaged file (after what could be read was printed or written, as tcpdump does); 1 internal error.'),
  examples: [
    { command: 'netcap read -r in.pcap -e "tcp port 80" -w out.pcap', describe: 'the same file tcpdump -r in.pcap -w out.pcap "tcp port 80" writes' },
    { command: 'netcap read -r in.pcap udp and port 53 --engine kernel', describe: 'decode DNS packets, filtered by the kernel' },
    { command: 'netcap read -r in.pcap icmp --no-tcpdump -t "-e -X"', describe: 'the built-in decoder with link headers and hex' },
  ],
  // Loaded on use: the other commands and --help skip the file readers and writers.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  run: (args) => (require('./read-run') as typeof import('./read-run')).runReadCommand(args),
};
