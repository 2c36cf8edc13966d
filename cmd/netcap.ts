// netcap's command line: one module per subcommand, one exit path for errors.
// yargs 17, CommonJS: yargs 18 is ESM only and, loaded through require(),
// cost ~50 ms of every start against ~13 ms here (measured on this machine).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import yargs from 'yargs/yargs';
import type { Argv } from 'yargs';
import { UserError, closeNames } from '../src/errors';
import { commands } from './commands';
import { formatExamples, type Command } from './command';
import { startupMark } from '../src/capture/startup-trace';
import { prepareArgv, unknownOptions } from './argv';

startupMark('command line modules loaded');

export async function main(argv: string[]): Promise<number> {
  // Only --verbose: -v is tcpdump's verbosity, given to the decoder.
  const words = untilDashDash(argv);
  const verbose = words.includes('--verbose');
  try {
    if (words.includes('--version')) return printVersion();
    refuseUnknownCommand(argv);
    let code = 0;
    // The command named first runs as the default command of a parser that
    // knows only it: yargs renders a named command's whole help text on
    // every run (to cache it), ~8 ms of every capture's start-up, and skips
    // that for a default command. With --help, or without a command, every
    // command is registered by name, so the help lists them.
    const only = asksForHelp(words) ? undefined : commands.find((c) => commandName(c) === argv[0]);
    let parser = yargs(prepareArgv(only ? argv.slice(1) : argv))
      // Filter words are text ("host 1.10" is not the number 1.1), and the
      // words after -- are the filter's too (tcpdump's way).
      .parserConfiguration({ 'populate--': true, 'parse-numbers': false, 'parse-positional-numbers': false })
      .scriptName(only ? `netcap ${argv[0]}` : 'netcap')
      .usage('netcap <command> [options]\n\nPacket tracer for DPDK functions, kernel tracepoints and interfaces, with tcpdump filters.\nnetcap --version prints the version.')
      .option('verbose', { type: 'boolean', describe: 'show full detail of errors (verifier log, errno, stack)' })
      .strict()
      .help()
      .alias('help', 'h')
      .version(false)
      // Wrapped only when help is asked for: yargs renders the running
      // command's whole help text (to cache it) on every run, and wrapping
      // it to the terminal costs ~5 ms of the start-up of every capture.
      .wrap(asksForHelp(words) ? Math.min(110, process.stdout.columns || 110) : null)
      .fail((msg, err) => {
        if (err) throw err;
        const unknown = /^Unknown arguments?: (.*)$/.exec(msg ?? '');
        if (unknown) throw unknownOptions(unknown[1].split(', '), only ? commandName(only) : undefined, words);
        throw new UserError(msg ?? 'bad arguments', only ? `netcap ${commandName(only)} --help lists its options` : 'netcap --help lists the commands and their options');
      });
    const register = (c: Command, spec: string) =>
      parser.command({ command: spec, describe: c.describe, builder: (y: Argv) => c.builder(y.epilog(formatExamples(c.examples))), handler: async (args) => { code = (await c.run(args)) ?? 0; } });
    if (only) parser = register(only, only.command.replace(/^\S+/, '$0'));
    else {
      if (argv[0] === '-D' || argv[0] === '--list-interfaces') throw unknownOptions(['D'], undefined);
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

/** The words before `--` (after it, everything is the filter's). */
function untilDashDash(argv: string[]): string[] {
  const end = argv.indexOf('--');
  return end < 0 ? argv : argv.slice(0, end);
}

function asksForHelp(words: string[]): boolean {
  return words.includes('--help') || words.includes('-h');
}

/** --version: netcap's, and the kernel it runs on. */
function printVersion(): number {
  // dist/cmd/netcap.js -> the package's package.json.
  const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version: string };
  process.stdout.write(`netcap version ${pkg.version}\nnode ${process.version}, Linux ${os.release()}\n`);
  return 0;
}

/** 'read' of 'read [filter..]'. */
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
  let settled = false;
  // Node exits with status 0 when nothing is left to wait for, even in the
  // middle of an await: never let a capture end that silently.
  process.once('beforeExit', () => {
    if (settled) return;
    process.stderr.write('netcap: internal error: netcap stopped while waiting for something that never came (a bug: please report the command line)\n');
    process.exitCode = 1;
  });
  main(process.argv.slice(2)).then(
    (code) => {
      settled = true;
      process.exitCode = code;
    },
    (e: unknown) => {
      settled = true;
      process.exitCode = reportError(e, true);
    },
  );
}
