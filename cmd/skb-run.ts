// `netcap skb`'s work, loaded only when the command runs (cmd/skb.ts
// describes the command and its options).
import type { ArgumentsCamelCase } from 'yargs';
import { UserError } from '../src/errors';
import { parseCaptureArgs } from './capture-options';
import { runCapture } from '../src/capture/session';
import { fileFormat } from '../src/capture/sinks';
import { describeSkbDryRun, prepareSkbCapture } from '../probes/skb-session';
import { startupMark } from '../src/capture/startup-trace';

/** The most bytes the content key hashes: the hash is unrolled in the program, one load per byte. */
const MAX_GATHER_BYTES = 128;

function gatherBytes(v: unknown): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 4 || n > MAX_GATHER_BYTES) {
    throw new UserError(`--gather-bytes ${String(v)}: not a whole number between 4 and ${MAX_GATHER_BYTES}`, 'e.g. --gather-bytes 48 (IPv4 addresses, ports and the start of the payload)');
  }
  return n;
}

/** The command's run(): options -> prepared skb capture -> --dry-run listing or a session. */
export async function runSkb(args: ArgumentsCamelCase): Promise<number> {
  startupMark('arguments parsed, capture modules loaded');
  const c = parseCaptureArgs(args);
  const stacks = Boolean(args.S);
  const byContent = args.gatherByContent ? gatherBytes(args.gatherBytes) : undefined;
  const gather = Boolean(args.G) || byContent !== undefined;
  const capture = prepareSkbCapture({
    points: c.points,
    expression: c.expression,
    snaplen: c.snaplen,
    ringBytes: c.ringBytes,
    iface: args.i as string | undefined,
    netns: args.netns as string | undefined,
    stacks,
    gather,
    gatherByContent: byContent,
    // pcapng can hold a link type per interface: packets without a MAC header go there as raw IP.
    rawInterfaces: c.session.writeFile !== undefined && fileFormat(c.session) === 'pcapng',
  });
  startupMark('programs loaded (kernel BTF, filter, maps, programs)');
  if (capture.capture.filterNote) process.stderr.write(`netcap: note: ${capture.capture.filterNote}\n`);
  if (c.dryRun) {
    try {
      process.stdout.write(describeSkbDryRun(capture));
    } finally {
      capture.close();
    }
    return 0;
  }
  // Stacks, drop reasons and gather annotations ride in each packet's
  // metadata: decoded on stdout they need the built-in decoder with --meta
  // (tcpdump cannot print them); files carry them as pcapng comments.
  const session = { ...c.session };
  const metadataMatters = stacks || gather || capture.points.some((p) => p.reason !== undefined);
  if (metadataMatters && !session.json && (session.writeFile === undefined || session.print)) {
    session.noTcpdump = true;
    session.meta = true;
  }
  const result = await runCapture(capture.spec, session);
  if (capture.gather) {
    const lines = capture.gather.lines();
    const out = session.writeFile === '-' ? process.stderr : process.stdout;
    out.write(`gather: ${lines.length} packet${lines.length === 1 ? '' : 's'}\n${lines.map((l) => `  ${l}\n`).join('')}`);
  }
  return result.exitCode;
}
