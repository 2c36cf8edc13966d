// `netcap read`: filter a pcap/pcapng file with a tcpdump expression, like
// `tcpdump -r FILE -w OUT EXPR`: timestamps, captured and wire lengths are
// kept (and pcapng interfaces and comments when writing pcapng). The filter
// is compiled for each interface's link type and run by our interpreter or
// by the kernel (BPF_PROG_TEST_RUN of the eBPF a live capture would load),
// so a file doubles as a test bench for the filter path.
import type { Argv } from 'yargs';
import type { Command } from './command';
import type { EngineName } from '../src/read/engines';

export const readCommand: Command = {
  command: 'read [expression..]',
  describe: 'filter a pcap/pcapng file with a tcpdump expression (like tcpdump -r FILE -w OUT EXPR)',
  builder: (y: Argv) =>
    y
      .usage('netcap read -r FILE [-e EXPR | EXPR...] [-w OUT] [options]')
      .positional('expression', { type: 'string', array: true, describe: 'the filter, as tcpdump takes it (instead of -e)' })
      .option('r', { alias: 'read-file', type: 'string', demandOption: true, describe: 'pcap or pcapng file to read' })
      .option('e', { alias: 'expression-string', type: 'string', describe: 'tcpdump filter expression (man 7 pcap-filter); none keeps every packet' })
      .option('w', { alias: 'write-file', type: 'string', describe: 'write the kept packets to this file ("-" for stdout) instead of printing them' })
      .option('engine', { choices: ['interp', 'kernel'] as const, default: 'interp' as EngineName, describe: 'run the filter in our cBPF interpreter or in the kernel (eBPF via BPF_PROG_TEST_RUN)' })
      .option('format', { choices: ['pcap', 'pcapng'] as const, describe: 'format written with -w (default: the input\'s)' })
      .option('c', { alias: 'count', type: 'number', describe: 'stop after this many kept packets' })
      .option('t', { alias: 'tcpdump-flags', type: 'string', default: '-nn', describe: 'flags for the tcpdump that prints the packets (no shell is involved)' })
      .option('tcpdump', { type: 'boolean', default: true, describe: 'print through `tcpdump -r -` (--no-tcpdump: the built-in decoder, which honours -e -x -xx -X -XX from -t)' })
      .option('json', { type: 'boolean', default: false, describe: 'print one JSON object per packet' })
      .option('C', { alias: 'file-size', type: 'number', describe: 'tcpdump -C: start a new -w file when it is larger than this many millions of bytes (OUT, OUT1, ...)' })
      .option('W', { alias: 'file-count', type: 'number', describe: 'tcpdump -W with -C: a ring of N files (OUT0, OUT1, ...)' })
      .example('netcap read -r in.pcap -e "tcp port 80" -w out.pcap', 'the same file tcpdump -r in.pcap -w out.pcap "tcp port 80" writes')
      .example('netcap read -r in.pcapng udp and port 53 --engine kernel', 'decode DNS packets, filtered by the kernel')
      .example('netcap read -r in.pcap -e icmp --no-tcpdump -t "-e -X"', 'the built-in decoder with link headers and hex'),
  // Loaded on use: the other commands and --help skip the file readers and writers.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  run: (args) => (require('./read-run') as typeof import('./read-run')).runReadCommand(args),
};
