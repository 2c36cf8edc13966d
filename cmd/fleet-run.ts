// netcap fleet's run: the agents (a list, a file, Kubernetes), their
// tokens, the verb on every agent at once (src/fleet), one line per agent
// of what it answered or why it failed, and the exit status: 0, 2 when
// every agent failed on bad input, 3 when an agent lost packets, 4 when
// some agents failed or went away.
import * as fs from 'node:fs';
import type { Writable } from 'node:stream';
import type { ArgumentsCamelCase } from 'yargs';
import { UserError } from '../src/errors';
import { parseAgentList, readAgentsFile, splitAgentFields, type Agent } from '../src/fleet/agents';
import { agentsFromKubernetes, tokenFromSecret, KUBE_DEFAULTS, type KubeOptions } from '../src/fleet/kubernetes';
import { readTokenFile } from '../src/fleet/tokens';
import { Fleet, failureLines, type Outcome } from '../src/fleet/fleet';
import { describeClock, estimateClock, formatNs } from '../src/fleet/clock';
import { FleetStream, type FleetStreamResult } from '../src/fleet/fleet-stream';
import { CHANGE_SCHEMA, DEFINITION_SCHEMA } from '../src/service/definition';
import { details, parseFields, summary } from './remote-run';

/** Exit statuses beyond the usual 0, 2 and 3. */
export const EXIT_SOME_AGENTS_FAILED = 4;

const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/** -Q's tcpdump spellings as the API's. */
const DIRECTIONS: Record<string, string> = { in: 'ingress', out: 'egress', inout: 'bidirectional', ingress: 'ingress', egress: 'egress', bidirectional: 'bidirectional', off: 'off' };

function kubeOptions(args: ArgumentsCamelCase): KubeOptions {
  return {
    ...KUBE_DEFAULTS,
    namespace: args.kubeNamespace as string,
    service: args.kubeService as string,
    selector: args.kubeSelector as string,
    scheme: args.scheme as 'http' | 'https',
    ...(args.kubeContext !== undefined ? { context: args.kubeContext as string } : {}),
  };
}

/**
 * The agents, from exactly one of --agents, --agents-file and --agents-from;
 * without them NETCAP_AGENTS (as --agents), else NETCAP_URL (the service
 * netcap remote speaks to, a fleet of one).
 */
async function agentsOf(args: ArgumentsCamelCase): Promise<Agent[]> {
  const given = (['agents', 'agentsFile', 'agentsFrom'] as const).filter((k) => args[k] !== undefined);
  if (given.length === 0 && process.env.NETCAP_AGENTS) return parseAgentList(process.env.NETCAP_AGENTS, 'NETCAP_AGENTS');
  if (given.length === 0 && process.env.NETCAP_URL) return parseAgentList(process.env.NETCAP_URL, 'NETCAP_URL');
  if (given.length !== 1) {
    throw new UserError(given.length ? 'give the agents one way: --agents, --agents-file or --agents-from' : 'which agents?', 'e.g. --agents https://node-a:9000,https://node-b:9000, --agents-file agents.txt or --agents-from kubectl (or set NETCAP_AGENTS)');
  }
  if (args.agents !== undefined) return parseAgentList(args.agents as string);
  if (args.agentsFile !== undefined) return readAgentsFile(args.agentsFile as string);
  return agentsFromKubernetes(args.agentsFrom === 'kubectl-pods' ? 'pods' : 'endpoints', kubeOptions(args));
}

function readCa(file: string | undefined): Buffer | undefined {
  if (file === undefined) return undefined;
  try {
    return fs.readFileSync(file);
  } catch (e) {
    throw new UserError(`cannot read --ca ${file}: ${(e as Error).message}`, 'give a PEM file');
  }
}

async function fleetOf(args: ArgumentsCamelCase): Promise<Fleet> {
  const agents = await agentsOf(args);
  const byName = args.tokenFile !== undefined ? readTokenFile(args.tokenFile as string) : new Map<string, string>();
  if (args.tokenSecret !== undefined) byName.set('*', await tokenFromSecret(args.tokenSecret as string, args.tokenSecretKey as string, kubeOptions(args)));
  const timeout = args.timeout as number;
  if (!(timeout > 0)) throw new UserError(`--timeout ${timeout}: not a number of seconds above 0`, 'e.g. --timeout 10');
  return new Fleet(agents, { tokens: { byName, env: process.env }, ca: readCa(args.ca as string | undefined), tlsName: args.tlsName as string | undefined, timeoutMs: timeout * 1000, anyVersion: Boolean(args.anyVersion) });
}

function needName(args: ArgumentsCamelCase): string {
  const name = args.name as string | undefined;
  if (!name) throw new UserError(`netcap fleet ${args.verb as string} needs the capture's name`, `e.g. netcap fleet --agents-file agents.txt ${args.verb as string} web`);
  return name;
}

function direction(args: ArgumentsCamelCase): Record<string, unknown> {
  const q = args.Q as string | undefined;
  if (q === undefined) return {};
  const d = DIRECTIONS[q.toLowerCase()];
  if (!d) throw new UserError(`-Q ${q}: not a direction`, 'give in, out or inout (or ingress, egress, bidirectional), or off');
  return { direction: d };
}

/** The definition fields netcap's options give (add). */
function optionFields(args: ArgumentsCamelCase): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const take: [string, string][] = [['kind', 'kind'], ['f', 'points'], ['iface', 'iface'], ['netns', 'netns'], ['e', 'filter'], ['s', 'snaplen'], ['mode', 'mode'], ['dump', 'dump']];
  for (const [option, field] of take) if (args[option] !== undefined) out[field] = args[option];
  return { ...out, ...direction(args) };
}

/** The change the options give (set). */
function changeOptions(args: ArgumentsCamelCase): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (args.e !== undefined) out.filter = args.e;
  if (args.s !== undefined) out.snaplen = args.s;
  return { ...out, ...direction(args) };
}

/**
 * Each agent's body: the options, the common fields, then its own: its
 * agents-file fields (those the request takes: a file's iface= is for add,
 * a change leaves it), then AGENT:FIELD=VALUE.
 */
function bodies(fleet: Fleet, args: ArgumentsCamelCase, base: Record<string, unknown>, schema: typeof DEFINITION_SCHEMA | typeof CHANGE_SCHEMA): Map<string, Record<string, unknown>> {
  const pairs = ((args.fields as string[] | undefined) ?? []).map(String);
  const { common, perAgent } = splitAgentFields(pairs, fleet.agents);
  const shared = { ...base, ...parseFields(common, schema) };
  const takes = (pair: string) => pair.slice(0, pair.indexOf('=')).split('.')[0] in schema.properties;
  return new Map(fleet.agents.map((a) => [a.name, { ...shared, ...parseFields(a.fields.filter(takes), schema), ...parseFields(perAgent.get(a.name) ?? [], schema) }]));
}

/** One line per agent on stdout (none when `line` is undefined), failures on stderr; the exit status they make. */
function report<T>(outcomes: Outcome<T>[], line: ((value: T) => string) | undefined): number {
  if (line) for (const o of outcomes) if (o.ok) process.stdout.write(`${o.agent.name}: ${line(o.value)}`);
  const failures = failureLines(outcomes);
  for (const f of failures) process.stderr.write(`netcap: agent ${f}\n`);
  return exitFor(outcomes.length, failures.length, outcomes.filter((o): o is Extract<Outcome<T>, { ok: false }> => !o.ok).every((o) => o.error instanceof UserError));
}

function exitFor(agents: number, failed: number, failuresAreUserErrors: boolean): number {
  if (failed === 0) return 0;
  if (failed === agents) {
    process.stderr.write(`netcap: every agent failed\n`);
    return failuresAreUserErrors ? 2 : 1;
  }
  process.stderr.write(`netcap: ${failed} of ${agents} agents failed; the others did it\n`);
  return EXIT_SOME_AGENTS_FAILED;
}

export async function runFleet(args: ArgumentsCamelCase): Promise<number> {
  const fleet = await fleetOf(args);
  const json = Boolean(args.json);
  switch (args.verb as string) {
    case 'agents': {
      const outcomes = await fleet.checked(async (a, info) => ({ info, clock: await estimateClock(() => a.client.info()), captures: await a.client.list() }));
      if (json) {
        const rows = outcomes.map((o) => (o.ok ? { agent: o.agent.name, url: o.agent.url, ...o.value.info, clock: { offsetNs: String(o.value.clock.offsetNs), errorNs: String(o.value.clock.errorNs) }, captures: o.value.captures.map((c) => c.name) } : { agent: o.agent.name, url: o.agent.url, error: o.error.message }));
        process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
        return report(outcomes, undefined);
      }
      return report(outcomes, (v) => `${v.info.host} netcap ${v.info.netcap} (API ${v.info.api}), clock agent-client ${describeClock(v.clock)}, captures: ${v.captures.map((c) => `${c.name} (${c.status})`).join(', ') || 'none'}\n`);
    }
    case 'add': {
      const name = needName(args);
      const body = bodies(fleet, args, optionFields(args), DEFINITION_SCHEMA);
      return report(await fleet.checked((a) => a.client.create({ name, ...body.get(a.name) })), summary);
    }
    case 'set': {
      const name = needName(args);
      const body = bodies(fleet, args, changeOptions(args), CHANGE_SCHEMA);
      if ([...body.values()].every((b) => Object.keys(b).length === 0)) throw new UserError('nothing to set', 'e.g. netcap fleet --agents-file agents.txt set web filter="tcp port 80"');
      return report(await fleet.checked((a) => a.client.change(name, body.get(a.name)!)), summary);
    }
    case 'show': {
      const name = args.name as string | undefined;
      if (name) return report(await fleet.checked((a) => a.client.get(name)), (v) => (json ? `${JSON.stringify(v)}\n` : `\n${details(v)}`));
      return report(await fleet.checked((a) => a.client.list()), (views) => (json ? `${JSON.stringify(views)}\n` : views.length ? `\n${views.map(summary).join('')}` : 'no captures\n'));
    }
    case 'stop': {
      const name = needName(args);
      return report(await fleet.checked((a) => a.client.stop(name)), summary);
    }
    case 'del': {
      const name = needName(args);
      return report(await fleet.checked((a) => a.client.delete(name, Boolean(args.removeDump))), () => 'deleted\n');
    }
    case 'stream':
      return stream(fleet, args, 'stream');
    case 'dump':
      return stream(fleet, args, 'dump');
  }
  throw new UserError(`unknown verb ${args.verb as string}`, 'netcap fleet --help lists them');
}

/** stream: the live streams merged; dump: each agent's dump merged, the same way. */
async function stream(fleet: Fleet, args: ArgumentsCamelCase, source: 'stream' | 'dump'): Promise<number> {
  const name = needName(args);
  const to = args.w as string | undefined;
  if (to === undefined) throw new UserError(`netcap fleet ${source} needs -w FILE (or -w - for stdout)`, `e.g. netcap fleet ... ${source} ${name} -w ${name}-all.pcapng`);
  const windowMs = args.window as number;
  if (!(windowMs >= 0 && windowMs <= 600_000)) throw new UserError(`--window ${windowMs}: not a number of ms from 0 to 600000`, 'e.g. --window 500');
  const maxHeld = args.maxHeld as number;
  if (!(maxHeld >= 1)) throw new UserError(`--max-held ${maxHeld}: not a number of MiB of at least 1`, 'e.g. --max-held 256');
  const count = args.c as number | undefined;
  if (count !== undefined && !(Number.isInteger(count) && count > 0)) throw new UserError(`-c ${count}: not a whole number above 0`, 'e.g. -c 1000');
  const duration = args.duration as number | undefined;
  if (duration !== undefined && !(duration > 0)) throw new UserError(`--duration ${duration}: not a number of seconds above 0`, 'e.g. --duration 60');
  const output: Writable = to === '-' ? process.stdout : fs.createWriteStream(to);
  const merged = new FleetStream(fleet, {
    capture: name,
    source,
    output,
    endOutput: to !== '-',
    windowMs,
    maxHeldBytes: maxHeld * (1 << 20),
    clock: args.clock as 'auto' | 'shift' | 'keep',
    count,
    note: (line) => process.stderr.write(`netcap: ${line}\n`),
  });
  let signalled = false;
  const onSignal = (sig: NodeJS.Signals) => {
    if (signalled) {
      process.stderr.write(`netcap: ${sig} again: exiting now\n`);
      process.exit(1);
    }
    signalled = true;
    merged.stop('stopped');
  };
  for (const sig of SIGNALS) process.on(sig, onSignal);
  const timer = duration !== undefined ? setTimeout(() => merged.stop('duration'), duration * 1000) : undefined;
  try {
    const result = await merged.run();
    process.stderr.write(streamSummary(result, windowMs));
    return streamExit(result);
  } finally {
    if (timer) clearTimeout(timer);
    for (const sig of SIGNALS) process.off(sig, onSignal);
  }
}

/** The end of a stream, on stderr: the merge, then one line per agent. */
export function streamSummary(r: FleetStreamResult, windowMs: number): string {
  const m = r.merge;
  const lines = [`netcap fleet: ${m.written} packets merged from ${r.agents.filter((a) => a.state !== 'failed').length} of ${r.agents.length} agents (window ${windowMs} ms: ${m.late} late, ${m.forced} written early, at most ${m.peakHeld} held)`];
  for (const a of r.agents) {
    const view = a.view;
    const counters = view ? view.counters.points.reduce((c, p) => ({ seen: c.seen + p.seen, matched: c.matched + p.matched, lost: c.lost + p.lost }), { seen: 0, matched: 0, lost: 0 }) : undefined;
    const missed = view?.stream.clients.reduce((n, c) => n + c.missed, 0) ?? 0;
    const clock = a.clock ? `; clock ${describeClock(a.clock)}${a.shiftNs ? `, shifted ${formatNs(a.shiftNs, true)}` : ''}` : '';
    const state = a.state === 'failed' ? `failed: ${a.message}` : a.state === 'gone' ? `went away: ${a.message}` : a.state === 'ended' ? (a.message ?? 'ended') : 'streamed';
    lines.push(`  ${a.name}: ${state}; ${a.packets} packets${counters ? ` (the agent saw ${counters.seen}, matched ${counters.matched}, lost ${counters.lost}, its stream queues missed ${missed})` : ''}${clock}`);
  }
  return lines.join('\n') + '\n';
}

function streamExit(r: FleetStreamResult): number {
  if (r.agents.some((a) => a.state === 'failed' || a.state === 'gone')) return EXIT_SOME_AGENTS_FAILED;
  const lost = r.agents.some((a) => a.view?.counters.points.some((p) => p.lost > 0) || a.view?.stream.clients.some((c) => c.missed > 0));
  return lost ? 3 : 0;
}
