// A measured tool process (netcap, tcpdump, bpftrace, dpdk-dumpcap...):
// spawned with an argument array (never a shell), in a namespace or not,
// killed by its World if anything goes wrong. It records when each output
// pattern first appeared (milliseconds since spawn: start-up times), and
// samples its peak RSS and CPU time while it runs.
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import type { Writable } from 'node:stream';
import type { Namespace, World } from '../../lab';
import { watchUsage, type Usage, type UsageWatcher } from './process-usage';

export interface ToolExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** stdout and stderr interleaved as they arrived (the tail, at most 1 MiB). */
  output: string;
  /** Usage sampled up to the stop request (teardown after it is not counted). */
  usage: Usage;
}

export interface ToolProcess {
  readonly pid: number;
  readonly argv: readonly string[];
  /** Resolves with ms since spawn when a line of stdout or stderr (or the unfinished last one) matches; rejects on exit or timeout. */
  waitFor(pattern: RegExp, timeoutMs: number): Promise<number>;
  /** Output so far. */
  output(): string;
  /** True while it runs. */
  running(): boolean;
  /** Sends `signal` (default SIGINT), SIGKILL after `graceMs`; resolves when it exited. Idempotent. */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<ToolExit>;
  /** Resolves when it exits by itself. */
  readonly exited: Promise<ToolExit>;
}

const MAX_OUTPUT = 1 << 20;

export interface StartToolOptions {
  /** Run inside this namespace (`ip netns exec`, which execs: the pid is the tool's). */
  ns?: Namespace;
  /** Its World (kills it on destroy); required when ns is absent. */
  world: World;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Where its standard output goes instead of a pipe read here (a file descriptor, or another process's stdin): `tool | cat`. */
  stdout?: number | Writable;
}

export function startTool(argv: string[], opts: StartToolOptions): ToolProcess {
  const spawnedAt = Date.now();
  const stdio: StdioOptions = ['ignore', opts.stdout ?? 'pipe', 'pipe'];
  const child: ChildProcess = opts.ns
    ? opts.ns.spawn(argv, { stdio, env: opts.env ?? process.env, cwd: opts.cwd })
    : opts.world.track(spawn(argv[0], argv.slice(1), { stdio, env: opts.env ?? process.env, cwd: opts.cwd }));
  if (child.pid === undefined) throw new Error(`could not start ${argv[0]}`);
  const pid = child.pid;
  let out = '';
  const waiters: { pattern: RegExp; resolve: (ms: number) => void }[] = [];
  const partial = { stdout: '', stderr: '' };
  const onData = (stream: 'stdout' | 'stderr') => (chunk: string) => {
    const now = Date.now();
    out += chunk;
    if (out.length > MAX_OUTPUT) out = out.slice(out.length - MAX_OUTPUT);
    partial[stream] += chunk;
    const lines = partial[stream].split('\n');
    partial[stream] = lines.pop() ?? '';
    // The unfinished line too: progress counters (dpdk-dumpcap's "Packets captured: N\r") never end one.
    for (const line of [...lines, partial[stream]]) {
      for (let i = waiters.length - 1; i >= 0; i--) {
        if (waiters[i].pattern.test(line)) {
          waiters[i].resolve(now - spawnedAt);
          waiters.splice(i, 1);
        }
      }
    }
  };
  child.stdout?.setEncoding('utf8');
  child.stderr?.setEncoding('utf8');
  child.stdout?.on('data', onData('stdout'));
  child.stderr?.on('data', onData('stderr'));
  const watcher: UsageWatcher = watchUsage(pid);
  let usage: Usage | undefined;
  const exited = new Promise<ToolExit>((resolve) => {
    child.once('close', (code, signal) => {
      usage ??= watcher.stop();
      resolve({ code, signal, output: out, usage });
    });
  });
  exited.catch(() => {});
  let stopping: Promise<ToolExit> | undefined;
  const running = (): boolean => child.exitCode === null && child.signalCode === null;
  return {
    pid,
    argv,
    exited,
    output: () => out,
    running,
    waitFor(pattern, timeoutMs) {
      return new Promise<number>((resolve, reject) => {
        const timer = setTimeout(() => {
          reject(new Error(`${argv[0]} printed nothing matching ${pattern} within ${timeoutMs} ms; its output:\n${out.trim().slice(-2000)}`));
        }, timeoutMs);
        waiters.push({
          pattern,
          resolve: (ms) => {
            clearTimeout(timer);
            resolve(ms);
          },
        });
        void exited.then((r) => {
          clearTimeout(timer);
          reject(new Error(`${argv.join(' ')} exited (${r.signal ?? `status ${r.code}`}) before printing ${pattern}; its output:\n${r.output.trim().slice(-2000)}`));
        });
      });
    },
    stop(signal = 'SIGINT', graceMs = 10_000) {
      return (stopping ??= (async () => {
        usage ??= watcher.stop();
        if (running()) {
          child.kill(signal);
          const killer = setTimeout(() => child.kill('SIGKILL'), graceMs);
          try {
            return await exited;
          } finally {
            clearTimeout(killer);
          }
        }
        return exited;
      })());
    },
  };
}
