// `netcap xdp`'s work, loaded only when the command runs (cmd/xdp.ts
// describes the command and its options).
import type { ArgumentsCamelCase } from 'yargs';
import { UserError } from '../src/errors';
import { parseCaptureArgs } from './capture-options';
import { runCapture } from '../src/capture/session';
import { startupMark } from '../src/capture/startup-trace';
import { parseActions } from '../src/modes/xdp/actions';
import { describeXdpDryRun, prepareXdpCapture } from '../src/modes/xdp/capture';
import { describeDirectDryRun, parseAt, prepareDirectCapture } from '../src/modes/xdp/direct';

/** The command's run(): options -> prepared hooks (or the direct program) -> --dry-run listing or a session. */
export async function runXdp(args: ArgumentsCamelCase): Promise<number> {
  startupMark('arguments parsed, capture modules loaded');
  const c = parseCaptureArgs(args);
  const hooks = ((args.hook as string[] | undefined) ?? []).map(String);
  const iface = args.i as string | undefined;
  if (iface !== undefined && hooks.length > 0) throw new UserError('-i and --hook are two ways to capture: give one', 'a hook (--hook PATH) works on every kernel; -i needs fentry/fexit on XDP programs');
  if (iface !== undefined) {
    const direct = prepareDirectCapture({ iface, at: parseAt(String(args.at ?? 'exit')), expression: c.expression, snaplen: c.snaplen, ringBytes: c.ringBytes, dryRun: c.dryRun });
    if (c.dryRun || !direct.spec) {
      process.stdout.write(describeDirectDryRun(direct));
      return 0;
    }
    return (await runCapture(direct.spec, c.session)).exitCode;
  }
  if (hooks.length === 0) throw new UserError('netcap xdp needs --hook PATH (or -i IFACE)', 'the pinned xdpcap hook map of the XDP program, e.g. --hook /sys/fs/bpf/lb/xdpcap_hook');
  const capture = await prepareXdpCapture({
    hooks,
    actions: parseActions(args.actions as string | undefined),
    expression: c.expression,
    snaplen: c.snaplen,
    ringBytes: c.ringBytes,
    force: Boolean(args.force),
    dryRun: c.dryRun,
  });
  startupMark('programs loaded (hooks checked, filter, maps, programs, watchdog)');
  if (c.dryRun) {
    try {
      process.stdout.write(describeXdpDryRun(capture));
    } finally {
      capture.close();
    }
    return 0;
  }
  // Each packet's verdict rides in its metadata: decoded on stdout it needs
  // the built-in decoder with --meta (tcpdump cannot print it); files carry
  // it as epb_verdict. The counters go on a status line of their own, in
  // xdpcap's shape (src/modes/xdp/status.ts).
  const session = { ...c.session, status: false };
  if (!session.json && (session.writeFile === undefined || session.print)) {
    session.noTcpdump = true;
    session.meta = true;
  }
  const result = await runCapture(capture.spec, session);
  process.stderr.write(capture.summary(result.perPoint));
  for (const note of capture.restoreNotes()) process.stderr.write(`netcap: note: ${note}\n`);
  return result.exitCode;
}
