// Nothing outlives the process that attached it: a child attaches a uprobe
// and a tracepoint, then ends (a) by closing everything itself, (b) on
// SIGINT/SIGTERM/SIGHUP through handlers that call closeAll(), (c) on those
// signals without handlers, (d) on SIGKILL. After each, bpftool (the
// kernel's view) lists none of its programs or links.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { skipReason } from '../../src/bpf/features';
import { buildUprobeTarget, type UprobeTarget } from './uprobe-target';

let target: UprobeTarget;
const skip = skipReason('uprobes');
const child = path.join(__dirname, 'fixtures', 'attach-child.js');

before(() => {
  if (!skip) target = buildUprobeTarget();
});
after(() => target?.remove());

interface BpftoolProg {
  id: number;
  name?: string;
}
function progIds(): Set<number> {
  const r = spawnSync('bpftool', ['prog', 'list', '-j'], { encoding: 'utf8' });
  return new Set((JSON.parse(r.stdout) as BpftoolProg[]).map((p) => p.id));
}
function linkProgIds(): Set<number> {
  const r = spawnSync('bpftool', ['link', 'list', '-j'], { encoding: 'utf8' });
  return new Set((JSON.parse(r.stdout) as { prog_id: number }[]).map((l) => l.prog_id));
}
function progNames(): string[] {
  const r = spawnSync('bpftool', ['prog', 'list', '-j'], { encoding: 'utf8' });
  return (JSON.parse(r.stdout) as BpftoolProg[]).map((p) => p.name ?? '');
}

/** Starts the child; resolves once it has attached, with its program ids. */
async function startChild(mode: string): Promise<{ proc: ReturnType<typeof spawn>; progs: number[]; name: string }> {
  const name = `nccl${randomBytes(3).toString('hex')}`;
  const proc = spawn(process.execPath, [child, name, target.binary, String(target.offset), mode], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  proc.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  await new Promise<void>((resolve, reject) => {
    proc.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('\n')) resolve();
    });
    proc.once('exit', (code) => reject(new Error(`child exited (${code}) before attaching: ${err}`)));
  });
  const m = /^attached (\d+),(\d+) (\d+),(\d+)$/m.exec(out);
  assert.ok(m, `child said: ${out}`);
  const progs = [Number(m[1]), Number(m[2])];
  // While it runs, the kernel has the programs and their links.
  const live = progIds();
  assert.ok(progs.every((id) => live.has(id)), 'programs loaded while the child runs');
  const linked = linkProgIds();
  assert.ok(progs.every((id) => linked.has(id)), 'both programs are linked while the child runs');
  assert.ok(progNames().some((n) => n.startsWith(name)), 'bpftool lists the programs by name');
  return { proc, progs, name };
}

/** The kernel frees programs after the last reference goes (RCU, a workqueue): poll briefly. */
async function assertGone(progs: number[], name: string): Promise<void> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const live = progIds();
    const linked = linkProgIds();
    const left = progs.filter((id) => live.has(id) || linked.has(id));
    const named = progNames().filter((n) => n.startsWith(name));
    if (left.length === 0 && named.length === 0) return;
    if (Date.now() > deadline) assert.fail(`programs ${left.join(',')} (${named.join(',')}) still in the kernel`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const cases: { mode: string; signal?: NodeJS.Signals; expectCode?: number }[] = [
  { mode: 'close', expectCode: 0 },
  { mode: 'handlers', signal: 'SIGINT', expectCode: 0 },
  { mode: 'handlers', signal: 'SIGTERM', expectCode: 0 },
  { mode: 'handlers', signal: 'SIGHUP', expectCode: 0 },
  { mode: 'none', signal: 'SIGINT' },
  { mode: 'none', signal: 'SIGTERM' },
  { mode: 'none', signal: 'SIGHUP' },
  { mode: 'none', signal: 'SIGKILL' },
];

for (const c of cases) {
  void test(`${c.mode}${c.signal ? ` + ${c.signal}` : ''}: no program or link of the child remains`, async (t) => {
    if (skip) return t.skip(skip);
    const { proc, progs, name } = await startChild(c.mode);
    try {
      const exited = once(proc, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
      if (c.signal) proc.kill(c.signal);
      else proc.stdin?.end('close\n');
      const [code, signal] = await exited;
      if (c.expectCode !== undefined) assert.equal(code, c.expectCode, `exit code (signal ${signal})`);
      else assert.equal(signal, c.signal);
      await assertGone(progs, name);
    } finally {
      proc.kill('SIGKILL');
    }
  });
}
