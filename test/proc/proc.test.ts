// /proc readers on processes this test starts: a plain `sleep`, a copy of
// sleep deleted while it runs, and a copy visible only inside its own mount
// namespace. References: the kernel's own map_files/ directory, stat(2) of
// the mapped files, /proc/PID/exe, and the ELF build-id of the original.
import { test, after } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseMaps, readMaps } from '../../src/proc/maps';
import { comm, exePath, mappedObjects, processExists } from '../../src/proc/process';
import { openElf } from '../../src/elf/elf-file';
import { UserError } from '../../src/errors';

const SLEEP = fs.realpathSync('/usr/bin/sleep');
const children: ChildProcess[] = [];
const dirs: string[] = [];

after(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

function tmpDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'nc-proc-'));
  dirs.push(d);
  return d;
}

/** Starts a process and waits (bounded) until `ready` says its maps are in place. */
async function start(argv: string[], ready: (pid: number) => boolean): Promise<ChildProcess> {
  const child = spawn(argv[0], argv.slice(1), { stdio: 'ignore' });
  children.push(child);
  for (let i = 0; i < 200; i++) {
    if (child.pid && ready(child.pid)) return child;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`${argv.join(' ')} did not start`);
}

function mapsMention(pid: number, text: string): boolean {
  try {
    return fs.readFileSync(`/proc/${pid}/maps`, 'utf8').includes(text);
  } catch {
    return false;
  }
}

void test('a running sleep: comm, exe, mapped objects agree with map_files/ and stat()', async () => {
  const child = await start([SLEEP, '30'], (pid) => mapsMention(pid, 'libc'));
  const pid = child.pid!;
  assert.equal(processExists(pid), true);
  assert.equal(comm(pid), 'sleep');
  assert.equal(exePath(pid), SLEEP);
  // Every file-backed mapping appears in the kernel's map_files/ under its exact range name.
  const ranges = new Set(fs.readdirSync(`/proc/${pid}/map_files`));
  const fileBacked = readMaps(pid).filter((m) => m.inode !== 0);
  assert.deepEqual(new Set(fileBacked.map((m) => `${m.start.toString(16)}-${m.end.toString(16)}`)), ranges);
  const objects = mappedObjects(pid);
  const exe = objects.find((o) => o.path === SLEEP);
  const libc = objects.find((o) => /\/libc\.so\.6$/.test(o.path));
  assert.ok(exe && libc);
  for (const o of [exe, libc]) {
    const st = fs.statSync(o.path);
    assert.equal(o.inode, st.ino);
    assert.equal(o.dev, `${(st.dev >> 8).toString(16).padStart(2, '0')}:${(st.dev & 0xff).toString(16).padStart(2, '0')}`);
    assert.equal(o.deleted, false);
    assert.equal(fs.statSync(o.openPath).ino, st.ino);
    assert.ok(o.mappings.some((m) => m.perms.includes('x')));
  }
  assert.ok(objects.every((o) => o.path.startsWith('/')), 'no [vdso], [heap] or anonymous memory');
  child.kill('SIGKILL');
});

void test('a binary deleted while running: marked deleted, opened through map_files, same build-id', async () => {
  const dir = tmpDir();
  const copy = path.join(dir, 'nc-sleep-copy');
  fs.copyFileSync(SLEEP, copy);
  fs.chmodSync(copy, 0o755);
  const child = await start([copy, '30'], (pid) => mapsMention(pid, 'libc'));
  fs.unlinkSync(copy);
  const pid = child.pid!;
  assert.equal(exePath(pid), copy);
  const obj = mappedObjects(pid).find((o) => o.path === copy);
  assert.ok(obj);
  assert.equal(obj.deleted, true);
  assert.match(obj.openPath, new RegExp(`^/proc/${pid}/map_files/[0-9a-f]+-[0-9a-f]+$`));
  assert.equal(openElf(obj.openPath).buildId(), openElf(SLEEP).buildId());
  child.kill('SIGKILL');
});

void test('a binary visible only in another mount namespace is opened through /proc/PID/root', async (t) => {
  const dir = tmpDir();
  // Inside a private mount namespace, a tmpfs over `dir` holds the copy; from here `dir` stays empty.
  const script = `mount -t tmpfs nc-proc "$1" && cp "$2" "$1/nc-sleep-ns" && exec "$1/nc-sleep-ns" 30`;
  let child: ChildProcess;
  try {
    child = await start(['unshare', '--mount', '--propagation', 'private', 'sh', '-c', script, 'sh', dir, SLEEP], (pid) => mapsMention(pid, 'nc-sleep-ns') && mapsMention(pid, 'libc'));
  } catch (e) {
    return t.skip(`cannot make a mount namespace here: ${(e as Error).message}`);
  }
  const pid = child.pid!;
  const inside = path.join(dir, 'nc-sleep-ns');
  assert.equal(fs.existsSync(inside), false, 'not visible from our namespace');
  const obj = mappedObjects(pid).find((o) => o.path === inside);
  assert.ok(obj);
  assert.equal(obj.openPath, `/proc/${pid}/root${inside}`);
  assert.equal(openElf(obj.openPath).buildId(), openElf(SLEEP).buildId());
  child.kill('SIGKILL');
});

void test('maps lines with spaces in paths, (deleted) and pseudo-paths parse', () => {
  const text = [
    '55d0c8a00000-55d0c8a02000 r-xp 00002000 fd:01 1234   /opt/my app/bin (deleted)',
    '7ffd1a000000-7ffd1a021000 rw-p 00000000 00:00 0                          [stack]',
    'ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]',
    '7f0000000000-7f0000001000 rw-p 00000000 00:00 0 ',
  ].join('\n');
  const [a, b, c, d] = parseMaps(text);
  assert.deepEqual([a.path, a.deleted, a.inode, a.offset, a.perms, a.dev], ['/opt/my app/bin', true, 1234, 0x2000n, 'r-xp', 'fd:01']);
  assert.deepEqual([b.path, b.deleted], ['[stack]', false]);
  assert.equal(c.start, 0xffffffffff600000n);
  assert.equal(d.path, '');
});

void test('a missing process is a UserError', () => {
  const pid = 0x3ffffff; // above the kernel's PID_MAX_LIMIT (4194304): never a live pid
  assert.equal(processExists(pid), false);
  assert.throws(() => mappedObjects(pid), (e: unknown) => e instanceof UserError && /no process with pid/.test(e.message));
  assert.throws(() => comm(-1), UserError);
  assert.throws(() => readMaps(pid), UserError);
});
