// Keeps port points attached to what the process's tables say now. Twice a
// second it re-reads rte_eth_fp_ops / rte_eth_devices (read-only, through
// /proc/PID/mem) and, per selected port and direction:
//
//  * puts the selected queues' pointers in the queue map and removes stale
//    ones, so the probe on a shared PMD function keeps to its port and queue;
//  * attaches the probes at the burst function the table names (object +
//    file offset from /proc/PID/maps: no symbol needed) and, when that
//    changes, attaches at the new one before detaching the old;
//  * notices a port that is not started (DPDK's placeholder functions, or
//    dev_started = 0): says so on stderr, stops capturing it (its queue
//    entries go) and waits; when it starts again, captures again and counts
//    the time in between as a gap, reported when the capture ends.
//
// A stop and start between two reads that leaves the same functions and
// queues is not seen (nothing was missed on the probe's side either).
import type { BpfMap } from '../../bpf/map';
import { u32 } from '../../bpf/map';
import { attachEach } from '../../capture/generation';
import type { Link } from '../../bpf/link/link';
import { attachUprobe, attachUretprobe } from '../../bpf/link/uprobe';
import type { Program } from '../../bpf/program';
import type { DpdkPort, EthdevReader, EthdevTables } from '../../dpdk/ports';
import { codeLocation, type CodeLocation } from '../../proc/addresses';
import { mappedObjects } from '../../proc/process';
import { queueKey } from '../../../probes/ports';
import type { PortSelection } from './port-plan';

/** How often the tables are read again (the issue asks for at least once a second). */
export const REREAD_INTERVAL_MS = 500;

export interface WatchedPoint {
  selection: PortSelection;
  /** Session point index (record.point, the queue map's key). */
  index: number;
  /** On the burst function's entry (rx: saves the array; tx: the whole capture). */
  entry: Program;
  /** rx: on its return. */
  exit?: Program;
}

interface PointState {
  location?: CodeLocation;
  links: Link[];
  /** Queue map keys (hex) this point holds now. */
  keys: Map<string, Buffer>;
  capturing: boolean;
  /** When it stopped capturing (ms, monotonic). */
  stoppedAt?: number;
  gaps: number;
  gapMs: number;
  /** Messages already given, so each is said once per state. */
  said: Set<string>;
}

/** The gap summary of one point, for the end of the capture. */
export interface PointGaps {
  name: string;
  gaps: number;
  gapMs: number;
  capturing: boolean;
}

const now = (): number => performance.now();
const hex = (a: bigint): string => `0x${a.toString(16)}`;

export class PortWatcher {
  #states: PointState[];
  #timer?: NodeJS.Timeout;
  #closed = false;
  #lastFailure?: string;

  constructor(
    private readonly pid: number,
    private readonly reader: EthdevReader,
    private readonly queues: BpfMap,
    private readonly points: WatchedPoint[],
    private readonly say: (line: string) => void,
  ) {
    this.#states = points.map(() => ({ links: [], keys: new Map(), capturing: false, gaps: 0, gapMs: 0, said: new Set() }));
  }

  /** The first read and attach (errors thrown: nothing stays attached), then the periodic re-reads. */
  start(tables: EthdevTables): void {
    try {
      this.apply(tables, true);
    } catch (e) {
      this.detachAll();
      throw e;
    }
    this.#timer = setInterval(() => this.refresh(), REREAD_INTERVAL_MS);
    this.#timer.unref();
  }

  /** One re-read. A process that is gone ends quietly (the session notices the exit). */
  refresh(): void {
    if (this.#closed) return;
    let tables: EthdevTables;
    try {
      tables = this.reader.read();
    } catch {
      return; // exited, or caught mid-change: try again next time
    }
    try {
      this.apply(tables, false);
      this.#lastFailure = undefined;
    } catch (e) {
      // Said once until it works again (a re-attach that fails keeps failing twice a second).
      const line = `could not follow the ports of process ${this.pid}: ${(e as Error).message}`;
      if (line !== this.#lastFailure) this.say(line);
      this.#lastFailure = line;
    }
  }

  private apply(tables: EthdevTables, initial: boolean): void {
    let objects: ReturnType<typeof mappedObjects> | undefined;
    this.points.forEach((p, i) => {
      const st = this.#states[i];
      const sel = p.selection;
      const port = tables.ports.find((x) => x.id === sel.portId);
      const reason = notCapturable(port);
      if (reason !== undefined) {
        this.stopCapturing(st, sel, reason, initial);
        return;
      }
      const live = port!;
      const fn = sel.direction === 'rx' ? live.rxBurst : live.txBurst;
      if (st.location?.address !== fn) {
        objects ??= mappedObjects(this.pid);
        const loc = codeLocation(objects, fn);
        if (!loc) {
          this.once(st, `nocode${fn}`, `${sel.name}: its ${sel.direction} burst function ${hex(fn)} is in no mapped file: cannot probe it`);
          if (initial) throw new Error(`${sel.name}: the ${sel.direction} burst function ${hex(fn)} is in no mapped file`);
          return;
        }
        this.attachAt(st, p, loc);
      }
      this.setQueues(st, sel, queuesOf(live, sel));
      if (!st.capturing) {
        if (st.stoppedAt !== undefined) {
          const gap = now() - st.stoppedAt;
          st.gaps++;
          st.gapMs += gap;
          this.say(`${sel.name} started again after ${(gap / 1000).toFixed(2)} s: capturing at ${describeLocation(st.location!)}`);
        }
        st.capturing = true;
        st.stoppedAt = undefined;
        st.said.clear();
      }
    });
  }

  private stopCapturing(st: PointState, sel: PortSelection, reason: string, initial: boolean): void {
    this.setQueues(st, sel, []);
    if (st.capturing || initial) {
      this.say(initial ? `${sel.name} ${reason}: waiting for it to start` : `${sel.name} ${reason}: not capturing until it starts again`);
      st.stoppedAt = now();
    }
    st.capturing = false;
  }

  /** Attaches at `loc` first, then detaches the previous location: no call goes unseen in between. */
  private attachAt(st: PointState, p: WatchedPoint, loc: CodeLocation): void {
    const target = { path: loc.openPath, offset: loc.fileOffset, pid: this.pid };
    const links = attachEach([{ program: p.entry, ret: false }, ...(p.exit ? [{ program: p.exit, ret: true }] : [])], (x) => (x.ret ? attachUretprobe(x.program, target) : attachUprobe(x.program, target)));
    const old = st.links;
    const moved = st.location !== undefined;
    st.links = links;
    st.location = loc;
    for (const l of old.reverse()) l.close();
    if (moved) this.say(`${p.selection.name}: the ${p.selection.direction} burst function moved to ${describeLocation(loc)}: probes moved`);
  }

  private setQueues(st: PointState, sel: PortSelection, wanted: [bigint, number][]): void {
    const index = this.points[this.#states.indexOf(st)].index;
    const next = new Map<string, [Buffer, number]>();
    for (const [ptr, q] of wanted) next.set(hex(ptr), [queueKey(ptr, index), q]);
    for (const [k, key] of st.keys) {
      if (!next.has(k)) {
        this.queues.delete(key);
        st.keys.delete(k);
      }
    }
    for (const [k, [key, q]] of next) {
      if (!st.keys.has(k)) {
        this.queues.update(key, u32(q));
        st.keys.set(k, key);
      }
    }
    if (sel.queue !== undefined && wanted.length === 0 && st.capturing) this.once(st, 'noqueue', `${sel.name}: the port has no ${sel.direction} queue ${sel.queue} now`);
  }

  private once(st: PointState, key: string, line: string): void {
    if (st.said.has(key)) return;
    st.said.add(key);
    this.say(line);
  }

  /** Per point: the gaps so far (a point not capturing at the end counts its last gap up to now). */
  gaps(): PointGaps[] {
    return this.points.map((p, i) => {
      const st = this.#states[i];
      const open = st.stoppedAt !== undefined ? now() - st.stoppedAt : 0;
      return { name: p.selection.name, gaps: st.gaps + (open > 0 ? 1 : 0), gapMs: st.gapMs + open, capturing: st.capturing };
    });
  }

  /** Where each point is attached now (for messages and tests). */
  locations(): (CodeLocation | undefined)[] {
    return this.#states.map((s) => s.location);
  }

  private detachAll(): void {
    for (const st of this.#states) {
      for (const l of st.links.reverse()) l.close();
      st.links = [];
    }
  }

  /** Stops the re-reads and detaches every probe. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer) clearInterval(this.#timer);
    this.detachAll();
  }
}

/** Why a port cannot be captured now, or undefined when it can. */
function notCapturable(port: DpdkPort | undefined): string | undefined {
  if (!port) return 'is gone (the port was detached)';
  if (port.dummy) return 'is not started (its burst functions are DPDK\'s placeholders until rte_eth_dev_start())';
  if (!port.started) return 'is not started';
  return undefined;
}

/** (queue pointer, queue id) of the selected queues that exist now. */
function queuesOf(port: DpdkPort, sel: PortSelection): [bigint, number][] {
  const all = sel.direction === 'rx' ? port.rxQueues : port.txQueues;
  const pairs = all.map((ptr, q): [bigint, number] => [ptr, q]).filter(([ptr]) => ptr !== 0n);
  return sel.queue === undefined ? pairs : pairs.filter(([, q]) => q === sel.queue);
}

/** "librte_net_af_packet.so.23.0+0x38e0" */
export function describeLocation(loc: CodeLocation): string {
  return `${loc.object.split('/').pop()}+0x${loc.fileOffset.toString(16)}`;
}
