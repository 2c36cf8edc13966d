// Every subcommand, in the order `netcap --help` lists them.
import type { Command } from './command';

export const commands: Command[] = [];
