// The shape of a subcommand module: yargs' builder plus a run() that returns
// the exit status (UserError for bad input, thrown), and the examples its
// --help shows (a test runs every one as shown).
import type { Argv, ArgumentsCamelCase } from 'yargs';

export interface Example {
  /** The command line, as a user types it ("netcap skb -f ... icmp"). */
  command: string;
  describe: string;
}

export interface Command {
  command: string;
  describe: string;
  builder: (y: Argv) => Argv;
  run: (args: ArgumentsCamelCase) => number | void | Promise<number | void>;
  examples: readonly Example[];
}

/** The examples as --help prints them: each command line whole (never wrapped into columns), its meaning below. */
export function formatExamples(examples: readonly Example[]): string {
  return ['Examples:', ...examples.map((e) => `  ${e.command}\n      ${e.describe}`), ''].join('\n');
}
