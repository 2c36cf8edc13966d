// The SIGKILL guarantee. A prog array entry outlives the process that put
// it there, so a SIGKILLed netcap would leave its capture programs in the
// hook (and their cost on every packet) until something empties the slots.
// That something is this watchdog: a small process netcap starts before it
// fills any slot, in a session of its own (a terminal's Ctrl-C or a
// process-group kill does not reach it), holding its own fds of the hook
// maps and of the programs --force displaced. Its stdin is a pipe only
// netcap holds: when netcap ends, however it ends (its own clean-up, a
// crash, SIGKILL), the pipe reaches end-of-file (and the watchdog's parent
// changes), and the watchdog puts back every slot that still holds one of
// netcap's programs (restoreSlot: compare, then restore), then exits. After
// a normal end netcap has put them back itself and the watchdog finds
// nothing to do; after SIGKILL it does the work. Either way a slot netcap
// filled ends up as netcap found it.
//
// It is started early (spawn), while netcap loads its programs, and told
// their ids before any slot is filled (watch): Node's start-up overlaps
// with the loading instead of adding to it.
import { spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import { UserError } from '../../errors';
import type { BpfMap } from '../../bpf/map';
import type { Program } from '../../bpf/program';

export interface WatchedSlot {
  key: number;
  /** The program --force displaced, put back instead of emptying. */
  previous?: Program;
}

export interface WatchedHook {
  path: string;
  map: BpfMap;
  slots: WatchedSlot[];
}

/** The watchdog's argument: fds are the child's own numbers (3, 4, ...). */
export interface WatchdogPlan {
  hooks: { path: string; mapFd: number; slots: { key: number; previousFd?: number }[] }[];
}

/**
 * The line netcap sends before filling: the id of its program for each
 * slot, hook by hook in the plan's order (the watchdog restores only slots
 * holding one of them).
 */
export type WatchdogIds = number[][];

/** The watchdog's line on stdout once it knows the ids and watches. */
export const WATCHDOG_READY = 'ready';

const START_TIMEOUT_MS = 10_000;

export class SlotWatchdog {
  private closed = false;
  private readonly ready: Promise<void>;

  private constructor(private readonly child: ChildProcess) {
    this.ready = new Promise<void>((resolve, reject) => {
      let out = '';
      child.stdout!.setEncoding('utf8');
      child.stdout!.on('data', (s: string) => {
        out += s;
        if (out.split('\n').includes(WATCHDOG_READY)) resolve();
      });
      child.once('error', reject);
      child.once('exit', (code, signal) => reject(new Error(`it exited (${signal ?? `status ${code}`})`)));
    });
    this.ready.catch(() => undefined); // observed by watch()
  }

  /** Starts the watchdog process with its own fds of the hook maps and of the displaced programs. */
  static spawn(hooks: readonly WatchedHook[]): SlotWatchdog {
    const fds: number[] = [];
    const fd = (n: number) => 3 + fds.push(n) - 1;
    const plan: WatchdogPlan = {
      hooks: hooks.map((h) => ({ path: h.path, mapFd: fd(h.map.fd), slots: h.slots.map((s) => ({ key: s.key, ...(s.previous ? { previousFd: fd(s.previous.fd) } : {}) })) })),
    };
    const child = spawn(process.execPath, [path.join(__dirname, 'watchdog-main.js'), JSON.stringify(plan)], {
      stdio: ['pipe', 'pipe', 'inherit', ...fds],
      detached: true,
    });
    return new SlotWatchdog(child);
  }

  /** Tells the watchdog netcap's program ids and resolves once it watches; a UserError when it does not answer. */
  async watch(ids: WatchdogIds): Promise<void> {
    this.child.stdin!.write(`${JSON.stringify(ids)}\n`);
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([this.ready, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no word from it within ${START_TIMEOUT_MS} ms`)), START_TIMEOUT_MS)))]);
    } catch (e) {
      this.close();
      if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
      throw new UserError(`the watchdog that empties the hook's slots if netcap is killed did not start: ${(e as Error).message}`, 'nothing was put in the hook; try again', (e as Error).stack);
    } finally {
      clearTimeout(timer);
    }
    // From here on it must not keep netcap's event loop alive, and its exit is no error.
    this.child.removeAllListeners('exit');
    this.child.stdout!.destroy();
    this.child.unref();
    (this.child.stdin as unknown as { unref?: () => void }).unref?.();
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Lets the watchdog go (call it after putting the slots back): it checks them once more and exits. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    const stdin = this.child.stdin;
    if (stdin && !stdin.destroyed) {
      stdin.on('error', () => undefined); // it may be gone already
      stdin.destroy();
    }
    this.child.unref();
  }
}
