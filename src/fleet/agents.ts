// The agents of a fleet: `netcap serve` services, each with a name (what
// the merged file calls its interfaces: "node-a/eth0 ingress"), a URL and
// its own capture fields (per-agent points: node-b captures bond0 where
// the others capture eth0). They come from a list (--agents), a file
// (--agents-file) or Kubernetes (kubernetes.ts).
//
//   --agents https://node-a:9000,node-b=https://10.0.0.2:9000
//   # agents file: NAME URL [FIELD=VALUE...] or URL [FIELD=VALUE...], '#' comments
//   node-a https://10.0.0.1:9000
//   node-b https://10.0.0.2:9000 iface=bond0
import * as fs from 'node:fs';
import { UserError } from '../errors';
import { splitShellWords } from '../output/shell-words';

export interface Agent {
  name: string;
  url: string;
  /** FIELD=VALUE pairs of this agent only, over the fleet's (typed by the caller against the API's schema). */
  fields: string[];
}

/** Letters, digits and . _ : - (host:port names), starting with a letter or digit. */
const NAME = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,62}$/;

/** The agents of `--agents` (or NETCAP_AGENTS, `where` says which): comma-separated URL or NAME=URL. */
export function parseAgentList(text: string, where = '--agents'): Agent[] {
  const entries = text.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (entries.length === 0) throw new UserError(`${where} is empty`, `e.g. ${where === '--agents' ? '--agents ' : `${where}=`}https://node-a:9000,https://node-b:9000`);
  return named(entries.map((e) => {
    const eq = e.indexOf('=');
    const [name, url] = eq > 0 && !e.slice(0, eq).includes('/') ? [e.slice(0, eq), e.slice(eq + 1)] : [undefined, e];
    return { name, url: checkUrl(url, where), fields: [] };
  }), where);
}

/** The agents of a file: one a line, NAME URL or URL, then the agent's own FIELD=VALUE pairs (quoted as in a shell). */
export function readAgentsFile(file: string): Agent[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new UserError(`cannot read the agents file ${file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`, 'give --agents-file a file with one agent a line: NAME URL [FIELD=VALUE...]');
  }
  const agents: { name?: string; url: string; fields: string[] }[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/(^|\s)#.*$/, '').trim();
    if (!line) return;
    const where = `${file} line ${i + 1}`;
    let words: string[];
    try {
      words = splitShellWords(line);
    } catch (e) {
      throw new UserError(`${where}: ${(e as Error).message}`, 'quote values as in a shell: filter="tcp port 80"');
    }
    const urlAt = words.findIndex((w) => /^[a-z]+:\/\//i.test(w));
    if (urlAt < 0 || urlAt > 1) throw new UserError(`${where}: no agent URL`, 'write NAME URL [FIELD=VALUE...], e.g. node-a https://10.0.0.1:9000');
    const fields = words.slice(urlAt + 1);
    const bad = fields.find((f) => f.indexOf('=') <= 0);
    if (bad !== undefined) throw new UserError(`${where}: '${bad}' is not FIELD=VALUE`, 'after the URL come the agent\'s own capture fields, e.g. iface=bond0');
    agents.push({ name: urlAt === 1 ? words[0] : undefined, url: checkUrl(words[urlAt], where), fields });
  });
  if (agents.length === 0) throw new UserError(`the agents file ${file} names no agent`, 'one agent a line: NAME URL [FIELD=VALUE...]');
  return named(agents, file);
}

/**
 * Names for agents given none: the URL's host, or host:port where hosts
 * repeat (several agents on one machine). Names must be unique.
 */
export function named(agents: readonly { name?: string; url: string; fields: string[] }[], where: string): Agent[] {
  const hosts = agents.map((a) => new URL(a.url).hostname.replace(/^\[|\]$/g, ''));
  const out = agents.map((a, i) => {
    const shared = hosts.filter((h) => h === hosts[i]).length > 1;
    const name = a.name ?? (shared ? `${hosts[i]}:${new URL(a.url).port || defaultPort(a.url)}` : hosts[i]);
    if (!NAME.test(name)) throw new UserError(`${where}: agent name '${name}' is not a name`, 'letters, digits and . _ : - (at most 63), starting with a letter or digit: NAME=URL');
    return { name, url: a.url, fields: a.fields };
  });
  const seen = new Set<string>();
  for (const a of out) {
    if (seen.has(a.name)) throw new UserError(`${where}: two agents are named ${a.name}`, 'give each its own name (NAME=URL), or list each URL once');
    seen.add(a.name);
  }
  return out;
}

function defaultPort(url: string): string {
  return url.startsWith('https:') ? '443' : '80';
}

function checkUrl(text: string, where: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UserError(`${where}: '${text}' is not a URL`, 'e.g. https://node-a:9000');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UserError(`${where}: '${text}' is not an http or https URL`, 'e.g. https://node-a:9000');
  if (url.pathname !== '/' || url.search || url.hash) throw new UserError(`${where}: '${text}' has a path; the agent's API is at the root of its address`, `give ${url.origin}`);
  return url.origin;
}

/**
 * Splits command-line fields into the fleet's and each agent's: NAME:FIELD=VALUE
 * belongs to agent NAME alone (the last ':' before '=' ends the name, so
 * host:port names work). An unknown agent name is refused.
 */
export function splitAgentFields(pairs: readonly string[], agents: readonly Agent[]): { common: string[]; perAgent: Map<string, string[]> } {
  const common: string[] = [];
  const perAgent = new Map<string, string[]>();
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    const key = eq < 0 ? pair : pair.slice(0, eq);
    const colon = key.lastIndexOf(':');
    if (colon <= 0) {
      common.push(pair);
      continue;
    }
    const name = key.slice(0, colon);
    if (!agents.some((a) => a.name === name)) {
      throw new UserError(`${pair}: no agent is named ${name}`, `the agents are ${agents.map((a) => a.name).join(', ')}; NAME:FIELD=VALUE sets a field for one agent`);
    }
    perAgent.set(name, [...(perAgent.get(name) ?? []), pair.slice(colon + 1)]);
  }
  return { common, perAgent };
}
