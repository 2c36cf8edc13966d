// tcpdump users' habits on netcap's command line: the words are looked at
// before yargs parses them (up to `--`), so a habit that means something
// else here is an error that says what to write instead, never a silent
// change of meaning.
//
// - `-t FLAGS` takes a value that is itself flags ("-t -X"): joined into
//   `-t=-X` so yargs does not read it as options.
// - netcap's -e is the filter (the original netcap's, kept), tcpdump's -e
//   prints link-level headers: `-e` with no value, `-e -X`, or `-nne` is
//   refused with the difference explained. A value that is no flag but
//   starts with '-' (an expression such as "-1 < len"... ) is taken.
// - tcpdump's -G N (rotate) is --rotate-seconds N here (-G is skb's gather);
//   -tttt belongs in -t.
// Options no command knows are named with what to use instead when they are
// tcpdump's (unknownOptions).
import { UserError } from '../src/errors';

const FLAG_STRING_OPTIONS = new Set(['-t', '--tcpdump-flags']);
const EXPRESSION_OPTIONS = new Set(['-e', '--expression']);
const TCPDUMP_E = "tcpdump's -e (print link-level headers) is -t -e here, e.g. -t '-e'";

/** The command's words, checked for tcpdump habits and made ready for yargs. */
export function prepareArgv(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const word = argv[i];
    const next = argv[i + 1];
    if (word === '--') {
      out.push(...argv.slice(i));
      break;
    }
    if (FLAG_STRING_OPTIONS.has(word)) {
      if (next === undefined) throw new UserError(`${word} needs tcpdump's flags`, `e.g. ${word} "-e -X"`);
      if (next.startsWith('-')) {
        out.push(`${word}=${next}`);
        i++;
        continue;
      }
    } else if (EXPRESSION_OPTIONS.has(word)) {
      if (next === undefined) throw new UserError(`${word} needs the filter expression: netcap's ${word} is the filter`, `e.g. ${word} "tcp port 80", or the filter after the options; ${TCPDUMP_E}`);
      // One word that looks like a flag; "-len < 0" is an expression.
      if (/^--?[A-Za-z#][\w#-]*(=\S*)?$/.test(next)) {
        throw new UserError(`${word} ${next}: netcap's ${word} takes the filter expression, and ${next} is a flag`, `${TCPDUMP_E}; give the filter as ${word} "EXPR" or after the options`);
      }
      if (next.startsWith('-')) {
        out.push(`${word}=${next}`);
        i++;
        continue;
      }
    } else if (/^-[A-Za-z]*e[A-Za-z]*$/.test(word) && word.length > 2) {
      throw new UserError(`${word}: in netcap -e takes the filter expression, so it cannot be grouped with other flags`, `${TCPDUMP_E.replace("-t '-e'", `-t '${word}'`)}`);
    } else if (word === '-G' && next !== undefined && /^\d+$/.test(next)) {
      throw new UserError(`-G ${next}: tcpdump's -G (a new file every ${next} seconds) is --rotate-seconds ${next} here`, "netcap's -G is netcap skb's --gather, which takes no number");
    } else if (/^-t{2,5}$/.test(word)) {
      throw new UserError(`${word}: in netcap -t takes tcpdump's flags, so tcpdump's ${word} goes inside it`, `write -t ${word} (or -t "-nn ${word}")`);
    }
    out.push(word);
  }
  return out;
}

// tcpdump's flags that no netcap command has, and what to use instead.
const DECODING_LETTERS = 'abEfHIjJKLMNTuyY#';
const TCPDUMP_HINTS: Record<string, string> = {
  G: "tcpdump's -G (a new file every N seconds) is --rotate-seconds N here",
  r: 'netcap read -r FILE reads capture files',
  V: 'netcap read -r takes one file at a time',
  F: 'give the filter with -e "$(cat FILE)" or after the options',
  B: 'the ring buffer is --ring-size MiB',
  p: 'netcap never puts an interface into promiscuous mode: leave -p out',
  S: "in netcap -S is netcap skb's --stack; tcpdump's -S (absolute TCP sequence numbers) goes in -t: -t -S",
  d: 'netcap compile -e EXPR --emit cbpf prints the filter as tcpdump -d does',
  O: 'netcap compile -O shows the filter without the optimizer',
  Z: 'netcap drops no privileges: leave -Z out',
  z: 'netcap runs no command after rotation',
  i: "the interface is netcap skb's -i; netcap mbuf and raw capture inside a process (choose functions with -f, see --list)",
  Q: "the direction is -Q of netcap's capturing commands (mbuf, raw, skb)",
  D: 'netcap skb --list lists the kernel\'s capture points, netcap mbuf --pid PID --list the functions of a DPDK process',
  nano: 'write --time-stamp-precision nano (pcap files), or -t --nano for printed times',
  micro: 'write --time-stamp-precision micro',
  'buffer-size': 'the ring buffer is --ring-size MiB',
  'list-interfaces': "netcap skb --list lists the kernel's capture points",
  number: 'tcpdump decoding flags go in -t: -t --number',
};

/**
 * An error for options the command does not know: what to use instead when
 * they are tcpdump's, and the command's own help. `names` are yargs' (no dashes).
 */
export function unknownOptions(given: readonly string[], command: string | undefined, argv: readonly string[] = []): UserError {
  const help = command ? `netcap ${command} --help lists its options` : 'netcap --help lists the commands and their options';
  // yargs names each unknown option twice (kebab and camel case) and reads --no-x as x.
  const names = given.filter((n) => !/[A-Z]/.test(n) || n.length === 1 || !given.includes(n.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)));
  const flag = (n: string) => (n.length === 1 ? `-${n}` : argv.some((w) => w === `--no-${n}` || w.startsWith(`--no-${n}=`)) ? `--no-${n}` : `--${n}`);
  for (const n of names) {
    const hint = TCPDUMP_HINTS[n] ?? (n.length === 1 && DECODING_LETTERS.includes(n) ? `tcpdump's decoding flags go in -t, e.g. -t '-nn -${n}'` : undefined);
    if (hint) return new UserError(`${flag(n)} is tcpdump's, and ${command ? `netcap ${command}` : 'netcap'} has no such option`, `${hint}; ${help}`);
  }
  return new UserError(`unknown option${names.length > 1 ? 's' : ''} ${names.map(flag).join(', ')}${command ? ` for netcap ${command}` : ''}`, help);
}
