// How long netcap takes to learn its targets before attaching anything:
// parsing the kernel's BTF and the first lookups by name, opening DPDK's
// librte_ethdev and finding a function, reading /proc/PID/maps. Each sample
// runs in a fresh Node process (nothing cached in memory; the files are in
// the page cache after the first run, as they are for a user's second start).
// Anchor: `bpftool btf dump file /sys/kernel/btf/vmlinux format raw`, which
// parses the same BTF in C (and also prints it).
//
//   node dist/bench/targets-load.js            (prints markdown)
//   or as a section: export `section` (id "targets")
import { execFileSync, spawnSync } from 'node:child_process';
import type { BenchContext, BenchResult, BenchSection } from './harness/section';
import { commandsBlock, figureTable } from './harness/format';

const ETHDEV = '/usr/lib/x86_64-linux-gnu/librte_ethdev.so.23';

/** Runs in the child: one measurement of each step, printed as JSON. */
function measureOnce(): void {
  const t = () => Number(process.hrtime.bigint()) / 1e6;
  const t0 = t();
  /* eslint-disable @typescript-eslint/no-require-imports */
  const { loadKernelBtf } = require('../src/btf/kernel') as typeof import('../src/btf/kernel');
  const { openElf } = require('../src/elf/elf-file') as typeof import('../src/elf/elf-file');
  const { mappedObjects } = require('../src/proc/process') as typeof import('../src/proc/process');
  /* eslint-enable @typescript-eslint/no-require-imports */
  const t1 = t();
  const btf = loadKernelBtf();
  const t2 = t();
  btf.structMember('sk_buff', 'len');
  const t3 = t();
  btf.funcProto('ip_rcv');
  btf.tracepointProto('kfree_skb');
  btf.enumValues('skb_drop_reason');
  const t4 = t();
  const elf = openElf(ETHDEV);
  elf.findFunction('rte_eth_dev_start');
  const t5 = t();
  mappedObjects(process.pid);
  const t6 = t();
  process.stdout.write(JSON.stringify({
    require: t1 - t0, btfParse: t2 - t1, btfFirstLookup: t3 - t2, btfMoreLookups: t4 - t3, elfEthdev: t5 - t4, procMaps: t6 - t5, btfTotal: t4 - t1,
  }));
}

function sample(): Record<string, number> {
  const r = spawnSync(process.execPath, [__filename, '--once'], { encoding: 'utf8', timeout: 30_000 });
  if (r.status !== 0) throw new Error(`measurement failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as Record<string, number>;
}

function bpftoolMs(): number {
  const t0 = process.hrtime.bigint();
  execFileSync('bpftool', ['btf', 'dump', 'file', '/sys/kernel/btf/vmlinux', 'format', 'raw'], { maxBuffer: 1 << 30, stdio: ['ignore', 'ignore', 'ignore'] });
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

async function run(ctx: Pick<BenchContext, 'repeats'>): Promise<BenchResult> {
  const samples: Record<string, number>[] = [];
  const anchor: number[] = [];
  for (let i = 0; i < Math.max(ctx.repeats, 3); i++) {
    samples.push(sample());
    anchor.push(bpftoolMs());
  }
  const col = (k: string) => samples.map((s) => s[k]);
  const btfTotal = col('btfTotal');
  const markdown = [
    figureTable([
      { label: 'BTF: read + parse /sys/kernel/btf/vmlinux (index of type starts)', samples: col('btfParse'), unit: 'ms' },
      { label: 'BTF: first lookup by name (builds the name index) sk_buff.len', samples: col('btfFirstLookup'), unit: 'ms' },
      { label: 'BTF: ip_rcv prototype, btf_trace_kfree_skb, enum skb_drop_reason', samples: col('btfMoreLookups'), unit: 'ms' },
      { label: 'BTF: load + all of the above', samples: btfTotal, unit: 'ms', ratios: btfTotal.map((v, i) => v / anchor[i]), anchor: 'bpftool btf dump format raw (C, parses and prints)' },
      { label: 'ELF: open librte_ethdev.so.23 + find rte_eth_dev_start', samples: col('elfEthdev'), unit: 'ms' },
      { label: '/proc/self/maps -> mapped objects (node)', samples: col('procMaps'), unit: 'ms' },
    ]),
    '',
    'Each sample is a fresh `node` process; files are in the page cache.',
    '',
    commandsBlock(['node dist/bench/targets-load.js', 'bpftool btf dump file /sys/kernel/btf/vmlinux format raw > /dev/null']),
  ].join('\n');
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  return { markdown, figures: { 'targets.btf_load_and_lookups_ms': median(btfTotal), 'targets.btf_parse_ms': median(col('btfParse')), 'targets.elf_ethdev_ms': median(col('elfEthdev')) } };
}

export const section: BenchSection = {
  id: 'targets',
  title: 'Target discovery: BTF, ELF and /proc load times',
  budgetMs: 60_000,
  run,
};

if (require.main === module) {
  if (process.argv.includes('--once')) measureOnce();
  else void run({ repeats: 5 }).then((r) => process.stdout.write(`${r.markdown}\n`));
}
