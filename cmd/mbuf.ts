// `netcap mbuf`: packets inside a running DPDK process, read from the
// struct rte_mbuf arguments of any of its functions through uprobes.
import type { Argv } from 'yargs';
import type { Command } from './command';
import { captureOptions } from './capture-options';
import { UserError } from '../src/errors';

export const mbufCommand: Command = {
  command: 'mbuf',
  describe: 'capture rte_mbuf packets at functions of a running DPDK process',
  builder: (y: Argv) =>
    captureOptions(y, { points: 'optional' })
      .usage(
        'netcap mbuf -f POINTS [-e EXPR] (--pid PID | --binary PATH [--pid PID]) [options]\n' +
          'netcap mbuf --pid PID --list\n\n' +
          'Points (-f, comma-separated):\n' +
          '  port:ID|NAME[:rx|tx][/qN]  what DPDK port ID (or the port named NAME) received (rx, at the return of its\n' +
          '               rx burst function) or was handed to send (tx), on every queue or queue N; without :rx/:tx, -Q\n' +
          '               says which (default both). Found in the process\'s rte_eth_fp_ops: no symbols needed\n' +
          '  func@N       argument N (1-6) is one struct rte_mbuf *\n' +
          '  func@N@M     argument N is an array of mbuf pointers, argument M its count (a burst)\n' +
          '  func@N@ret   the array in argument N, read when func returns; the count is its return value (rx bursts)\n' +
          '  lib:func@... or /path/to/object.so:func@...  look only in that object',
      )
      .example('netcap mbuf -f port:0 -e "udp" --pid $(pidof dpdk-testpmd) -w p0.pcapng', 'both directions of port 0, one pcapng interface each')
      .example('netcap mbuf -f port:0:rx,port:1:tx --pid 1234 -c 1000', 'what port 0 received and port 1 sent')
      .example('netcap mbuf -f port:net_af_packet0:rx/q1 --pid 1234', 'queue 1 of a port, by name')
      .example('netcap mbuf --pid 1234 --list', 'the ports, queues and burst functions of a DPDK process')
      .example('netcap mbuf -f l2fwd_simple_forward@1 -e "tcp port 80" --pid 1234', 'a function of the application, one mbuf per call')
      .example('netcap mbuf -f app_process_burst@1@2 -e udp --pid 1234 -w out.pcapng', 'a burst function, written to pcapng')
      .option('pid', { alias: 'p', type: 'number', describe: 'the DPDK process (its executable and every shared object it maps are searched)' })
      .option('binary', { type: 'string', describe: 'the executable or library holding the functions (every process running it is traced unless --pid)' })
      .option('dpdk-version', { type: 'string', describe: 'the DPDK release (YY.MM) whose rte_mbuf and ethdev layouts to use, instead of detecting it' })
      .option('Q', { alias: 'direction', choices: ['in', 'out', 'inout'] as const, describe: 'the direction of port points without :rx/:tx (tcpdump -Q; default inout)' })
      .option('list', { type: 'boolean', default: false, describe: 'print the ports of --pid (id, name, driver, queues, burst functions, probe points) and exit' }),
  // Loaded on use: `netcap --help` and the other commands skip the capture library and the probe builders.
  run: async (args) => {
    /* eslint-disable @typescript-eslint/no-require-imports */
    const { runCaptureCommand } = require('./capture-command') as typeof import('./capture-command');
    const { pidOption } = require('./capture-args') as typeof import('./capture-args');
    /* eslint-enable @typescript-eslint/no-require-imports */
    const pid = pidOption(args);
    if (args.list) {
      if (pid === undefined) throw new UserError('--list needs --pid', 'give the DPDK process, e.g. netcap mbuf --pid $(pidof dpdk-testpmd) --list');
      const { listPorts } = await import('../src/modes/mbuf/port-list');
      process.stdout.write(listPorts(pid, args.dpdkVersion as string | undefined));
      return 0;
    }
    if (args.f === undefined) throw new UserError('no capture points: -f is required', 'e.g. -f port:0 or -f func@1; netcap mbuf --pid PID --list shows the ports');
    return runCaptureCommand(args, (c) => ({
      mode: 'mbuf',
      points: c.points,
      pid,
      binary: args.binary as string | undefined,
      dpdkVersion: args.dpdkVersion as string | undefined,
      direction: args.Q as 'in' | 'out' | 'inout' | undefined,
    }));
  },
};
