// Tracepoints as tracefs describes them: events/<category>/<name>/id (the
// perf event config for PERF_TYPE_TRACEPOINT) and .../format (the layout of
// the record a tracepoint BPF program gets as its context).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { closeNames, UserError } from '../errors';
import { tracefsRoot } from './mount';

export interface TracepointName {
  category: string;
  name: string;
}

/** One `field:` line of a format file. */
export interface TracepointField {
  /** The C declaration's type, e.g. "void *", "unsigned int", "__data_loc char[]". */
  type: string;
  name: string;
  offset: number;
  size: number;
  signed: boolean;
  /** True for the common_* header every record starts with. */
  common: boolean;
}

export interface TracepointFormat extends TracepointName {
  id: number;
  fields: TracepointField[];
  printFormat: string;
}

// Category and event names are C identifiers in the kernel (TRACE_SYSTEM /
// TRACE_EVENT); anything else (.., /) could escape the events directory.
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Accepts "net:netif_receive_skb", "net/netif_receive_skb" and "tracepoint:net:netif_receive_skb". */
export function parseTracepointName(text: string): TracepointName {
  const bare = text.replace(/^(tracepoint|tp):/, '');
  const parts = bare.split(/[:/]/);
  if (parts.length !== 2 || !IDENTIFIER.test(parts[0]) || !IDENTIFIER.test(parts[1])) {
    throw new UserError(
      `"${text}" is not a tracepoint name`,
      'write it as CATEGORY:NAME, e.g. net:netif_receive_skb (list them with `ls /sys/kernel/tracing/events`)',
    );
  }
  return { category: parts[0], name: parts[1] };
}

function eventsDir(): string {
  return path.join(tracefsRoot(), 'events');
}

/** Categories (subdirectories of events/ that hold events). */
export function listCategories(): string[] {
  return fs
    .readdirSync(eventsDir(), { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => d.name)
    .sort();
}

/** Every tracepoint of a category, or of all categories, as "category:name". */
export function listTracepoints(category?: string): string[] {
  const categories = category === undefined ? listCategories() : [category];
  const out: string[] = [];
  for (const c of categories) {
    if (!IDENTIFIER.test(c)) continue;
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(path.join(eventsDir(), c), { withFileTypes: true });
    } catch {
      continue;
    }
    for (const e of entries) if (e.isDirectory()) out.push(`${c}:${e.name}`);
  }
  return out.sort();
}

function unknownTracepoint(tp: TracepointName): UserError {
  const wanted = `${tp.category}:${tp.name}`;
  const categories = listCategories();
  const all = listTracepoints();
  // Names close to the full name, plus the same event in another category
  // (the usual slip: skb:netif_receive_skb for net:netif_receive_skb).
  const sameEvent = all.filter((n) => n.endsWith(`:${tp.name}`));
  const near = [...new Set([...sameEvent, ...closeNames(wanted, all)])].slice(0, 5);
  return new UserError(
    `unknown tracepoint ${wanted}`,
    near.length > 0
      ? `did you mean ${near.join(', ')}?`
      : `list the tracepoints with \`ls ${eventsDir()}${categories.includes(tp.category) ? '/' + tp.category : ''}\``,
  );
}

function eventDir(tp: TracepointName): string {
  if (!IDENTIFIER.test(tp.category) || !IDENTIFIER.test(tp.name)) throw unknownTracepoint(tp);
  const dir = path.join(eventsDir(), tp.category, tp.name);
  if (!fs.existsSync(path.join(dir, 'id'))) throw unknownTracepoint(tp);
  return dir;
}

/** The tracepoint's id: the `config` of a PERF_TYPE_TRACEPOINT perf event. */
export function tracepointId(tp: TracepointName | string): number {
  const t = typeof tp === 'string' ? parseTracepointName(tp) : tp;
  return Number.parseInt(fs.readFileSync(path.join(eventDir(t), 'id'), 'utf8').trim(), 10);
}

/** The tracepoint's id and record layout. */
export function tracepointFormat(tp: TracepointName | string): TracepointFormat {
  const t = typeof tp === 'string' ? parseTracepointName(tp) : tp;
  const text = fs.readFileSync(path.join(eventDir(t), 'format'), 'utf8');
  return { ...t, ...parseFormat(text) };
}

// A field line, as the kernel prints it in kernel/trace/trace_events.c
// (f_show): "\tfield:TYPE NAME;\toffset:N;\tsize:N;\tsigned:N;".
const FIELD_LINE = /^\s*field:(.+?);\s*offset:(\d+);\s*size:(\d+);\s*signed:(\d+);/;

/** Parses the text of a format file. */
export function parseFormat(text: string): { id: number; fields: TracepointField[]; printFormat: string } {
  let id = NaN;
  let printFormat = '';
  const fields: TracepointField[] = [];
  for (const line of text.split('\n')) {
    const idMatch = /^ID:\s*(\d+)/.exec(line);
    if (idMatch) id = Number(idMatch[1]);
    if (line.startsWith('print fmt: ')) printFormat = line.slice('print fmt: '.length);
    const m = FIELD_LINE.exec(line);
    if (!m) continue;
    const { type, name } = splitDeclaration(m[1]);
    fields.push({
      type,
      name,
      offset: Number(m[2]),
      size: Number(m[3]),
      signed: m[4] === '1',
      common: name.startsWith('common_'),
    });
  }
  if (Number.isNaN(id)) throw new Error('tracepoint format without an ID line');
  return { id, fields, printFormat };
}

/** "unsigned char dst[6]" -> type "unsigned char[6]", name "dst"; "void * skbaddr" -> "void *", "skbaddr". */
function splitDeclaration(decl: string): { type: string; name: string } {
  const m = /^(.*?)([A-Za-z_][A-Za-z0-9_]*)\s*((?:\[[^\]]*\])*)\s*$/.exec(decl.trim());
  if (!m) return { type: decl.trim(), name: decl.trim() };
  return { type: (m[1].trim() + m[3]).trim(), name: m[2] };
}
