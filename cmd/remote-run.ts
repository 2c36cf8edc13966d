// netcap remote's run: the verb, the fields (FIELD=VALUE typed by the API's
// own schemas, so snaplen=80 is a number and networkmode=true a boolean),
// one request through the API client (src/service/client.ts), and what it
// answered, in a few lines (or --json).
import * as fs from 'node:fs';
import type { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ArgumentsCamelCase } from 'yargs';
import { UserError } from '../src/errors';
import { readToken } from '../src/service/auth';
import { ServiceClient } from '../src/service/client';
import { CHANGE_SCHEMA, DEFINITION_SCHEMA } from '../src/service/definition';
import type { CaptureView } from '../src/service/service-capture';

const DEFAULT_URL = 'http://127.0.0.1:9000';

interface FieldSchema {
  type?: string;
  description?: string;
  properties?: Record<string, FieldSchema>;
}

/** FIELD=VALUE pairs as a JSON body, each value of the type the schema gives its field (rotation.files=5 nests). */
export function parseFields(pairs: readonly string[], schema: FieldSchema): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new UserError(`'${pair}' is not FIELD=VALUE`, 'e.g. filter="tcp port 80" snaplen=96');
    const path = pair.slice(0, eq).split('.');
    const text = pair.slice(eq + 1);
    let target = body;
    let s: FieldSchema | undefined = schema;
    for (const key of path.slice(0, -1)) {
      s = s?.properties?.[key];
      target = (target[key] ??= {}) as Record<string, unknown>;
    }
    const key = path[path.length - 1];
    target[key] = typed(pair.slice(0, eq), text, s?.properties?.[key]?.type);
  }
  return body;
}

function typed(field: string, text: string, type: string | undefined): unknown {
  if (type === 'integer' || type === 'number') {
    const n = Number(text);
    if (text.trim() === '' || !Number.isFinite(n) || (type === 'integer' && !Number.isInteger(n))) throw new UserError(`${field}=${text}: not a ${type === 'integer' ? 'whole number' : 'number'}`, `e.g. ${field}=96`);
    return n;
  }
  if (type === 'boolean') {
    if (text !== 'true' && text !== 'false') throw new UserError(`${field}=${text}: not true or false`, `e.g. ${field}=true`);
    return text === 'true';
  }
  return text;
}

/** The definition fields netcap's options give (add). */
function optionFields(args: ArgumentsCamelCase): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const take: [string, string][] = [['kind', 'kind'], ['f', 'points'], ['iface', 'iface'], ['netns', 'netns'], ['pid', 'pid'], ['binary', 'binary'], ['capture', 'capture'], ['e', 'filter'], ['s', 'snaplen'], ['mode', 'mode'], ['dump', 'dump'], ['hook', 'hook']];
  for (const [option, field] of take) if (args[option] !== undefined) out[field] = args[option];
  return out;
}

function needName(args: ArgumentsCamelCase): string {
  const name = args.name as string | undefined;
  if (!name) throw new UserError(`netcap remote ${args.verb as string} needs the capture's name`, `e.g. netcap remote ${args.verb as string} web`);
  return name;
}

function clientOf(args: ArgumentsCamelCase): ServiceClient {
  const ca = args.ca as string | undefined;
  let caPem: Buffer | undefined;
  if (ca !== undefined) {
    try {
      caPem = fs.readFileSync(ca);
    } catch (e) {
      throw new UserError(`cannot read --ca ${ca}: ${(e as Error).message}`, 'give a PEM file');
    }
  }
  return new ServiceClient({ url: (args.url as string | undefined) ?? process.env.NETCAP_URL ?? DEFAULT_URL, token: readToken(args.tokenFile as string | undefined, process.env.NETCAP_TOKEN, 'NETCAP_TOKEN'), ca: caPem });
}

export async function runRemote(args: ArgumentsCamelCase): Promise<number> {
  const client = clientOf(args);
  const fields = ((args.fields as string[] | undefined) ?? []).map(String);
  const json = Boolean(args.json);
  switch (args.verb as string) {
    case 'add': {
      const view = await client.create({ name: needName(args), ...optionFields(args), ...parseFields(fields, DEFINITION_SCHEMA) });
      process.stdout.write(json ? `${JSON.stringify(view, null, 2)}\n` : summary(view));
      return 0;
    }
    case 'show': {
      if (args.name) {
        const view = await client.get(args.name as string);
        process.stdout.write(json ? `${JSON.stringify(view, null, 2)}\n` : details(view));
      } else {
        const views = await client.list();
        process.stdout.write(json ? `${JSON.stringify(views, null, 2)}\n` : views.length ? views.map(summary).join('') : 'no captures\n');
      }
      return 0;
    }
    case 'set': {
      const change = parseFields(fields, CHANGE_SCHEMA);
      if (Object.keys(change).length === 0) throw new UserError('nothing to set', 'e.g. netcap remote set web filter="tcp port 80" snaplen=96');
      process.stdout.write(summary(await client.change(needName(args), change)));
      return 0;
    }
    case 'stop':
      process.stdout.write(summary(await client.stop(needName(args))));
      return 0;
    case 'del':
      await client.delete(needName(args), Boolean(args.removeDump));
      return 0;
    case 'stream': {
      const name = needName(args);
      const stream = await client.stream(name);
      // The readiness line of a capture: from now on every packet comes.
      process.stderr.write(`netcap: listening on capture ${name} of ${client.url}, writing ${args.w === '-' ? 'stdout' : (args.w as string)}\n`);
      return copyOut(stream, args.w as string);
    }
    case 'dump':
      return copyOut(await client.dump(needName(args), args.file as string | undefined), args.w as string);
  }
  throw new UserError(`unknown verb ${args.verb as string}`, 'netcap remote --help lists them');
}

/** Copies a pcapng stream to a file or stdout until it ends, the reader goes away (a closed pipe), or a signal. */
async function copyOut(from: Readable, to: string): Promise<number> {
  const out: Writable = to === '-' ? process.stdout : fs.createWriteStream(to);
  const stop = () => from.destroy();
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, stop);
  try {
    await pipeline(from, out, { end: to !== '-' });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    // The reader went away (tcpdump -c), or we were told to stop: both are the end.
    if (code !== 'EPIPE' && code !== 'ERR_STREAM_PREMATURE_CLOSE') throw e;
  } finally {
    for (const sig of ['SIGINT', 'SIGTERM'] as const) process.off(sig, stop);
  }
  return 0;
}

function summary(v: CaptureView): string {
  const d = v.definition;
  const where = d.points ?? d.iface ?? '';
  return `${v.name}  ${d.kind} ${where}${d.iface && d.points ? ` on ${d.iface}` : ''}  ${v.status}${v.restored ? ' (restored)' : ''}  filter ${d.filter ? `"${d.filter}"` : 'all'}  snaplen ${d.snaplen}  mode ${d.mode}  captured ${v.counters.captured}${v.message ? `  (${v.message})` : ''}\n`;
}

function details(v: CaptureView): string {
  const lines = [summary(v).trimEnd()];
  for (const p of v.counters.points) lines.push(`  ${p.name}: seen ${p.seen}, matched ${p.matched}, lost ${p.lost}, captured ${p.captured}, ${p.bytes} bytes`);
  const dump = v.dump as CaptureView['dump'] & { flushed?: number };
  lines.push(`  dump ${dump.file}${dump.flushed !== undefined ? `: ${dump.flushed} packets flushed` : ''}; files: ${dump.files.map((f) => `${f.name} (${f.bytes} bytes)`).join(', ') || 'none'}`);
  const clients = v.stream.clients;
  lines.push(`  stream clients: ${clients.length}${clients.map((c) => `\n    ${c.remote}: ${c.packets} packets, ${c.missed} missed, ${c.queuedBytes} bytes queued`).join('')}`);
  return lines.join('\n') + '\n';
}
