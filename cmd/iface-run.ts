// `netcap iface`'s work, loaded only when the command runs (cmd/iface.ts
// describes the command and its options).
import type { ArgumentsCamelCase } from 'yargs';
import { parseCaptureArgs } from './capture-options';
import { runCapture } from '../src/capture/session';
import { startupMark } from '../src/capture/startup-trace';
import type { TcPosition } from '../src/bpf/link/tc';
import { prepareIfaceCapture, type TcMechanismChoice } from '../src/modes/iface/capture';
import { describeIfaceDryRun } from '../src/modes/iface/dry-run';

/** The command's run(): options -> prepared interface capture -> --dry-run listing or a session. */
export async function runIface(args: ArgumentsCamelCase): Promise<number> {
  startupMark('arguments parsed, capture modules loaded');
  const c = parseCaptureArgs(args);
  const position = args.position as TcPosition | undefined;
  const capture = prepareIfaceCapture({
    interfaces: String(args.i ?? ''),
    direction: args.Q as string | undefined,
    netns: args.netns as string | undefined,
    expression: c.expression,
    snaplen: c.snaplen,
    ringBytes: c.ringBytes,
    position,
    mechanism: args.hook as TcMechanismChoice | undefined,
  });
  startupMark('programs loaded (filter, maps, programs)');
  if (c.dryRun) {
    try {
      process.stdout.write(describeIfaceDryRun(capture, position));
    } finally {
      capture.close();
    }
    return 0;
  }
  return (await runCapture(capture.spec, c.session)).exitCode;
}
