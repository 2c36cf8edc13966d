// What `netcap replay` was asked to do, once cmd/replay-run.ts has checked
// the command line.
import type { EngineName } from '../read/engines';

/** How packets are spaced: the trace's own timing (sped up or slowed down), a fixed rate, or no waiting. */
export type Pace = { kind: 'timed'; factor: number } | { kind: 'pps'; pps: number } | { kind: 'mbps'; mbps: number } | { kind: 'topspeed' };

/** One --inject: a trace, a packet spec or a JSON spec file, at a moment of the background's timeline. */
export interface InjectionRequest {
  /** What the user wrote before the @. */
  what: string;
  kind: 'trace' | 'spec' | 'json';
  /** ns after the background's first packet. */
  atNs: number;
  /** "probe.pcap@2.5s", for messages and pcapng comments. */
  label: string;
}

export type ReplayTarget =
  | { kind: 'file'; path: string; format: 'pcap' | 'pcapng'; stamp: 'trace' | 'now' }
  | { kind: 'interface'; name: string; netns?: string };

export interface ReplayOptions {
  /** The background trace (-r). */
  file: string;
  /** A tcpdump filter for the background ('' keeps everything). */
  expression: string;
  engine: EngineName;
  injections: InjectionRequest[];
  /** --inject-stream: a path, or '-' for stdin. */
  injectStream?: string;
  pace: Pace;
  /** Times the background is played (--loop). */
  loops: number;
  /** Stop after this many packets of the background and its --inject traces (-c, --limit). */
  limit?: number;
  /** Stop this long after the first packet (--duration). */
  durationNs?: number;
  target: ReplayTarget;
  /** --add-ethernet DST: put an Ethernet header to DST in front of raw IP packets. */
  addEthernet?: string;
  /** The sender thread's spin window (interfaces only; undefined: it learns one). */
  spinNs?: number;
}

/** "the trace's timing", "x4", "1000 pps", "10 Mbps", "top speed". */
export function describePace(pace: Pace): string {
  switch (pace.kind) {
    case 'timed':
      return pace.factor === 1 ? "the trace's timing" : `the trace's timing x${pace.factor}`;
    case 'pps':
      return `${pace.pps} packets/s`;
    case 'mbps':
      return `${pace.mbps} Mbit/s`;
    case 'topspeed':
      return 'top speed';
  }
}
