// Port points in the mbuf mode (port:0:rx, port:1:tx/q0, port:0 -Q inout),
// as a part of the prepared mode next to its function points:
//
//   plan()      read the process's ethdev tables (src/dpdk/ports.ts) and
//               check the ports and queues asked for (port-plan.ts):
//               UserErrors here, before anything is created;
//   prepare()   the queue map, the slots and burst state of the port points,
//               and per port and direction the programs attached to the
//               burst function for the whole capture: probes/mbuf.ts's burst
//               programs behind a queue check (probes/ports.ts), loaded;
//   load()      a generation of judging workers (the filter and snap length),
//               one per slot, as for function burst points;
//   attach()    the probes at the burst functions the tables name, kept
//               there by a PortWatcher (port-watch.ts) that re-reads the
//               tables and follows stops, starts and moved functions.
//
// Each port and direction is one capture point (a pcapng interface, with
// direction flags on its packets); their indexes follow the function points'.
import { UserError } from '../../errors';
import { createMap, type BpfMap } from '../../bpf/map';
import { Link } from '../../bpf/link/link';
import { Owned } from '../../bpf/registry';
import { ProgType } from '../../bpf/constants';
import { disassemble } from '../../ebpf/disassemble';
import { link } from '../../ebpf/link';
import type { Insn } from '../../ebpf/instruction';
import { compileCbpf } from '../../filter/libpcap';
import { EthdevReader, type EthdevTables } from '../../dpdk/ports';
import type { PortPoint } from '../../targets/port-point';
import { argRegOffset, retRegOffset } from '../../targets/registers';
import { LINKTYPE_ETHERNET } from '../../output/linktypes';
import type { PacketRecord } from '../../capture/record';
import { ProgramSlots } from '../../capture/slots';
import { loadGeneration, loadPrograms, type LoadedProgram } from '../../capture/generation';
import type { Generation, GenerationMaps, JudgeSettings, ModePacket, ModePoint } from '../../capture/mode';
import { BURST_STATE_SIZE, buildMbufJudge, type MbufOffsets } from '../../../probes/mbuf';
import { buildPortAttached, portMbufSpec, QUEUE_KEY_SIZE, QUEUE_VALUE_SIZE, type PortProbeSpec } from '../../../probes/ports';
import { cbpfFilter } from '../../../probes/filter';
import { planPorts, type CaptureDirection, type PortSelection } from './port-plan';
import { describeLocation, PortWatcher, type PointGaps } from './port-watch';

export interface PortPlanOptions {
  pid?: number;
  /** 'YY.MM' */
  release: string;
  points: PortPoint[];
  /** -Q: for points without :rx/:tx (default inout). */
  direction?: CaptureDirection;
}

/** eth_rx_burst_t / eth_tx_burst_t: (void *queue, struct rte_mbuf **pkts, uint16_t nb_pkts) -> uint16_t. */
const BURST_ARGS = { queue: argRegOffset(1), array: argRegOffset(2), count: argRegOffset(3), ret: retRegOffset() };
/** Threads that can be inside one burst function at once: the lcores (RTE_MAX_LCORE is 128 by default). */
const SAVED_ARRAYS = 4096;

interface PortPointState {
  selection: PortSelection;
  index: number;
  spec: PortProbeSpec;
  entry: LoadedProgram;
  exit?: LoadedProgram;
}

export class PortCapture {
  readonly #owned = new Owned();
  #points: PortPointState[] = [];
  #slots?: ProgramSlots;
  #watcher?: PortWatcher;
  #listeners: ((line: string) => void)[] = [];

  private constructor(
    readonly pid: number,
    readonly reader: EthdevReader,
    /** The tables as read when the capture was planned. */
    readonly tables: EthdevTables,
    readonly selections: PortSelection[],
  ) {
    this.#owned.own(reader);
  }

  /** Reads the tables and checks the points; UserError with nothing left open otherwise. */
  static plan(o: PortPlanOptions): PortCapture {
    if (o.pid === undefined) throw new UserError('port: points need the running process', 'give --pid PID of the DPDK application (its ports are read from its memory)');
    const reader = EthdevReader.open(o.pid, o.release);
    try {
      const tables = reader.read();
      return new PortCapture(o.pid, reader, tables, planPorts(o.points, tables, o.pid, o.direction));
    } catch (e) {
      reader.close();
      throw e;
    }
  }

  /** Makes the maps and loads the attached programs of points firstPoint.. (throws: the caller closes this). */
  prepare(firstPoint: number, countersFd: number): void {
    const size = firstPoint + this.selections.length;
    // Slot and burst state are indexed by the point's index, which the function points' come before.
    this.#slots = this.#owned.own(new ProgramSlots('nc_port_slots', size));
    const burstState = this.#owned.own(createMap({ type: 'percpu_array', name: 'netcap_pburst', keySize: 4, valueSize: BURST_STATE_SIZE, maxEntries: size }));
    const queues: BpfMap = this.#owned.own(
      createMap({ type: 'hash', name: 'netcap_queues', keySize: QUEUE_KEY_SIZE, valueSize: QUEUE_VALUE_SIZE, maxEntries: Math.max(64, this.selections.length * Math.min(this.tables.queuesPerPort, 1024)) }),
    );
    this.#points = this.selections.map((selection, k) => {
      const index = firstPoint + k;
      // Per point: two points on one function must not read each other's saved array.
      const saved = selection.direction === 'rx' ? this.#owned.own(createMap({ type: 'lru_hash', name: `netcap_rxarr${k}`.slice(0, 15), keySize: 8, valueSize: 8, maxEntries: SAVED_ARRAYS })) : undefined;
      const spec: PortProbeSpec = { direction: selection.direction, args: BURST_ARGS, queuesFd: queues.fd, point: index, countersFd, slotsFd: this.#slots!.fd, savedArgsFd: saved?.fd, burstStateFd: burstState.fd };
      const built = buildPortAttached(spec);
      const name = (role: string) => `nc_port${k}_${role}`.slice(0, 15);
      const loaded = loadPrograms([
        { point: index, role: 'uprobe', spec: { type: ProgType.KPROBE, insns: built.entry, name: name('entry') } },
        ...(built.exit ? [{ point: index, role: 'uretprobe', spec: { type: ProgType.KPROBE, insns: built.exit, name: name('exit') } }] : []),
      ]);
      for (const l of loaded) this.#owned.own(l.program);
      return { selection, index, spec, entry: loaded[0], ...(loaded[1] ? { exit: loaded[1] } : {}) };
    });
    this.#watcher = this.#owned.own(
      new PortWatcher(
        this.pid,
        this.reader,
        queues,
        this.#points.map((p) => ({ selection: p.selection, index: p.index, entry: p.entry.program, exit: p.exit?.program })),
        (line) => this.#say(line),
      ),
    );
  }

  #say(line: string): void {
    for (const l of this.#listeners) l(line);
  }

  /** Runtime messages (a port stopped, started again, its functions moved). */
  onMessage(listener: (line: string) => void): void {
    this.#listeners.push(listener);
  }

  points(): ModePoint[] {
    return this.selections.map((s) => ({ name: s.name }));
  }

  /** The programs on the burst functions, for listings. */
  attachedPrograms(): LoadedProgram[] {
    return this.#points.flatMap((p) => (p.exit ? [p.entry, p.exit] : [p.entry]));
  }

  /** The judging workers for `settings`, one per port point's slot. */
  load(settings: JudgeSettings, maps: GenerationMaps, layout: MbufOffsets): Generation {
    const cbpf = settings.expression ? compileCbpf(settings.expression, { linktype: 'EN10MB', snaplen: settings.snaplen }).insns : undefined;
    const judge = { layout, snaplen: settings.snaplen, filter: cbpfFilter(cbpf, settings.snaplen), ringFd: maps.ring.fd, scratchFd: maps.scratch.fd, wakeupAt: maps.wakeupAt };
    return loadGeneration(
      settings,
      this.#points.map((p, k) => ({
        point: p.index,
        role: 'tail-called worker',
        spec: { type: ProgType.KPROBE, insns: buildMbufJudge(portMbufSpec(p.spec), judge), name: `nc_port${k}_worker`.slice(0, 15) },
        slot: { slots: this.#slots!, index: p.index },
      })),
    );
  }

  /**
   * Attaches every port point where the tables say now and keeps following
   * them: one Link whose close() stops that and detaches everything.
   */
  attach(): Link {
    const watcher = this.#watcher;
    if (!watcher) throw new Error('PortCapture.attach() before prepare()');
    watcher.start(this.reader.read());
    return new Link('dpdk-ports', `pid ${this.pid}: ${this.selections.map((s) => s.name).join(', ')}`, [watcher]);
  }

  /** Is this point index one of the port points? */
  owns(point: number): boolean {
    return this.#points.some((p) => p.index === point);
  }

  /** A port point's record as a packet: inbound (rx) or outbound (tx), the queue when the point selects one. */
  packet(rec: PacketRecord): ModePacket {
    const s = this.#points.find((p) => p.index === rec.point)!.selection;
    return {
      data: rec.data,
      wirelen: rec.wirelen,
      linktype: LINKTYPE_ETHERNET,
      direction: s.direction === 'rx' ? 'in' : 'out',
      meta: {
        pid: rec.pid,
        tid: rec.tid,
        comm: rec.comm,
        cpu: rec.cpu,
        point: s.name,
        object: { kind: 'mbuf', address: rec.addr },
        port: rec.ifindex,
        flags: [...(s.queue !== undefined ? [`queue=${s.queue}`] : []), ...(rec.readFailed ? ['truncated=read-error'] : [])],
      },
    };
  }

  /** --dry-run: the tables, what each point probes, and its programs (attached ones and `gen`'s). */
  describe(gen: Generation): string[] {
    const t = this.tables;
    const lines = [
      `ethdev tables of pid ${this.pid}: ${t.source} (DPDK ${t.release} layout of ${t.layout.since}+), RTE_MAX_ETHPORTS ${t.maxPorts}, RTE_MAX_QUEUES_PER_PORT ${t.queuesPerPort}; rte_eth_devices in ${t.objects.rte_eth_devices}${t.objects.rte_eth_fp_ops ? `, rte_eth_fp_ops in ${t.objects.rte_eth_fp_ops}` : ''}`,
    ];
    const listing = (p: { role: string; name: string; insns: readonly Insn[] }) => {
      lines.push(`  ${p.role} program ${p.name}: ${link(p.insns).slots} instructions, accepted by the verifier`);
      lines.push(disassemble(link(p.insns)).trimEnd().replace(/^/gm, '    '));
    };
    for (const p of this.#points) {
      const s = p.selection;
      const port = t.ports.find((x) => x.id === s.portId)!;
      const fn = s.direction === 'rx' ? port.rxBurst : port.txBurst;
      lines.push(`point ${p.index}: ${s.name}`);
      lines.push(`  ${s.direction} burst function 0x${fn.toString(16)}${port.dummy ? ' (DPDK\'s placeholder: the port is not started; netcap waits for it)' : ''}, queues ${s.queue ?? 'all'} of ${(s.direction === 'rx' ? port.rxQueues : port.txQueues).length}`);
      for (const a of this.attachedPrograms().filter((a) => a.point === p.index)) listing(a);
      for (const g of gen.programs.filter((g) => g.point === p.index)) listing(g);
    }
    return lines;
  }

  /** Where each port point is attached now ('' while it waits), for tests. */
  attachedAt(): string[] {
    return (this.#watcher?.locations() ?? []).map((l) => (l ? describeLocation(l) : ''));
  }

  /** Lines for the end of the capture about ports that were not captured for a while. */
  report(): string[] {
    return gapReport(this.#watcher?.gaps() ?? []);
  }

  /** Closes programs, maps and the reader (after the Link). Idempotent. */
  close(): void {
    this.#owned.close();
  }
}

function gapReport(gaps: PointGaps[]): string[] {
  return gaps
    .filter((g) => g.gaps > 0)
    .map((g) => `netcap: ${g.name}: not captured for ${(g.gapMs / 1000).toFixed(2)} s in ${g.gaps} gap${g.gaps === 1 ? '' : 's'} (the port was not started)${g.capturing ? '' : '; it was still stopped at the end'}`);
}
