// `npm run bench` interrupted in the middle of the dataplane section (DPDK
// l2fwd running as a primary with hugepages, a capture tool attached) leaves
// nothing behind: no namespace, no l2fwd, no EAL runtime directory, no extra
// hugepages, no hugetlbfs mount, no scratch directory. Checked with the
// kernel's own views (/proc, `ip netns list`).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { L2FWD_SOURCE_DIR } from '../../examples/l2fwd-pdump/build';
import { runCommand } from '../../lab';

const isRoot = process.getuid?.() === 0;
const repoRoot = path.resolve(__dirname, '..', '..', '..');
const harness = path.join(repoRoot, 'dist', 'bench', 'run.js');

function benchNamespaces(): string[] {
  return runCommand(['ip', 'netns', 'list'])
    .split('\n')
    .map((l) => l.split(' ')[0])
    .filter((n) => n.startsWith('nc-bench-dp-'));
}

function hugeMounts(): string[] {
  return fs
    .readFileSync('/proc/mounts', 'utf8')
    .split('\n')
    .filter((l) => l.includes('nc-bench-huge-'));
}

function l2fwdPids(prefixes: string[]): number[] {
  const pids: number[] = [];
  for (const p of fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const cmd = fs.readFileSync(`/proc/${p}/cmdline`, 'utf8');
      if (cmd.includes('l2fwd-pdump') && prefixes.some((x) => cmd.includes(x))) pids.push(Number(p));
    } catch {
      // gone
    }
  }
  return pids;
}

void describe('bench harness interrupted', { skip: !isRoot ? 'needs root' : !fs.existsSync(path.join(L2FWD_SOURCE_DIR, 'main.c')) && 'needs dpdk-doc' }, () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'nc-bench-int-test-'));
  after(() => fs.rmSync(out, { recursive: true, force: true }));

  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    void it(`cleans up everything on ${signal} while l2fwd forwards`, { timeout: 120_000 }, async () => {
      const pagesBefore = Number(fs.readFileSync('/proc/sys/vm/nr_hugepages', 'utf8'));
      const nsBefore = new Set(benchNamespaces());
      const child = spawn(process.execPath, [harness, '--only', 'dataplane', '--quick', '--out', path.join(out, 'R.md')], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      child.stderr.setEncoding('utf8');
      const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
      // Wait until the section is measuring (l2fwd up, hugepages reserved), then interrupt.
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`the dataplane section never started measuring:\n${stderr}`)), 90_000);
        child.stderr.on('data', (s: string) => {
          stderr += s;
          if (/rep 1\/\d+ 20k\.bpftrace/.test(stderr)) {
            clearTimeout(timer);
            resolve();
          }
        });
        void exited.then(() => reject(new Error(`the harness exited early:\n${stderr}`)));
      });
      const ours = benchNamespaces().filter((n) => !nsBefore.has(n));
      assert.equal(ours.length, 1, 'the section made its namespace');
      assert.ok(hugeMounts().length >= 1, 'and mounted hugetlbfs');
      assert.equal(l2fwdPids(ours).length, 1, 'and runs l2fwd');
      child.kill(signal);
      const code = await exited;
      assert.notEqual(code, 0);
      assert.deepEqual(benchNamespaces().filter((n) => ours.includes(n)), []);
      assert.deepEqual(l2fwdPids(ours), []);
      for (const n of ours) assert.ok(!fs.existsSync(`/var/run/dpdk/${n}`), `EAL runtime directory of ${n} removed`);
      assert.deepEqual(hugeMounts(), []);
      assert.equal(Number(fs.readFileSync('/proc/sys/vm/nr_hugepages', 'utf8')), pagesBefore);
      assert.deepEqual(fs.readdirSync(os.tmpdir()).filter((d) => d.startsWith('nc-bench-dataplane-')), []);
    });
  }
});
