// bpftrace as an independent reference: tests compare what netcap (or the
// lab) sees with what bpftrace counts at the same probe points.
// bpftrace 0.17 works on this machine (BCC does not).
import * as fs from 'node:fs';
import type { World } from './netns';
import { spawn } from 'node:child_process';

export const bpftraceInstalled = ['/usr/bin/bpftrace', '/usr/sbin/bpftrace', '/usr/local/bin/bpftrace'].some((p) => fs.existsSync(p));

export interface BpftraceRun {
  /** Stops bpftrace (SIGINT, so it prints its maps) and resolves with the scalar maps: `@name: value`. */
  stop(): Promise<Map<string, number>>;
  /** Everything bpftrace printed so far. */
  output(): string;
}

/**
 * Starts `bpftrace -e program` and resolves once its probes are attached
 * (a BEGIN probe, which bpftrace fires after attaching everything, prints a
 * marker). The process belongs to `world`, which kills it on destroy.
 */
export async function startBpftrace(world: World, program: string, opts: { pid?: number; timeoutMs?: number } = {}): Promise<BpftraceRun> {
  const marker = 'nc-bpftrace-attached';
  const args = [...(opts.pid !== undefined ? ['-p', String(opts.pid)] : []), '-e', `BEGIN { printf("${marker}\\n"); }\n${program}`];
  const child = world.track(spawn('bpftrace', args, { stdio: ['ignore', 'pipe', 'pipe'] }));
  let out = '';
  child.stdout?.setEncoding('utf8');
  child.stderr?.setEncoding('utf8');
  child.stdout?.on('data', (s: string) => (out += s));
  child.stderr?.on('data', (s: string) => (out += s));
  const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
  const deadline = Date.now() + (opts.timeoutMs ?? 20_000);
  while (!out.includes(marker)) {
    if (child.exitCode !== null || child.signalCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`bpftrace did not attach:\n${out.trim()}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return {
    output: () => out,
    stop: async () => {
      // bpftrace prints its maps on SIGINT. Under heavy load a SIGINT has
      // been seen to go unanswered: repeat it, and SIGKILL after 10 s.
      for (let i = 0; i < 10 && child.exitCode === null && child.signalCode === null; i++) {
        child.kill('SIGINT');
        if ((await Promise.race([closed.then(() => 'closed'), new Promise((r) => setTimeout(r, 1000))])) === 'closed') break;
      }
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await closed;
      const maps = new Map<string, number>();
      for (const m of out.matchAll(/^@(\w+): (-?\d+)$/gm)) maps.set(m[1], Number(m[2]));
      return maps;
    },
  };
}
