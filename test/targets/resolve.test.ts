// Resolving user-space points on processes this test starts. References: the
// kernel's own uprobe (tracefs uprobe_events at the offset we computed must
// count hits while the program runs) and readelf.
import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parsePoint, type UserFunctionPoint } from '../../src/targets/spec';
import { resolveUserPoint } from '../../src/targets/resolve';
import { UserError } from '../../src/errors';
import { openElf } from '../../src/elf/elf-file';
import { cProgramDir, SAMPLE_PROGRAM, type BuiltProgram } from '../elf/c-program';
import { addTracefsUprobe, type TracefsUprobe } from './uprobe-events';

let programs: BuiltProgram;
let pie = '';
let stripped = '';
const children: ChildProcess[] = [];
const probes: TracefsUprobe[] = [];

before(() => {
  programs = cProgramDir('resolve');
  pie = programs.build('app', SAMPLE_PROGRAM, ['-O2', '-fPIE', '-pie']);
  stripped = programs.build('app-stripped', SAMPLE_PROGRAM, ['-O2', '-s']);
});
after(() => {
  for (const p of probes) p.remove();
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  programs?.remove();
});

const point = (text: string) => parsePoint(text, 'mbuf') as UserFunctionPoint;

/** Starts the sample program in its endless loop (any argument) and waits until libc is mapped. */
async function startLoop(exe: string): Promise<number> {
  const child = spawn(exe, ['loop'], { stdio: 'ignore' });
  children.push(child);
  for (let i = 0; i < 200; i++) {
    try {
      if (child.pid && fs.readFileSync(`/proc/${child.pid}/maps`, 'utf8').includes('libc.so')) return child.pid;
    } catch { /* not yet */ }
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`${exe} did not start`);
}

/** Attaches a kernel uprobe at the resolved place and waits (bounded) for hits. */
async function kernelSeesHits(objectPath: string, fileOffset: number): Promise<number> {
  const probe = addTracefsUprobe(objectPath, fileOffset);
  probes.push(probe);
  let hits = 0;
  for (let i = 0; i < 100 && hits === 0; i++) {
    await new Promise((r) => setTimeout(r, 10));
    hits = probe.hits();
  }
  probe.remove();
  return hits;
}

void test('functions of the executable and of libc in a running process: kernel uprobes at our offsets get hits', async () => {
  const pid = await startLoop(pie);
  const burst = resolveUserPoint(point('nc_process_burst@1@2'), { pid });
  assert.equal(burst.object, fs.realpathSync(pie));
  assert.equal(burst.objectPath, `/proc/${pid}/root${fs.realpathSync(pie)}`);
  assert.ok(await kernelSeesHits(burst.objectPath, burst.fileOffset) > 0, 'nc_process_burst is hit');
  const one = resolveUserPoint(point('nc_process_one@1'), { pid });
  assert.ok(await kernelSeesHits(one.objectPath, one.fileOffset) > 0, 'nc_process_one is hit');
  // usleep lives in libc; the explicit object form and the search across objects agree.
  const usleep = resolveUserPoint(point('libc:usleep@1'), { pid });
  assert.match(usleep.object, /\/libc\.so\.6$/);
  assert.deepEqual(resolveUserPoint(point('usleep@1'), { pid }).fileOffset, usleep.fileOffset);
  assert.ok(await kernelSeesHits(usleep.objectPath, usleep.fileOffset) > 0, 'usleep in libc is hit');
});

void test('a binary deleted while running is probed through map_files', async () => {
  const copy = path.join(programs.dir, 'app-deleted');
  fs.copyFileSync(pie, copy);
  fs.chmodSync(copy, 0o755);
  const pid = await startLoop(copy);
  fs.unlinkSync(copy);
  const r = resolveUserPoint(point('nc_process_burst@1@2'), { pid });
  assert.match(r.objectPath, new RegExp(`^/proc/${pid}/map_files/`));
  assert.match(r.object, /\(deleted\)$/);
  assert.ok(await kernelSeesHits(r.objectPath, r.fileOffset) > 0, 'the deleted binary is hit');
});

void test('a stripped binary with a separate debug file (by build-id): static functions resolve and get hits', async () => {
  // What a -dbgsym package installs: the full symbol table in <root>/.build-id/ab/cdef....debug.
  const full = programs.build('app-dbg', SAMPLE_PROGRAM, ['-O2', '-fPIE', '-pie', '-Wl,--build-id']);
  const bare = path.join(programs.dir, 'app-dbg-stripped');
  execFileSync('strip', ['-s', '-o', bare, full]);
  const id = openElf(full).buildId()!;
  const root = path.join(programs.dir, 'debugroot');
  fs.mkdirSync(path.join(root, '.build-id', id.slice(0, 2)), { recursive: true });
  execFileSync('objcopy', ['--only-keep-debug', full, path.join(root, '.build-id', id.slice(0, 2), `${id.slice(2)}.debug`)]);
  assert.equal(openElf(bare).isStripped, true);
  assert.throws(() => resolveUserPoint(point('nc_local_helper@1'), { binary: bare, debugRoots: [path.join(programs.dir, 'nowhere')] }), UserError);
  const r = resolveUserPoint(point('nc_local_helper@1'), { binary: bare, debugRoots: [root] });
  assert.match(r.debugFile ?? '', /\.debug$/);
  assert.equal(r.fileOffset, openElf(full).findFunction('nc_local_helper')!.fileOffset, 'same offset as in the unstripped build');
  const pid = await startLoop(bare);
  const inProcess = resolveUserPoint(point('nc_local_helper@1'), { pid, debugRoots: [root] });
  assert.ok(await kernelSeesHits(inProcess.objectPath, inProcess.fileOffset) > 0, 'the static function of the stripped binary is hit');
});

void test('--binary without a pid: the binary and its DT_NEEDED libraries', () => {
  const r = resolveUserPoint(point('nc_process_one@1'), { binary: pie });
  assert.equal(r.objectPath, pie);
  const lib = resolveUserPoint(point('usleep@1'), { binary: pie });
  assert.match(lib.objectPath, /libc\.so\.6$/);
});

void test('unknown functions, stripped binaries, missing objects and processes are UserErrors with hints', async () => {
  const pid = await startLoop(pie);
  assert.throws(() => resolveUserPoint(point('nc_proces_burst@1'), { pid }), (e: unknown) => e instanceof UserError && /not found/.test(e.message) && /nc_process_burst/.test(e.hint ?? ''));
  assert.throws(() => resolveUserPoint(point('libnothere:nc_process_one@1'), { pid }), (e: unknown) => e instanceof UserError && /no object matching 'libnothere'/.test(e.message) && /libc\.so\.6/.test(e.hint ?? ''));
  assert.throws(() => resolveUserPoint(point('nc_local_helper@1'), { binary: stripped }), (e: unknown) => e instanceof UserError && /stripped/.test(e.hint ?? ''));
  assert.throws(() => resolveUserPoint(point('f@1'), { pid: 0x3ffffff }), (e: unknown) => e instanceof UserError && /no process with pid/.test(e.message));
  assert.throws(() => resolveUserPoint(point('f@1'), {}), UserError);
  // readelf marks libc's memcpy as IFUNC: refused with the reason.
  assert.throws(() => resolveUserPoint(point('libc:memcpy@1'), { pid }), (e: unknown) => e instanceof UserError && /indirect function/.test(e.message));
  assert.throws(() => resolveUserPoint(point('f@1'), { binary: '/nonexistent/app' }), UserError);
});
