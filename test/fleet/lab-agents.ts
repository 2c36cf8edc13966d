// Agents for the fleet tests: each a real `netcap serve` in a network
// namespace of its own, with a veth pair for its traffic (v0 -> v1) and a
// veth to the root namespace, where the test (the fleet client) reaches
// it. The addresses are a random /30 of 198.18.0.0/15 (RFC 2544's
// benchmarking range, which no other test uses) per agent: the agent's end
// is inside the namespace the test made, the client's in the root namespace.
import { randomBytes, randomInt } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { uniqueLinkName, type Namespace, type World } from '../../lab/netns';
import { startServe, tempDir, type Served } from '../service/serve-process';

export interface LabAgent {
  name: string;
  ns: Namespace;
  /** The interface the agent captures (v1 or as asked), with its peer, where frames are sent from. */
  iface: string;
  peer: string;
  url: string;
  token: string;
  served: Served;
  /** The dump folder of capture `name`. */
  dumpFile(capture: string): string;
}

function address(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

/** A random /30 of 198.18.0.0/15: [the client's end, the agent's end]. */
function randomSubnet(): [string, string] {
  const base = (198 << 24) + (18 << 16) + randomInt(0, 1 << 15) * 4;
  return [address(base + 1), address(base + 2)];
}

export interface AgentSpec {
  name: string;
  /** The traffic pair's names (default v0, v1: the agent captures the second). */
  pair?: [string, string];
  args?: string[];
}

/** Starts the agents (in parallel): each with its own token (24 random bytes, base64). */
export async function startLabAgents(world: World, specs: AgentSpec[]): Promise<LabAgent[]> {
  return Promise.all(
    specs.map(async (spec) => {
      const ns = world.addNamespace();
      const [peer, iface] = spec.pair ?? ['v0', 'v1'];
      ns.addVeth(peer, iface);
      const [client, agent] = randomSubnet();
      ns.addVeth('up0', uniqueLinkName('ncf'), { peerIn: 'root', local: { address: `${agent}/30` }, peer: { address: `${client}/30` } });
      const token = randomBytes(24).toString('base64');
      const stateDir = tempDir(`fleet-${spec.name}`);
      world.onDestroy(() => fs.rmSync(stateDir, { recursive: true, force: true }));
      const tokenFile = path.join(stateDir, 'token');
      fs.writeFileSync(tokenFile, `${token}\n`, { mode: 0o600 });
      const served = await startServe({ ns, listen: `${agent}:9000`, stateDir, args: ['--token-file', tokenFile, ...(spec.args ?? [])] });
      return { name: spec.name, ns, iface, peer, url: served.url, token, served, dumpFile: (capture: string) => path.join(stateDir, 'dumps', capture, `${capture}.pcapng`) };
    }),
  );
}

/** An agents file and a token file (NAME TOKEN lines) for them, in `dir`. */
export function writeFleetFiles(dir: string, agents: LabAgent[], extra: Record<string, string> = {}): { agentsFile: string; tokenFile: string } {
  const agentsFile = path.join(dir, 'agents');
  const tokenFile = path.join(dir, 'tokens');
  fs.writeFileSync(agentsFile, `# the fleet of this test\n${agents.map((a) => `${a.name} ${a.url} ${extra[a.name] ?? ''}`.trimEnd()).join('\n')}\n`);
  fs.writeFileSync(tokenFile, agents.map((a) => `${a.name} ${a.token}`).join('\n') + '\n', { mode: 0o600 });
  return { agentsFile, tokenFile };
}
