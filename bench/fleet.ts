// netcap fleet's merge: packets per second merged into one pcapng from 1, 3
// and 8 streams on loopback, without loss (every packet sent is written,
// none late), in this process as `netcap fleet stream` runs it (FleetStream:
// the streams' parsing, the reordering window, the merged file). The
// sources (lab/agent-sources.ts) run in another process and send 64-byte
// packets as fast as TCP takes them, so the figure is the client's merge
// rate, what the README's design note for 100 and 10,000 nodes rests on.
// Anchor: Wireshark's mergecap merging the same number of files of the same
// packets, offline, in timestamp order.
//
//   node dist/bench/run.js --only fleet
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseAgentList } from '../src/fleet/agents';
import { Fleet } from '../src/fleet/fleet';
import { FleetStream } from '../src/fleet/fleet-stream';
import { PcapngWriter } from '../src/output/pcapng-writer';
import type { BenchContext, BenchResult, BenchSection } from './harness/section';
import { commandsBlock, figureTable, num, type FigureRow } from './harness/format';
import { pairedRatios, summarize } from './harness/stats';
import { startAgentSources } from '../lab/agent-sources';

const STREAM_COUNTS = [1, 3, 8];

interface MergeRun {
  rate: number;
  written: number;
  late: number;
  forced: number;
  peakHeld: number;
  cpuPerMillion: number;
  lossless: boolean;
}

async function mergeOnce(streams: number, total: number, ctx: BenchContext, run: number, source: 'stream' | 'dump' = 'stream', maxHeldBytes = 256 << 20): Promise<MergeRun> {
  const packets = Math.floor(total / streams);
  const urls = await startAgentSources({ streams, packets }, (cleanup) => ctx.onCleanup(cleanup));
  const fleet = new Fleet(parseAgentList(urls.map((u, i) => `s${i}=${u}`).join(',')), { tokens: { byName: new Map(), env: {} } });
  const file = path.join(ctx.workDir, `fleet-${streams}-${run}.pcapng`);
  let startedAt = 0;
  let cpuAtStart = process.cpuUsage();
  const merged = new FleetStream(fleet, {
    capture: 'bench',
    source,
    output: fs.createWriteStream(file),
    endOutput: true,
    windowMs: 500,
    maxHeldBytes,
    clock: 'auto',
    note: (line) => {
      if (/^(listening on|reading the dumps of) /.test(line)) {
        startedAt = performance.now();
        cpuAtStart = process.cpuUsage();
      }
    },
  });
  const result = await merged.run();
  const seconds = (performance.now() - startedAt) / 1000;
  const cpu = process.cpuUsage(cpuAtStart);
  fs.rmSync(file, { force: true });
  const lossless = result.merge.written === packets * streams && result.merge.late === 0 && result.merge.forced === 0 && result.agents.every((a) => a.packets === packets && a.state === 'ended');
  return {
    rate: result.merge.written / seconds,
    written: result.merge.written,
    late: result.merge.late,
    forced: result.merge.forced,
    peakHeld: result.merge.peakHeld,
    cpuPerMillion: ((cpu.user + cpu.system) / 1e6 / result.merge.written) * 1e6,
    lossless,
  };
}

/** mergecap over `streams` files holding the same packets (interleaved in time): packets per second. */
async function mergecapOnce(streams: number, total: number, ctx: BenchContext): Promise<number> {
  const packets = Math.floor(total / streams);
  const files: string[] = [];
  const base = BigInt(Date.now()) * 1_000_000n;
  for (let s = 0; s < streams; s++) {
    const f = path.join(ctx.workDir, `mergecap-in-${s}.pcapng`);
    const w = new PcapngWriter(fs.createWriteStream(f), { interfaces: [{ linktype: 1, snaplen: 262144, name: 'eth0 ingress' }] });
    const data = Buffer.alloc(64, s);
    for (let k = 0; k < packets; k++) await w.writePacket({ ifIndex: 0, tsNs: base + BigInt(k * streams + s) * 1000n, data, wirelen: 64 });
    await w.close();
    files.push(f);
  }
  const out = path.join(ctx.workDir, 'mergecap-out.pcapng');
  const t0 = performance.now();
  execFileSync('mergecap', ['-F', 'pcapng', '-w', out, ...files], { stdio: 'ignore' });
  const seconds = (performance.now() - t0) / 1000;
  for (const f of [...files, out]) fs.rmSync(f, { force: true });
  return (packets * streams) / seconds;
}

export const section: BenchSection = {
  id: 'fleet',
  title: 'netcap fleet: packets per second merged from N streams',
  budgetMs: 240_000,
  async run(ctx: BenchContext): Promise<BenchResult> {
    const total = ctx.quick ? 120_000 : 400_000;
    const repeats = Math.min(ctx.repeats, 3);
    const rows: FigureRow[] = [];
    const figures: Record<string, number> = {};
    const details: string[] = [];
    const skipped: string[] = [];
    for (const streams of STREAM_COUNTS) {
      if (ctx.remainingMs() < 20_000) {
        skipped.push(`${streams} streams: out of time`);
        continue;
      }
      const runs: MergeRun[] = [];
      const anchors: number[] = [];
      for (let r = 0; r < repeats; r++) {
        ctx.log(`${streams} streams, run ${r + 1}/${repeats}`);
        runs.push(await mergeOnce(streams, total, ctx, r));
        anchors.push(await mergecapOnce(streams, total, ctx));
      }
      const lossless = runs.filter((x) => x.lossless);
      const rates = lossless.map((x) => x.rate);
      rows.push({ label: `netcap fleet stream, ${streams} stream${streams === 1 ? '' : 's'}, 64-byte packets`, samples: rates, unit: 'pkt/s', ratios: pairedRatios(rates, anchors.slice(0, rates.length)), anchor: `mergecap, ${streams} file${streams === 1 ? '' : 's'}` });
      rows.push({ label: `mergecap, ${streams} file${streams === 1 ? '' : 's'} (offline)`, samples: anchors, unit: 'pkt/s' });
      figures[`fleet.merge.streams${streams}.pkt_per_s`] = rates.length ? summarize(rates).median : NaN;
      figures[`fleet.mergecap.streams${streams}.pkt_per_s`] = summarize(anchors).median;
      details.push(
        `- ${streams} streams: ${lossless.length} of ${runs.length} runs lossless (every packet written, none late); ` +
          `${num(summarize(runs.map((x) => x.cpuPerMillion)).median)} CPU seconds per million packets in the merging process; ` +
          `at most ${Math.max(...runs.map((x) => x.peakHeld))} packets held in the window`,
      );
      if (lossless.length < runs.length) skipped.push(`${streams} streams: ${runs.length - lossless.length} runs lost or reordered packets (${runs.map((x) => `${x.written} written, ${x.late} late`).join('; ')})`);
    }
    // The later merge (netcap fleet dump): 8 dumps read as fast as they come, through a window of 8 MiB: dumps ahead wait.
    if (ctx.remainingMs() > 20_000) {
      const dumps: MergeRun[] = [];
      for (let r = 0; r < repeats; r++) dumps.push(await mergeOnce(8, total, ctx, r, 'dump', 8 << 20));
      const rates = dumps.filter((x) => x.lossless).map((x) => x.rate);
      rows.push({ label: 'netcap fleet dump, 8 dumps, 8 MiB held at most', samples: rates, unit: 'pkt/s' });
      figures['fleet.dump.streams8.pkt_per_s'] = rates.length ? summarize(rates).median : NaN;
      details.push(`- 8 dumps: ${rates.length} of ${dumps.length} runs lossless; ${dumps.map((x) => x.forced).reduce((a, b) => a + b, 0)} packets written early (the memory bound); at most ${Math.max(...dumps.map((x) => x.peakHeld))} packets held`);
    }
    const mergecap = execFileSync('mergecap', ['-v'], { encoding: 'utf8' }).split('\n')[0];
    const markdown = [
      `${total.toLocaleString('en-US')} packets per run split over the streams, ${repeats} runs each; the sources send as fast as TCP on loopback takes them, in another process; the merged file goes to disk. Rate: packets written / time from the moment every stream is open to the end of the merged file.`,
      '',
      figureTable(rows),
      '',
      ...details,
      '',
      `Anchor: ${mergecap}, merging files of the same packets (written beforehand) in timestamp order; it reads files, not live streams.`,
      '',
      commandsBlock(['node dist/bench/run.js --only fleet', `mergecap -F pcapng -w out.pcapng in-0.pcapng ... in-N.pcapng`]),
    ].join('\n');
    return { markdown, figures, ...(skipped.length ? { skipped } : {}) };
  },
};
