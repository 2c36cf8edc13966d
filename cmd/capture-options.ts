// The options every capturing subcommand (mbuf, raw, skb, iface) shares, in
// tcpdump's spelling where tcpdump has one (their meaning is checked by
// capture-args.ts when the command runs: this module only describes them,
// and is loaded on every start).
import type { Argv } from 'yargs';
import { DEFAULT_SNAPLEN } from '../src/limits';

/**
 * The shared options. `points`: 'required' (default), 'optional' (mbuf's
 * --list needs none; the command checks it itself), or 'none' for a command
 * whose points are not given with -f (xdp: --hook; iface: -i and -Q).
 */
export function captureOptions(y: Argv, opts: { points?: 'required' | 'optional' | 'none' } = {}): Argv {
  const points = opts.points ?? 'required';
  const withPoints = points === 'none' ? y : y.option('f', { alias: 'function', type: 'string', demandOption: points === 'required', describe: 'capture points, comma-separated (see the command\'s forms)' });
  return withPoints
    .option('e', { alias: 'expression', type: 'string', default: '', describe: 'tcpdump filter expression (man 7 pcap-filter), run in the kernel' })
    .option('t', { alias: 'tcpdump-flags', type: 'string', default: '-nn', describe: 'flags for decoding with `tcpdump -r -` (split without a shell)' })
    .option('w', { alias: 'write', type: 'string', describe: 'write packets to FILE (.pcap or .pcapng), or - for stdout' })
    .option('format', { choices: ['pcap', 'pcapng'] as const, describe: 'file format for -w (default: from the file name, else pcap)' })
    .option('c', { alias: 'count', type: 'number', describe: 'stop after writing N packets' })
    .option('s', { alias: ['snaplen', 'capture-max-size'], type: 'number', default: DEFAULT_SNAPLEN, describe: 'bytes captured per packet at most' })
    .option('duration', { type: 'number', describe: 'stop after this many seconds' })
    .option('U', { alias: 'packet-buffered', type: 'boolean', default: false, describe: 'flush the output after every packet' })
    .option('time-stamp-precision', { choices: ['micro', 'nano'] as const, default: 'micro', describe: 'pcap timestamp precision (pcapng is always nanoseconds)' })
    .option('tcpdump', { type: 'boolean', default: true, describe: 'decode with tcpdump when it is installed (--no-tcpdump: the built-in decoder)' })
    .option('json', { type: 'boolean', default: false, describe: 'print one JSON object per packet' })
    .option('print', { type: 'boolean', default: false, describe: 'also decode to stdout while writing -w FILE' })
    .option('meta', { type: 'boolean', default: false, describe: 'show pid/comm/cpu/point before each line (built-in decoder)' })
    .option('dry-run', { type: 'boolean', default: false, describe: 'print the resolved targets and the programs; attach nothing' })
    .option('ring-size', { type: 'number', default: 8, describe: 'ring buffer size in MiB (a power of two)' })
    .option('loss-ok', { type: 'boolean', default: false, describe: 'exit 0 even when packets were lost in the ring (default: exit 3)' })
    .option('C', { alias: 'file-size', type: 'number', describe: 'tcpdump -C: start a new -w file when it is larger than this many millions of bytes (FILE, FILE1, ...)' })
    .option('W', { alias: 'file-count', type: 'number', describe: 'tcpdump -W: with -C a ring of N files (FILE0..); with --rotate-seconds stop after N files' })
    .option('rotate-seconds', { type: 'number', describe: 'tcpdump -G (here -G is --gather): a new -w file every N seconds, named by strftime(3) on FILE' })
    .option('write-file-rotate', { type: 'number', describe: 'keep only the last N packets and write them to -w FILE when the capture ends (any way it ends)' })
    .epilog('Exit status: 0 done; 1 internal error; 2 bad input (nothing was attached); 3 packets were lost in the ring buffer (see the summary; --loss-ok gives 0).');
}
