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
  iface: {
    type: 'string',
    minLength: 1,
    maxLength: 4096,
    description: 'iface: the interfaces (names or ifindexes, comma-separated, or any); skb: only packets of this device; xdp: the interface whose XDP program is captured directly (fentry)',
  },
  netns: { type: 'string', minLength: 1, maxLength: 4096, description: 'iface, skb: the network namespace of iface: a name from `ip netns list` or a path such as /proc/PID/ns/net' },
  position: { type: 'string', enum: ['first', 'last'], description: 'iface: run before or after the other programs on the TC hook (default: first at ingress, last at egress, where tcpdump sees packets)' },
  stacks: { type: 'boolean', description: 'skb: the kernel stack of each packet, in its pcapng comment (netcap skb -S)' },
  pid: { type: 'integer', minimum: 1, maximum: 4194304, description: 'mbuf, raw: the process to trace' },
  binary: { type: 'string', minLength: 1, maxLength: 4096, description: 'mbuf, raw: the executable or library (every process running it unless pid)' },
  dpdkVersion: { type: 'string', pattern: '^[0-9]{2}\\.[0-9]{2}$', description: 'mbuf: the DPDK release (YY.MM) when it cannot be detected' },
  hook: {
    anyOf: [
      { type: 'string', minLength: 1, maxLength: 4096 },
      { type: 'array', minItems: 1, maxItems: 16, items: { type: 'string', minLength: 1, maxLength: 4096 } },
    ],
    description: 'xdp: the pinned xdpcap hook map (a path in bpffs), or a list of them',
  },
  actions: { type: 'string', minLength: 1, maxLength: 256, description: 'xdp: the actions captured, comma-separated: aborted, drop, pass, tx, redirect (default: every one the hook has)' },
  force: { type: 'boolean', description: "xdp: use hook slots another program holds, and put it back afterwards" },
  at: { type: 'string', minLength: 1, maxLength: 32, description: 'xdp with iface (kernels with fentry on XDP programs): entry, exit or entry,exit' },
  direction: {
    type: 'string',
    enum: ['ingress', 'egress', 'bidirectional', 'off', 'in', 'out', 'inout'],
    description: "iface: which direction is captured (default bidirectional; tcpdump's in, out, inout too); off captures nothing, the programs stay and count what they see, until it is set again",
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
  iface: {
    summary: 'packets of interfaces by direction, at their TC hooks (as tcpdump -i -Q sees them)',
    fields: ['iface', 'netns', 'direction', 'position'],
    required: ['iface'],
    // Both hooks are attached whatever the first direction, so that any direction, off included, can be chosen later.
    spec: (d) => ({ mode: 'iface', interfaces: d.iface!, netns: d.netns, position: d.position, directionChanges: true }),
    blame: (message) => (/namespace/.test(message) && !/^no interface/.test(message) ? 'netns' : /position/.test(message) ? 'position' : 'iface'),
  },
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
  xdp: {
    summary: 'packets of XDP programs with their verdicts, through xdpcap hooks (fentry on an interface\'s program where the kernel allows it)',
    fields: ['hook', 'actions', 'force', 'iface', 'at'],
    required: [],
    spec: (d) => ({ mode: 'xdp', hooks: d.hook === undefined ? [] : typeof d.hook === 'string' ? [d.hook] : d.hook, actions: d.actions, force: d.force, iface: d.iface, at: d.at }),
    blame: (message) => (/--actions|action/.test(message) ? 'actions' : /-i\b|interface|fentry/.test(message) ? 'iface' : /--at\b/.test(message) ? 'at' : 'hook'),
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

/** Kinds whose captures have a direction (interfaces). */
export function takesDirection(kind: ModeName): boolean {
  return KINDS[kind].fields.includes('direction');
}
