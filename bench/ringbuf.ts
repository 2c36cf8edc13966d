// Ring buffer into JavaScript: how many 64-byte records per second reach JS
// callbacks with nothing lost, against a small C program (libbpf
// ring_buffer__poll) reading the same kind of ring in the same run.
//
// Producer: a SOCKET_FILTER program run through BPF_PROG_TEST_RUN from a
// worker thread, writing one sequence-numbered record per run with
// bpf_ringbuf_output (the kernel side of every netcap probe), paced to a
// target rate. Consumers: RingReader (the ring mapped by the addon and read
// in place from libuv, batches of <= 1 MiB, each record's sequence number
// read in JS through RecordBatch.view in a loop over the start offsets, as
// the capture library reads its records) and
// bench/ringbuf-consumer.c (same drain, same per-record read, in C).
// For each consumer the target rate climbs a ladder until a run loses or
// reorders a record; the figure is the rate achieved (records between the
// first and the last arrival / that time) at the highest lossless step.
//
//   node dist/bench/run.js --only ringbuf
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import { cpus, loadavg } from 'node:os';
import { Worker } from 'node:worker_threads';
import { createMap, type BpfMap } from '../src/bpf/map';
import { RingReader, type RecordBatch } from '../src/bpf/ringbuf';
import { skipReason } from '../src/bpf/features';
import type { BenchContext, BenchResult, BenchSection } from './harness/section';
import { commandsBlock, figureTable, num } from './harness/format';
import { pairedRatios, summarize } from './harness/stats';
import type { ProducerJob, ProducerReport } from './ringbuf-producer';

const RECORD_SIZE = 64;
// 32 MiB: ~466k records in flight, so a consumer pausing for a GC or a
// scheduling slice doesn't lose records while it is, on average, fast enough.
const RING_BYTES = 32 << 20;

// Target rates in records per second, climbed until the first lossy run.
const LADDER = [0.5e6, 1e6, 1.5e6, 2e6, 3e6, 4e6, 6e6, 8e6, 12e6, 16e6, 24e6];
const TRIAL_SECONDS = 0.4;

interface Run {
  records: number;
  lost: number;
  outOfOrder: number;
  /** Records per second between the first and the last arrival; NaN when anything was lost. */
  rate: number;
  producerRate: number;
}

function produce(ringFd: number, total: number, rate: number): Promise<ProducerReport> {
  const job: ProducerJob = { ringFd, total, rate, recordSize: RECORD_SIZE };
  return new Promise((resolve, reject) => {
    const worker = new Worker(path.join(__dirname, 'ringbuf-producer.js'), { workerData: job });
    worker.once('message', (m: ProducerReport) => resolve(m));
    worker.once('error', reject);
    worker.once('exit', (code) => code !== 0 && reject(new Error(`producer worker exited with ${code}`)));
  });
}

function newRing(): BpfMap {
  return createMap({ type: 'ringbuf', name: 'nc_bench_ring', keySize: 0, valueSize: 0, maxEntries: RING_BYTES });
}

/** What the JS consumer does with each record: reads its sequence number and checks the order. */
class SequenceCheck {
  count = 0;
  outOfOrder = 0;
  // The low 32 bits of the u64 sequence number: runs stay far below 2^32
  // records, and Numbers spare a BigInt allocation per record.
  private expected = 1;

  /** An indexed loop over the start offsets, reading through RecordBatch.view: how the capture library reads its records (record-packets.ts). */
  take(batch: RecordBatch): void {
    const { view, starts } = batch;
    let expected = this.expected;
    for (let i = 0; i < starts.length; i++) {
      const seq = view.getUint32(starts[i], true);
      if (seq !== expected) this.outOfOrder++;
      expected = seq + 1;
    }
    this.expected = expected;
    this.count += batch.count;
  }
}

async function runJs(total: number, rate: number): Promise<Run> {
  const ring = newRing();
  const check = new SequenceCheck();
  let first = 0n;
  let last = 0n;
  let finished: () => void = () => undefined;
  const all = new Promise<void>((r) => (finished = r));
  const reader = new RingReader(ring, onBatch, { reuseBatch: true });
  function onBatch(batch: RecordBatch): void {
    if (check.count === 0) first = process.hrtime.bigint();
    check.take(batch);
    if (check.count >= total) {
      last = process.hrtime.bigint();
      finished();
    }
  }
  try {
    const report = await produce(ring.fd, total, rate);
    // Whatever the last wakeup left behind (or all of it, on a lossy run).
    const timeout = setTimeout(() => finished(), 2000);
    await all;
    clearTimeout(timeout);
    reader.drain();
    if (last === 0n) last = process.hrtime.bigint();
    const seconds = Number(last - first) / 1e9;
    return {
      records: check.count,
      lost: report.lost,
      outOfOrder: check.outOfOrder,
      rate: report.lost === 0 && check.count === total ? (check.count - 1) / seconds : NaN,
      producerRate: report.offered / (report.elapsedNs / 1e9),
    };
  } finally {
    reader.close();
    ring.close();
  }
}

/** What the C consumer printed on exit. */
interface ConsumerReport {
  records: number;
  firstNs: number;
  lastNs: number;
  outOfOrder: number;
}

/**
 * Starts the C consumer on `ringFd` (its fd 3) and resolves once it says it
 * is ready; `report` resolves when it exits. Its stdin is a pipe: in drain
 * mode it waits there for "go".
 */
async function startConsumer(binary: string, args: string[], ringFd: number): Promise<{ child: ChildProcess; report: Promise<ConsumerReport> }> {
  const child = spawn(binary, args, { stdio: ['pipe', 'pipe', 'inherit', ringFd] });
  let out = '';
  child.stdout?.setEncoding('utf8');
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout?.on('data', (d: string) => {
      out += d;
      if (out.includes('ready\n')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`consumer exited (${code}) before it was ready`)));
  });
  const report = new Promise<ConsumerReport>((resolve, reject) =>
    child.once('exit', () => {
      const m = /records (\d+) first_ns (\d+) last_ns (\d+) out_of_order (\d+)/.exec(out);
      if (m) resolve({ records: Number(m[1]), firstNs: Number(m[2]), lastNs: Number(m[3]), outOfOrder: Number(m[4]) });
      else reject(new Error(`consumer said: ${out}`));
    }),
  );
  // The report is awaited only after the producer ran; keep an early
  // rejection from counting as unhandled meanwhile.
  report.catch(() => undefined);
  await ready;
  return { child, report };
}

async function runC(binary: string, total: number, rate: number): Promise<Run> {
  const ring = newRing();
  try {
    const consumer = await startConsumer(binary, [String(total), '20000'], ring.fd);
    const report = await produce(ring.fd, total, rate);
    const c = await consumer.report;
    const seconds = (c.lastNs - c.firstNs) / 1e9;
    return {
      records: c.records,
      lost: report.lost,
      outOfOrder: c.outOfOrder,
      rate: report.lost === 0 && c.records === total ? (c.records - 1) / seconds : NaN,
      producerRate: report.offered / (report.elapsedNs / 1e9),
    };
  } finally {
    ring.close();
  }
}

/** Lossless, in order, and the producer kept (90 % of) the pace: otherwise the step measured the producer. */
function passes(r: Run, target: number): boolean {
  return r.lost === 0 && r.outOfOrder === 0 && Number.isFinite(r.rate) && r.producerRate >= 0.9 * target;
}

/** Climbs the ladder; returns the achieved rate of the highest passing step (NaN if none passed), that step, and the steps run. */
async function highestLossless(consume: (total: number, rate: number) => Promise<Run>, ctx: BenchContext): Promise<{ rate: number; target: number; steps: Run[] }> {
  let best = NaN;
  let target = NaN;
  const steps: Run[] = [];
  for (const rate of LADDER) {
    if (ctx.remainingMs() < 10_000) break;
    const run = await consume(Math.max(200_000, Math.round(rate * TRIAL_SECONDS)), rate);
    steps.push(run);
    if (!passes(run, rate)) break;
    best = run.rate;
    target = rate;
  }
  return { rate: best, target, steps };
}

// Drain capacity: the ring is filled first (nothing consumes meanwhile; the
// ring holds every record), then one consumer drains it all. No producer
// runs during the timing, so this is the consumers' own speed, alike for both.
const DRAIN_RING_BYTES = 128 << 20;
const DRAIN_RECORDS = 1_500_000;

/** `reuse`: batches are views of the ring (RingReader reuseBatch), as the capture library reads; else each batch is copied out first. */
async function drainJs(reuse: boolean): Promise<number> {
  const ring = createMap({ type: 'ringbuf', name: 'nc_bench_drain', keySize: 0, valueSize: 0, maxEntries: DRAIN_RING_BYTES });
  const check = new SequenceCheck();
  let reader: RingReader | undefined;
  try {
    const report = await produce(ring.fd, DRAIN_RECORDS, 0);
    if (report.lost !== 0) throw new Error(`drain ring lost ${report.lost} records while filling`);
    // The reader starts after the fill, so the event loop can't take records early.
    reader = new RingReader(ring, (batch) => check.take(batch), { reuseBatch: reuse });
    const start = process.hrtime.bigint();
    reader.drain();
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    return check.outOfOrder === 0 && check.count === DRAIN_RECORDS ? check.count / seconds : NaN;
  } finally {
    reader?.close();
    ring.close();
  }
}

async function drainC(binary: string, copy = false): Promise<number> {
  const ring = createMap({ type: 'ringbuf', name: 'nc_bench_drain', keySize: 0, valueSize: 0, maxEntries: DRAIN_RING_BYTES });
  try {
    const consumer = await startConsumer(binary, [String(DRAIN_RECORDS), '60000', 'drain', ...(copy ? ['copy'] : [])], ring.fd);
    const report = await produce(ring.fd, DRAIN_RECORDS, 0);
    if (report.lost !== 0) throw new Error(`drain ring lost ${report.lost} records while filling`);
    consumer.child.stdin?.end('go\n');
    const c = await consumer.report;
    return c.outOfOrder === 0 && c.records === DRAIN_RECORDS ? c.records / ((c.lastNs - c.firstNs) / 1e9) : NaN;
  } finally {
    ring.close();
  }
}

function buildConsumer(ctx: BenchContext): string {
  const source = path.join(ctx.repoRoot, 'bench', 'ringbuf-consumer.c');
  const binary = path.join(ctx.workDir, 'ringbuf-consumer');
  execFileSync('gcc', ['-O2', '-Wall', '-o', binary, source, '-lbpf']);
  return binary;
}

export const section: BenchSection = {
  id: 'ringbuf',
  title: 'Ring buffer into JavaScript (64-byte records, zero loss) vs C',
  budgetMs: 240_000,
  async run(ctx: BenchContext): Promise<BenchResult> {
    const loadAtStart = loadavg()[0];
    const skip = skipReason('ringbuf');
    if (skip) return { markdown: `Not measured: ${skip}.`, figures: {}, skipped: [skip] };
    const binary = buildConsumer(ctx);
    const repeats = Math.min(ctx.repeats, 3);
    const js: number[] = [];
    const c: number[] = [];
    const jsTargets: number[] = [];
    const cTargets: number[] = [];
    let unpacedLoss = { js: NaN, c: NaN, offered: 0 };
    const drainJsRates: number[] = [];
    const drainJsCopyRates: number[] = [];
    const drainCRates: number[] = [];
    const drainCCopyRates: number[] = [];
    for (let i = 0; i < ctx.repeats && ctx.remainingMs() > 60_000; i++) {
      // The copying drain leaves ~100 MB of batches for V8 to collect, on a
      // thread of its own: a C run comes between it and the in-place drain.
      drainCRates.push(await drainC(binary));
      drainJsRates.push(await drainJs(true));
      drainCCopyRates.push(await drainC(binary, true));
      drainJsCopyRates.push(await drainJs(false));
      ctx.log(`drain ${i + 1}: js ${num(drainJsRates[i] / 1e6)} M/s, c ${num(drainCRates[i] / 1e6)} M/s`);
    }
    for (let i = 0; i < repeats && ctx.remainingMs() > 30_000; i++) {
      // Alternate, so drift of the machine hits both alike.
      const cr = await highestLossless((total, rate) => runC(binary, total, rate), ctx);
      const jr = await highestLossless((total, rate) => runJs(total, rate), ctx);
      c.push(cr.rate);
      js.push(jr.rate);
      cTargets.push(cr.target);
      jsTargets.push(jr.target);
      ctx.log(`repeat ${i + 1}: js ${num(jr.rate / 1e6)} M/s (step ${num(jr.target / 1e6)}), c ${num(cr.rate / 1e6)} M/s (step ${num(cr.target / 1e6)})`);
    }
    if (ctx.remainingMs() > 20_000) {
      // For the record: the producer flat out (faster than any consumer).
      const total = 2_000_000;
      const jr = await runJs(total, 0);
      const cr = await runC(binary, total, 0);
      unpacedLoss = { js: jr.lost, c: cr.lost, offered: total };
    }
    const ratios = pairedRatios(js, c);
    const drainRatios = pairedRatios(drainJsRates, drainCRates);
    const md = [
      `Records of ${RECORD_SIZE} bytes, ring of ${RING_BYTES >> 20} MiB. Producer: BPF_PROG_TEST_RUN in a worker thread, paced in ~0.25 ms chunks; ` +
        `target rates climb ${LADDER.map((r) => r / 1e6).join(', ')} M records/s (${TRIAL_SECONDS} s per step, >= 200k records) until a run loses or reorders a record. ` +
        'Each consumer reads every record\'s sequence number and checks order. The figure is the rate achieved at the highest lossless step; C and JS alternate.',
      '',
      `**Drain capacity**: ${num(DRAIN_RECORDS)} records put in a ${DRAIN_RING_BYTES >> 20} MiB ring first, then drained in one go (RingReader.drain() / ring_buffer__consume), timed by the consumer.`,
      '',
      figureTable([
        { label: 'RingReader drain (JS, 1 MiB batches read in place in the ring, each record read through RecordBatch.view, as the capture reads)', samples: drainJsRates.map((r) => r / 1e6), unit: 'M records/s', ratios: drainRatios, anchor: 'C ring_buffer__consume' },
        { label: 'RingReader drain, each batch copied out of the ring (the default)', samples: drainJsCopyRates.map((r) => r / 1e6), unit: 'M records/s', ratios: pairedRatios(drainJsCopyRates, drainCRates), anchor: 'C ring_buffer__consume' },
        { label: 'C drain (libbpf ring_buffer__consume)', samples: drainCRates.map((r) => r / 1e6), unit: 'M records/s' },
        {
          label: 'C drain copying each record out (what RingReader did before it read the ring in place)',
          samples: drainCCopyRates.map((r) => r / 1e6),
          unit: 'M records/s',
          ratios: pairedRatios(drainJsRates, drainCCopyRates),
          anchor: 'RingReader drain / this',
        },
      ]),
      '',
      `**Live, lossless**: producer and consumer run at once. A step passes when nothing is lost or reordered and the producer kept >= 90 % of the target pace.`,
      '',
      figureTable([
        { label: 'RingReader (JS callbacks), highest lossless rate', samples: js.map((r) => r / 1e6), unit: 'M records/s', ratios, anchor: 'C ring_buffer__poll consumer' },
        { label: 'C consumer (libbpf ring_buffer__poll), highest lossless rate', samples: c.map((r) => r / 1e6), unit: 'M records/s' },
      ]),
      '',
      `Highest lossless ladder step: JS ${jsTargets.map((r) => num(r / 1e6)).join(', ')}; C ${cTargets.map((r) => num(r / 1e6)).join(', ')} M records/s ` +
        `(when the C consumer stops below the JS one, the producer fell behind the pace: a consumer that keeps up makes bpf_ringbuf_output send a wakeup for nearly every record, which slows the one test-run thread; a slower consumer batches more).`,
      Number.isFinite(unpacedLoss.js)
        ? `Producer unpaced (${num(unpacedLoss.offered)} records as fast as test runs go): lost JS ${num(unpacedLoss.js)}, C ${num(unpacedLoss.c)} — the loss counter sees every one.`
        : '',
      '',
      'Goal: >= 1 M records/s into JS and >= 0.7 of the C consumer.',
      `Machine load when this section started (1-minute load average): ${num(loadAtStart)} on ${cpus().length} CPUs; figures from a busy machine swing widely.`,
      '',
      commandsBlock(['node dist/bench/run.js --only ringbuf']),
    ].join('\n');
    return {
      markdown: md,
      figures: {
        'ringbuf.js.lossless_records_per_s': summarize(js).median,
        'ringbuf.c.lossless_records_per_s': summarize(c).median,
        'ringbuf.js.ratio_vs_c': summarize(ratios).median,
        'ringbuf.js.drain_records_per_s': summarize(drainJsRates).median,
        'ringbuf.js.drain_copy_records_per_s': summarize(drainJsCopyRates).median,
        'ringbuf.c.drain_records_per_s': summarize(drainCRates).median,
        'ringbuf.c.drain_copy_records_per_s': summarize(drainCCopyRates).median,
        'ringbuf.js.drain_ratio_vs_c': summarize(drainRatios).median,
      },
    };
  },
};
