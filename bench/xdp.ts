// What `netcap xdp` adds to every packet of an XDP program: the example
// firewall (examples/xdp-firewall) is loaded here with its hook pinned
// under bpffs (not attached to any interface) and run with
// BPF_PROG_TEST_RUN on one 64-byte UDP frame it passes; the kernel's own
// timing (the mean ns per run over `repeat` runs) is the figure. Three
// variants in one run, interleaved per round so drift cancels:
//   - the anchor: the firewall with an empty hook (its tail call fails);
//   - netcap xdp on the hook, filter matching the frame (`udp port 80`):
//     the capture program filters, copies and writes a record to the ring
//     (netcap drains it to /dev/null, in its own process);
//   - netcap xdp on the hook, filter rejecting it (`udp port 81`).
// "Added" is each minus the anchor of the same round.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { World, randomTag } from '../lab/netns';
import { BPFFS_MOUNT_POINT, ensureBpffs, pinObject } from '../src/bpf/pinned';
import { Firewall } from '../examples/xdp-firewall/firewall';
import { udpFrame } from '../lab/frames';
import type { BenchContext, BenchResult, BenchSection } from './harness/section';
import { commandsBlock, displayCommand, figureTable, num } from './harness/format';
import { summarize } from './harness/stats';
import { parseNetcapLost, startNetcap, type NetcapRun } from './harness/netcap-cli';

/** Runs per BPF_PROG_TEST_RUN call: matched records (~140 bytes) fit the 64 MiB ring netcap is given. */
const REPEAT = 100_000;
const RING_MIB = 64;

async function run(ctx: BenchContext): Promise<BenchResult> {
  const world = new World('bench-xdp');
  ctx.onCleanup(() => world.destroy());
  ensureBpffs();
  const dir = path.join(BPFFS_MOUNT_POINT, `nc-bench-xdp-${randomTag()}`);
  fs.mkdirSync(dir);
  ctx.onCleanup(() => fs.rmSync(dir, { recursive: true, force: true }));
  const fw = Firewall.load({ drop: [53], bounce: [7] });
  ctx.onCleanup(() => fw.close());
  const hook = path.join(dir, 'xdpcap_hook');
  pinObject(fw.hook.fd, hook);
  const frame = udpFrame({ dstPort: 80 });
  const timed = () => fw.program.testRun(frame, { repeat: REPEAT }).duration;
  const rounds = Math.max(1, ctx.quick ? 2 : ctx.repeats);

  const variants = [
    { key: 'matched', label: 'netcap xdp, filter matches (record written)', expression: 'udp port 80' },
    { key: 'unmatched', label: 'netcap xdp, filter rejects', expression: 'udp port 81' },
  ] as const;
  const samples: Record<'empty' | 'matched' | 'unmatched', number[]> = { empty: [], matched: [], unmatched: [] };
  const commands: string[] = [];
  const lost: Record<string, number> = {};
  for (const v of variants) {
    const args = ['xdp', '--hook', hook, '-e', v.expression, '-w', '/dev/null', '--ring-size', String(RING_MIB), '--loss-ok'];
    commands.push(displayCommand(['netcap', ...args]));
    ctx.log(`${v.key}: ${rounds} rounds of ${REPEAT} runs, each next to an empty-hook round`);
    for (let r = 0; r < rounds; r++) {
      samples.empty.push(timed());
      const netcap: NetcapRun = await startNetcap(ctx.repoRoot, args, { world });
      try {
        timed(); // warm: the capture programs' first runs
        samples[v.key].push(timed());
      } finally {
        // Let netcap drain what the matched runs wrote before it stops.
        await new Promise((res) => setTimeout(res, 300));
        const exit = await netcap.tool.stop('SIGINT');
        lost[v.key] = (lost[v.key] ?? 0) + parseNetcapLost(exit.output);
      }
    }
  }
  // Pair each netcap round with the empty-hook round measured just before it.
  const pairs = (key: 'matched' | 'unmatched') => {
    const offset = key === 'matched' ? 0 : rounds;
    return samples[key].map((x, i) => ({ subject: x, anchor: samples.empty[offset + i] }));
  };
  const rows = [
    { label: 'the firewall, empty hook (anchor)', samples: samples.empty, unit: 'ns/packet' },
    ...variants.map((v) => ({
      label: v.label,
      samples: samples[v.key],
      unit: 'ns/packet',
      ratios: pairs(v.key).map((p) => p.subject / p.anchor),
      anchor: 'empty hook',
    })),
    ...variants.map((v) => ({ label: `added by netcap, ${v.key}`, samples: pairs(v.key).map((p) => p.subject - p.anchor), unit: 'ns/packet' })),
  ];
  const figures: Record<string, number> = {
    'xdp.empty_hook.ns_per_packet': summarize(samples.empty).median,
    'xdp.matched.added_ns_per_packet': summarize(pairs('matched').map((p) => p.subject - p.anchor)).median,
    'xdp.unmatched.added_ns_per_packet': summarize(pairs('unmatched').map((p) => p.subject - p.anchor)).median,
  };
  const markdown = [
    `The example firewall (examples/xdp-firewall) run with BPF_PROG_TEST_RUN on one 64-byte UDP frame it passes, ${REPEAT} runs per call; each figure is the kernel's mean ns per run, ${rounds} rounds per variant, each round next to an empty-hook round. netcap writes to /dev/null and is given a ${RING_MIB} MiB ring so that matched records are not lost between rounds (lost: matched ${num(lost.matched ?? NaN)}, unmatched ${num(lost.unmatched ?? NaN)}).`,
    '',
    figureTable(rows),
    '',
    commandsBlock(commands),
  ].join('\n');
  return { markdown, figures };
}

export const section: BenchSection = {
  id: 'xdp',
  title: 'netcap xdp: cost per packet added to an XDP program',
  budgetMs: 120_000,
  run,
};
