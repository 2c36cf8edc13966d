// `netcap xdp`: packets and verdicts of XDP programs, through the hook
// xdpcap defined (a pinned prog array the program tail-calls into with its
// action), and, on kernels that allow fentry/fexit on XDP programs, of an
// attached program directly (-i).
import type { Argv } from 'yargs';
import type { Command } from './command';
import { captureOptions } from './capture-options';

export const xdpCommand: Command = {
  command: 'xdp',
  describe: 'capture the packets of XDP programs with their verdicts (xdpcap hooks; fentry/fexit where the kernel allows it)',
  builder: (y: Argv) =>
    captureOptions(y, { points: false })
      .usage(
        'netcap xdp --hook PATH [--hook PATH...] [--actions LIST] [-e EXPR] [options]\n' +
          'netcap xdp -i IFACE [--at entry|exit|entry,exit] [-e EXPR] [options]   (kernels with fentry on XDP programs)\n\n' +
          'A hook is the BPF_MAP_TYPE_PROG_ARRAY (4-byte keys and values, 5 entries: aborted, drop, pass, tx,\n' +
          'redirect; or 4, without redirect) that the XDP program tail-calls into with the action it chose,\n' +
          'pinned in bpffs, as xdpcap defines it. netcap puts a capture program into the slot of each\n' +
          'selected action; each returns that action, so no verdict changes. When netcap ends, however it\n' +
          'ends (SIGKILL too: a watchdog process does it then), the slots are as netcap found them.\n' +
          'Each action is a pcapng interface (xdp:HOOK ACTION); each packet carries its verdict (epb_verdict).',
      )
      .option('hook', { type: 'string', array: true, describe: 'path of a pinned xdpcap hook map (repeat for several programs)' })
      .option('actions', { type: 'string', describe: 'actions to capture, comma-separated: aborted, drop, pass, tx, redirect (default: all the hook has)' })
      .option('force', { type: 'boolean', default: false, describe: 'use slots another program holds (another xdpcap?), and put that program back afterwards' })
      .option('i', { alias: 'interface', type: 'string', describe: 'capture the XDP program attached to IFACE directly (fentry/fexit; not every kernel allows it)' })
      .option('at', { type: 'string', default: 'exit', describe: 'with -i: entry (packets as they arrive), exit (with the verdict), or entry,exit' }),
  examples: [
    { command: 'netcap xdp --hook /sys/fs/bpf/lb/xdpcap_hook -e "udp port 53" -w lb.pcapng', describe: 'DNS packets with the verdict the program gave each' },
    { command: 'netcap xdp --hook /sys/fs/bpf/lb/xdpcap_hook --actions drop,tx -c 100', describe: 'the first 100 packets dropped or bounced' },
  ],
  // Loaded on use: the other commands and --help skip the capture library and the XDP mode.
  run: (args) => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { runCaptureCommand } = require('./capture-command') as typeof import('./capture-command');
    return runCaptureCommand(args, 'xdp', (c) => ({
      mode: 'xdp',
      hooks: ((args.hook as unknown[] | undefined) ?? []).map(String),
      actions: args.actions as string | undefined,
      force: Boolean(args.force),
      iface: args.i as string | undefined,
      at: args.at as string | undefined,
      // -i on a kernel without fentry can still list its programs.
      listOnly: c.dryRun,
    }), { ownPoints: true });
  },
};
