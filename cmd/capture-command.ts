// The run() every capturing command shares (mbuf, raw, skb, iface), loaded only
// when one runs: options -> a capture from the library (src/index.ts) ->
// --dry-run listing, or outputs, signals, the readiness line, the status
// line, the summary and the exit status. The library does the capturing;
// everything a person at a terminal sees is decided here.
//
// Exit status: 0 (also when the reader of stdout went away: `| head` ends
// the capture with its summary, as tcpdump stops quietly on SIGPIPE);
// EXIT_PACKETS_LOST (3) when the ring was full for some matched packets (so
// scripts notice), unless --loss-ok; 2 for bad input (UserError, thrown
// before anything is attached) and for an output that failed (a full disk,
// tcpdump gone), after the summary; 1 for an internal error.
import type { ArgumentsCamelCase } from 'yargs';
import { openCapture, openOutputs, type Capture, type CaptureDirection, type CaptureResult, type ModeSpec } from '../src/index';
import { UserError } from '../src/errors';
import { startupMark } from '../src/capture/startup-trace';
import { parseCaptureArgs, type CaptureArgs } from './capture-args';
import { formatSummary } from './summary';
import { StatusLine } from './status-line';

export const EXIT_PACKETS_LOST = 3;
const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/** Runs one capturing command (`command`: its name, for messages): `modeOf` turns the parsed arguments into the mode's options (and the first direction, for a mode that has one). */
export async function runCaptureCommand(args: ArgumentsCamelCase, command: string, modeOf: (c: CaptureArgs) => ModeSpec & { direction?: CaptureDirection }, opts: { ownPoints?: boolean } = {}): Promise<number> {
  // yargs may render the command's help text (to cache it) right after the
  // handler returns its promise, synchronously: ~8 ms of string-width work
  // (cmd/netcap.ts avoids it when the command is the first word). Let it
  // happen first, so nothing blocks the event loop between "listening on"
  // and the ring's first records.
  startupMark('arguments parsed, capture modules loaded');
  await new Promise<void>((resolve) => setImmediate(resolve));
  startupMark('yargs finished');
  const c = parseCaptureArgs(args, command, opts);
  const capture = openCapture({ ...modeOf(c), filter: c.expression, snaplen: c.snaplen, ringBytes: c.ringBytes, count: c.count, flushEachBatch: c.flushEachBatch, immediate: c.immediate });
  startupMark('programs loaded');
  for (const note of capture.mode.notes) process.stderr.write(`netcap: note: ${note}\n`);
  capture.mode.onMessage?.((line) => void process.stderr.write(`netcap: ${line}\n`));
  capture.on('note', (note) => process.stderr.write(`netcap: note: ${note}\n`));
  if (c.dryRun) {
    try {
      process.stdout.write(capture.describe());
    } finally {
      await capture.stop('dry-run');
    }
    return 0;
  }
  try {
    // Outputs before anything is attached: a bad -w path or -t flag fails with nothing attached.
    for (const sink of openOutputs({ ...c.output, metadataOnStdout: capture.mode.metadataOnStdout }, capture.interfaces)) capture.addOutput(sink);
    startupMark('outputs open');
  } catch (e) {
    await capture.stop('error');
    throw e;
  }
  return runToEnd(capture, c);
}

/** Starts the capture and waits for its end: -c, a signal, --duration, the traced point vanishing, an output ending it, or an error. */
async function runToEnd(capture: Capture, c: CaptureArgs): Promise<number> {
  let stopping = false;
  const onSignal = (sig: NodeJS.Signals) => {
    // A second signal: stop waiting for slow outputs.
    if (stopping) return capture.abortOutputs();
    stopping = true;
    void capture.stop(`signal ${sig}`);
  };
  for (const sig of SIGNALS) process.on(sig, onSignal);
  let status: StatusLine | undefined;
  let duration: NodeJS.Timeout | undefined;
  try {
    await capture.start();
    process.stderr.write(`netcap: listening on ${capture.mode.readiness}, snaplen ${c.snaplen}${c.expression ? `, filter "${c.expression}"` : ''}\n`);
    if (c.durationMs !== undefined) duration = setTimeout(() => void capture.stop('duration'), c.durationMs);
    if (StatusLine.wanted(process.stderr)) {
      const text = capture.mode.statusText?.bind(capture.mode);
      status = new StatusLine(process.stderr, () => capture.mode.points.map((p) => p.name), () => capture.stats(), { captured: () => capture.stats().reduce((n, p) => n + Number(p.captured), 0), ...(text ? { text } : {}) }).start();
    }
    const result = await capture.ended;
    status?.stop();
    return finish(capture, c, result);
  } finally {
    clearTimeout(duration);
    status?.stop();
    for (const sig of SIGNALS) process.off(sig, onSignal);
  }
}

function finish(capture: Capture, c: CaptureArgs, result: CaptureResult): number {
  if (result.reason === 'vanished') process.stderr.write(`netcap: ${result.message}; capture ended\n`);
  if (result.reason === 'output-closed') process.stderr.write('netcap: the reader of stdout went away; capture ended\n');
  if (result.reason === 'file-limit') process.stderr.write('netcap: maximum file limit reached (--rotate-seconds with -W)\n');
  process.stderr.write(formatSummary(capture.mode.points.map((p) => p.name), result.perPoint, result.captured));
  const lines = (l: readonly string[]) => l.map((x) => `${x}\n`).join('');
  process.stderr.write(lines(capture.mode.report?.(result.perPoint) ?? []));
  const results = capture.mode.results?.();
  if (results) (c.output.writeFile === '-' ? process.stderr : process.stdout).write(lines(results));
  if (result.failure !== undefined) return reportFailure(result.failure);
  const lost = result.perPoint.some((p) => p.lost > 0n);
  return lost && !c.lossOk ? EXIT_PACKETS_LOST : 0;
}

function reportFailure(e: unknown): number {
  const err = e as Error & { hint?: string };
  process.stderr.write(`netcap: ${err?.message ?? String(e)}\n`);
  if (err?.hint) process.stderr.write(`  ${err.hint}\n`);
  return e instanceof UserError ? e.exitCode : 1;
}
