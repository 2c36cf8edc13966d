// The capture session's outputs and exit paths, on a local program that
// calls an rte_mbuf-shaped function in a tight loop (bench/mbuf-target.c:
// no network, no DPDK needed; --dpdk-version names the layout it mimics).
// A flood of matching packets through a small ring must show its losses in
// the summary, in pcapng statistics and in the exit status; -c, --json, the
// built-in decoder, tcpdump decoding, SIGTERM and -w - each end cleanly.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readCaptureFile } from '../../src/output/read-capture';
import { repoRoot } from '../../lab/paths';
import { runNetcap, tempDir } from './netcap-child';

describe('capture session', { timeout: 180_000 }, () => {
  let dir: string;
  let target: ChildProcess;
  const base = () => ['mbuf', '-f', 'bench_one@1', '--pid', String(target.pid), '--dpdk-version', '22.11'];

  before(async () => {
    dir = tempDir('session');
    const binary = path.join(dir, 'mbuf-target');
    execFileSync('gcc', ['-O2', '-o', binary, path.join(repoRoot, 'bench', 'mbuf-target.c')]);
    // Every call carries a TCP SYN to port 80 (192.0.2.1.40000 > 192.0.2.2.80).
    target = spawn(binary, ['single', 'match'], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve) => target.stdout!.once('data', () => resolve()));
    target.stdout!.resume();
  });
  after(() => {
    target?.kill('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('an overloaded ring: losses in the summary, in pcapng statistics and in the exit status', async () => {
    const out = path.join(dir, 'flood.pcapng');
    const run = runNetcap([...base(), '-e', 'tcp port 80', '--ring-size', '1', '-w', out]);
    await run.ready();
    // A reader that stops reading (SIGSTOP) while the probe keeps writing:
    // the 1 MiB ring holds ~7000 of these records, the loop makes more.
    run.child.kill('SIGSTOP');
    await new Promise((r) => setTimeout(r, 2000));
    run.child.kill('SIGCONT');
    await new Promise((r) => setTimeout(r, 300));
    const exit = await run.stop('SIGINT');
    const stderr = run.stderr();
    assert.equal(exit.code, 3, stderr);
    const lost = Number(/(\d+) packets lost in ring/.exec(stderr)?.[1]);
    const captured = Number(/(\d+) packets? captured/.exec(stderr)?.[1]);
    const matched = Number(/(\d+) packets matched by filter/.exec(stderr)?.[1]);
    const seen = Number(/(\d+) packets seen by probes/.exec(stderr)?.[1]);
    assert.ok(lost > 0, `a 1 MiB ring must overflow under a flood:\n${stderr}`);
    const file = await readCaptureFile(out);
    assert.equal(file.packets.length, captured);
    const stats = file.statistics[0]?.stats;
    assert.equal(stats?.osDropped, BigInt(lost));
    assert.equal(stats?.filterAccepted, BigInt(matched));
    assert.equal(stats?.received, BigInt(seen));
    assert.equal(matched, captured + lost, 'every matched packet is either written or counted lost');
    assert.equal(seen, matched, 'every packet matches this filter');
  });

  it('--loss-ok exits 0 despite losses', async () => {
    const run = runNetcap([...base(), '--ring-size', '1', '-w', '/dev/null', '--loss-ok']);
    await run.ready();
    run.child.kill('SIGSTOP');
    await new Promise((r) => setTimeout(r, 2000));
    run.child.kill('SIGCONT');
    const exit = await run.stop('SIGINT');
    assert.equal(exit.code, 0, run.stderr());
    assert.match(run.stderr(), /[1-9]\d* packets lost in ring/);
  });

  it('-c N --json: N objects with metadata and bytes', async () => {
    const run = runNetcap([...base(), '-c', '5', '--json']);
    const exit = await run.exited;
    assert.equal(exit.code, 0, run.stderr());
    const lines = run.stdout().toString().trim().split('\n');
    assert.equal(lines.length, 5);
    for (const line of lines) {
      const o = JSON.parse(line) as { ifName: string; caplen: number; wirelen: number; comment: string; data: string; summary: string };
      assert.equal(o.ifName, 'mbuf:bench_one@1');
      assert.equal(o.caplen, 54);
      assert.equal(o.wirelen, 54);
      assert.match(o.comment, new RegExp(`^pid=${target.pid} tid=${target.pid} comm=mbuf-target cpu=\\d+ point=mbuf:bench_one@1 mbuf=0x[0-9a-f]+ port=0$`));
      assert.match(o.summary, /192\.0\.2\.1\.40000 > 192\.0\.2\.2\.80/);
      assert.equal(o.data.slice(24, 28), '0800');
    }
  });

  it('--no-tcpdump: the built-in decoder', async () => {
    const run = runNetcap([...base(), '-c', '3', '--no-tcpdump']);
    const exit = await run.exited;
    assert.equal(exit.code, 0, run.stderr());
    const lines = run.stdout().toString().trim().split('\n');
    assert.equal(lines.length, 3);
    for (const l of lines) assert.match(l, /^\d\d:\d\d:\d\d\.\d{6} IP 192\.0\.2\.1\.40000 > 192\.0\.2\.2\.80: Flags \[S\]/);
  });

  it('tcpdump decoding with -t flags (no shell)', async () => {
    const run = runNetcap([...base(), '-c', '2', '-t', '-nn -e']);
    const exit = await run.exited;
    assert.equal(exit.code, 0, run.stderr());
    const lines = run.stdout().toString().trim().split('\n');
    assert.equal(lines.length, 2);
    // -e: tcpdump prints the MAC addresses of the frame the probe read.
    for (const l of lines) assert.match(l, /02:00:00:00:0a:01 > 02:00:00:00:0b:01, ethertype IPv4 \(0x0800\), length 54: 192\.0\.2\.1\.40000 > 192\.0\.2\.2\.80: Flags \[S\]/);
  });

  it('SIGTERM ends the capture cleanly with a valid file and the summary', async () => {
    const out = path.join(dir, 'term.pcap');
    const run = runNetcap([...base(), '-w', out, '--loss-ok']);
    await run.ready();
    await new Promise((r) => setTimeout(r, 300));
    const exit = await run.stop('SIGTERM');
    assert.equal(exit.code, 0, run.stderr());
    assert.match(run.stderr(), /\d+ packets captured/);
    const file = await readCaptureFile(out);
    assert.ok(file.packets.length > 0);
    // tcpdump reads what netcap wrote.
    const text = execFileSync('tcpdump', ['-nn', '-r', out, '-c', '1'], { stdio: ['ignore', 'pipe', 'ignore'] }).toString();
    assert.match(text, /IP 192\.0\.2\.1\.40000 > 192\.0\.2\.2\.80: Flags \[S\]/);
  });

  it('a burst of 32 is captured whole through the tail-called worker (16 mbufs per run)', async () => {
    const burst = spawn(path.join(dir, 'mbuf-target'), ['burst', 'match'], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      await new Promise<void>((resolve) => burst.stdout!.once('data', () => resolve()));
      burst.stdout!.resume();
      const run = runNetcap(['mbuf', '-f', 'bench_burst@1@2', '--pid', String(burst.pid), '--dpdk-version', '22.11', '-c', '64', '--json']);
      const exit = await run.exited;
      assert.equal(exit.code, 0, run.stderr());
      const addrs = run.stdout().toString().trim().split('\n').map((l) => BigInt(/mbuf=(0x[0-9a-f]+)/.exec((JSON.parse(l) as { comment: string }).comment)![1]));
      assert.equal(addrs.length, 64);
      // The target's 32 mbufs sit 128 bytes apart in one array, passed in order:
      // one call gives 32 consecutive addresses, then the next call starts over.
      const start = addrs.indexOf(addrs.reduce((a, b) => (a < b ? a : b)));
      assert.ok(start < 32, 'a new burst starts within the first 32 packets');
      for (let i = 1; i < 32; i++) assert.equal(addrs[start + i] - addrs[start + i - 1], 128n, `packet ${i} of the burst`);
    } finally {
      burst.kill('SIGKILL');
    }
  });

  it('-w - streams pcap to stdout and --time-stamp-precision nano sets the magic', async () => {
    const run = runNetcap([...base(), '-c', '4', '-w', '-', '--time-stamp-precision', 'nano']);
    const exit = await run.exited;
    assert.equal(exit.code, 0, run.stderr());
    const buf = run.stdout();
    assert.equal(buf.readUInt32LE(0), 0xa1b23c4d);
    assert.equal(buf.length, 24 + 4 * (16 + 54));
    // Timestamps are wall-clock: within a minute of now.
    const sec = buf.readUInt32LE(24);
    assert.ok(Math.abs(sec - Date.now() / 1000) < 60, `timestamp ${sec} is not the current time`);
  });
});
