// The shape of a subcommand module: yargs' builder plus a run() that returns
// the exit status (UserError for bad input, thrown).
import type { Argv, ArgumentsCamelCase } from 'yargs';

export interface Command {
  command: string;
  describe: string;
  builder: (y: Argv) => Argv;
  run: (args: ArgumentsCamelCase) => number | void | Promise<number | void>;
}
