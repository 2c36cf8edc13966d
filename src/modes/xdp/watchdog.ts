// The SIGKILL guarantee. A prog array entry outlives the process that put
// it there, so a SIGKILLed netcap would leave its capture programs in the
// hook (and their cost on every packet) until something empties the slots.
// That something is this watchdog: a small process netcap starts before it
// fills any slot, in a session of its own (a terminal's Ctrl-C or a
// process-group kill does not reach it), holding its own fds of the hook
// maps and of the programs --force displaced. Its stdin is a pipe only
// netcap holds: when netcap ends, however it ends (its own clean-up, a
// crash, SIGKILL), the pipe reaches end-of-file (and the watchdog's parent
// changes), and the watchdog puts back every slot that holds one of
// netcap's programs (restoreSlot: compare, then restore), then exits. After
// a normal end netcap has put them back itself and the watchdog finds
// nothing to do; after SIGKILL it does the work. Either way a slot netcap
// filled ends up as netcap found it.
//
// The protocol: netcap writes one line per generation of programs, before
// that generation goes into the slots: a JSON array, per hook of the plan,
// per watched slot, the id of the generation's program for it. Each line
// ADDS those ids to the slot's set (a filter change swaps a new program in
// while the old one may still be there), and the watchdog answers each
// line with WATCHDOG_READY once it knows them.
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

/** One line netcap sends: per hook (the plan's order), per watched slot, a program id to add to the slot's set. */
export type WatchdogIds = number[][];

/** The watchdog's answer to each line, once it knows the ids. */
export const WATCHDOG_READY = 'ready';

const ANSWER_TIMEOUT_MS = 10_000;

export class SlotWatchdog {
  private closed = false;
  /** Why the watchdog can no longer answer (it exited), once it cannot. */
  private gone: string | undefined;
  /** Waiting for an answer, oldest first: the watchdog answers lines in order. */
  private readonly waiting: { resolve: () => void; reject: (e: Error) => void }[] = [];

  private constructor(private readonly child: ChildProcess) {
    let out = '';
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (s: string) => {
      out += s;
      let nl: number;
      while ((nl = out.indexOf('\n')) >= 0) {
        const line = out.slice(0, nl);
        out = out.slice(nl + 1);
        if (line === WATCHDOG_READY) this.waiting.shift()?.resolve();
      }
    });
    const lost = (why: string) => {
      this.gone ??= why;
      for (const w of this.waiting.splice(0)) w.reject(new Error(why));
    };
    child.once('error', (e) => lost(e.message));
    child.once('exit', (code, signal) => lost(`it exited (${signal ?? `status ${code}`})`));
    child.stdin!.on('error', () => undefined); // a write after it died: reported through 'exit'
    // It must never keep netcap's event loop alive: a pending answer has its own timer.
    child.unref();
    for (const s of [child.stdin, child.stdout] as unknown as { unref?: () => void }[]) s.unref?.();
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

  /**
   * Tells the watchdog more of netcap's program ids and resolves once it
   * knows them; a UserError (nothing to be put in the hook) when it does not
   * answer.
   */
  async watch(ids: WatchdogIds): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    try {
      if (this.closed) throw new Error('it was let go');
      if (this.gone) throw new Error(this.gone);
      await new Promise<void>((resolve, reject) => {
        this.waiting.push({ resolve, reject });
        this.child.stdin!.write(`${JSON.stringify(ids)}\n`);
        timer = setTimeout(() => {
          // A late answer would be taken for the next line's: no more lines go to it.
          this.gone = `no word from it within ${ANSWER_TIMEOUT_MS} ms`;
          for (const w of this.waiting.splice(0)) w.reject(new Error(this.gone));
        }, ANSWER_TIMEOUT_MS);
      });
    } catch (e) {
      throw new UserError(
        `the watchdog that empties the hook's slots if netcap is killed does not answer: ${(e as Error).message}`,
        'nothing new was put in the hook; try again',
        (e as Error).stack,
      );
    } finally {
      clearTimeout(timer);
    }
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Lets the watchdog go (call it after putting the slots back): it checks them once more and exits. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    const stdin = this.child.stdin;
    if (stdin && !stdin.destroyed) stdin.destroy();
    this.child.stdout?.destroy();
  }
}
