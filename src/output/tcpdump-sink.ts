// Hands packets to tcpdump for decoding: `tcpdump -r - <user flags>` reads a
// pcap stream on its stdin. The flags come from the user's -t string, split
// into words here (no shell ever sees them) and checked so that they can
// only change how tcpdump prints, not what it reads, writes or runs.
import { spawn, type ChildProcess } from 'node:child_process';
import type { Writable } from 'node:stream';
import { UserError } from '../errors';
import type { CapturedPacket } from './packet';
import { PcapWriter } from './pcap-writer';
import { splitShellWords } from './shell-words';

export interface TcpdumpSinkOptions {
  linktype: number;
  snaplen: number;
  /** The -t string, e.g. "-nn -e -X"; default "-nn". */
  flags?: string;
  /** Where tcpdump's output goes; default our stdout. */
  stdout?: Writable;
  /** Where tcpdump's diagnostics go ("reading from file -, link-type ..."); default our stderr; null drops them. */
  stderr?: Writable | null;
  /** The tcpdump binary; default "tcpdump" from PATH. */
  binary?: string;
}

// tcpdump options that would read another source, write files, run a
// command (-z runs a program after rotation), filter or count on their own,
// or print something else and exit: not for a decoding pipe.
const FORBIDDEN = new Map<string, string>([
  ['r', 'netcap feeds tcpdump itself'],
  ['V', 'netcap feeds tcpdump itself'],
  ['i', 'netcap feeds tcpdump itself'],
  ['w', 'use netcap -w to write files'],
  ['C', 'use netcap -w to write files'],
  ['G', 'use netcap -w to write files'],
  ['W', 'use netcap -w to write files'],
  ['z', 'it runs a command'],
  ['Z', 'netcap does not hand privileges to tcpdump'],
  ['c', 'netcap -c N stops after N packets'],
  ['F', 'give the filter with -e or after the options'],
  ['d', 'netcap compile -e EXPR --emit cbpf prints the filter program'],
  ['D', 'tcpdump would list its interfaces and exit'],
  ['L', 'tcpdump would list link types and exit'],
  ['J', 'tcpdump would list time stamp types and exit'],
  ['h', 'tcpdump would print its help and exit'],
]);
const FORBIDDEN_LONG = new Map<string, string>([
  ['read', 'netcap feeds tcpdump and writes files itself'],
  ['write', 'netcap feeds tcpdump and writes files itself'],
  ['interface', 'netcap feeds tcpdump and writes files itself'],
  ['count', 'netcap -c N stops after N packets'],
  ['version', 'tcpdump would print its version and exit'],
  ['help', 'tcpdump would print its help and exit'],
  ['list-interfaces', 'tcpdump would list its interfaces and exit'],
  ['list-time-stamp-types', 'tcpdump would list time stamp types and exit'],
]);
/** How long tcpdump may take to open its input ("reading from file -"). */
const START_TIMEOUT_MS = 10_000;
// Short options of tcpdump 4.99 that take an argument (getopt string).
const WITH_ARGUMENT = new Set('BcCEFGiIjmMQrsTVwWyzZ'.split(''));

/**
 * Splits and checks the -t flag string; throws UserError for flags that are
 * not about printing, and for words that are no flag (a filter in -t would
 * make tcpdump filter on its own, and fail only once packets flow). Flags
 * tcpdump does not know are its to refuse: the sink waits for it to start
 * (`ready`) before anything is attached.
 */
export function tcpdumpFlags(flags: string): string[] {
  const words = splitShellWords(flags);
  for (let w = 0; w < words.length; w++) {
    const word = words[w];
    if (word.startsWith('--')) {
      const name = word.slice(2).split('=')[0];
      const why = FORBIDDEN_LONG.get(name);
      if (why) throw refused(word, why);
      continue;
    }
    if (!word.startsWith('-') || word === '-') {
      throw new UserError(`-t takes tcpdump's printing flags, and "${word}" is none`, 'give the filter with -e or after the options; -t "-nn -e -X" style flags only');
    }
    for (let i = 1; i < word.length; i++) {
      const letter = word[i];
      const why = FORBIDDEN.get(letter);
      if (why) throw refused(`-${letter}`, why);
      if (WITH_ARGUMENT.has(letter)) {
        if (i === word.length - 1) w++; // the argument is the next word
        break;
      }
    }
  }
  return words;
}

function refused(flag: string, why: string): UserError {
  return new UserError(`tcpdump flag ${flag} is not allowed in -t (${why})`, '-t takes printing flags only, e.g. -t "-nn -e -X"');
}

export class TcpdumpSink {
  /**
   * Resolves once tcpdump has taken its flags and the stream's header ("reading
   * from file -" on its stderr); rejects with tcpdump's own message when it
   * exits first (a flag it does not know, a bad argument), so a capture can
   * refuse bad -t flags before it attaches anything.
   */
  readonly ready: Promise<void>;
  /**
   * Resolves when the sink can take no more packets before close() was
   * called: 'output-closed' when the reader of our stdout went away (`| head`),
   * 'decoder-exited' when tcpdump ended by itself (killed, failed); close()
   * then reports a failure, or nothing for a closed output.
   */
  readonly ended: Promise<'output-closed' | 'decoder-exited'>;
  private readonly child: ChildProcess;
  private readonly writer: PcapWriter;
  private readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; error?: Error }>;
  private stderrTail = '';
  private closed = false;
  /** Our stdout went away (`netcap ... | head`): stop quietly, like tcpdump on SIGPIPE. */
  private outputClosed = false;
  private endedNow!: (why: 'output-closed' | 'decoder-exited') => void;

  constructor(options: TcpdumpSinkOptions) {
    const args = ['-r', '-', ...tcpdumpFlags(options.flags ?? '-nn')];
    this.ended = new Promise((resolve) => (this.endedNow = resolve));
    // Its own process group: Ctrl-C at a terminal signals the whole
    // foreground group, and a tcpdump interrupted mid-read fails ("pcap_loop:
    // error reading dump file: Interrupted system call") with packets still
    // unprinted. netcap ends it by closing its input instead (close()); if
    // netcap dies, the pipe closes and tcpdump exits at end of input.
    this.child = spawn(options.binary ?? 'tcpdump', args, { stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    this.exited = new Promise((resolve) => {
      this.child.once('error', (error) => resolve({ code: null, signal: null, error }));
      this.child.once('close', (code, signal) => resolve({ code, signal }));
    });
    // 'exit', not 'close': a tcpdump killed mid-capture leaves its stdin open on our side, so 'close' waits for close().
    this.child.once('exit', () => {
      if (!this.closed) this.endedNow(this.outputClosed ? 'output-closed' : 'decoder-exited');
    });
    const stdout = options.stdout ?? process.stdout;
    this.child.stdout!.pipe(stdout, { end: false });
    // pipe() leaves errors on the destination unhandled; EPIPE there means the
    // reader of our output is gone, so tcpdump's work is done.
    stdout.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code !== 'EPIPE') return;
      this.outputClosed = true;
      this.child.stdout!.unpipe(stdout);
      this.kill();
      this.endedNow('output-closed');
    });
    // tcpdump's diagnostics are held back until it has started: a refusal is
    // reported in one line (startFailure), not as its usage text.
    let started = false;
    let heldBack = '';
    const errOut = options.stderr === undefined ? process.stderr : options.stderr;
    this.ready = new Promise<void>((resolve, reject) => {
      // A tcpdump that neither starts nor exits (a machine stalled, another program named tcpdump) must not hold the capture forever.
      const stalled = setTimeout(() => reject(new UserError(`tcpdump did not start within ${START_TIMEOUT_MS / 1000} s`, 'print with the built-in decoder (--no-tcpdump), or write a file (-w)', heldBack)), START_TIMEOUT_MS);
      stalled.unref();
      void this.exited.finally(() => clearTimeout(stalled));
      this.child.stderr!.on('data', (chunk: Buffer) => {
        this.stderrTail = (this.stderrTail + chunk.toString('utf8')).slice(-4000);
        // After the reader of our stdout went away, tcpdump is being stopped: its complaints are noise.
        if (this.outputClosed) return;
        if (started) return void errOut?.write(chunk);
        heldBack += chunk.toString('utf8');
        if (!/^reading from file .*\n/m.test(heldBack)) return;
        started = true;
        clearTimeout(stalled);
        errOut?.write(heldBack);
        resolve();
      });
      void this.exited.then((exit) => reject(exit.error ? this.spawnError(exit.error) : startFailure(args.slice(2), heldBack, exit)));
    });
    this.ready.catch(() => undefined); // also reported by close() when nobody waited for it
    // A tcpdump that exits early (bad flags) closes its stdin: the writes
    // fail with EPIPE, and close() reports tcpdump's own message instead.
    this.child.stdin!.on('error', () => undefined);
    // Nanosecond pcap: tcpdump prints microseconds unless given --nano, and
    // nanoseconds with it, so no precision is lost on the way.
    this.writer = new PcapWriter(this.child.stdin!, { linktype: options.linktype, snaplen: options.snaplen, nanosecond: true });
    // The header now: tcpdump opens the stream (and says so) before the first packet.
    this.writer.writeHeader().catch(() => undefined); // a failure resurfaces on the next write or close
  }

  async writePacket(pkt: CapturedPacket): Promise<void> {
    if (this.outputClosed) throw outputGone();
    try {
      await this.writer.writePacket(pkt);
    } catch (e) {
      await this.failure(e as Error);
    }
  }

  async flush(): Promise<void> {
    try {
      await this.writer.flush();
    } catch (e) {
      await this.failure(e as Error);
    }
  }

  /** Ends tcpdump's input and waits until it has printed everything and exited. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.writer.close().catch(() => undefined);
    const exit = await this.exited;
    if (exit.error) throw this.spawnError(exit.error);
    if (this.outputClosed) return;
    if (exit.code !== 0) throw this.exitError('tcpdump failed', exit);
  }

  /** Stops tcpdump without waiting for it to drain (on SIGINT). Idempotent. */
  kill(): void {
    if (this.child.exitCode === null && !this.child.killed) this.child.kill('SIGTERM');
  }

  private async failure(e: Error): Promise<never> {
    const exit = await this.exited;
    if (this.outputClosed) throw outputGone();
    if (exit.error) throw this.spawnError(exit.error);
    throw this.exitError('tcpdump stopped reading', exit, e.message);
  }

  private exitError(what: string, exit: { code: number | null; signal: NodeJS.Signals | null }, fallback = ''): UserError {
    const why = lastLine(this.stderrTail) || fallback;
    return new UserError(`${what} (${exit.signal ?? `exit status ${exit.code}`})${why ? `: ${why}` : ''}`, exit.signal ? 'something stopped the tcpdump that prints the packets; write them with -w to keep them' : 'check the flags given with -t', this.stderrTail);
  }

  private spawnError(e: Error): UserError {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return new UserError('tcpdump is not installed', 'install it (apt-get install tcpdump) or print with the built-in decoder (--no-tcpdump)');
    return new UserError(`cannot start tcpdump: ${e.message}`, 'print with the built-in decoder (--no-tcpdump)');
  }
}

/** tcpdump exited before it opened its input: its one-line complaint, or that it did not take a flag. */
function startFailure(flags: string[], stderr: string, exit: { code: number | null; signal: NodeJS.Signals | null }): UserError {
  const complaint = stderr.split('\n').find((l) => /^tcpdump: /.test(l));
  const what = complaint ? complaint.replace(/^tcpdump: /, '') : /Usage: tcpdump/.test(stderr) ? 'it does not take one of these flags (it printed its usage)' : `${exit.signal ?? `exit status ${exit.code}`}`;
  return new UserError(`tcpdump refused the flags ${flags.join(' ')}: ${what}`, 'check the flags given with -t (and the decoding flags), e.g. -t "-e -X"', stderr);
}

/** An EPIPE error: callers treat it as "the reader is gone, stop without complaint". */
function outputGone(): Error {
  return Object.assign(new Error('the output was closed'), { code: 'EPIPE' });
}

function lastLine(text: string): string {
  const lines = text.trim().split('\n').filter((l) => !l.startsWith('reading from file'));
  return lines[lines.length - 1] ?? '';
}
