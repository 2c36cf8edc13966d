// What a capture mode (src/modes/<mode>/) gives the capture library. A mode
// knows its hooks: it resolves its points, builds and loads its programs
// (with probes/), attaches them, and describes each record it produced. The
// library (capture.ts) owns everything modes share: the ring and counters,
// reading, outputs, statistics, the life cycle and run-time changes.
//
// Run-time changes: a point's attached program is stable; the programs that
// judge packets (filter, snap length) form a Generation that sits in program
// array slots (slots.ts). A change loads a new generation next to the old,
// installs it (one map update per slot), then closes the old one.
import type { Insn } from '../ebpf/instruction';
import type { Link } from '../bpf/link/link';
import type { BpfMap } from '../bpf/map';
import type { PacketMeta, PacketVerdict } from '../output/packet';
import type { PacketRecord } from './record';
import type { CaptureMaps } from './maps';
import type { PointStats } from './stats';
import type { CaptureDirection } from './direction';

/** One capture point as the library, the summary and the outputs see it. */
export interface ModePoint {
  /** Its name in messages, counters and pcapng interfaces: "tracepoint:net:netif_receive_skb". */
  name: string;
  /** Its pcapng interface name, where the packets were: "v1@tracepoint:net:netif_receive_skb" (default `name`). */
  interfaceName?: string;
}

/** What decides which packets a generation captures, and how much of each. */
export interface JudgeSettings {
  /** The tcpdump expression ('' = every packet). */
  expression: string;
  snaplen: number;
  /**
   * Which points judge packets, for a mode whose points have directions
   * (`directional`): a point of the other direction, or every point when
   * 'off', runs a program that only counts what its hook sees (seen grows,
   * nothing is matched or captured), so its programs stay loaded, its
   * counters keep counting and switching back resumes it. Absent: every
   * point judges.
   */
  direction?: CaptureDirection;
}

/** The maps a generation's programs write to (the library's). */
export interface GenerationMaps {
  ring: BpfMap;
  counters: BpfMap;
  /** Per-CPU scratch records with room for the generation's snap length. */
  scratch: BpfMap;
  /** Bytes in the ring at which a probe wakes the reader. */
  wakeupAt: number;
}

/** A program as built, for listings (--dry-run) and tests. */
export interface BuiltProgram {
  /** Which point it serves (-1: shared by every point). */
  point: number;
  /** "dispatcher", "uprobe", "worker", "tracepoint"...: what it does. */
  role: string;
  /** The name the kernel knows it by (bpftool prog). */
  name: string;
  insns: readonly Insn[];
}

/** The loaded programs of one set of judge settings, not yet (or no longer) in the slots. */
export interface Generation {
  readonly settings: JudgeSettings;
  readonly programs: readonly BuiltProgram[];
  /** Work to finish before install (the xdp mode's watchdog learns the new programs' ids); optional. */
  ready?(): Promise<void>;
  /** Puts the programs into their slots: from now on they judge every packet. */
  install(): void;
  /** Closes the programs (after another generation was installed, or at the end). */
  close(): void;
}

/** A record turned into a packet by its mode. */
export interface ModePacket {
  /** Bytes as captured (data.length = caplen). */
  data: Buffer;
  wirelen: number;
  /** LINKTYPE_ of the bytes: Ethernet (1), or raw IP (101) for packets that start at the IP header. */
  linktype: number;
  direction?: 'in' | 'out';
  meta: PacketMeta;
  /** What the hook's program decided for the packet (an XDP action), where the mode knows it (pcapng epb_verdict). */
  verdict?: PacketVerdict;
}

/**
 * A mode whose packet(rec) is the record as it is: its bytes, wire length
 * and link type as decodeRecord reads them, the direction `direction(point)`
 * gives or else the record's own (its flags), no verdict, and no side effect beyond
 * the metadata it returns, which depends on the record's header only (not
 * on its time, lengths or bytes: records of a batch with the same header
 * share one comment). The library then writes such records to the
 * outputs that take PacketBatches without calling packet() for each
 * (record-packets.ts); packet() runs only where an output or listener wants
 * the metadata or a CapturedPacket.
 */
export interface PlainPackets {
  direction(point: number): 'in' | 'out' | undefined;
}

/** A mode prepared for a capture: points resolved, stable maps made, nothing loaded into slots, nothing attached. */
export interface PreparedMode {
  /**
   * The capture points, numbered by their place here (record.point). A mode
   * may append points while the capture runs (`-i any`: an interface that
   * appears), never remove or renumber one, and tells the library with
   * ModeContext.pointsAdded().
   */
  readonly points: readonly ModePoint[];
  /** What follows "listening on " in the readiness line. */
  readonly readiness: string;
  /** Things to tell the user once, before the capture starts. */
  readonly notes: readonly string[];
  /** Packets carry metadata that tcpdump's decoding cannot show (stacks, drop reasons): decoded text should show it. */
  readonly metadataOnStdout: boolean;
  /** Its points have directions and its generations follow JudgeSettings.direction (iface); else a direction is refused. */
  readonly directional?: boolean;
  /**
   * Checks settings before anything is loaded: compiles the expression for
   * every link type the mode's points see (UserError with libpcap's message
   * when it refuses). Cheap and free of kernel calls.
   */
  check(settings: JudgeSettings): void;
  /** Builds and loads a generation (the verifier checks it); nothing is installed. */
  load(settings: JudgeSettings, maps: GenerationMaps): Generation;
  /** Programs that stay attached for the whole capture (dispatchers, entry probes), for listings. */
  readonly attachedPrograms: readonly BuiltProgram[];
  /** Attaches the stable programs, once, after the first generation is installed; on failure nothing stays attached. */
  attach(): Link[];
  /** Turns a record into the packet written; called once per record, in order (unless plainPackets). */
  packet(rec: PacketRecord): ModePacket;
  /** Set when packets are their records as they are (see PlainPackets): the fast path. */
  readonly plainPackets?: PlainPackets;
  /** --dry-run: the resolved targets, then every program (attached ones and `gen`'s). */
  describe(gen: Generation): string;
  /** Why the capture cannot go on (the traced process exited...), checked a few times a second. */
  vanished?(): string | undefined;
  /** Things to tell the user while the capture runs (mbuf port points: a port stopped, started again); called as they happen. */
  onMessage?(listener: (line: string) => void): void;
  /** Lines shown with the summary when the capture ends (xdp's counters per action, port gaps), given the final counters per point. */
  report?(perPoint: readonly PointStats[]): string[];
  /** What the capture found, shown on stdout when it ends (gather mode's packets and latencies). */
  results?(): string[];
  /** The live status text of the counters, when the mode has its own shape (xdpcap's `drop: R/M`); else per point. */
  statusText?(stats: readonly PointStats[]): string;
  /** Closes the mode's own maps and programs (after the links and the last generation). */
  close(): void;
}

/** What the library gives a mode while it prepares. */
export interface ModeContext {
  /** The first settings (the mode may check options against them). */
  settings: JudgeSettings;
  /**
   * The capture's ring and counters, made for `points` points on the first
   * call (a mode whose attached programs count calls it once it knows its
   * points; the library makes them afterwards otherwise).
   */
  maps(points: number): CaptureMaps;
  /**
   * The mode appended points to `points` while the capture runs (after
   * attach()), their programs loaded and in their slots: the library gives
   * each its counters' place (within the room asked of maps()), its output
   * interface (the 'interface' event, outputs learn it) and its place in the
   * statistics.
   */
  pointsAdded(): void;
  /** Something to tell the user while the capture runs (an interface that appeared, or one it cannot capture on): the 'note' event. */
  note(message: string): void;
}

/** Resolves a mode's points and options. Throws UserError on bad input, with nothing of the mode's left open. */
export type PrepareMode = (ctx: ModeContext) => PreparedMode;
