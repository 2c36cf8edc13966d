// `netcap replay`: transcribe a trace with its timing into a file or onto an
// interface, with packets woven in (other traces at a moment of the
// timeline, hand-built packets, a live stream), the way the libpcap
// tutorial's transcriber does and tcpreplay does for interfaces.
import type { Argv } from 'yargs';
import type { Command } from './command';

export const replayCommand: Command = {
  command: 'replay [expression..]',
  describe: 'replay a trace with its timing to a file or onto an interface, with packets injected at chosen moments',
  builder: (y: Argv) =>
    y
      .usage('netcap replay -r FILE (-w OUT | -i IFACE [--netns NS]) [--inject FILE@TIME]... [options] [EXPR]')
      .positional('expression', { type: 'string', array: true, describe: 'a filter for the background trace, as tcpdump takes it (instead of -e)' })
      .option('r', { alias: 'read-file', type: 'string', demandOption: true, describe: 'the background trace (pcap or pcapng), streamed' })
      .option('e', { alias: 'expression-string', type: 'string', describe: 'replay only the background packets this tcpdump filter keeps' })
      .option('engine', { choices: ['interp', 'kernel'] as const, default: 'interp', describe: 'the filter engine, as for netcap read' })
      .option('w', { alias: 'write-file', type: 'string', describe: 'write the replay to this capture file ("-" for stdout)' })
      .option('format', { choices: ['pcap', 'pcapng'] as const, describe: 'format written with -w (default: from the file name, .pcapng, else pcap)' })
      .option('stamp', { choices: ['trace', 'now'] as const, default: 'trace', describe: 'timestamps written with -w: the trace\'s own (injected packets: the moment they were woven in), or the wall clock' })
      .option('i', { alias: 'interface', type: 'string', describe: 'send the replay out of this interface (AF_PACKET)' })
      .option('netns', { type: 'string', describe: 'the network namespace of -i: a name from `ip netns list` or a path such as /proc/PID/ns/net' })
      .option('inject', { type: 'string', array: true, describe: 'FILE@TIME: another trace from that moment of the background\'s timeline; SPEC@TIME: a hand-built packet (icmp-echo,src=A,dst=B; udp; tcp); FILE.json@TIME: packet specs in JSON' })
      // nargs 1: yargs takes a following "-" (stdin) as the value only then.
      .option('inject-stream', { type: 'string', nargs: 1, describe: 'PATH or -: packets arriving while running (pcap, pcapng or JSON lines {"data": HEX}), woven in at the current time' })
      .option('x', { alias: 'multiplier', type: 'number', describe: 'play the trace\'s timing this many times faster (0.5: half speed)' })
      .option('pps', { type: 'number', describe: 'send at this many packets per second instead of the trace\'s timing' })
      .option('mbps', { type: 'number', describe: 'send at this many megabits per second instead of the trace\'s timing' })
      .option('topspeed', { type: 'boolean', describe: 'send as fast as possible' })
      .option('loop', { type: 'number', default: 1, describe: 'play the background this many times, one pass after the other' })
      .option('c', { alias: 'limit', type: 'number', describe: 'stop after this many packets (background and --inject traces)' })
      .option('duration', { type: 'string', describe: 'stop this long after the first packet (e.g. 10s, 500ms)' })
      .option('add-ethernet', { type: 'string', describe: 'put an Ethernet header to this MAC address in front of raw IP packets (the source: the interface\'s own)' })
      .option('spin', { type: 'string', describe: 'how long before each deadline the sender stops sleeping and watches the clock (-i; default: learnt from how late its wake-ups come, 50us to 1ms)' }),
  examples: [
    { command: 'netcap replay -r background.pcap -w out.pcap --inject probe.pcap@2.5s', describe: 'the background with probe.pcap woven in 2.5 s after its first packet' },
    { command: 'netcap replay -r captured.pcapng -i v0 --netns lab -x 2', describe: 'onto v0 in namespace lab, twice as fast as it was captured' },
    { command: "netcap replay -r trace.pcap -i a0p --inject 'icmp-echo,src=192.0.2.1,dst=192.0.2.2@3s'", describe: 'an ICMP echo request 3 s into the trace' },
    { command: 'some-generator | netcap replay -r background.pcap -w out.pcap --inject-stream -', describe: 'packets from a program woven in as they arrive' },
  ],
  // Loaded on use: the other commands and --help skip the replay machinery.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  run: (args) => (require('./replay-run') as typeof import('./replay-run')).runReplayCommand(args),
};
