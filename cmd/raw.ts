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
  // Loaded on use: `netcap --help` and the other commands skip the probe builders.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  run: (args) => (require('./user-capture-command') as typeof import('./user-capture-command')).runUserCapture('raw', args),
};
