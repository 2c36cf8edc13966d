// `netcap fleet stream`: every agent's live stream of one capture, merged
// into one pcapng as the packets arrive (reorder.ts: timestamp order within
// a bounded window). The merged file has one section: its header names the
// agents and their clocks; each interface is one agent's point
// ("node-a/eth0 ingress") and says, in its description, the agent's clock
// offset against the client's (clock.ts) and the shift put on its
// timestamps; Interface Statistics Blocks carry each agent's counters as
// its stream told them (what its ring lost, what its queue for this client
// missed) and the fleet's own (packets merged, late), when an agent tells
// them and at the end.
//
// An agent that goes away (its connection breaks, it stops answering) is
// reported and the others go on. Every few seconds each agent is asked for
// its capture's counters: an agent that no longer answers is gone even if
// its connection did not break (a node that lost power).
import type { Readable, Writable } from 'node:stream';
import { UserError } from '../errors';
import type { CaptureInterface, CaptureStatistics } from '../output/packet';
import { interfaceBlock, sectionHeaderBlock, statisticsBlock } from '../output/pcapng-blocks';
import { StreamWriter } from '../output/stream-writer';
import type { CaptureView } from '../service/service-capture';
import { realtimeNs } from '../capture/clock';
import { AgentStream } from './agent-stream';
import { clockShift, describeClock, estimateClock, formatNs, type ClockEstimate } from './clock';
import { failureLines, type Fleet, type FleetAgent } from './fleet';
import { ReorderWindow, type ReorderCounters, type HeldPacket } from './reorder';

/** How the agents' timestamps are put on one timeline. */
export type ClockPolicy = 'auto' | 'shift' | 'keep';

export interface FleetStreamOptions {
  /** The capture's name on every agent. */
  capture: string;
  /**
   * stream: the live streams; dump: each agent's dump file (the newest),
   * merged the same way. Dumps are read as fast as the merge takes them: a
   * dump ahead of the others waits when the held packets reach half their
   * bound, so nothing is written early.
   */
  source?: 'stream' | 'dump';
  output: Writable;
  /** End the output when done (not for stdout). */
  endOutput: boolean;
  /** The reordering window, ms. */
  windowMs: number;
  /** The most bytes the window holds. */
  maxHeldBytes: number;
  /** auto: shift an agent's timestamps by its offset when the offset is beyond its error; shift: always; keep: never. */
  clock: ClockPolicy;
  /** Stop after this many packets. */
  count?: number;
  /** Lines for the user as things happen (an agent joins, goes away). */
  note(line: string): void;
}

export type AgentState = 'streaming' | 'ended' | 'gone' | 'failed' | 'stopped';

export interface FleetInterface {
  agent: string;
  /** The agent's name for it ("eth0 ingress"). */
  agentName: string;
  /** The merged file's. */
  name: string;
  written: number;
  /** The agent's last statistics of it. */
  agentStats?: CaptureStatistics;
}

export interface AgentReport {
  name: string;
  url: string;
  state: AgentState;
  /** Why it failed, went away or ended. */
  message?: string;
  clock?: ClockEstimate;
  clockAtEnd?: ClockEstimate;
  shiftNs: bigint;
  /** Packets and bytes its stream brought. */
  packets: number;
  bytes: number;
  /** Its capture's counters as it last answered. */
  view?: CaptureView;
}

export interface FleetStreamResult {
  agents: AgentReport[];
  interfaces: FleetInterface[];
  merge: ReorderCounters;
  /** Why the stream ended: 'ended' (every agent's stream ended), 'stopped', 'count'. */
  reason: string;
}

/** Each agent's counters are asked for this often; an agent that does not answer in time is gone. */
export const POLL_MS = 5_000;

interface Live {
  /** Its place in `live`: the reorder window's source number. */
  index: number;
  agent: FleetAgent;
  report: AgentReport;
  source?: Readable;
  reader?: AgentStream;
  /** Merged interface ids by the agent's interface name (a new run's section names them again). */
  interfaces: Map<string, number>;
  /** We closed its stream (the end, a signal): not the agent going away. */
  closedByUs: boolean;
  done?: Promise<void>;
}

export class FleetStream {
  private readonly reorder: ReorderWindow;
  private readonly interfaces: FleetInterface[] = [];
  private readonly live: Live[] = [];
  private writer!: StreamWriter;
  private base: { hi: number; lo: number } | undefined;
  private written = 0;
  private stopReason: string | undefined;
  private wake: (() => void) | undefined;
  private paused = false;
  /** Dumps waiting for the one furthest behind (throttleDumps). */
  private readonly aheadPaused = new Set<Live>();
  /** When the chunk being read arrived (ms): one clock read per chunk, not per packet. */
  private arrivedMs = 0;

  constructor(
    private readonly fleet: Fleet,
    private readonly options: FleetStreamOptions,
  ) {
    this.reorder = new ReorderWindow({ windowMs: options.windowMs, maxHeldBytes: options.maxHeldBytes }, (p) => this.writePacket(p));
  }

  /** Ends the stream (a signal, --duration): what is held is written, the statistics follow. */
  stop(reason = 'stopped'): void {
    this.stopReason ??= reason;
    this.wake?.();
  }

  async run(): Promise<FleetStreamResult> {
    const { capture } = this.options;
    const started = await this.fleet.checked(async (agent) => {
      const clock = await estimateClock(() => agent.client.info());
      const source = this.options.source === 'dump' ? await agent.client.dump(capture) : await agent.client.stream(capture);
      return { clock, source };
    });
    for (const o of started) {
      const report: AgentReport = { name: o.agent.name, url: o.agent.url, state: 'failed', shiftNs: 0n, packets: 0, bytes: 0 };
      const live: Live = { index: this.live.length, agent: o.agent, report, interfaces: new Map(), closedByUs: false };
      if (o.ok) {
        report.state = 'streaming';
        report.clock = o.value.clock;
        report.shiftNs = this.options.clock === 'keep' ? 0n : this.options.clock === 'shift' ? -o.value.clock.offsetNs : clockShift(o.value.clock);
        live.source = o.value.source;
      } else report.message = o.error.message;
      this.live.push(live);
    }
    for (const line of failureLines(started)) this.options.note(`agent ${line}`);
    const streaming = this.live.filter((l) => l.source);
    if (streaming.length === 0) {
      throw new UserError(`no agent streams capture '${capture}'`, `each agent said why above; netcap fleet show ${capture} tells what they have`);
    }
    this.writer = new StreamWriter(this.options.output);
    void this.writer.write(sectionHeaderBlock({ application: 'netcap fleet', comment: this.sectionComment() })).catch(() => undefined);
    this.options.output.on('drain', () => this.resume());
    for (const l of streaming) this.startReading(l);
    // The readiness line of capturing commands (scripts wait for it).
    this.options.note(`${this.options.source === 'dump' ? 'reading the dumps of' : 'listening on'} ${streaming.length} of ${this.live.length} agents (${streaming.map((l) => l.agent.name).join(', ')}), capture ${capture}`);

    const tick = setInterval(() => {
      this.reorder.release(performance.now());
      if (this.options.source === 'dump') this.throttleDumps();
    }, Math.max(5, Math.min(50, this.options.windowMs / 4)));
    const poll = setInterval(() => void this.poll(), POLL_MS);
    try {
      await this.untilDone(streaming);
    } finally {
      clearInterval(tick);
      clearInterval(poll);
    }
    for (const l of streaming) this.closeStream(l);
    await Promise.all(streaming.map((l) => l.done?.catch(() => undefined)));
    this.reorder.drain();
    await this.finalViews(streaming);
    for (let i = 0; i < this.interfaces.length; i++) void this.writer.write(this.endStatistics(i)).catch(() => undefined);
    await this.writer.close(this.options.endOutput);
    return { agents: this.live.map((l) => l.report), interfaces: this.interfaces, merge: this.reorder.counters, reason: this.stopReason ?? 'ended' };
  }

  private sectionComment(): string {
    const lines = [`netcap fleet: capture ${this.options.capture} on ${this.live.length} agents, merged in timestamp order within a ${this.options.windowMs} ms reordering window; clocks: ${this.options.clock}`];
    for (const { report: r } of this.live) {
      lines.push(r.clock ? `${r.name} ${r.url}: clock agent-client ${describeClock(r.clock)}, timestamps ${r.shiftNs ? `shifted by ${formatNs(r.shiftNs, true)}` : 'as stamped'}` : `${r.name} ${r.url}: failed: ${r.message}`);
    }
    return lines.join('\n');
  }

  private startReading(l: Live): void {
    const reader = new AgentStream(
      {
        interface: (iface) => this.addInterface(l, iface),
        packet: (merged, hi, lo, block) => this.packet(l, merged, hi, lo, block),
        statistics: (merged, stats) => this.agentStatistics(merged, stats),
      },
      l.report.shiftNs,
    );
    l.reader = reader;
    l.source!.prependListener('data', () => (this.arrivedMs = performance.now()));
    this.reorder.open(l.index, performance.now());
    l.done = reader.read(l.source!).then(
      () => this.streamEnded(l, undefined),
      (e: Error) => this.streamEnded(l, e),
    );
    l.source!.on('data', () => {
      l.report.packets = reader.packets;
      l.report.bytes = reader.bytes;
      this.reorder.release(this.arrivedMs);
      if (this.options.output.writableNeedDrain) this.pause();
      if (this.options.source === 'dump') this.throttleDumps();
    });
  }

  private addInterface(l: Live, iface: CaptureInterface): number {
    const agentName = iface.name ?? `interface ${l.interfaces.size}`;
    const known = l.interfaces.get(agentName);
    if (known !== undefined) return known;
    const id = this.interfaces.length;
    const name = `${l.agent.name}/${agentName}`;
    this.interfaces.push({ agent: l.agent.name, agentName, name, written: 0 });
    l.interfaces.set(agentName, id);
    void this.writer.write(interfaceBlock({ ...iface, name, description: this.interfaceDescription(l.report, iface) })).catch(() => undefined);
    return id;
  }

  /** The agent's description, then where it came from and its clock, in words and as key=value for programs. */
  private interfaceDescription(r: AgentReport, iface: CaptureInterface): string {
    const clock = r.clock!;
    const words = `agent ${r.name} (${r.url}); clock agent-client ${describeClock(clock)} from ${clock.samples} round trips; timestamps ${r.shiftNs ? `shifted by ${formatNs(r.shiftNs, true)} onto the client's clock` : 'as the agent stamped them'}`;
    const keys = `netcap-fleet agent=${r.name} clock_offset_ns=${clock.offsetNs} clock_error_ns=${clock.errorNs} shift_ns=${r.shiftNs}`;
    return `${iface.description ? `${iface.description}; ` : ''}${words} [${keys}]`;
  }

  private packet(l: Live, merged: number, hi: number, lo: number, block: Buffer): void {
    this.base ??= { hi, lo };
    const key = (hi - this.base.hi) * 4294967296 + (lo - this.base.lo);
    this.reorder.push({ key, source: l.index, block, arrivedMs: this.arrivedMs, ifIndex: merged });
  }

  private writePacket(p: HeldPacket): void {
    if (this.stopReason === 'count') return;
    this.interfaces[p.ifIndex].written++;
    void this.writer.write(p.block).catch((e: Error) => this.outputFailed(e));
    this.written++;
    if (this.options.count !== undefined && this.written >= this.options.count) this.stop('count');
  }

  /** An agent's statistics block (a run ended, or its queue for us missed packets): kept, and passed on with its name. */
  private agentStatistics(merged: number, stats: CaptureStatistics): void {
    const iface = this.interfaces[merged];
    if (!iface) return;
    iface.agentStats = stats;
    void this.writer.write(statisticsBlock(merged, { ...stats, comment: `${iface.agent}: ${stats.comment ?? 'statistics'}` })).catch(() => undefined);
  }

  private endStatistics(merged: number): Buffer {
    const iface = this.interfaces[merged];
    const report = this.live.find((l) => l.agent.name === iface.agent)!.report;
    const point = report.view?.counters.points.find((p) => p.name === iface.agentName);
    const agent = iface.agentStats ?? (point ? { received: BigInt(point.seen), filterAccepted: BigInt(point.matched), osDropped: BigInt(point.lost) } : {});
    const missed = report.view?.stream.clients.reduce((n, c) => n + c.missed, 0);
    const parts = [`${iface.agent}: ${describeState(report)}`, `the fleet merged ${iface.written} packets of this interface`];
    if (agent.received !== undefined) parts.push(`the agent saw ${agent.received}, its filter matched ${agent.filterAccepted ?? '?'}, ${agent.osDropped ?? 0n} were lost or missed on the agent`);
    if (missed) parts.push(`its stream queues missed ${missed} packets (all clients)`);
    if (report.clockAtEnd) parts.push(`clock at the end agent-client ${describeClock(report.clockAtEnd)}`);
    return statisticsBlock(merged, {
      ...agent,
      delivered: BigInt(iface.written),
      comment: parts.join('; '),
      tsNs: realtimeNs(),
    });
  }

  private streamEnded(l: Live, error: Error | undefined): void {
    this.reorder.close(l.index, performance.now());
    this.aheadPaused.delete(l);
    if (this.options.source === 'dump') this.throttleDumps();
    if (l.closedByUs) {
      if (l.report.state === 'streaming') l.report.state = 'stopped';
    } else if (error) {
      l.report.state = 'gone';
      l.report.message = brokenStream(error);
      this.options.note(`agent ${l.agent.name} went away: ${l.report.message}; the others go on`);
    } else {
      l.report.state = 'ended';
      l.report.message = this.options.source === 'dump' ? 'its dump was read' : 'its capture ended';
      if (this.options.source !== 'dump') this.options.note(`agent ${l.agent.name}: the stream ended (its capture stopped)`);
    }
    l.report.packets = l.reader?.packets ?? 0;
    l.report.bytes = l.reader?.bytes ?? 0;
    this.wake?.();
  }

  private untilDone(streaming: Live[]): Promise<void> {
    return new Promise<void>((resolve) => {
      const check = () => {
        if (this.stopReason !== undefined || streaming.every((l) => l.report.state !== 'streaming')) {
          this.wake = undefined;
          resolve();
        }
      };
      this.wake = check;
      check();
    });
  }

  private closeStream(l: Live): void {
    if (l.report.state !== 'streaming') return;
    l.closedByUs = true;
    l.source?.destroy();
  }

  /** Each agent's counters; an agent that does not answer is gone. */
  private async poll(): Promise<void> {
    const streaming = this.live.filter((l) => l.report.state === 'streaming');
    await this.fleet.each(async (a) => {
      const l = streaming.find((s) => s.agent === a)!;
      try {
        l.report.view = await a.client.get(this.options.capture);
      } catch (e) {
        if (l.report.state !== 'streaming' || l.closedByUs) return;
        l.source?.destroy(new Error(`it did not answer: ${(e as Error).message}`));
      }
    }, streaming.map((l) => l.agent));
  }

  /** The counters and the clock at the end, from the agents still there. */
  private async finalViews(streaming: Live[]): Promise<void> {
    const reachable = streaming.filter((l) => l.report.state !== 'gone');
    await this.fleet.each(async (a) => {
      const l = reachable.find((s) => s.agent === a)!;
      l.report.view = await a.client.get(this.options.capture).catch(() => l.report.view);
      l.report.clockAtEnd = await estimateClock(() => a.client.info(), 4).catch(() => undefined);
    }, reachable.map((l) => l.agent));
  }

  /**
   * Dumps ahead of the one furthest behind wait while the held packets pass
   * half their bound, and go on below a quarter. The one furthest behind
   * never waits, whatever is held: it is what the held packets wait for
   * (and when a dump ends, another is furthest behind). Called as data
   * comes, as a dump ends, and as the window's clock releases packets (held
   * bytes fall then with no data coming).
   */
  private throttleDumps(): void {
    const held = this.reorder.bytesHeld;
    const behind = this.live[this.reorder.laggard ?? -1];
    if (held > this.options.maxHeldBytes / 2) {
      for (const l of this.live) {
        if (l === behind || l.report.state !== 'streaming' || this.aheadPaused.has(l)) continue;
        this.aheadPaused.add(l);
        this.pauseSource(l);
      }
    } else if (held < this.options.maxHeldBytes / 4 && this.aheadPaused.size) {
      const ahead = [...this.aheadPaused];
      this.aheadPaused.clear();
      for (const l of ahead) if (!this.paused) this.resumeSource(l);
    }
    if (behind && this.aheadPaused.delete(behind) && !this.paused) this.resumeSource(behind);
  }

  /** The output is full: every stream waits for its 'drain'. */
  private pause(): void {
    if (this.paused) return;
    this.paused = true;
    for (const l of this.live) this.pauseSource(l);
  }

  private resume(): void {
    if (!this.paused) return;
    this.paused = false;
    for (const l of this.live) if (l.report.state === 'streaming' && !this.aheadPaused.has(l)) this.resumeSource(l);
  }

  /** A stream we hold back: the window knows it is not silent. */
  private pauseSource(l: Live): void {
    l.source?.pause();
    this.reorder.setPaused(l.index, true, performance.now());
  }

  private resumeSource(l: Live): void {
    this.reorder.setPaused(l.index, false, performance.now());
    l.source?.resume();
  }

  private outputFailed(e: Error): void {
    if (this.stopReason === undefined) this.options.note(`cannot write the merged file: ${e.message}`);
    this.stop('output');
  }
}

/** Why a stream broke off, in words: Node says "aborted" for a response cut short. */
function brokenStream(e: Error): string {
  const code = (e as NodeJS.ErrnoException).code;
  if (e.message === 'aborted' || code === 'ECONNRESET' || code === 'ECONNABORTED') return 'its connection broke (the agent stopped, or its node is gone)';
  return e.message;
}

function describeState(r: AgentReport): string {
  switch (r.state) {
    case 'gone':
      return `went away during the stream (${r.message})`;
    case 'ended':
      return r.message ?? 'its capture ended';
    case 'failed':
      return `failed: ${r.message}`;
    default:
      return 'streamed until the fleet stopped';
  }
}
