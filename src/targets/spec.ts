// The `-f` point list: where packets are picked up. Comma-separated points;
// which forms are allowed depends on the mode.
//
//   mbuf mode (DPDK, uprobes):
//     func@N         argument N (1-6) is one struct rte_mbuf *
//     func@N@M       argument N is an array of mbuf pointers, argument M its count
//     func@N@ret     the array in argument N is read when the function returns,
//                    the count is the return value (an rx burst function: entry
//                    probes see an empty array, the packets arrive during the call)
//     lib:func@...   look only in a mapped object whose file name starts with
//                    `lib` (librte_ethdev, librte_ethdev.so.23)
//     /path/x.so:func@...  look only in that object
//     port:ID|NAME[:rx|tx][/qN]  a DPDK port's burst functions (src/targets/port-point.ts)
//   raw mode (AF_XDP and other apps that hand out plain buffers):
//     func@N@M       argument N points to the packet bytes, argument M is their length
//   skb mode (kernel):
//     tracepoint:CAT:NAME, tp:CAT:NAME    a classic tracepoint (skb from its skbaddr field)
//     raw_tp:NAME[@N], tp_btf:NAME[@N]    a raw/BTF tracepoint; argument N is the skb
//                                         (default: the first struct sk_buff * argument);
//                                         raw_tp:CAT:NAME is accepted (raw tracepoints
//                                         have no category: CAT is dropped)
//     func@N         kernel function, argument N is the struct sk_buff * (kprobe/fentry)
//
// `func@N@M@ret` is refused on purpose: at return the count is the return
// value, which is what every burst function returns; there is no second count.
import { UserError } from '../errors';
import { isPortPointText, parsePortPoint, PORT_POINT_FORM, type PortPoint } from './port-point';

export type CaptureMode = 'mbuf' | 'raw' | 'skb';

/** Registers carry the first six integer arguments (x86-64 SysV ABI). */
export const MAX_ARG = 6;

export type UserCapture =
  | { shape: 'one'; arg: number }
  | { shape: 'array'; arrayArg: number; countArg: number }
  | { shape: 'array-at-return'; arrayArg: number }
  | { shape: 'raw'; dataArg: number; lengthArg: number };

export interface UserFunctionPoint {
  kind: 'user-function';
  /** The point as the user wrote it, for messages. */
  text: string;
  /** 'librte_ethdev' or '/path/lib.so' when given before ':'. */
  object?: string;
  function: string;
  capture: UserCapture;
}

export interface KernelFunctionPoint {
  kind: 'kernel-function';
  text: string;
  function: string;
  skbArg: number;
}

export interface TracepointPoint {
  kind: 'tracepoint';
  text: string;
  category: string;
  name: string;
}

export interface RawTracepointPoint {
  kind: 'raw_tp' | 'tp_btf';
  text: string;
  name: string;
  /** 1-based argument of the tracepoint (after its private void *); undefined = first sk_buff. */
  skbArg?: number;
}

export type PointSpec = UserFunctionPoint | KernelFunctionPoint | TracepointPoint | RawTracepointPoint;

const FORMS: Record<CaptureMode, string> = {
  mbuf: `func@N (one mbuf in argument N), func@N@M (array in N, count in M), func@N@ret (array in N, count returned), optionally prefixed by lib: or /path/to/object:; ${PORT_POINT_FORM}`,
  raw: 'func@N@M (argument N points to the packet, argument M is its length), optionally prefixed by lib: or /path/to/object:',
  skb: 'tracepoint:CAT:NAME (or tp:CAT:NAME), raw_tp:NAME[@N], tp_btf:NAME[@N], func@N (kernel function, skb in argument N)',
};

const IDENT = /^[A-Za-z_][A-Za-z0-9_.]*$/;

function bad(text: string, what: string, mode: CaptureMode): UserError {
  return new UserError(`bad point '${text}' in -f: ${what}`, `accepted forms in ${mode} mode: ${FORMS[mode]}; separate several points with commas`);
}

/** BTF-typed kernel function arguments a program can read (MAX_BPF_FUNC_ARGS); the function's prototype decides. */
const MAX_KERNEL_ARG = 12;

function argNumber(text: string, part: string, mode: CaptureMode, max = MAX_ARG): number {
  if (!/^\d+$/.test(part)) throw bad(text, `'${part}' is not an argument number`, mode);
  const n = Number(part);
  if (n < 1 || n > max) throw bad(text, `argument ${n} is out of range: arguments are numbered 1 to ${max}${max === MAX_ARG ? ' (those passed in registers)' : ''}`, mode);
  return n;
}

function identifier(text: string, name: string, what: string, mode: CaptureMode): string {
  if (!IDENT.test(name)) throw bad(text, `'${name}' is not a valid ${what} name`, mode);
  return name;
}

/** Parses the whole -f list for `mode`. */
export function parsePoints(list: string, mode: CaptureMode): PointSpec[] {
  return listItems(list, mode).map((p) => parsePoint(p, mode));
}

/** mbuf mode's -f list: function points and DPDK port points (port:0:rx, src/targets/port-point.ts). */
export function parseMbufPoints(list: string): (PointSpec | PortPoint)[] {
  return listItems(list, 'mbuf').map((p) => (isPortPointText(p) ? parsePortPoint(p) : parsePoint(p, 'mbuf')));
}

function listItems(list: string, mode: CaptureMode): string[] {
  const parts = list.split(',').map((p) => p.trim());
  if (!list.trim() || parts.some((p) => p === '')) {
    throw new UserError(`empty point in -f '${list}'`, `accepted forms in ${mode} mode: ${FORMS[mode]}; separate several points with commas`);
  }
  return parts;
}

export function parsePoint(text: string, mode: CaptureMode): PointSpec {
  const colon = text.indexOf(':');
  const prefix = colon < 0 ? '' : text.slice(0, colon);
  if (['tracepoint', 'tp', 'raw_tp', 'raw_tracepoint', 'tp_btf', 'kprobe', 'fentry'].includes(prefix)) {
    if (mode !== 'skb') throw bad(text, `${prefix}: points are kernel points, for skb mode`, mode);
    return parseKernelPoint(text, prefix, text.slice(colon + 1), mode);
  }
  if (mode === 'skb') {
    if (colon >= 0) throw bad(text, `'${prefix}:' is not a kernel point type`, mode);
    const [fn, ...args] = text.split('@');
    if (args.length !== 1) throw bad(text, 'a kernel function needs exactly one @N, the argument that is the skb', mode);
    return { kind: 'kernel-function', text, function: identifier(text, fn, 'function', mode), skbArg: argNumber(text, args[0], mode, MAX_KERNEL_ARG) };
  }
  return parseUserPoint(text, mode);
}

function parseKernelPoint(text: string, prefix: string, rest: string, mode: CaptureMode): PointSpec {
  if (prefix === 'tracepoint' || prefix === 'tp') {
    const m = /^([^:@]+):([^:@]+)$/.exec(rest);
    if (!m) throw bad(text, 'a tracepoint is tracepoint:CATEGORY:NAME, e.g. tracepoint:skb:kfree_skb', mode);
    return { kind: 'tracepoint', text, category: identifier(text, m[1], 'tracepoint category', mode), name: identifier(text, m[2], 'tracepoint', mode) };
  }
  if (prefix === 'kprobe' || prefix === 'fentry') {
    const p = parsePoint(rest, mode);
    if (p.kind !== 'kernel-function') throw bad(text, `${prefix}: takes a kernel function, func@N`, mode);
    return { ...p, text };
  }
  // raw_tp:net:netif_receive_skb: raw tracepoints have no category.
  const [name, ...args] = rest.replace(/^[A-Za-z_][A-Za-z0-9_]*:(?=[^:@]+(@|$))/, '').split('@');
  if (args.length > 1) throw bad(text, 'a raw tracepoint takes at most one @N (the skb argument)', mode);
  return {
    kind: prefix === 'tp_btf' ? 'tp_btf' : 'raw_tp',
    text,
    name: identifier(text, name, 'tracepoint', mode),
    skbArg: args.length ? argNumber(text, args[0], mode) : undefined,
  };
}

function parseUserPoint(text: string, mode: CaptureMode): UserFunctionPoint {
  // The object is everything before the LAST colon: paths may contain colons, function names never do.
  const colon = text.lastIndexOf(':');
  const object = colon < 0 ? undefined : text.slice(0, colon);
  if (object !== undefined && object === '') throw bad(text, 'nothing before ":" (expected a library name or a path)', mode);
  const [fn, ...args] = text.slice(colon + 1).split('@');
  if (fn === '') throw bad(text, 'no function name', mode);
  identifier(text, fn, 'function', mode);
  if (args.length === 0) throw bad(text, `no argument given: say which argument holds the ${mode === 'raw' ? 'packet' : 'mbuf'}, e.g. ${fn}@1`, mode);
  const base = { kind: 'user-function' as const, text, function: fn, ...(object !== undefined ? { object } : {}) };
  if (mode === 'raw') {
    if (args.length !== 2 || args[1] === 'ret') throw bad(text, 'raw mode needs func@N@M: N the packet pointer argument, M the length argument', mode);
    const dataArg = argNumber(text, args[0], mode);
    const lengthArg = argNumber(text, args[1], mode);
    if (dataArg === lengthArg) throw bad(text, 'the packet and its length must be different arguments', mode);
    return { ...base, capture: { shape: 'raw', dataArg, lengthArg } };
  }
  if (args.length === 1) return { ...base, capture: { shape: 'one', arg: argNumber(text, args[0], mode) } };
  if (args.length === 2 && args[1] === 'ret') return { ...base, capture: { shape: 'array-at-return', arrayArg: argNumber(text, args[0], mode) } };
  if (args.length === 2) {
    const arrayArg = argNumber(text, args[0], mode);
    const countArg = argNumber(text, args[1], mode);
    if (arrayArg === countArg) throw bad(text, 'the array and its count must be different arguments', mode);
    return { ...base, capture: { shape: 'array', arrayArg, countArg } };
  }
  if (args.length === 3 && args[2] === 'ret') {
    throw bad(text, `at return the count is the function's return value: write ${fn}@${args[0]}@ret`, mode);
  }
  throw bad(text, `too many @ parts (${args.length})`, mode);
}
