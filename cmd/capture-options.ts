// The options the subcommands share, in tcpdump's spelling where tcpdump has
// one: the filter (-e, or the words after the options, as tcpdump takes
// it), the output options (capturing commands and `read`), and the capture
// options (mbuf, raw, skb, and the commands that will use this layer).
// Their meaning is checked by capture-args.ts when the command runs: this
// module only describes them, and is loaded on every start.
//
// Numbers are taken as strings and checked there, so a value that is no
// number is echoed as typed ("-c abc"), not as yargs' NaN.
import type { Argv } from 'yargs';

/** The usage line's filter part, for each command's usage text. */
export const FILTER_USAGE = '[-e EXPR | EXPR...]';

/** -e and the trailing filter words (the command's positional `filter..`). */
export function filterOptions(y: Argv): Argv {
  return y
    .positional('filter', { type: 'string', array: true, describe: 'the filter as tcpdump takes it: the words after the options (after -- too), instead of -e' })
    .option('e', { alias: 'expression', type: 'string', describe: 'tcpdump filter expression (man 7 pcap-filter); tcpdump\'s own -e is -t -e here' });
}

/** How packets are printed: tcpdump's decoding flags (as if given with -t), -t itself, the built-in decoder, JSON. */
export function decodeOptions(y: Argv): Argv {
  return y
    .option('t', { alias: 'tcpdump-flags', type: 'string', describe: 'more flags for the `tcpdump -r -` that prints packets, after -nn (split without a shell), e.g. -t "-e -tttt"' })
    .option('n', { type: 'count', describe: 'tcpdump -n/-nn: numbers, not names (netcap\'s default; see --names)' })
    .option('v', { type: 'count', describe: 'tcpdump -v/-vv/-vvv: more detail' })
    .option('x', { type: 'count', describe: 'tcpdump -x/-xx: hex of each packet (-xx with the link header)' })
    .option('X', { type: 'count', describe: 'tcpdump -X/-XX: hex and ASCII (-XX with the link header)' })
    .option('A', { type: 'boolean', describe: 'tcpdump -A: each packet in ASCII' })
    .option('q', { type: 'boolean', describe: 'tcpdump -q: less protocol detail' })
    .option('l', { type: 'boolean', describe: 'tcpdump -l: line-buffered output (netcap\'s way anyway: every batch is written at once)' })
    .option('immediate-mode', { type: 'boolean', describe: 'tcpdump --immediate-mode: packets leave the ring within 10 ms (without it too when printed, piped or counted with -c; into files within 100 ms with -U, 200 ms without)' })
    .option('names', { type: 'boolean', describe: 'let tcpdump turn addresses and ports into names (netcap passes -nn otherwise)' })
    .option('tcpdump', { type: 'boolean', describe: 'decode with tcpdump when it is installed (--no-tcpdump: the built-in decoder, which honours -e -x -xx -X -XX)' })
    .option('json', { type: 'boolean', describe: 'print one JSON object per packet (metadata as fields)' })
    .option('meta', { type: 'boolean', describe: 'the built-in decoder, with pid/comm/cpu/point before each packet' });
}

/** Where packets go and when to stop writing them: the one output model (src/output/outputs.ts). */
export function outputOptions(y: Argv): Argv {
  return decodeOptions(y)
    .option('w', { alias: 'write', type: 'string', describe: 'write packets to FILE (.pcap or .pcapng), or - for stdout' })
    .option('format', { type: 'string', describe: 'file format for -w: pcap or pcapng (default: from the file name, else pcap)' })
    .option('print', { type: 'boolean', describe: 'also decode to stdout while writing -w FILE' })
    .option('c', { alias: 'count', type: 'string', describe: 'stop after writing N packets' })
    .option('s', { alias: ['snaplen', 'capture-max-size'], type: 'string', describe: 'bytes kept per packet at most (default and -s 0: 262144)' })
    .option('U', { alias: 'packet-buffered', type: 'boolean', describe: 'flush the output after every batch of packets' })
    .option('time-stamp-precision', { type: 'string', describe: 'pcap timestamp precision: micro (default) or nano (pcapng is always nanoseconds)' })
    .option('C', { alias: 'file-size', type: 'string', describe: 'tcpdump -C: start a new -w file when it is larger than this many millions of bytes (FILE, FILE1, ...)' })
    .option('W', { alias: 'file-count', type: 'string', describe: 'tcpdump -W: with -C a ring of N files (FILE0..); with --rotate-seconds stop after N files' })
    .option('rotate-seconds', { type: 'string', describe: 'tcpdump -G (here -G is skb\'s --gather): a new -w file every N seconds, named by strftime(3) on FILE' })
    .option('write-file-rotate', { type: 'string', describe: 'keep only the last N packets and write them to -w FILE when the capture ends (any way it ends)' });
}

/**
 * Everything a capturing command (mbuf, raw, skb, iface, xdp) shares;
 * `points: false` for a command whose points are not given with -f (xdp:
 * --hook; iface: -i and -Q).
 */
export function captureOptions(y: Argv, opts: { points?: boolean } = {}): Argv {
  const withFilter = filterOptions(outputOptions(y));
  const withPoints = opts.points === false ? withFilter : withFilter.option('f', { alias: 'function', type: 'string', describe: 'capture points, comma-separated (may be given several times: the points add up)' });
  return withPoints
    .option('D', { alias: ['list', 'list-interfaces'], type: 'boolean', describe: 'list the capture points this command can use here, and exit' })
    .option('Q', { alias: 'direction', type: 'string', describe: 'tcpdump -Q: in, out or inout (the default; also Polycube\'s ingress, egress, bidirectional), where the points know the direction' })
    .option('duration', { type: 'string', describe: 'stop after this many seconds' })
    .option('dry-run', { type: 'boolean', describe: 'print the resolved targets and the programs; attach nothing' })
    .option('ring-size', { type: 'string', describe: 'ring buffer size in MiB, a power of two (default 8)' })
    .option('loss-ok', { type: 'boolean', describe: 'exit 0 even when packets were lost in the ring (default: exit 3)' })
    .epilog(
      'The filter: -e EXPR or the words after the options, as tcpdump takes them (e.g. netcap skb -f POINT icmp and host 192.0.2.1).\n' +
        'Exit status: 0 done (also when the reader of stdout goes away, e.g. | head); 1 internal error; 2 bad input (nothing was attached); ' +
        '3 packets were lost in the ring buffer (see the summary; --loss-ok gives 0).',
    );
}
