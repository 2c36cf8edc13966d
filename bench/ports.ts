// What a port point costs the traced thread per rx burst call, idle polls
// included. A DPDK lcore calls its ports' rx burst functions in a loop
// whether packets come or not (l2fwd: port 0, port 1, port 0, ...), and
// `-f port:0:rx` puts an entry probe and a return probe on that function
// (usually shared by every port of the PMD): every call pays them, the
// queue check then drops the other ports' calls. The forwarding rates with
// traffic are in the dataplane section; this measures the idle loop.
//
// DPDK's l2fwd (lab, af_packet PMD, no hugepages) runs with no traffic. The
// anchor is bpftrace's empty counting uprobe at the same address (from the
// process's rte_eth_fp_ops: the PMD library is stripped): it counts the
// calls for a fixed time, alone and then with each netcap variant attached.
// Cost per call = 1/calls_with - 1/calls_alone (bpftrace's own cost cancels).
import { commandsBlock, medianWithSpread, num } from './harness/format';
import { summarize } from './harness/stats';
import type { BenchContext, BenchResult, BenchSection } from './harness/section';
import { startNetcap } from './harness/netcap-cli';
import { startTool } from './harness/tool-process';
import { startL2fwd, World, type DpdkApp } from '../lab';
import { detectDpdkRelease } from '../src/dpdk/release';
import { EthdevReader } from '../src/dpdk/ports';
import { codeLocation } from '../src/proc/addresses';
import { mappedObjects } from '../src/proc/process';
import { openElf } from '../src/elf/elf-file';

interface Variant {
  id: string;
  label: string;
  /** netcap's -f list, or undefined for bpftrace alone. */
  points?: string;
}

const VARIANTS: Variant[] = [
  { id: 'alone', label: 'bpftrace counting uprobe alone (anchor)' },
  { id: 'port0_rx', label: 'netcap -f port:0:rx', points: 'port:0:rx' },
  { id: 'port0_port1_rx', label: 'netcap -f port:0:rx,port:1:rx (two points on the shared function)', points: 'port:0:rx,port:1:rx' },
  { id: 'port0_inout', label: 'netcap -f port:0 -Q inout (the tx probe sees no idle call)', points: 'port:0' },
];

/** The rx burst function of port 0 as bpftrace names it: object path and virtual address. */
function rxBurstTarget(app: DpdkApp): { path: string; vaddr: number; object: string } {
  const release = detectDpdkRelease(app.pid);
  if (!release) throw new Error(`pid ${app.pid}: no DPDK release detected`);
  const reader = EthdevReader.open(app.pid, release.release);
  try {
    const port = reader.read().ports.find((p) => p.id === 0);
    if (!port) throw new Error('l2fwd has no port 0');
    const loc = codeLocation(mappedObjects(app.pid), port.rxBurst);
    if (!loc) throw new Error('port 0\'s rx burst function is in no mapped file');
    const vaddr = openElf(loc.openPath).vaddrOf(loc.fileOffset);
    if (vaddr === undefined) throw new Error(`${loc.object}: offset 0x${loc.fileOffset.toString(16)} is in no segment`);
    return { path: loc.openPath, vaddr, object: loc.object };
  } finally {
    reader.close();
  }
}

/** Rx burst calls per second over `seconds`, counted by bpftrace. */
async function countCalls(world: World, app: DpdkApp, target: { path: string; vaddr: number }, seconds: number): Promise<number> {
  const marker = 'nc-bench-counting';
  // --unsafe: the library is stripped, so bpftrace cannot check the address is an instruction start (it is: the function's entry).
  const program = `BEGIN { printf("${marker}\\n"); } uprobe:${target.path}:0x${target.vaddr.toString(16)} { @calls = count(); } interval:s:${seconds} { exit(); }`;
  const bt = startTool(['bpftrace', '--unsafe', '-p', String(app.pid), '-e', program], { world });
  await bt.waitFor(new RegExp(marker), 30_000);
  const exit = await bt.exited;
  const m = /^@calls: (\d+)$/m.exec(exit.output);
  if (!m) throw new Error(`bpftrace counted nothing: ${exit.output.trim().slice(-300)}`);
  return Number(m[1]) / seconds;
}

export const section: BenchSection = {
  id: 'ports',
  title: 'Port points: the traced thread\'s cost per rx burst call, idle polls included',
  budgetMs: 120_000,
  async run(ctx: BenchContext): Promise<BenchResult> {
    const world = new World('bench-ports');
    ctx.onCleanup(() => world.destroy());
    const app = await startL2fwd(world);
    const target = rxBurstTarget(app);
    const seconds = ctx.quick ? 2 : 4;
    const repeats = ctx.quick ? 1 : Math.min(ctx.repeats, 3);
    const rates = new Map<string, number[]>();
    for (let rep = 0; rep < repeats; rep++) {
      for (const v of VARIANTS) {
        if (ctx.remainingMs() < (seconds + 10) * 1000) break;
        ctx.log(`rep ${rep + 1}/${repeats} ${v.id}`);
        const nc = v.points ? await startNetcap(ctx.repoRoot, ['mbuf', '-f', v.points, '--pid', String(app.pid), '-w', '/dev/null', '--format', 'pcap'], { world }) : undefined;
        try {
          const list = rates.get(v.id) ?? [];
          list.push(await countCalls(world, app, target, seconds));
          rates.set(v.id, list);
        } finally {
          await nc?.tool.stop('SIGINT');
        }
      }
    }
    await app.stop();
    const alone = summarize(rates.get('alone') ?? []).median;
    const figures: Record<string, number> = {};
    const table = ['| variant | rx burst calls/s (median, min..max, n) | extra time per call |', '|---|---|---|'];
    for (const v of VARIANTS.filter((x) => rates.has(x.id))) {
      const r = summarize(rates.get(v.id)!);
      const cost = (1 / r.median - 1 / alone) * 1e6;
      figures[`ports.idle.${v.id}.calls_per_s`] = r.median;
      if (v.id !== 'alone') figures[`ports.idle.${v.id}.us_per_call`] = cost;
      table.push(`| ${v.label} | ${medianWithSpread(r)} | ${v.id === 'alone' ? 'anchor' : `${num(cost)} µs`} |`);
    }
    const markdown = [
      `DPDK's l2fwd (lab: af_packet PMD on two veth pairs, lcore 1, no hugepages) with no traffic: its lcore polls both ports'`,
      `rx burst function (\`${target.object.split('/').pop()}\`, stripped; address from rte_eth_fp_ops) in a loop. bpftrace counts`,
      `the calls for ${seconds} s, alone and with each netcap variant attached (median of ${repeats}). The extra time per call is what`,
      'an idle poll pays: netcap\'s uprobe and uretprobe run on every call of the shared function, and its queue check drops',
      'the other port\'s calls before anything is read. Figures from a shared two-core machine are provisional.',
      '',
      ...table,
      '',
      commandsBlock([
        `bpftrace --unsafe -p <l2fwd> -e 'uprobe:<${target.object.split('/').pop()}>:0x${target.vaddr.toString(16)} { @calls = count(); } interval:s:${seconds} { exit(); }'`,
        ...VARIANTS.filter((v) => v.points).map((v) => `netcap mbuf -f ${v.points} --pid <l2fwd> -w /dev/null --format pcap`),
      ]),
    ].join('\n');
    return { markdown, figures };
  },
};
