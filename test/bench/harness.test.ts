// The bench harness's own measuring tools, checked against references
// nobody here wrote: Python's statistics module for medians and quantiles,
// capinfos/editcap (Wireshark) for packet counts, GNU time (wait4's rusage)
// for peak RSS and CPU seconds, the kernel's /proc for hugepages and mounts,
// and binutils' nm for the benchmark l2fwd's probe points.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { buildL2fwdPdump, L2FWD_SOURCE_DIR } from '../../examples/l2fwd-pdump/build';
import { adaptModule } from '../../bench/harness/load-sections';
import { countPackets } from '../../bench/harness/pcap-count';
import { writePcap } from '../../bench/harness/pcap-write';
import { reserveHugepages } from '../../bench/harness/hugepages';
import { pairedRatios, summarize } from '../../bench/harness/stats';
import { startTool } from '../../bench/harness/tool-process';
import { udpFrame, World } from '../../lab';

const isRoot = process.getuid?.() === 0;
const has = (cmd: string): boolean => (process.env.PATH ?? '').split(':').some((d) => fs.existsSync(path.join(d, cmd)));
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nc-bench-test-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

void describe('stats', () => {
  void it('median and quartiles agree with Python statistics (inclusive quantiles)', { skip: !has('python3') && 'needs python3' }, () => {
    // Seeded so a failure can be reproduced.
    let seed = 12345;
    const rand = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 1000;
    for (const n of [1, 2, 3, 4, 5, 8, 13]) {
      const xs = Array.from({ length: n }, rand);
      const s = summarize(xs);
      const py = JSON.parse(
        execFileSync('python3', ['-c', 'import json,statistics,sys; x=json.load(sys.stdin); q=statistics.quantiles(x,n=4,method="inclusive") if len(x)>1 else [x[0]]*3; print(json.dumps([statistics.median(x),min(x),max(x),q[0],q[2]]))'], {
          input: JSON.stringify(xs),
        }).toString(),
      ) as number[];
      const [median, min, max, p25, p75] = py;
      assert.ok(Math.abs(s.median - median) < 1e-9, `median of ${n}: ${s.median} vs ${median}`);
      assert.equal(s.min, min);
      assert.equal(s.max, max);
      assert.ok(Math.abs(s.p25 - p25) < 1e-9, `p25 of ${n}: ${s.p25} vs ${p25}`);
      assert.ok(Math.abs(s.p75 - p75) < 1e-9, `p75 of ${n}: ${s.p75} vs ${p75}`);
      assert.equal(s.n, n);
    }
  });

  void it('leaves failed runs (NaN) out and pairs ratios run by run', () => {
    const s = summarize([3, NaN, 1, 2]);
    assert.equal(s.n, 3);
    assert.equal(s.median, 2);
    const r = pairedRatios([2, 9, 4], [1, 3, 0]);
    assert.equal(r.length, 3);
    assert.equal(r[0], 2);
    assert.equal(r[1], 3);
    assert.ok(Number.isNaN(r[2]), 'a zero anchor gives no ratio');
  });
});

void describe('packet counts', { skip: !(has('capinfos') && has('editcap')) && 'needs capinfos and editcap (tshark package)' }, () => {
  const capinfosCount = (file: string): number => Number(/^Number of packets:\s*(\d+)/m.exec(execFileSync('capinfos', ['-c', '-M', file]).toString())?.[1]);
  const frames = Array.from({ length: 37 }, (_, i) => udpFrame({ srcPort: 2000 + i, payload: Buffer.alloc(i * 11, i) }));

  void it('counts pcap and pcapng files as capinfos does', () => {
    const pcap = path.join(tmp, 'count.pcap');
    const pcapng = path.join(tmp, 'count.pcapng');
    writePcap(pcap, frames);
    execFileSync('editcap', ['-F', 'pcapng', pcap, pcapng]);
    assert.equal(countPackets(pcap), capinfosCount(pcap));
    assert.equal(countPackets(pcapng), capinfosCount(pcapng));
    assert.equal(countPackets(pcap), frames.length);
  });

  void it('counts only whole records of a file cut short, like tcpdump -r', { skip: !has('tcpdump') && 'needs tcpdump' }, () => {
    const pcap = path.join(tmp, 'cut.pcap');
    writePcap(pcap, frames);
    const full = fs.readFileSync(pcap);
    fs.writeFileSync(pcap, full.subarray(0, full.length - 20));
    let lines: string;
    try {
      lines = execFileSync('tcpdump', ['-nn', '-r', pcap], { stdio: ['ignore', 'pipe', 'pipe'] }).toString();
    } catch (e) {
      lines = (e as { stdout: Buffer }).stdout.toString(); // tcpdump exits 1 on the truncated record
    }
    assert.equal(countPackets(pcap), lines.trim().split('\n').length);
    assert.equal(countPackets(path.join(tmp, 'missing.pcap')), 0);
  });
});

void describe('process usage', { skip: (!has('python3') || !fs.existsSync('/usr/bin/time')) && 'needs python3 and GNU time' }, () => {
  const world = new World('bench-usage');
  after(() => world.destroy());

  void it('peak RSS and CPU seconds agree with GNU time (wait4 rusage) for the same program', async () => {
    // Touches 96 MiB, then spins ~0.6 s of CPU, then sleeps so the sampler sees it alive.
    const program = 'import time\nb = bytearray(96 << 20)\nt = time.process_time()\nwhile time.process_time() - t < 0.6: pass\ntime.sleep(0.3)\n';
    const timeOut = path.join(tmp, 'time.txt');
    execFileSync('/usr/bin/time', ['-o', timeOut, '-f', '%M %U %S', 'python3', '-c', program]);
    const [maxKiB, user, sys] = fs.readFileSync(timeOut, 'utf8').trim().split(/\s+/).map(Number);
    const t = startTool(['python3', '-c', program], { world });
    const exit = await t.exited;
    assert.equal(exit.code, 0);
    const rssRatio = exit.usage.peakRssKiB / maxKiB;
    assert.ok(rssRatio > 0.9 && rssRatio < 1.1, `peak RSS ${exit.usage.peakRssKiB} KiB vs GNU time ${maxKiB} KiB`);
    const cpu = user + sys;
    assert.ok(Math.abs(exit.usage.cpuSeconds - cpu) < 0.15, `CPU ${exit.usage.cpuSeconds} s vs GNU time ${cpu} s`);
  });

  void it('reports when a pattern appears in the output, and stops on request', async () => {
    const t = startTool(['python3', '-u', '-c', 'import time\ntime.sleep(0.2)\nprint("ready", flush=True)\ntime.sleep(30)'], { world });
    const ms = await t.waitFor(/^ready$/, 10_000);
    assert.ok(ms >= 150 && ms < 10_000, `ready after ${ms} ms`);
    const exit = await t.stop('SIGTERM', 2000);
    assert.equal(exit.signal, 'SIGTERM');
    await assert.rejects(t.waitFor(/never/, 1000), /exited/);
  });
});

void describe('hugepages', { skip: !isRoot && 'needs root' }, () => {
  void it('reserves pages on top of what was there, mounts hugetlbfs, and restores both', () => {
    const nr = (): number => Number(fs.readFileSync('/proc/sys/vm/nr_hugepages', 'utf8'));
    const mounted = (dir: string): boolean => fs.readFileSync('/proc/mounts', 'utf8').split('\n').some((l) => l.split(' ')[1] === dir && l.split(' ')[2] === 'hugetlbfs');
    const before = nr();
    const h = reserveHugepages(4);
    try {
      assert.equal(nr(), before + h.pagesAdded);
      assert.ok(h.pagesAdded >= 2);
      assert.ok(mounted(h.dir), `${h.dir} is a hugetlbfs mount`);
    } finally {
      h.release();
    }
    assert.ok(!mounted(h.dir));
    assert.ok(!fs.existsSync(h.dir));
    assert.equal(nr(), before);
  });
});

void describe('benchmark l2fwd', { skip: !fs.existsSync(path.join(L2FWD_SOURCE_DIR, 'main.c')) && 'needs dpdk-doc and libdpdk-dev' }, () => {
  void it('builds with the out-of-line probe points and a call to rte_pdump_init (checked with nm)', () => {
    const binary = buildL2fwdPdump(path.join(tmp, 'build'));
    const symbols = execFileSync('nm', [binary]).toString();
    assert.match(symbols, /^[0-9a-f]+ t l2fwd_simple_forward$/m);
    assert.match(symbols, /^[0-9a-f]+ t l2fwd_forward_burst$/m);
    const undefinedDynamic = execFileSync('nm', ['-D', '--undefined-only', binary]).toString();
    assert.match(undefinedDynamic, /\brte_pdump_init\b/);
    assert.match(undefinedDynamic, /\brte_pdump_uninit\b/);
  });
});

void describe('loading bench modules', () => {
  void it('adapts the shapes other modules may export', async () => {
    const ctx = { repoRoot: '', workDir: '', repeats: 1, quick: true, remainingMs: () => 1, log: () => {}, onCleanup: () => {} };
    const asSection = adaptModule('a', { section: { id: 'x', title: 'X', budgetMs: 5, run: () => Promise.resolve({ markdown: 'm', figures: { k: 1 } }) } });
    assert.equal(asSection?.id, 'x');
    assert.deepEqual(await asSection?.run(ctx), { markdown: 'm', figures: { k: 1 } });
    const asFunction = adaptModule('b', { run: () => Promise.resolve('just markdown') });
    assert.equal(asFunction?.id, 'b');
    assert.deepEqual(await asFunction?.run(ctx), { markdown: 'just markdown', figures: {} });
    assert.equal(adaptModule('c', { helper: 3 }), undefined);
  });
});
