// `netcap mbuf`: packets inside a running DPDK process, read from the
// struct rte_mbuf arguments of any of its functions through uprobes, or by
// port, queue and direction through the process's rte_eth_fp_ops.
import type { Argv } from 'yargs';
import type { Command } from './command';
import { captureOptions, FILTER_USAGE } from './capture-options';

export const mbufCommand: Command = {
  command: 'mbuf [filter..]',
  describe: 'capture rte_mbuf packets at ports or functions of a running DPDK process',
  builder: (y: Argv) =>
    captureOptions(y)
      .usage(
        `netcap mbuf -f POINTS ${FILTER_USAGE} (--pid PID | --binary PATH [--pid PID]) [options]\n` +
          'netcap mbuf --pid PID --list   the ports of the process and the functions that take mbufs\n\n' +
          'Points (-f, comma-separated):\n' +
          '  port:ID|NAME[:rx|tx][/qN]  what DPDK port ID (or the port named NAME) received (rx, at the return of its\n' +
          '               rx burst function) or was handed to send (tx), on every queue or queue N; without :rx/:tx, -Q\n' +
          '               says which (default both). Found in the process\'s rte_eth_fp_ops: no symbols needed\n' +
          '  func@N       argument N (1-6) is one struct rte_mbuf *\n' +
          '  func@N@M     argument N is an array of mbuf pointers, argument M its count (a burst)\n' +
          '  func@N@ret   the array in argument N, read when func returns; the count is its return value (rx bursts)\n' +
          '  lib:func@... or /path/to/object.so:func@...  look only in that object',
      )
      .option('pid', { alias: 'p', type: 'string', describe: 'the DPDK process (its executable and every shared object it maps are searched)' })
      .option('binary', { type: 'string', describe: 'the executable or library holding the functions (every process running it is traced; with --pid, that object of the process)' })
      .option('dpdk-version', { type: 'string', describe: 'the DPDK release (YY.MM) whose rte_mbuf and ethdev layouts to use, instead of detecting it' }),
  examples: [
    { command: 'netcap mbuf -f port:0 -e "udp" --pid $(pidof dpdk-testpmd) -w p0.pcapng', describe: 'both directions of port 0, one pcapng interface each' },
    { command: 'netcap mbuf -f port:0:rx,port:1:tx --pid 1234 -c 1000', describe: 'what port 0 received and port 1 sent' },
    { command: 'netcap mbuf -f port:net_af_packet0:rx/q1 --pid 1234', describe: 'queue 1 of a port, by name' },
    { command: 'netcap mbuf -f l2fwd_simple_forward@1 -e "tcp port 80" --pid 1234', describe: 'a function of the application, one mbuf per call' },
    { command: 'netcap mbuf -f app_process_burst@1@2 --pid 1234 -w out.pcapng udp', describe: 'a burst function, written to pcapng' },
    { command: 'netcap mbuf --pid 1234 --list', describe: 'the ports, queues and burst functions, and the functions to probe with their -f forms' },
  ],
  // Loaded on use: `netcap --help` and the other commands skip the capture library and the probe builders.
  run: (args) => {
    /* eslint-disable @typescript-eslint/no-require-imports */
    if (args.D) return (require('./list-run') as typeof import('./list-run')).runMbufList(args);
    const { runCaptureCommand } = require('./capture-command') as typeof import('./capture-command');
    const { pidOption } = require('./capture-args') as typeof import('./capture-args');
    /* eslint-enable @typescript-eslint/no-require-imports */
    return runCaptureCommand(args, 'mbuf', (c) => ({
      mode: 'mbuf',
      points: c.points,
      pid: pidOption(args),
      binary: args.binary as string | undefined,
      dpdkVersion: args.dpdkVersion as string | undefined,
      // Port points without :rx/:tx take -Q; function points have no direction (the mode refuses -Q for them).
      ...(args.Q !== undefined ? { portDirection: c.direction } : {}),
    }));
  },
};
