// --list (-D) of the capturing commands, loaded only when asked for: the
// capture points a command can use here, printed section by section.
import type { ArgumentsCamelCase } from 'yargs';
import { UserError } from '../src/errors';
import { listSkbPoints } from '../src/modes/skb/list';
import { mbufFunctionSection, type ListingSection } from '../src/modes/mbuf/list';
import { portSection } from '../src/modes/mbuf/port-list';
import { pidOption, refuseRepeated } from './capture-args';
import { requireCaptureCapabilities } from '../src/proc/capabilities';

/** Options that mean nothing for a listing are refused, not ignored. */
function refuseCaptureOptions(args: ArgumentsCamelCase, command: string, allowed: readonly string[]): void {
  refuseRepeated(args);
  const given = ['f', 'e', 'w', 'c', 'i', 'netns', 'S', 'G', 'json', 'duration', 'dryRun'].filter((k) => args[k] !== undefined && args[k] !== false && !allowed.includes(k));
  const words = [...((args.filter as unknown[] | undefined) ?? []), ...((args['--'] as unknown[] | undefined) ?? [])];
  if (given.length || words.length) {
    const what = given.length ? (given[0].length === 1 ? `-${given[0]}` : `--${given[0].replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`) : `"${words.join(' ')}"`;
    throw new UserError(`netcap ${command} --list lists the capture points and exits: ${what} does not apply`, `run the listing alone, then capture with the point you chose`);
  }
}

function print(sections: readonly ListingSection[]): number {
  process.stdout.write(sections.map((s) => [s.title, ...s.lines].join('\n')).join('\n\n') + '\n');
  return 0;
}

export function runSkbList(args: ArgumentsCamelCase): number {
  refuseCaptureOptions(args, 'skb', []);
  // tracefs is root's to read; the points are root's to use.
  requireCaptureCapabilities();
  process.stdout.write(listSkbPoints().join('\n') + '\n');
  return 0;
}

export function runMbufList(args: ArgumentsCamelCase): number {
  refuseCaptureOptions(args, 'mbuf', []);
  const target = { pid: pidOption(args), binary: args.binary as string | undefined };
  // The ports first (what most users look for), then the functions.
  const ports = target.pid !== undefined ? [portSection(target.pid, args.dpdkVersion as string | undefined)] : [];
  return print([...ports, mbufFunctionSection(target)]);
}
