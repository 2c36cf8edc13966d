// netcap serve (issue 13): how many packets per second a stream client
// receives without loss over loopback, against `tcpdump -i v1 -Q in -w - |
// cat` on the same frames at the same time; and the service's memory with
// 0, 1 and 4 stream clients (reading ones, and stalled ones that read
// nothing and so fill their bounded queues).
//
// One `netcap serve` on 127.0.0.1 for the whole section; each step is a
// capture of its own (kind iface at v1's ingress, network mode: streams
// only, nothing on disk), created, streamed by curl into a file, stopped
// and deleted. UDP frames are paced into v0 of a veth pair in a private
// namespace. Figures are reported, never asserted.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { inject, udpFrame, World, type Namespace } from '../lab';
import { api, rssKiB, startServe, type Served } from '../test/service/serve-process';
import { cpuSecondsOf } from './harness/bpf-stats';
import { commandsBlock, num } from './harness/format';
import { netcapSubcommandMissing } from './harness/netcap-cli';
import { countPackets } from './harness/pcap-count';
import type { BenchContext, BenchResult, BenchSection } from './harness/section';
import { summarize } from './harness/stats';
import { startTool, type ToolProcess } from './harness/tool-process';

const LADDER = [25_000, 50_000, 100_000, 150_000, 200_000, 300_000, 400_000, 600_000];
const FILTER = 'udp port 9';
const RECEIVER_MAC = '02:00:00:00:7c:02';
const MEMORY_RATE = 50_000;
/** The memory runs: clients, and whether they read. */
const MEMORY_RUNS = [
  { key: '1r', n: 1, stalled: false, label: '1 reading' },
  { key: '4r', n: 4, stalled: false, label: '4 reading' },
  { key: '1s', n: 1, stalled: true, label: '1 stalled' },
  { key: '4s', n: 4, stalled: true, label: '4 stalled' },
] as const;

interface View {
  counters: { points: { seen: number; matched: number; lost: number; captured: number }[] };
  stream: { clients: { remote: string; packets: number; missed: number; queuedBytes: number }[] };
}

/** The service's memory while frames flow, KiB: its RSS, and its Buffers (process.memoryUsage().arrayBuffers, from /info). */
interface Memory {
  rss: number;
  buffers: number;
}

interface MemoryRun {
  /** With no client, then with the clients. */
  without: Memory;
  with: Memory;
  /** At the end, per client: bytes in its queue (median), packets missed (mean). */
  queuedBytes: number;
  missed: number;
}

interface Step {
  rate: number;
  sent: number;
  streamReceived: number;
  /** What the service counted: the ring's losses and the client's queue misses. */
  ringLost: number;
  queueMissed: number;
  serviceCpu: number;
  tcpdumpReceived: number;
  tcpdumpDropped: number;
  tcpdumpCpu: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

class Bench {
  private captures = 0;
  constructor(
    private readonly ctx: BenchContext,
    private readonly world: World,
    private readonly ns: Namespace,
    private readonly served: Served,
    private readonly seconds: number,
  ) {}

  private view = async (name: string) => (await api<View>(this.served.url, 'GET', `/captures/${name}`)).body;

  /** A new network-mode capture at v1's ingress; deleted by the caller's `finally`. */
  private async create(): Promise<string> {
    const name = `bench${++this.captures}`;
    const r = await api(this.served.url, 'POST', '/captures', { name, kind: 'iface', iface: 'v1', netns: this.ns.name, direction: 'ingress', filter: FILTER, networkmode: true });
    if (r.status !== 201) throw new Error(`creating a capture: ${r.status} ${JSON.stringify(r.body)}`);
    return name;
  }

  private async untilClients(name: string, n: number): Promise<void> {
    const deadline = Date.now() + 10_000;
    while ((await this.view(name)).stream.clients.length < n) {
      if (Date.now() > deadline) throw new Error(`${n} stream clients did not connect within 10 s`);
      await sleep(20);
    }
  }

  private async send(rate: number, times = 1): Promise<number> {
    const durationMs = this.seconds * 1000 * times;
    const frame = udpFrame({ dstMac: RECEIVER_MAC, dstIp: '192.0.2.2', dstPort: 9 });
    return inject(this.ns, 'v0', [frame], { rate, count: Math.round((rate * durationMs) / 1000), durationMs, timeoutMs: durationMs + 30_000 });
  }

  /** One ladder step: curl streaming the capture into a file and tcpdump | cat into another, the same frames for both. */
  async step(rate: number, tag: string): Promise<Step> {
    const name = await this.create();
    const streamFile = path.join(this.ctx.workDir, `stream-${tag}.pcapng`);
    const tcpdumpFile = path.join(this.ctx.workDir, `tcpdump-${tag}.pcap`);
    const curl = startTool(['curl', '-sN', '-o', streamFile, `${this.served.url}/captures/${name}/stream`], { world: this.world });
    const fd = fs.openSync(tcpdumpFile, 'w');
    const cat = this.world.track(spawn('cat', [], { stdio: ['pipe', fd, 'ignore'] }));
    fs.closeSync(fd);
    const tcpdump = startTool(['tcpdump', '-i', 'v1', '-Q', 'in', '-n', '-w', '-', FILTER], { world: this.world, ns: this.ns, stdout: cat.stdin! });
    // cat sees the end of its input when tcpdump exits only if this process holds no end of the pipe.
    cat.stdin!.destroy();
    const catDone = once(cat, 'close');
    try {
      await Promise.all([this.untilClients(name, 1), tcpdump.waitFor(/listening on/, 20_000)]);
      const cpu0 = cpuSecondsOf(this.served.pid);
      const sent = await this.send(rate);
      // tcpdump reads the kernel's TPACKET_V3 blocks when they fill or time out (1 s); the service may be behind its ring.
      await sleep(1500);
      const deadline = Date.now() + 15_000;
      let v = await this.view(name);
      const caughtUp = (x: View) => {
        const captured = sum(x.counters.points.map((p) => p.captured));
        const c = x.stream.clients[0];
        return x.counters.points.every((p) => p.captured + p.lost === p.matched) && c !== undefined && c.packets + c.missed === captured;
      };
      while (!caughtUp(v) && Date.now() < deadline) {
        await sleep(100);
        v = await this.view(name);
      }
      const serviceCpu = cpuSecondsOf(this.served.pid) - cpu0;
      const stopped = await api(this.served.url, 'POST', `/captures/${name}/stop`);
      if (stopped.status !== 200) throw new Error(`stopping the capture: ${stopped.status}`);
      const [curlExit, tdExit] = await Promise.all([curl.exited, tcpdump.stop('SIGINT')]);
      await catDone;
      if (curlExit.code !== 0) throw new Error(`curl ended with status ${curlExit.code}`);
      const dropped = /(\d+) packets dropped by kernel/.exec(tdExit.output);
      return {
        rate,
        sent,
        streamReceived: countPackets(streamFile),
        ringLost: sum(v.counters.points.map((p) => p.lost)),
        queueMissed: v.stream.clients[0]?.missed ?? NaN,
        serviceCpu,
        tcpdumpReceived: countPackets(tcpdumpFile),
        tcpdumpDropped: dropped ? Number(dropped[1]) : NaN,
        tcpdumpCpu: tdExit.usage.cpuSeconds,
      };
    } finally {
      await Promise.all([curl.stop('SIGKILL'), tcpdump.stop('SIGKILL')]);
      await api(this.served.url, 'DELETE', `/captures/${name}`).catch(() => undefined);
      fs.rmSync(streamFile, { force: true });
      fs.rmSync(tcpdumpFile, { force: true });
    }
  }

  /** The service's RSS (KiB) while frames flow: first with no client, then with `n` clients reading, or stalled, on the same capture. */
  async memory(n: number, stalled: boolean): Promise<MemoryRun> {
    const name = await this.create();
    const url = `${this.served.url}/captures/${name}/stream`;
    const readers: ToolProcess[] = [];
    const sockets: net.Socket[] = [];
    try {
      const without = await this.memoryWhileSending();
      if (stalled) {
        const { port } = new URL(this.served.url);
        for (let i = 0; i < n; i++) {
          const s = net.connect(Number(port), '127.0.0.1');
          s.on('error', () => undefined);
          s.pause();
          s.write(`GET /captures/${name}/stream HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
          sockets.push(s);
        }
      } else {
        for (let i = 0; i < n; i++) readers.push(startTool(['curl', '-sN', '-o', '/dev/null', url], { world: this.world }));
      }
      await this.untilClients(name, n);
      // Twice as long: a stalled client first fills the kernel's socket buffers (several MiB on loopback), then its queue.
      const withClients = await this.memoryWhileSending(2);
      const clients = (await this.view(name)).stream.clients;
      return { without, with: withClients, queuedBytes: summarize(clients.map((c) => c.queuedBytes)).median, missed: sum(clients.map((c) => c.missed)) / n };
    } finally {
      await api(this.served.url, 'POST', `/captures/${name}/stop`).catch(() => undefined);
      for (const s of sockets) s.destroy();
      await Promise.all(readers.map((r) => r.stop('SIGKILL')));
      await api(this.served.url, 'DELETE', `/captures/${name}`).catch(() => undefined);
    }
  }

  /** The medians of the second half of a run at MEMORY_RATE (`times` the step's length), sampled every 100 ms. */
  private async memoryWhileSending(times = 1): Promise<Memory> {
    const samples: Memory[] = [];
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const info = await api<{ memory: { arrayBuffersBytes: number } }>(this.served.url, 'GET', '/info');
        samples.push({ rss: rssKiB(this.served.pid), buffers: info.body.memory.arrayBuffersBytes / 1024 });
        await sleep(100);
      }
    })();
    try {
      await this.send(MEMORY_RATE, times);
    } finally {
      sampling = false;
      await sampler;
    }
    const late = samples.slice(Math.floor(samples.length / 2));
    return { rss: summarize(late.map((m) => m.rss)).median, buffers: summarize(late.map((m) => m.buffers)).median };
  }
}

const lossless = (s: Step, received: number) => s.sent > 0 && received === s.sent;

async function run(ctx: BenchContext): Promise<BenchResult> {
  const missing = netcapSubcommandMissing(ctx.repoRoot, 'serve');
  if (missing) return { markdown: `Not measured: ${missing}.`, figures: {}, skipped: [missing] };
  const world = new World('bench-serve');
  ctx.onCleanup(() => world.destroy());
  const ns = world.addNamespace();
  ns.addVeth('v0', 'v1', { local: { mac: '02:00:00:00:7c:01' }, peer: { mac: RECEIVER_MAC, address: '192.0.2.2/24' } });
  const stateDir = path.join(ctx.workDir, 'state');
  fs.mkdirSync(stateDir);
  const served = await startServe({ world, stateDir, args: ['--no-restore'] });
  ctx.onCleanup(async () => void (await served.stop()));
  const seconds = ctx.quick ? 2 : 3;
  const bench = new Bench(ctx, world, ns, served, seconds);
  const failures: string[] = [];
  const note = (what: string, e: unknown) => failures.push(`${what}: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`);

  // The ladder: each repetition climbs until both the stream and tcpdump lost at two steps in a row
  // (one step lost to a neighbour's burst on a busy machine does not end it).
  const ladderRepeats = ctx.quick ? 1 : Math.min(ctx.repeats, 2);
  const climbs: Step[][] = [];
  for (let rep = 0; rep < ladderRepeats; rep++) {
    const steps: Step[] = [];
    let bothLost = 0;
    for (const rate of LADDER) {
      if (ctx.remainingMs() < 90_000) {
        failures.push(`the ladder stopped early at ${num(rate)} pps: the time budget ran low`);
        break;
      }
      ctx.log(`ladder ${rep + 1}/${ladderRepeats}: ${rate} pps`);
      try {
        const s = await bench.step(rate, `${rate}-${rep}`);
        steps.push(s);
        bothLost = !lossless(s, s.streamReceived) && !lossless(s, s.tcpdumpReceived) ? bothLost + 1 : 0;
        if (bothLost === 2) break;
      } catch (e) {
        note(`${num(rate)} pps, repetition ${rep + 1}`, e);
        break;
      }
    }
    climbs.push(steps);
  }

  // Memory: a capture at a steady rate, its RSS without a client and then with 1 or 4.
  const memoryRepeats = ctx.quick ? 1 : Math.min(ctx.repeats, 3);
  const rss = new Map<string, MemoryRun[]>();
  for (let rep = 0; rep < memoryRepeats; rep++) {
    for (const m of MEMORY_RUNS) {
      if (ctx.remainingMs() < 3 * seconds * 1000 + 20_000) continue;
      ctx.log(`memory ${rep + 1}/${memoryRepeats}: ${m.label} clients`);
      try {
        rss.set(m.key, [...(rss.get(m.key) ?? []), await bench.memory(m.n, m.stalled)]);
      } catch (e) {
        note(`memory with ${m.label} clients`, e);
      }
    }
  }
  return report(climbs, rss, failures, seconds);
}

function report(climbs: Step[][], rss: Map<string, MemoryRun[]>, failures: string[], seconds: number): BenchResult {
  const figures: Record<string, number> = {};
  const highest = (steps: Step[], received: (s: Step) => number) => Math.max(0, ...steps.filter((s) => lossless(s, received(s))).map((s) => s.sent / seconds));
  // Lossless at the last step of a climb that reached the top: the limit is beyond the ladder (or the injector's pace).
  const atTop = (received: (s: Step) => number) =>
    climbs.some((c) => c.length > 0 && c[c.length - 1].rate === LADDER[LADDER.length - 1] && lossless(c[c.length - 1], received(c[c.length - 1]))) ? ' (lossless at the top step: at least this)' : '';
  const streamBest = summarize(climbs.map((c) => highest(c, (s) => s.streamReceived)));
  const tcpdumpBest = summarize(climbs.map((c) => highest(c, (s) => s.tcpdumpReceived)));
  const md: string[] = [
    `60-byte UDP frames to port 9 paced into v0 of a veth pair in a private namespace, ${seconds} s per step, the rate climbing`,
    `${LADDER.map((r) => num(r / 1000)).join(', ')} k frames/s until both lost at two steps in a row. netcap serve listens on 127.0.0.1; each step creates a capture`,
    `(kind iface, v1 ingress, filter \`${FILTER}\`, network mode, default ring and client queue) read by \`curl -N\` into a file, while`,
    '`tcpdump -i v1 -Q in -w - | cat` writes the same frames to another. "received" counts the packets in each file; for the stream,',
    '"ring lost" and "queue missed" are the service\'s own counters (the client is told both); CPU is the service\'s or tcpdump\'s',
    'user+system time during the step. "Highest lossless" is the achieved rate of the highest step where a file held every frame sent.',
    '',
    `| highest lossless rate (frames/s) | median (min..max, n) |`,
    '|---|---|',
    `| netcap serve stream over loopback | ${num(streamBest.median)} (${num(streamBest.min)}..${num(streamBest.max)}, n=${streamBest.n})${atTop((s) => s.streamReceived)} |`,
    `| tcpdump -i -w - \\| cat (anchor) | ${num(tcpdumpBest.median)} (${num(tcpdumpBest.min)}..${num(tcpdumpBest.max)}, n=${tcpdumpBest.n})${atTop((s) => s.tcpdumpReceived)} |`,
    '',
    '| rep | offered pps | sent | stream received | ring lost | queue missed | service CPU s | tcpdump received | tcpdump dropped | tcpdump CPU s |',
    '|---|---|---|---|---|---|---|---|---|---|',
  ];
  climbs.forEach((steps, rep) => {
    for (const s of steps) {
      md.push(
        `| ${rep + 1} | ${num(s.rate)} | ${num(s.sent)} | ${num(s.streamReceived)} | ${num(s.ringLost)} | ${num(s.queueMissed)} | ${num(s.serviceCpu)} | ${num(s.tcpdumpReceived)} | ${num(s.tcpdumpDropped)} | ${num(s.tcpdumpCpu)} |`,
      );
    }
  });
  figures['serve.stream.lossless_pps'] = streamBest.median;
  figures['serve.tcpdump.lossless_pps'] = tcpdumpBest.median;
  if (tcpdumpBest.median > 0) figures['serve.stream.lossless_ratio_vs_tcpdump'] = streamBest.median / tcpdumpBest.median;

  const mib = (kib: number[]) => summarize(kib).median / 1024;
  const idle = mib([...rss.values()].flat().map((r) => r.without.rss));
  md.push(
    '',
    `Memory: the service's RSS (from /proc) and its Buffers (arrayBuffers of process.memoryUsage(), from /info: the queues' chunks are`,
    `Buffers), sampled every 100 ms, the median of the second half of a run at ${num(MEMORY_RATE)} frames/s, on one capture as above, first`,
    `with no client (${seconds} s) and then, on the same capture, with 1 or 4 clients (${2 * seconds} s): reading ones are`,
    '`curl -N -o /dev/null`, stalled ones connect and never read, so each fills the kernel\'s socket buffers, then its queue (4 MiB by',
    'default), and then misses packets. Per client: (with - without) / clients, paired in each run; medians over the repetitions',
    "(min..max). RSS moves by tens of MiB with V8's collections and the allocator's arenas, so its increments say less than the Buffers'.",
    '',
    '| clients | RSS MiB without → with | RSS per client MiB | Buffers per client MiB | queued KiB per client at the end | missed per client |',
    '|---|---|---|---|---|---|',
  );
  for (const m of MEMORY_RUNS) {
    const runs = rss.get(m.key) ?? [];
    if (runs.length === 0) continue;
    const per = (f: (x: Memory) => number) => {
      const x = summarize(runs.map((r) => (f(r.with) - f(r.without)) / m.n / 1024));
      return { text: `${num(x.median)} (${num(x.min)}..${num(x.max)})`, median: x.median };
    };
    const rssPer = per((x) => x.rss);
    const buffersPer = per((x) => x.buffers);
    md.push(
      `| ${m.label} | ${num(mib(runs.map((r) => r.without.rss)))} → ${num(mib(runs.map((r) => r.with.rss)))} | ${rssPer.text} | ${buffersPer.text} | ` +
        `${num(summarize(runs.map((r) => r.queuedBytes)).median / 1024)} | ${num(summarize(runs.map((r) => r.missed)).median)} |`,
    );
    const k = `serve.memory.${m.stalled ? 'stalled' : 'reading'}_${m.n}`;
    figures[`${k}.rss_per_client_mib`] = rssPer.median;
    figures[`${k}.buffers_per_client_mib`] = buffersPer.median;
    figures[`${k}.queued_kib`] = summarize(runs.map((r) => r.queuedBytes)).median / 1024;
  }
  figures['serve.memory.no_client_rss_mib'] = idle;
  md.push('', 'Commands:', '');
  md.push(
    commandsBlock([
      'netcap serve --listen 127.0.0.1:0 --state-dir <dir> --no-restore',
      `curl -X POST -H 'content-type: application/json' -d '{"name":"bench1","kind":"iface","iface":"v1","netns":"<ns>","direction":"ingress","filter":"${FILTER}","networkmode":true}' <url>/captures`,
      'curl -sN -o stream.pcapng <url>/captures/bench1/stream',
      `ip netns exec <ns> tcpdump -i v1 -Q in -n -w - '${FILTER}' | cat > tcpdump.pcap`,
      `ip netns exec <ns> inject send -i v0 -R <rate> -d ${seconds}   # lab/inject.c`,
    ]),
  );
  if (failures.length) md.push('', ...failures.map((f) => `Note: ${f}.`));
  return { markdown: md.join('\n'), figures, skipped: failures };
}

export const section: BenchSection = {
  id: 'serve',
  title: 'netcap serve: a stream client over loopback vs tcpdump -w - | cat, memory per client',
  budgetMs: 300_000,
  run,
};
