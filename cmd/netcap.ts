// netcap's command line: one module per subcommand, one exit path for errors.
// yargs 17, CommonJS: yargs 18 is ESM only and, loaded through require(),
// cost ~50 ms of every start against ~13 ms here (measured on this machine).
import yargs from 'yargs/yargs';
import { UserError, closeNames } from '../src/errors';
import { commands } from './commands';
import type { Command } from './command';
import { startupMark } from '../src/capture/startup-trace';

startupMark('command line modules loaded');

export async function main(argv: string[]): Promise<number> {
  // Only --verbose: -v is no option of netcap's, and may be a tcpdump flag in -t's value.
  const verbose = argv.includes('--verbose');
  try {
    refuseUnknownCommand(argv);
    let code = 0;
    // The command named first runs as the default command of a parser that
    // knows only it: yargs renders a named command's whole help text on
    // every run (to cache it), ~8 ms of every capture's start-up, and skips
    // that for a default command. With --help, or without a command, every
    // command is registered by name, so the help lists them.
    const only = asksForHelp(argv) ? undefined : commands.find((c) => commandName(c) === argv[0]);
    let parser = yargs(joinFlagValues(only ? argv.slice(1) : argv))
      .scriptName(only ? `netcap ${argv[0]}` : 'netcap')
      .usage('netcap <command> [options]\n\nPacket tracer for DPDK functions, kernel tracepoints and interfaces, with tcpdump filters.')
      .option('verbose', { type: 'boolean', describe: 'show full detail of errors (verifier log, errno, stack)' })
      .strict()
      .help()
      .alias('help', 'h')
      .version(false)
      // Wrapped only when help is asked for: yargs renders the running
      // command's whole help text (to cache it) on every run, and wrapping
      // it to the terminal costs ~5 ms of the start-up of every capture.
      .wrap(asksForHelp(argv) ? Math.min(110, process.stdout.columns || 110) : null)
      .fail((msg, err) => {
        throw err ?? new UserError(msg ?? 'bad arguments', 'netcap --help lists the commands and their options');
      });
    const register = (c: Command, spec: string) => parser.command({ ...c, command: spec, handler: async (args) => { code = (await c.run(args)) ?? 0; } });
    if (only) parser = register(only, only.command.replace(/^\S+/, '$0'));
    else {
      parser = parser.demandCommand(1, 'name a command: netcap --help lists them').recommendCommands();
      for (const c of commands) parser = register(c, c.command);
    }
    startupMark('parser built');
    await parser.parseAsync();
    return code;
  } catch (e) {
    return reportError(e, verbose);
  }
}

function asksForHelp(argv: string[]): boolean {
  return argv.includes('--help') || argv.includes('-h');
}

// Options whose value is itself a flag string (-t "-nn -e"): yargs would
// parse that value as options, so `-t VALUE` becomes `-t=VALUE` first.
const FLAG_STRING_OPTIONS = new Set(['-t', '--tcpdump-flags']);

function joinFlagValues(argv: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (FLAG_STRING_OPTIONS.has(argv[i]) && i + 1 < argv.length && argv[i + 1].startsWith('-')) {
      out.push(`${argv[i]}=${argv[i + 1]}`);
      i++;
    } else out.push(argv[i]);
  }
  return out;
}

/** 'read' of 'read [expression..]'. */
function commandName(c: Command): string {
  return c.command.split(' ')[0];
}

/** yargs alone answers a typo with just "Did you mean raw?": name the word first. */
function refuseUnknownCommand(argv: string[]): void {
  const word = argv[0];
  if (word === undefined || word.startsWith('-')) return;
  const names = commands.map(commandName);
  if (names.includes(word)) return;
  const close = closeNames(word, names, 3);
  throw new UserError(
    `unknown command "${word}"`,
    `${close.length ? `did you mean ${close.join(', ')}? ` : ''}netcap --help lists the commands: ${names.join(', ')}`,
  );
}

export function reportError(e: unknown, verbose: boolean): number {
  if (e instanceof UserError) {
    process.stderr.write(`netcap: ${e.message}\n`);
    if (e.hint) process.stderr.write(`  ${e.hint}\n`);
    if (verbose && e.detail) process.stderr.write(`${e.detail}\n`);
    else if (e.detail) process.stderr.write('  (run with --verbose for the full detail)\n');
    return e.exitCode;
  }
  const err = e as Error;
  process.stderr.write(`netcap: ${err?.message ?? String(e)}\n`);
  if (verbose && err?.stack) process.stderr.write(`${err.stack}\n`);
  else process.stderr.write('  (run with --verbose for the full detail)\n');
  return 1;
}

/** Entry point for bin/netcap: runs with process.argv and sets the exit status. */
export function cli(): void {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      process.exitCode = reportError(e, true);
    },
  );
}
