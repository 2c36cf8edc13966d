// `netcap raw`: packets handed to a function as a data pointer and a length
// (AF_XDP programs, custom stacks), read through uprobes.
import type { Argv } from 'yargs';
import { UserError } from '../src/errors';
import type { Command } from './command';
import { captureOptions, FILTER_USAGE } from './capture-options';

export const rawCommand: Command = {
  command: 'raw [filter..]',
  describe: 'capture packets passed as (data, length) to functions of a running process',
  builder: (y: Argv) =>
    captureOptions(y)
      .usage(
        `netcap raw -f POINTS ${FILTER_USAGE} (--pid PID | --binary PATH [--pid PID]) [options]\n\n` +
          'Points (-f, comma-separated):\n' +
          '  func@N@M     argument N points to the packet (starting with its Ethernet header), argument M is its length\n' +
          '  lib:func@N@M or /path/to/object.so:func@N@M  look only in that object',
      )
      .option('pid', { alias: 'p', type: 'string', describe: 'the process (its executable and every shared object it maps are searched)' })
      .option('binary', { type: 'string', describe: 'the executable or library holding the functions (every process running it is traced; with --pid, that object of the process)' }),
  examples: [
    { command: 'netcap raw -f app_raw@1@2 --pid 1234 icmp', describe: 'func(const char *data, uint32_t len)' },
  ],
  // Loaded on use: `netcap --help` and the other commands skip the capture library and the probe builders.
  run: (args) => {
    if (args.D) throw new UserError('netcap raw has no listing: its points are any func(data, len)', 'nm or readelf -s list the functions; netcap mbuf --pid PID --list lists those taking mbufs');
    /* eslint-disable @typescript-eslint/no-require-imports */
    const { runCaptureCommand } = require('./capture-command') as typeof import('./capture-command');
    const { pidOption, refuseDirection } = require('./capture-args') as typeof import('./capture-args');
    /* eslint-enable @typescript-eslint/no-require-imports */
    return runCaptureCommand(args, 'raw', (c) => {
      refuseDirection(c, 'raw');
      return { mode: 'raw', points: c.points, pid: pidOption(args), binary: args.binary as string | undefined };
    });
  },
};
