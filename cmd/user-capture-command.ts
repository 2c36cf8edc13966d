// The run() both user-space modes share: options -> prepared capture ->
// --dry-run listing or a session. cmd/mbuf.ts and cmd/raw.ts only describe
// their forms and options.
import type { ArgumentsCamelCase } from 'yargs';
import { UserError } from '../src/errors';
import { describeDryRun, prepareUserCapture } from '../src/capture/user-capture';
import { runCapture } from '../src/capture/session';
import { parseCaptureArgs } from './capture-options';
import { startupMark } from '../src/capture/startup-trace';

export async function runUserCapture(mode: 'mbuf' | 'raw', args: ArgumentsCamelCase): Promise<number> {
  // yargs may render the command's help text (to cache it) right after the
  // handler returns its promise, synchronously: ~8 ms of string-width work
  // (cmd/netcap.ts avoids it when the command is the first word). Let it
  // happen first, so nothing blocks the event loop between "listening on"
  // and the ring's first records.
  startupMark('arguments parsed, capture modules loaded');
  await new Promise<void>((resolve) => setImmediate(resolve));
  startupMark('yargs finished');
  const c = parseCaptureArgs(args);
  const pid = args.pid === undefined ? undefined : Number(args.pid);
  if (pid !== undefined && (!Number.isInteger(pid) || pid < 1)) throw new UserError(`--pid ${String(args.pid)}: not a process id`, 'give a positive number, e.g. --pid $(pidof l2fwd)');
  const capture = prepareUserCapture({
    mode,
    points: c.points,
    expression: c.expression,
    snaplen: c.snaplen,
    ringBytes: c.ringBytes,
    pid,
    binary: args.binary as string | undefined,
    dpdkVersion: args.dpdkVersion as string | undefined,
  });
  if (c.dryRun) {
    try {
      process.stdout.write(describeDryRun(capture));
    } finally {
      capture.close();
    }
    return 0;
  }
  startupMark('programs loaded');
  const result = await runCapture(capture.spec, c.session);
  return result.exitCode;
}
