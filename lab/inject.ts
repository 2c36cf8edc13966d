// TypeScript side of lab/inject.c: send frames out of an interface in a
// namespace, and collect frames that arrive on one.
import type { ChildProcess } from 'node:child_process';
import type { Namespace } from './netns';
import { injectorPath } from './tools';

export interface InjectOptions {
  /** Frames per second (paced by the tool with clock_nanosleep); unpaced when absent. */
  rate?: number;
  /** Send the whole list this many times (default 1). */
  repeat?: number;
  /** Send exactly this many frames, cycling through the list (overrides repeat). */
  count?: number;
  /** Stop after this many milliseconds whatever is left. */
  durationMs?: number;
  /** Kill the tool if it has not finished after this long (default 60 s). */
  timeoutMs?: number;
}

interface Finished {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function collect(child: ChildProcess, onLine?: (line: string) => void): Promise<Finished> {
  let stdout = '';
  let stderr = '';
  let pending = '';
  child.stdout?.setEncoding('utf8');
  child.stderr?.setEncoding('utf8');
  child.stdout?.on('data', (chunk: string) => {
    stdout += chunk;
    if (!onLine) return;
    pending += chunk;
    let nl;
    while ((nl = pending.indexOf('\n')) >= 0) {
      onLine(pending.slice(0, nl));
      pending = pending.slice(nl + 1);
    }
  });
  child.stderr?.on('data', (chunk: string) => (stderr += chunk));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

function counter(stdout: string, word: string): number {
  const m = new RegExp(`^${word} (\\d+)$`, 'm').exec(stdout);
  return m ? Number(m[1]) : NaN;
}

/**
 * Sends `frames` out of `ifname` inside `ns` through an AF_PACKET socket
 * bound to it. Resolves with the number of frames the kernel accepted;
 * rejects if any send failed.
 */
export async function inject(ns: Namespace, ifname: string, frames: Buffer[], opts: InjectOptions = {}): Promise<number> {
  if (frames.length === 0) throw new Error('inject: no frames given');
  const args = [injectorPath(), 'send', '-i', ifname, '-x'];
  if (opts.repeat !== undefined) args.push('-r', String(opts.repeat));
  if (opts.count !== undefined) args.push('-c', String(opts.count));
  if (opts.rate !== undefined) args.push('-R', String(opts.rate));
  if (opts.durationMs !== undefined) args.push('-d', String(opts.durationMs));
  return runSender(ns, args, frames.map((f) => f.toString('hex')).join('\n') + '\n', opts.timeoutMs);
}

/** Sends the frames of a classic pcap file (Ethernet) out of `ifname`. */
export async function injectPcap(ns: Namespace, ifname: string, pcapFile: string, opts: InjectOptions = {}): Promise<number> {
  const args = [injectorPath(), 'send', '-i', ifname, '-f', pcapFile];
  if (opts.repeat !== undefined) args.push('-r', String(opts.repeat));
  if (opts.count !== undefined) args.push('-c', String(opts.count));
  if (opts.rate !== undefined) args.push('-R', String(opts.rate));
  if (opts.durationMs !== undefined) args.push('-d', String(opts.durationMs));
  return runSender(ns, args, undefined, opts.timeoutMs);
}

async function runSender(ns: Namespace, args: string[], input: string | undefined, timeoutMs = 60_000): Promise<number> {
  const child = ns.spawn(args, { stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
  const done = collect(child);
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  if (input !== undefined) child.stdin?.end(input);
  const r = await done.finally(() => clearTimeout(timer));
  const sent = counter(r.stdout, 'sent');
  if (r.code !== 0 || Number.isNaN(sent)) {
    throw new Error(`inject on ${ns.name}/${args[3]} failed (${r.signal ?? `status ${r.code}`}): ${r.stderr.trim() || r.stdout.trim()}`);
  }
  return sent;
}

export interface ReceiveOptions {
  /** Stop after this many milliseconds (default 5000). */
  durationMs?: number;
  /** Stop as soon as this many frames arrived. */
  max?: number;
  /** Keep the frames' bytes (default true); false only counts them (for rates). */
  keepFrames?: boolean;
  /** Also write a pcap file of what arrived (absolute path). */
  pcapFile?: string;
}

export interface Received {
  count: number;
  /** Empty when keepFrames was false. */
  frames: Buffer[];
}

/** A running receiver: the socket is bound, so every frame arriving from now on is seen. */
export interface Receiver {
  /** Frames received so far (grows while the receiver runs; empty when keepFrames is false). */
  readonly frames: readonly Buffer[];
  /** Resolves when the receiver ends (max frames, duration, or stop()). */
  readonly done: Promise<Received>;
  /** Ends it now and resolves with what arrived so far. */
  stop(): Promise<Received>;
}

/**
 * Starts collecting frames that arrive on `ifname` in `ns` (frames the host
 * sends out of it are not counted). Resolves once the socket is bound.
 */
export async function receive(ns: Namespace, ifname: string, opts: ReceiveOptions = {}): Promise<Receiver> {
  const keep = opts.keepFrames ?? true;
  const args = [injectorPath(), 'recv', '-i', ifname, '-d', String(opts.durationMs ?? 5000)];
  if (opts.max !== undefined) args.push('-n', String(opts.max));
  if (keep) args.push('-x');
  if (opts.pcapFile) args.push('-w', opts.pcapFile);
  const child = ns.spawn(args);
  const frames: Buffer[] = [];
  let markReady: () => void = () => {};
  const ready = new Promise<void>((resolve) => (markReady = resolve));
  const finished = collect(child, (line) => {
    if (line === 'ready') markReady();
    else if (line.startsWith('frame ')) frames.push(Buffer.from(line.slice(6), 'hex'));
  });
  const done = finished.then((r) => {
    const count = counter(r.stdout, 'received');
    if (Number.isNaN(count)) {
      throw new Error(`receiver on ${ns.name}/${ifname} failed (${r.signal ?? `status ${r.code}`}): ${r.stderr.trim()}`);
    }
    return { count, frames };
  });
  // A caller that only uses stop() still sees the error; this only keeps an
  // unobserved failure from becoming an unhandled rejection.
  done.catch(() => {});
  // Whichever comes first: ready, or an early exit (bad interface name...).
  await Promise.race([ready, done]);
  return {
    frames,
    done,
    stop: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return done;
    },
  };
}
