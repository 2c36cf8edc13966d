// `netcap raw`: packets handed to a function as a data pointer and a length
// (AF_XDP programs, custom stacks), read through uprobes.
import type { Argv } from 'yargs';
import type { Command } from './command';
import { captureOptions } from './capture-options';

export const rawCommand: Command = {
  command: 'raw',
  describe: 'capture packets passed as (data, length) to functions of a running process',
  builder: (y: Argv) =>
    captureOptions(y)
      .usage(
        'netcap raw -f POINTS [-e EXPR] (--pid PID | --binary PATH [--pid PID]) [options]\n\n' +
          'Points (-f, comma-separated):\n' +
          '  func@N@M     argument N points to the packet (starting with its Ethernet header), argument M is its length\n' +
          '  lib:func@N@M or /path/to/object.so:func@N@M  look only in that object',
      )
      .example('netcap raw -f app_raw@1@2 -e icmp --pid 1234', 'func(const char *data, uint32_t len)')
      .option('pid', { alias: 'p', type: 'number', describe: 'the process (its executable and every shared object it maps are searched)' })
      .option('binary', { type: 'string', describe: 'the executable or library holding the functions (every process running it is traced unless --pid)' }),
  // Loaded on use: `netcap --help` and the other commands skip the capture library and the probe builders.
  run: (args) => {
    /* eslint-disable @typescript-eslint/no-require-imports */
    const { runCaptureCommand } = require('./capture-command') as typeof import('./capture-command');
    const { pidOption } = require('./capture-args') as typeof import('./capture-args');
    /* eslint-enable @typescript-eslint/no-require-imports */
    return runCaptureCommand(args, (c) => ({ mode: 'raw', points: c.points, pid: pidOption(args), binary: args.binary as string | undefined, }));
  },
};
