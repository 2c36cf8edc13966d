// The capture kinds the service offers: one entry per capture mode of the
// library (src/modes), saying which definition fields the kind takes and
// how they become the mode's spec (ModeSpec). Typed by ModeName, so a mode
// added to the library fails the build until it has its entry here: a few
// lines naming its fields.
import type { ModeName, ModeSpec } from '../index';
import type { CaptureDefinition } from './definition';

/** The definition fields that belong to kinds (the others are common to every capture). */
export const KIND_FIELDS = {
  points: { type: 'string', minLength: 1, maxLength: 4096, description: 'skb, mbuf, raw: the capture points, as netcap -f takes them (comma-separated)' },
  iface: { type: 'string', minLength: 1, maxLength: 256, description: 'skb: only packets of this device' },
  netns: { type: 'string', minLength: 1, maxLength: 4096, description: 'skb: the network namespace of iface: a name from `ip netns list` or a path such as /proc/PID/ns/net' },
  stacks: { type: 'boolean', description: 'skb: the kernel stack of each packet, in its pcapng comment (netcap skb -S)' },
  pid: { type: 'integer', minimum: 1, maximum: 4194304, description: 'mbuf, raw: the process to trace' },
  binary: { type: 'string', minLength: 1, maxLength: 4096, description: 'mbuf, raw: the executable or library (every process running it unless pid)' },
  dpdkVersion: { type: 'string', pattern: '^[0-9]{2}\\.[0-9]{2}$', description: 'mbuf: the DPDK release (YY.MM) when it cannot be detected' },
  direction: {
    type: 'string',
    enum: ['ingress', 'egress', 'bidirectional', 'off'],
    description: 'iface captures: which direction of the interface is captured; off captures nothing (the programs are detached) until it is set again',
  },
} as const;

export type KindField = keyof typeof KIND_FIELDS;

export interface CaptureKind {
  /** What the kind captures (the OpenAPI document, the web page). */
  summary: string;
  /** The kind fields it takes. */
  fields: readonly KindField[];
  /** Those it needs. */
  required: readonly KindField[];
  /** The library's mode spec for a definition of this kind. */
  spec(d: CaptureDefinition): ModeSpec;
  /** The field a refusal by the library most likely concerns (its message names what was wrong either way). */
  blame(message: string): KindField;
}

/** A refusal about the process or the program is about pid/binary; anything else about the points. */
const userSpaceBlame = (message: string): KindField => (/\bprocess|\bpid\b/.test(message) ? 'pid' : /binary|executable|librar/.test(message) ? 'binary' : 'points');

export const KINDS: Record<ModeName, CaptureKind> = {
  skb: {
    summary: 'sk_buffs at kernel tracepoints (and fentry/kprobes where the kernel has them)',
    fields: ['points', 'iface', 'netns', 'stacks'],
    required: ['points'],
    spec: (d) => ({ mode: 'skb', points: d.points!, iface: d.iface, netns: d.netns, stacks: d.stacks }),
    blame: (message) => (/^no interface|interface .* (not|no)|device/.test(message) ? 'iface' : /namespace/.test(message) ? 'netns' : 'points'),
  },
  mbuf: {
    summary: 'DPDK rte_mbufs passed to functions of a running process (uprobes)',
    fields: ['points', 'pid', 'binary', 'dpdkVersion'],
    required: ['points'],
    spec: (d) => ({ mode: 'mbuf', points: d.points!, pid: d.pid, binary: d.binary, dpdkVersion: d.dpdkVersion }),
    blame: (message) => (/DPDK|dpdk-version/.test(message) && !/does not look like/.test(message) ? 'dpdkVersion' : userSpaceBlame(message)),
  },
  raw: {
    summary: 'packets functions of a running process take as a pointer and a length (uprobes)',
    fields: ['points', 'pid', 'binary'],
    required: ['points'],
    spec: (d) => ({ mode: 'raw', points: d.points!, pid: d.pid, binary: d.binary }),
    blame: userSpaceBlame,
  },
};

export const KIND_NAMES = Object.keys(KINDS) as ModeName[];

/** Kinds whose captures have a direction (interfaces); none until the iface mode is in the library. */
export function takesDirection(kind: ModeName): boolean {
  return KINDS[kind].fields.includes('direction');
}
