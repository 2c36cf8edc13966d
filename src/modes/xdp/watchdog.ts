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
import { spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import { UserError } from '../../errors';
import type { BpfMap } from '../../bpf/map';
import type { Program } from '../../bpf/program';

export interface WatchedSlot {
  key: number;
  /** Id of netcap's program for this slot (the watchdog restores only slots holding it). */
  oursId: number;
  /** The program --force displaced, put back instead of emptying. */
  previous?: Program;
}

export interface WatchedHook {
  path: string;
  map: BpfMap;
  slots: WatchedSlot[];
}

/** What the watchdog reads from its argument: fds are the child's own numbers (3, 4, ...). */
export interface WatchdogPlan {
  hooks: { path: string; mapFd: number; slots: { key: number; oursId: number; previousFd?: number }[] }[];
}

/** The watchdog's line on stdout once it holds its fds and watches. */
export const WATCHDOG_READY = 'ready';

const START_TIMEOUT_MS = 10_000;

export class SlotWatchdog {
  private closed = false;

  private constructor(private readonly child: ChildProcess) {}

  /** Starts the watchdog and resolves once it holds its fds and watches; a UserError when it cannot start. */
  static async start(hooks: readonly WatchedHook[]): Promise<SlotWatchdog> {
    const fds: number[] = [];
    const plan: WatchdogPlan = {
      hooks: hooks.map((h) => ({
        path: h.path,
        mapFd: 3 + fds.push(h.map.fd) - 1,
        slots: h.slots.map((s) => ({ key: s.key, oursId: s.oursId, ...(s.previous ? { previousFd: 3 + fds.push(s.previous.fd) - 1 } : {}) })),
      })),
    };
    const child = spawn(process.execPath, [path.join(__dirname, 'watchdog-main.js'), JSON.stringify(plan)], {
      stdio: ['pipe', 'pipe', 'inherit', ...fds],
      detached: true,
    });
    const ready = new Promise<void>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error(`no word from it within ${START_TIMEOUT_MS} ms`)), START_TIMEOUT_MS);
      child.stdout!.setEncoding('utf8');
      child.stdout!.on('data', (s: string) => {
        out += s;
        if (out.split('\n').includes(WATCHDOG_READY)) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.once('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`it exited (${signal ?? `status ${code}`})`));
      });
    });
    try {
      await ready;
    } catch (e) {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      throw new UserError(`the watchdog that empties the hook's slots if netcap is killed did not start: ${(e as Error).message}`, 'nothing was put in the hook; try again', (e as Error).stack);
    }
    // From here on it must not keep netcap's event loop alive, and its exit is no error.
    child.removeAllListeners('exit');
    child.stdout!.removeAllListeners('data');
    child.stdout!.destroy();
    child.unref();
    (child.stdin as unknown as { unref?: () => void }).unref?.();
    return new SlotWatchdog(child);
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
  }
}
