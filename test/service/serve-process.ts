// A real `netcap serve` for the tests: bin/netcap as a child process on
// loopback (port 0: any free one) with a private state directory, found
// ready by its readiness line; requests through fetch; its memory and the
// BPF objects it holds read from /proc.
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { World } from '../../lab/netns';
import { NETCAP } from '../capture/netcap-child';

export interface Served {
  child: ChildProcess;
  pid: number;
  url: string;
  stateDir: string;
  stderr(): string;
  /** Resolves with the exit once it has exited. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Stops it with a signal (SIGKILL after 15 s). */
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export interface ServeOptions {
  stateDir?: string;
  args?: string[];
  env?: NodeJS.ProcessEnv;
  world?: World;
}

/** A private temporary directory; the caller removes it. */
export function tempDir(purpose: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `nc-serve-${purpose}-`));
}

/** Starts netcap serve and resolves once it listens; rejects with its stderr if it exits first. */
export async function startServe(opts: ServeOptions = {}): Promise<Served> {
  const stateDir = opts.stateDir ?? tempDir('state');
  const child = spawn(process.execPath, [NETCAP, 'serve', '--listen', '127.0.0.1:0', '--state-dir', stateDir, ...(opts.args ?? [])], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, NETCAP_TOKEN: '', ...opts.env },
  });
  opts.world?.track(child);
  let err = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (s: string) => (err += s));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('close', (code, signal) => resolve({ code, signal })));
  const url = await new Promise<string>((resolve, reject) => {
    const started = Date.now();
    const check = () => {
      const m = /netcap: listening on (https?:\/\/\S+)/.exec(err);
      if (m) return resolve(m[1]);
      if (child.exitCode !== null || child.signalCode !== null) return reject(new Error(`netcap serve exited (${child.exitCode ?? child.signalCode}) before it listened:\n${err}`));
      if (Date.now() - started > 30_000) return reject(new Error(`netcap serve did not listen within 30 s:\n${err}`));
      setTimeout(check, 20);
    };
    check();
  });
  return {
    child,
    pid: child.pid!,
    url,
    stateDir,
    stderr: () => err,
    exited,
    stop: async (signal: NodeJS.Signals = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill(signal);
        const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
        const r = await exited;
        clearTimeout(killer);
        return r;
      }
      return exited;
    },
  };
}

export interface ApiAnswer<T = Record<string, unknown>> {
  status: number;
  type: string;
  body: T;
  headers: Headers;
}

/** One JSON request; `body` a value (sent as JSON) or a string (sent as it is, with the given content type). */
export async function api<T = Record<string, unknown>>(url: string, method: string, route: string, body?: unknown, opts: { token?: string; contentType?: string } = {}): Promise<ApiAnswer<T>> {
  const headers: Record<string, string> = {};
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  if (body !== undefined) headers['content-type'] = opts.contentType ?? 'application/json';
  const res = await fetch(url + route, { method, headers, body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body) });
  const text = await res.text();
  const type = res.headers.get('content-type') ?? '';
  return { status: res.status, type, headers: res.headers, body: (text && /json/.test(type) ? JSON.parse(text) : text) as T };
}

/** The resident memory of a process, in KiB. */
export function rssKiB(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : NaN;
}

/** How many BPF maps, programs and links the process holds (its descriptors' fdinfo). */
export function bpfDescriptors(pid: number): { maps: number; programs: number; links: number } {
  const out = { maps: 0, programs: 0, links: 0 };
  for (const fd of fs.readdirSync(`/proc/${pid}/fdinfo`)) {
    let text: string;
    try {
      text = fs.readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8');
    } catch {
      continue;
    }
    if (/^link_id:/m.test(text)) out.links++;
    else if (/^prog_id:/m.test(text)) out.programs++;
    else if (/^map_id:/m.test(text)) out.maps++;
  }
  return out;
}
