// `netcap skb`: packets where the kernel handles, forwards or drops them,
// read from the struct sk_buff at tracepoints (and fentry/kprobes on
// kernels that have them).
import type { Argv } from 'yargs';
import { UserError } from '../src/errors';
import type { Command } from './command';
import { captureOptions, FILTER_USAGE } from './capture-options';

export const skbCommand: Command = {
  command: 'skb [filter..]',
  describe: 'capture sk_buffs at kernel tracepoints (and fentry/kprobes where the kernel has them)',
  builder: (y: Argv) =>
    captureOptions(y)
      .usage(
        `netcap skb -f POINTS ${FILTER_USAGE} [-i IFACE [--netns NS]] [-S] [-G] [options]\n` +
          'netcap skb --list       the points this kernel offers\n\n' +
          'Points (-f, comma-separated):\n' +
          '  tracepoint:CAT:NAME (or tp:CAT:NAME)  a tracepoint whose record has an skb address (skbaddr)\n' +
          '  raw_tp:NAME, tp_btf:NAME              a raw tracepoint with a struct sk_buff * argument\n' +
          '  FUNC@N                                kernel function FUNC, argument N a struct sk_buff * (fentry/kprobe kernels)\n\n' +
          'Packets start at the MAC header when the skb has one, else at the network header; those are\n' +
          'filtered as raw IP and written to pcapng on a raw-IP interface per point, elsewhere (pcap,\n' +
          'tcpdump, text) behind a synthesised Ethernet header (zero MACs, EtherType = skb->protocol).',
      )
      .option('i', { alias: 'interface', type: 'string', describe: 'only skbs of this device (by ifindex and network namespace); -i any: every device' })
      .option('netns', { type: 'string', describe: 'the network namespace of -i: a name from `ip netns list` or a path like /proc/PID/ns/net (default: netcap\'s own)' })
      .option('S', { alias: 'stack', type: 'boolean', describe: 'print the kernel stack of each packet (symbolised from /proc/kallsyms)' })
      .option('G', { alias: 'gather', type: 'boolean', describe: 'follow each packet the first point selects through the other points (by skb address), with latencies' })
      .option('gather-by-content', {
        type: 'boolean',
        describe: 'gather mode matching packets by a hash of their bytes (from 12 bytes into the network header: TTL and checksum left out) instead of the skb address',
      })
      .option('gather-bytes', { type: 'string', describe: 'bytes hashed by --gather-by-content (default 48)' }),
  examples: [
    { command: 'netcap skb -f tracepoint:net:netif_receive_skb -i lo tcp port 80', describe: 'received TCP port 80 packets of lo' },
    { command: 'netcap skb -f tracepoint:skb:kfree_skb -e "host 192.0.2.1" -S', describe: 'dropped packets with the reason and the kernel stack' },
    { command: 'netcap skb -G -f tracepoint:net:netif_receive_skb,tracepoint:net:net_dev_queue icmp', describe: 'one packet followed through two points' },
    { command: 'netcap skb --list', describe: 'the capture points this kernel offers' },
  ],
  // Loaded on use: the other commands and --help skip the capture library and the skb probe builders.
  run: (args) => {
    /* eslint-disable @typescript-eslint/no-require-imports */
    if (args.D) return (require('./list-run') as typeof import('./list-run')).runSkbList(args);
    const { runCaptureCommand } = require('./capture-command') as typeof import('./capture-command');
    const { positiveInteger } = require('./capture-args') as typeof import('./capture-args');
    /* eslint-enable @typescript-eslint/no-require-imports */
    if (args.gatherBytes !== undefined && !args.gatherByContent) throw new UserError('--gather-bytes applies to --gather-by-content', 'add --gather-by-content, or leave --gather-bytes out');
    return runCaptureCommand(args, 'skb', (c) => ({
      mode: 'skb',
      points: c.points,
      // tcpdump's -i any: every device.
      iface: args.i === 'any' ? undefined : (args.i as string | undefined),
      netns: args.netns as string | undefined,
      stacks: args.S === true,
      gather: args.G === true,
      gatherByContent: args.gatherByContent ? positiveInteger(args.gatherBytes ?? 48, '--gather-bytes') : undefined,
      path: c.direction === 'inout' ? undefined : c.direction,
    }));
  },
};
