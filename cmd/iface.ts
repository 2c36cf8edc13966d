// `netcap iface`: packets of network interfaces by direction, at the TC
// hooks (tcx, or cls_bpf on clsact), without changing what the datapath does.
import type { Argv } from 'yargs';
import type { Command } from './command';
import { captureOptions } from './capture-options';

export const ifaceCommand: Command = {
  command: 'iface',
  describe: 'capture on network interfaces by direction, at TC (tcx or cls_bpf), like tcpdump -i -Q',
  builder: (y: Argv) =>
    captureOptions(y, { points: false })
      .usage(
        'netcap iface -i IFACE[,IFACE...]|any [-Q in|out|inout] [--netns NS] [-e EXPR] [options]\n\n' +
          'Each interface and direction is a capture point (pcapng interface "v1 ingress", its own counters);\n' +
          'packets carry their direction (pcapng epb_flags). The filter means what it means for tcpdump -i:\n' +
          'inbound/outbound, ifindex and vlan read the packet\'s metadata, other tests see the packet without\n' +
          'the VLAN tag the kernel took out, which is put back into the bytes written. Programs never change\n' +
          'a verdict: every packet goes on as if netcap were not there.',
      )
      .option('i', { alias: 'interface', type: 'string', demandOption: true, describe: 'interfaces: names or ifindexes, comma-separated, or any (every interface, including ones that appear)' })
      .option('netns', { type: 'string', describe: 'the network namespace of the interfaces: a name from `ip netns list` or a path like /proc/PID/ns/net (default: netcap\'s own)' })
      .option('position', { choices: ['first', 'last'] as const, describe: 'run before or after the other programs on the hook (default: first at ingress, last at egress: where tcpdump sees packets)' })
      .option('hook', { choices: ['auto', 'tcx', 'cls_bpf'] as const, default: 'auto', describe: 'tcx (Linux 6.6, owned by netcap: gone when it exits, even killed) or cls_bpf on a clsact qdisc (its filters stay, capturing nothing, if netcap is killed); auto: tcx where the kernel has it' }),
  examples: [
    { command: 'netcap iface -i v1 -Q in -e "tcp port 80" -w in.pcapng', describe: 'inbound HTTP of v1' },
    { command: 'netcap iface -i v1,v2 -Q inout --netns lab -e udp', describe: 'both directions of two interfaces of namespace lab' },
    { command: 'netcap iface -i any -Q out -c 100', describe: 'the first 100 packets sent by any interface, also ones that appear later' },
  ],
  // Loaded on use: the other commands and --help skip the capture library and the TC program builders.
  run: (args) => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { runCaptureCommand } = require('./capture-command') as typeof import('./capture-command');
    return runCaptureCommand(args, 'iface', (c) => ({
      mode: 'iface',
      interfaces: String(args.i ?? ''),
      netns: args.netns as string | undefined,
      position: args.position as 'first' | 'last' | undefined,
      hook: args.hook as 'auto' | 'tcx' | 'cls_bpf' | undefined,
      direction: c.direction,
    }), { ownPoints: true });
  },
};
