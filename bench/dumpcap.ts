// DPDK's own capture tool, dpdk-dumpcap, as the anchor netcap mbuf is
// compared with, and the explanation of why it "dropped" every packet when
// first tried against testpmd on this machine (issue 7).
//
// dpdk-dumpcap is a DPDK *secondary* process: it creates a mempool and a ring
// in the primary's shared memory and asks the primary (which must have called
// rte_pdump_init) to install rx/tx callbacks that copy each packet into that
// pool. The pool records its operations as `ops_index`, an index into a table
// each process fills at start-up ("the indices used to access the array are
// valid across processes", rte_mempool.h, struct rte_mempool_ops_table) —
// valid only when both processes registered the mempool drivers in the same
// order. Debian's dpdk-testpmd links librte_mempool_dpaa (and more drivers)
// directly, dpdk-dumpcap loads them all as plugins, so the orders differ: in
// testpmd, dumpcap's index names the dpaa2 mempool driver, every copy fails
// to allocate ("mempool/dpaa2: Failed to allocate IO portal", twice per
// packet), and pdump counts the packet as dropped. The section below shows it
// again on every run, with the pools' ops_index as dpdk-proc-info prints them,
// and checks the explanation: dumpcap started with LD_PRELOAD of the mempool
// drivers testpmd links directly registers them in testpmd's order and then
// captures every packet. The dataplane benchmark avoids the problem with an
// l2fwd that links no driver directly (examples/l2fwd-pdump).
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { addDpdkNamespace, inject, udpFrame, waitForwarding, World, type Namespace } from '../lab';
import { commandsBlock } from './harness/format';
import { reserveHugepages } from './harness/hugepages';
import { countPackets } from './harness/pcap-count';
import type { BenchContext, BenchResult, BenchSection } from './harness/section';
import { startTool, type ToolExit, type ToolProcess } from './harness/tool-process';

export const DUMPCAP = 'dpdk-dumpcap';
const TESTPMD = 'dpdk-testpmd';

/** dpdk-dumpcap's closing line: "Packets received/dropped on interface 'X': R/D (P%)". */
export function parseDumpcapStats(output: string): { received: number; dropped: number } | undefined {
  const m = /Packets received\/dropped on interface '[^']*':\s*(\d+)\/(\d+)/.exec(output);
  return m ? { received: Number(m[1]), dropped: Number(m[2]) } : undefined;
}

export function dumpcapAvailable(): boolean {
  try {
    execFileSync(DUMPCAP, ['--version'], { stdio: 'ignore', timeout: 10_000 });
    return true;
  } catch {
    return false;
  }
}

export interface DumpcapRun {
  tool: ToolProcess;
  argv: string[];
  /** Stops it (SIGINT: it writes its statistics and closes the file) and reads them. */
  stop(): Promise<ToolExit & { received: number; dropped: number }>;
}

/**
 * Starts dpdk-dumpcap on DPDK port `port` of the primary with `filePrefix`,
 * writing pcapng to `outFile`; resolves once it says it is capturing.
 */
export async function startDumpcap(world: World, ns: Namespace, filePrefix: string, outFile: string, port = '0', env?: NodeJS.ProcessEnv): Promise<DumpcapRun> {
  const argv = [DUMPCAP, `--file-prefix=${filePrefix}`, '-i', port, '-w', outFile];
  const tool = startTool(argv, { ns, world, ...(env ? { env } : {}) });
  // It prints "Packets captured: " on stderr right after asking the primary to start copying
  // ("Capturing on ..." goes to stdout, which is block-buffered into a pipe and arrives at exit).
  await tool.waitFor(/^Packets captured:/, 20_000);
  return {
    tool,
    argv,
    async stop() {
      const exit = await tool.stop('SIGINT', 10_000);
      const stats = parseDumpcapStats(exit.output) ?? { received: NaN, dropped: NaN };
      return { ...exit, ...stats };
    },
  };
}

/** The librte_* sonames a binary links directly, in order (its ELF DT_NEEDED entries, read by readelf). */
export function linkedDpdkSonames(binary: string): string[] {
  const out = execFileSync('readelf', ['-d', binary], { stdio: ['ignore', 'pipe', 'ignore'] }).toString();
  return [...out.matchAll(/\[(librte_[a-z0-9_]+\.so[^\]]*)\]/g)].map((m) => m[1]);
}

/** The same as library names without the .so suffix. */
export function linkedDpdkLibraries(binary: string): string[] {
  return linkedDpdkSonames(binary).map((s) => s.replace(/\.so.*$/, ''));
}

export interface MempoolView {
  name: string;
  opsIndex: number;
  /** The driver that index names in the table of the process that printed it (dpdk-proc-info). */
  opsName: string;
}

/**
 * The mempools of a running primary as dpdk-proc-info (another secondary
 * process, which loads the mempool drivers as plugins like dumpcap does)
 * sees them: rte_mempool_dump's "ops_index=N" and "ops_name: <X>", where X is
 * looked up in dpdk-proc-info's own table.
 */
export function showMempools(ns: Namespace, filePrefix: string): MempoolView[] {
  const out = ns.run(['dpdk-proc-info', `--file-prefix=${filePrefix}`, '--no-pci', '--', '--show-mempool'], { timeoutMs: 30_000 });
  const pools: MempoolView[] = [];
  for (const m of out.matchAll(/^mempool <([^>]+)>@\S+\n(?:.*\n)*?\s*ops_index=(\d+)\n\s*ops_name: <([^>]*)>/gm)) {
    pools.push({ name: m[1], opsIndex: Number(m[2]), opsName: m[3] });
  }
  return pools;
}

function which(cmd: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    const p = path.join(dir, cmd);
    if (fs.existsSync(p)) return p;
  }
  return undefined;
}

interface TestpmdFinding {
  frames: number;
  received: number;
  dropped: number;
  captured: number;
  dpaa2Errors: number;
  testpmdMempoolLibs: string[];
  dumpcapMempoolLibs: string[];
  /** The ops testpmd says it chose for its own pool ("preferred mempool ops selected: X"). */
  testpmdOps: string;
  /** Mempools as dpdk-proc-info saw them while dumpcap ran (testpmd's and dumpcap's). */
  pools: MempoolView[];
  /** The same again with dumpcap started under LD_PRELOAD of the mempool drivers testpmd links directly. */
  aligned?: { preload: string[]; received: number; dropped: number; captured: number; dpaa2Errors: number; pools: MempoolView[] };
  commands: string[];
}

interface CaptureRound {
  received: number;
  dropped: number;
  captured: number;
  dpaa2Errors: number;
  pools: MempoolView[];
  argv: string[];
}

/** testpmd (af_packet ports, hugepages) + dpdk-dumpcap on port 0 + `frames` frames: what dumpcap reports, and testpmd's log. */
async function reproduceWithTestpmd(ctx: BenchContext, world: World, hugeDir: string, frames: number): Promise<TestpmdFinding> {
  const testpmd = which(TESTPMD);
  if (!testpmd) throw new Error(`${TESTPMD} not found: install dpdk-dev`);
  const ns = addDpdkNamespace(world, 'bench-pmd');
  const pmdArgv = [
    TESTPMD, '-l', '0-1', '-m', '256', '--huge-dir', hugeDir, '--no-pci', '--no-telemetry', '--file-prefix', ns.name,
    '--vdev=net_af_packet0,iface=a0', '--vdev=net_af_packet1,iface=b0',
    // --stats-period: without it testpmd waits for Enter on stdin and exits at once on /dev/null.
    '--', '--auto-start', '--forward-mode=io', '--total-num-mbufs=8192', '--stats-period=60',
  ];
  const pmd = startTool(pmdArgv, { ns, world });
  const cleanup = async (): Promise<void> => {
    await pmd.stop('SIGINT', 5000);
    fs.rmSync(`/var/run/dpdk/${ns.name}`, { recursive: true, force: true });
  };
  ctx.onCleanup(cleanup);
  const died = pmd.exited.then((r) => {
    throw new Error(`testpmd exited (${r.signal ?? r.code}): ${r.output.trim().slice(-1500)}`);
  });
  died.catch(() => {});
  await waitForwarding(ns, 'a1', 'b1', { timeoutMs: 30_000, abort: died });
  // One round: dumpcap attached, pools shown, frames sent, dumpcap stopped; testpmd's dpaa2 errors counted.
  const round = async (name: string, env?: NodeJS.ProcessEnv): Promise<CaptureRound> => {
    const outFile = path.join(ctx.workDir, `${name}.pcapng`);
    const dump = await startDumpcap(world, ns, ns.name, outFile, '0', env);
    let pools: MempoolView[] = [];
    try {
      pools = showMempools(ns, ns.name);
    } catch (e) {
      ctx.log(`dpdk-proc-info --show-mempool failed: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`);
    }
    const errorsBefore = (pmd.output().match(/mempool\/dpaa2/g) ?? []).length;
    await inject(ns, 'a1', [udpFrame({ dstPort: 9 })], { count: frames, rate: 1000 });
    await new Promise((r) => setTimeout(r, 500));
    const stats = await dump.stop();
    const dpaa2Errors = (pmd.output().match(/mempool\/dpaa2/g) ?? []).length - errorsBefore;
    return { received: stats.received, dropped: stats.dropped, captured: countPackets(outFile), dpaa2Errors, pools, argv: dump.argv.map((a) => (a === outFile ? 'out.pcapng' : a)) };
  };
  const plain = await round('testpmd-dumpcap');
  // The check of the explanation: give dumpcap testpmd's registration order by preloading the
  // mempool drivers testpmd links directly; if the order is the cause, every packet is captured.
  const preload = linkedDpdkSonames(testpmd).filter((l) => l.startsWith('librte_mempool_'));
  let aligned: TestpmdFinding['aligned'];
  if (preload.length) {
    const r = await round('testpmd-dumpcap-preload', { ...process.env, LD_PRELOAD: preload.join(' ') });
    aligned = { preload, received: r.received, dropped: r.dropped, captured: r.captured, dpaa2Errors: r.dpaa2Errors, pools: r.pools };
  }
  await cleanup();
  const mempool = (libs: string[]): string[] => libs.filter((l) => /mempool_|bus_dpaa|net_dpaa|common_dpaax/.test(l));
  return {
    frames,
    received: plain.received,
    dropped: plain.dropped,
    captured: plain.captured,
    dpaa2Errors: plain.dpaa2Errors,
    testpmdMempoolLibs: mempool(linkedDpdkLibraries(testpmd)),
    dumpcapMempoolLibs: mempool(linkedDpdkLibraries(which(DUMPCAP) ?? DUMPCAP)),
    testpmdOps: /preferred mempool ops selected: (\S+)/.exec(pmd.output())?.[1] ?? 'unknown',
    pools: plain.pools,
    ...(aligned ? { aligned } : {}),
    commands: [
      pmdArgv.join(' ').replace(hugeDir, '<hugetlbfs>').replaceAll(ns.name, '<ns>'),
      plain.argv.join(' ').replaceAll(ns.name, '<ns>'),
      ...(aligned ? [`LD_PRELOAD='${aligned.preload.join(' ')}' ${plain.argv.join(' ').replaceAll(ns.name, '<ns>')}`] : []),
      `inject ${frames} UDP frames at 1000 pps on a1 (AF_PACKET, lab/inject.c)`,
      'dpdk-proc-info --file-prefix=<ns> --no-pci -- --show-mempool   # while dumpcap runs',
      `readelf -d ${testpmd}; readelf -d ${which(DUMPCAP) ?? DUMPCAP}`,
    ],
  };
}

/** The ops_index evidence, when dpdk-proc-info could show the pools. */
function poolEvidence(f: TestpmdFinding): string[] {
  if (f.pools.length === 0) return [];
  const own = f.pools.find((p) => !p.name.startsWith('capture_'));
  const capture = f.pools.find((p) => p.name.startsWith('capture_'));
  const lines = ['The pools themselves, as `dpdk-proc-info --show-mempool` printed them while dumpcap ran (proc-info, like dumpcap,', 'loads the mempool drivers as plugins, so it numbers them as dumpcap does):', ''];
  lines.push('| pool | created by | with ops | stored ops_index | that index in proc-info\'s (= dumpcap\'s) table |', '|---|---|---|---|---|');
  if (own) lines.push(`| ${own.name} | testpmd | ${f.testpmdOps} | ${own.opsIndex} | ${own.opsName} |`);
  if (capture) lines.push(`| ${capture.name} | dpdk-dumpcap | ring_mp_mc | ${capture.opsIndex} | ${capture.opsName} |`);
  lines.push('');
  if (own && own.opsName !== f.testpmdOps) {
    lines.push(
      `The same index means different drivers: testpmd's ${f.testpmdOps} is index ${own.opsIndex} in testpmd but ${own.opsName} in the plugin order,`,
      `and dumpcap's index ${capture?.opsIndex ?? '?'} is the dpaa2 driver in testpmd (the errors above).`,
      '',
    );
  }
  return lines;
}

/** The preload check, when it ran. */
function alignedEvidence(f: TestpmdFinding): string[] {
  const a = f.aligned;
  if (!a) return [];
  const capture = a.pools.find((p) => p.name.startsWith('capture_'));
  const own = a.pools.find((p) => !p.name.startsWith('capture_'));
  const same = capture && own && capture.opsIndex === own.opsIndex;
  return [
    `**The check**: the same dumpcap started with \`LD_PRELOAD=${a.preload.join(' ')}\` (the mempool drivers testpmd links`,
    `directly, so dumpcap registers them in testpmd's order)${same ? `, its pool now carries ops_index ${capture.opsIndex} like testpmd's own ${f.testpmdOps} pool,` : ''}`,
    `and it reported **${a.received} received, ${a.dropped} dropped**, ${a.captured} packets in its file, ${a.dpaa2Errors} dpaa2 errors in testpmd.`,
    '',
  ];
}

export const section: BenchSection = {
  id: 'dumpcap',
  title: 'dpdk-dumpcap against testpmd: why every packet was "dropped"',
  budgetMs: 60_000,
  async run(ctx): Promise<BenchResult> {
    if (!dumpcapAvailable()) return { markdown: 'dpdk-dumpcap is not installed (Debian package dpdk-dev; `npm run setup` installs it).', figures: {}, skipped: ['dpdk-dumpcap missing'] };
    const world = new World('bench-dumpcap');
    ctx.onCleanup(() => world.destroy());
    const huge = reserveHugepages(192);
    ctx.onCleanup(() => huge.release());
    const f = await reproduceWithTestpmd(ctx, world, huge.dir, ctx.quick ? 100 : 300);
    const markdown = [
      `dpdk-dumpcap attached to Debian's dpdk-testpmd (af_packet ports, hugepages, shared configuration) while ${f.frames} frames`,
      `went through port 0: dumpcap reported **${f.received} received, ${f.dropped} dropped**, and its file holds ${f.captured} packets.`,
      `In the same seconds testpmd logged ${f.dpaa2Errors} \`mempool/dpaa2\` errors ("Failed to allocate IO portal").`,
      '',
      'Why: pdump copies each packet into a mempool that dumpcap (the secondary) created; the pool names its driver by',
      '`ops_index`, an index into a table each process fills in the order it registers mempool drivers (rte_mempool.h:',
      '"the indices used to access the array are valid across processes"). testpmd links some drivers directly',
      `(\`${f.testpmdMempoolLibs.join('`, `') || 'none'}\`), dumpcap links ${f.dumpcapMempoolLibs.length ? `\`${f.dumpcapMempoolLibs.join('`, `')}\`` : 'none'} and loads every driver as a plugin,`,
      "so the orders differ and in testpmd dumpcap's index names the dpaa2 driver: every copy fails to allocate and",
      'pdump counts the packet as dropped. Not hugepages (tried by hand: a `--no-huge` primary makes dumpcap fail at start',
      'with "Cannot get hugepage information"), not the file prefix (dumpcap attached and saw every packet), not the snap',
      'length (what fails is the allocation itself).',
      '',
      ...poolEvidence(f),
      ...alignedEvidence(f),
      'The fair comparison therefore uses an l2fwd that links no driver directly (examples/l2fwd-pdump: DPDK\'s l2fwd plus',
      '`rte_pdump_init()`), where both processes register drivers in the same order and dumpcap captures (see the',
      'dataplane section). Users of dumpcap against an application that links mempool drivers itself can preload the',
      'same drivers into dumpcap, as the check above does.',
      '',
      commandsBlock(f.commands),
    ].join('\n');
    return {
      markdown,
      figures: {
        ...(f.aligned ? { 'dumpcap.testpmd_preload.received': f.aligned.received, 'dumpcap.testpmd_preload.dropped': f.aligned.dropped } : {}),
        'dumpcap.testpmd.received': f.received,
        'dumpcap.testpmd.dropped': f.dropped,
        'dumpcap.testpmd.captured': f.captured,
        'dumpcap.testpmd.dpaa2_errors': f.dpaa2Errors,
      },
    };
  },
};
