// A capture as the API defines it: what the request bodies may hold (JSON
// schemas, which Fastify validates every request against and the OpenAPI
// document shows), and the definition the service keeps (defaults filled
// in, Polycube's names turned into netcap's), which is also what is saved
// in the state directory and restored.
//
// Polycube's packetcapture fields are accepted as they are: capture =
// ingress|egress|bidirectional|off (netcap: direction), filter=all (every
// packet), networkmode=true (mode network), dump, snaplen.
import { closeNames } from '../errors';
import { DEFAULT_SNAPLEN, MAX_SNAPLEN, type ModeName } from '../index';
import { KIND_FIELDS, KIND_NAMES, KINDS, takesDirection, type KindField } from './kinds';
import { Problem } from './problem';

export type CaptureMode = 'local' | 'network';
export type Direction = 'ingress' | 'egress' | 'bidirectional' | 'off';

/** tcpdump's -C (millions of bytes), -W, --rotate-seconds and netcap's --write-file-rotate, for the dump. */
export interface Rotation {
  megabytes?: number;
  files?: number;
  seconds?: number;
  keepLast?: number;
}

export interface CaptureDefinition {
  name: string;
  kind: ModeName;
  points?: string;
  iface?: string;
  netns?: string;
  stacks?: boolean;
  pid?: number;
  binary?: string;
  dpdkVersion?: string;
  hook?: string | string[];
  actions?: string;
  force?: boolean;
  at?: string;
  /** Polycube's names (tcpdump's in, out, inout are taken and turned into them). */
  direction?: Direction;
  position?: 'first' | 'last';
  /** The tcpdump expression ('' = every packet). */
  filter: string;
  snaplen: number;
  /** local: the dump file is written; network: nothing on disk (streams only). Streams work in both. */
  mode: CaptureMode;
  /** The dump's file name inside the capture's dump folder. */
  dump: string;
  /** second: the dump is flushed at least once a second; each: after every batch read from the ring too. */
  flush: 'second' | 'each';
  rotation?: Rotation;
  ringBytes?: number;
  /** Stop after this many packets. */
  count?: number;
}

/** The fields a running capture can change. */
export interface CaptureChange {
  filter?: string;
  snaplen?: number;
  direction?: Direction;
  mode?: CaptureMode;
}

export const NAME_PATTERN = '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$';
const FILTER_FIELD = { type: 'string', maxLength: 8192, description: "the tcpdump expression (man 7 pcap-filter); '' or 'all' captures every packet" } as const;
const SNAPLEN_FIELD = { type: 'integer', minimum: 1, maximum: MAX_SNAPLEN, description: `bytes kept of each packet (default ${DEFAULT_SNAPLEN})` } as const;
const MODE_FIELD = { type: 'string', enum: ['local', 'network'], description: 'local: the dump file is written (and streams may connect); network: streams only, nothing on disk' } as const;
const NETWORKMODE_FIELD = { type: 'boolean', description: "Polycube's name: true is mode network, false mode local" } as const;
const CAPTURE_FIELD = { ...KIND_FIELDS.direction, description: "Polycube's name of direction" } as const;

/** The body of POST /captures. */
export const DEFINITION_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['name'],
  properties: {
    name: { type: 'string', pattern: NAME_PATTERN, description: "the capture's name: letters, digits, '.', '_' and '-', starting with a letter or digit, at most 64" },
    kind: { type: 'string', enum: KIND_NAMES, description: `what to capture: ${KIND_NAMES.map((k) => `${k} (${KINDS[k].summary})`).join('; ')}` },
    ...KIND_FIELDS,
    capture: CAPTURE_FIELD,
    filter: FILTER_FIELD,
    snaplen: SNAPLEN_FIELD,
    mode: MODE_FIELD,
    networkmode: NETWORKMODE_FIELD,
    dump: { type: 'string', minLength: 1, maxLength: 128, description: "the dump's file name (NAME.pcapng, no path), inside the capture's folder of the service's dump directory; default <name>.pcapng" },
    flush: { type: 'string', enum: ['second', 'each'], description: 'second (default): the dump is flushed at least once a second; each: also after every batch of packets (tcpdump -U)' },
    rotation: {
      type: 'object',
      additionalProperties: false,
      description: "the dump's rotation, as tcpdump's -C, -W and -G (--rotate-seconds), or only the last packets (netcap --write-file-rotate)",
      properties: {
        megabytes: { type: 'number', exclusiveMinimum: 0, description: '-C: a new file once the current one is larger than this many millions of bytes' },
        files: { type: 'integer', minimum: 1, maximum: 100000, description: '-W: with megabytes, a ring of this many files; with seconds alone, stop after this many' },
        seconds: { type: 'integer', minimum: 1, maximum: 31536000, description: '--rotate-seconds (-G): a new file, named by its time, every this many seconds' },
        keepLast: { type: 'integer', minimum: 1, maximum: 10000000, description: 'only the last N packets, written when the capture ends (nothing is on disk before)' },
      },
    },
    ringBytes: { type: 'integer', minimum: 4096, description: 'the ring buffer between the kernel and the service, in bytes (a power of two)' },
    count: { type: 'integer', minimum: 1, description: 'stop after this many packets' },
  },
} as const;

/** The body of PATCH /captures/{name}. */
export const CHANGE_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  minProperties: 1,
  properties: { filter: FILTER_FIELD, snaplen: SNAPLEN_FIELD, direction: KIND_FIELDS.direction, capture: CAPTURE_FIELD, mode: MODE_FIELD, networkmode: NETWORKMODE_FIELD },
} as const;

export const CHANGEABLE = ['filter', 'snaplen', 'direction', 'mode'] as const;

type Body = Record<string, unknown>;

/** Polycube's filter=all is every packet; surrounding blanks mean nothing. */
function filterOf(text: string): string {
  const t = text.trim();
  return t === 'all' ? '' : t;
}

/** One value given under netcap's and Polycube's names: they must agree. */
function aliased<T>(body: Body, name: string, alias: string, fromAlias: (v: never) => T): T | undefined {
  const own = body[name] as T | undefined;
  const other = body[alias] === undefined ? undefined : fromAlias(body[alias] as never);
  if (own !== undefined && other !== undefined && own !== other) {
    throw new Problem(400, `${name} ${JSON.stringify(own)} and ${alias} ${JSON.stringify(body[alias])} disagree`, `give one of them (${alias} is Polycube's name)`, alias);
  }
  return own ?? other;
}

const TCPDUMP_DIRECTIONS: Record<string, Direction> = { in: 'ingress', out: 'egress', inout: 'bidirectional' };
const polycubeDirection = (v: string): Direction => TCPDUMP_DIRECTIONS[v] ?? (v as Direction);
const directionOf = (body: Body) => {
  const own = body.direction === undefined ? undefined : polycubeDirection(body.direction as string);
  return aliased<Direction>({ ...body, direction: own }, 'direction', 'capture', polycubeDirection);
};
const modeOf = (body: Body) => aliased<CaptureMode>(body, 'mode', 'networkmode', (v: boolean) => (v ? 'network' : 'local'));

/** The definition a (schema-valid) POST body asks for: defaults, aliases, kind fields checked. */
export function definitionFrom(body: Body): CaptureDefinition {
  const name = body.name as string;
  const direction = directionOf(body);
  const kind = kindOf(body, direction);
  checkKindFields(kind, body, direction);
  const def: CaptureDefinition = {
    name,
    kind,
    filter: filterOf((body.filter as string | undefined) ?? ''),
    snaplen: (body.snaplen as number | undefined) ?? DEFAULT_SNAPLEN,
    mode: modeOf(body) ?? 'local',
    dump: (body.dump as string | undefined) ?? `${name}.pcapng`,
    flush: (body.flush as 'second' | 'each' | undefined) ?? 'second',
  };
  for (const f of KINDS[kind].fields) if (body[f] !== undefined) Object.assign(def, { [f]: body[f] });
  if (direction !== undefined || takesDirection(kind)) def.direction = direction ?? 'bidirectional';
  for (const f of ['rotation', 'ringBytes', 'count'] as const) if (body[f] !== undefined) Object.assign(def, { [f]: body[f] });
  checkRotation(def.rotation);
  return def;
}

/** The change a (schema-valid) PATCH body asks for. */
export function changeFrom(body: Body, def: CaptureDefinition): CaptureChange {
  const change: CaptureChange = {};
  if (body.filter !== undefined) change.filter = filterOf(body.filter as string);
  if (body.snaplen !== undefined) change.snaplen = body.snaplen as number;
  const direction = directionOf(body);
  if (direction !== undefined) {
    if (!takesDirection(def.kind)) throw directionRefused(def.kind, body.direction !== undefined ? 'direction' : 'capture');
    change.direction = direction;
  }
  const mode = modeOf(body);
  if (mode !== undefined) change.mode = mode;
  return change;
}

function kindOf(body: Body, direction: Direction | undefined): ModeName {
  if (body.kind !== undefined) return body.kind as ModeName;
  // Polycube's captures are on interfaces: an interface and no points (or a direction) means kind iface.
  const iface = (body.iface !== undefined && body.points === undefined) || direction !== undefined;
  const known = KIND_NAMES.join(', ');
  if (iface) return 'iface';
  throw new Problem(400, 'kind is missing', `say what to capture: kind ${known}`, 'kind');
}

function directionRefused(kind: ModeName, field: string): Problem {
  return new Problem(400, `${field}: ${kind} captures have no direction, their points decide what they see`, `leave ${field} out (interface captures, kind iface, have one); stop a capture with POST /captures/NAME/stop`, field);
}

function checkKindFields(kind: ModeName, body: Body, direction: Direction | undefined): void {
  const k = KINDS[kind];
  const allKindFields = Object.keys(KIND_FIELDS) as KindField[];
  for (const f of allKindFields) {
    if (f === 'direction' || body[f] === undefined || k.fields.includes(f)) continue;
    throw new Problem(400, `${f} does not apply to ${kind} captures`, `${kind} captures take ${k.fields.join(', ')}`, f);
  }
  if (direction !== undefined && !k.fields.includes('direction')) throw directionRefused(kind, body.direction !== undefined ? 'direction' : 'capture');
  for (const f of k.required) {
    if (body[f] === undefined) throw new Problem(400, `${kind} captures need ${f}`, `${f}: ${KIND_FIELDS[f].description}`, f);
  }
}

function checkRotation(r: Rotation | undefined): void {
  if (!r) return;
  const rotating = r.megabytes !== undefined || r.seconds !== undefined;
  if (r.files !== undefined && !rotating) throw new Problem(400, 'rotation.files needs rotation.megabytes or rotation.seconds', 'e.g. {"megabytes": 100, "files": 5} for a ring of five files', 'rotation.files');
  if (r.keepLast !== undefined && rotating) throw new Problem(400, 'rotation.keepLast keeps one file; it cannot be combined with megabytes or seconds', 'choose one', 'rotation.keepLast');
}

/** "unknown field X" with the names it may have meant. */
export function unknownField(field: string, known: readonly string[], change: boolean): Problem {
  const close = closeNames(field, known, 3);
  const hint = change
    ? `a running capture can change ${CHANGEABLE.join(', ')}; delete it and create it again to change the rest`
    : `${close.length ? `did you mean ${close.join(', ')}? ` : ''}the fields are ${known.join(', ')}`;
  return new Problem(400, `unknown field '${field}'`, hint, field);
}
