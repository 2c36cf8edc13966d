// Runs bin/netcap as a child process the way a user or a script would:
// waits for the readiness line on stderr ("netcap: listening on ..."),
// collects stdout/stderr, stops it with a signal, and reports its exit.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { repoRoot } from '../../lab/paths';
import type { World } from '../../lab/netns';

export const NETCAP = path.join(repoRoot, 'bin', 'netcap');

export interface NetcapRun {
  child: ChildProcess;
  stdout(): Buffer;
  stderr(): string;
  /** Resolves when the readiness line was printed; rejects if netcap exits first or after timeoutMs. */
  ready(timeoutMs?: number): Promise<void>;
  /** Resolves with the exit status (or signal name) once it has exited. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export function runNetcap(args: string[], world?: World): NetcapRun {
  const child = spawn(process.execPath, [NETCAP, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  world?.track(child);
  const out: Buffer[] = [];
  let err = '';
  child.stdout!.on('data', (b: Buffer) => out.push(b));
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (s: string) => (err += s));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('close', (code, signal) => resolve({ code, signal })),
  );
  const run: NetcapRun = {
    child,
    stdout: () => Buffer.concat(out),
    stderr: () => err,
    exited,
    ready: (timeoutMs = 20_000) =>
      new Promise<void>((resolve, reject) => {
        const started = Date.now();
        const check = () => {
          if (/netcap: listening on /.test(err)) return resolve();
          if (child.exitCode !== null || child.signalCode !== null) return reject(new Error(`netcap exited (${child.exitCode ?? child.signalCode}) before it was ready:\n${err}`));
          if (Date.now() - started > timeoutMs) return reject(new Error(`netcap was not ready within ${timeoutMs} ms:\n${err}`));
          setTimeout(check, 20);
        };
        check();
      }),
    stop: (signal: NodeJS.Signals = 'SIGINT') => stopChild(child, exited, signal),
  };
  return run;
}

/** Sends `signal` to a child still running (SIGKILL if it is still there 15 s later) and resolves with its exit. */
export async function stopChild<T>(child: ChildProcess, exited: Promise<T>, signal: NodeJS.Signals): Promise<T> {
  if (child.exitCode === null && child.signalCode === null) {
    child.kill(signal);
    const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    try {
      return await exited;
    } finally {
      clearTimeout(killer);
    }
  }
  return exited;
}

/** A private temporary directory removed by the caller. */
export function tempDir(purpose: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `netcap-${purpose}-`));
}

interface BpftoolObject {
  id: number;
}

/**
 * Ids of the BPF programs and links process `pid` holds, from its fd info
 * (/proc/PID/fdinfo/N carries prog_id / link_id lines for BPF fds; this
 * machine's bpftool is built without the pid listing), each checked to exist
 * in `bpftool prog/link list`.
 */
export function bpfObjectsOf(pid: number): { programs: number[]; links: number[] } {
  const programs = new Set<number>();
  const links = new Set<number>();
  for (const fd of fs.readdirSync(`/proc/${pid}/fdinfo`)) {
    let text: string;
    try {
      text = fs.readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8');
    } catch {
      continue;
    }
    const link = /^link_id:\s*(\d+)/m.exec(text);
    const prog = /^prog_id:\s*(\d+)/m.exec(text);
    if (link) links.add(Number(link[1]));
    else if (prog) programs.add(Number(prog[1]));
  }
  const listed = stillLoaded({ programs: [...programs], links: [...links] });
  return listed;
}

/** Which of these program / link ids still exist. */
export function stillLoaded(ids: { programs: number[]; links: number[] }): { programs: number[]; links: number[] } {
  const ids_ = (what: 'prog' | 'link') => new Set((JSON.parse(execFileSync('bpftool', ['-j', what, 'list']).toString()) as BpftoolObject[]).map((o) => o.id));
  const progs = ids_('prog');
  const links = ids_('link');
  return { programs: ids.programs.filter((id) => progs.has(id)), links: ids.links.filter((id) => links.has(id)) };
}
