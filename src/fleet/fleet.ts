// A fleet: the same request to every agent at once, each agent's outcome
// on its own. An agent that is unreachable, refuses the token, runs
// another netcap or refuses the request (an interface it lacks) fails
// alone: the others go on, and the caller reports each failure and says
// in its exit status that some failed.
import { UserError } from '../errors';
import { ServiceClient, type ServiceInfo } from '../service/client';
import { API_VERSION, NETCAP_VERSION } from '../service/version';
import type { Agent } from './agents';
import { tokenFor, type TokenSource } from './tokens';

export interface ConnectOptions {
  tokens: TokenSource;
  /** PEM certificates to trust for https agents. */
  ca?: Buffer;
  /** The name the agents' certificates carry (tlsName of the service client). */
  tlsName?: string;
  /** Per request, in ms. */
  timeoutMs?: number;
  /** Agents running another netcap version are used anyway (same API version). */
  anyVersion?: boolean;
}

export interface FleetAgent extends Agent {
  client: ServiceClient;
}

export type Outcome<T> = { agent: FleetAgent; ok: true; value: T } | { agent: FleetAgent; ok: false; error: Error };

/** Requests in flight at once: a fleet of 10,000 agents is asked in waves, not with 10,000 sockets. */
export const FLEET_CONCURRENCY = 64;

export const DEFAULT_TIMEOUT_MS = 10_000;

export class Fleet {
  readonly agents: FleetAgent[];

  constructor(agents: readonly Agent[], readonly options: ConnectOptions) {
    this.agents = agents.map((a) => ({
      ...a,
      client: new ServiceClient({ url: a.url, token: tokenFor(a.name, options.tokens), ca: options.ca, tlsName: options.tlsName, timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS }),
    }));
  }

  /** `op` on every agent, FLEET_CONCURRENCY at a time; the outcomes in the agents' order. */
  async each<T>(op: (agent: FleetAgent) => Promise<T>, agents: readonly FleetAgent[] = this.agents): Promise<Outcome<T>[]> {
    const out: Outcome<T>[] = new Array(agents.length);
    let next = 0;
    const worker = async () => {
      while (next < agents.length) {
        const i = next++;
        const agent = agents[i];
        try {
          out[i] = { agent, ok: true, value: await op(agent) };
        } catch (e) {
          out[i] = { agent, ok: false, error: e as Error };
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(FLEET_CONCURRENCY, agents.length) }, worker));
    return out;
  }

  /** The agent's /info, refused when it speaks another API or runs another netcap (unless anyVersion). */
  async info(agent: FleetAgent): Promise<ServiceInfo> {
    const info = await agent.client.info();
    if (info.api !== API_VERSION) throw new UserError(`runs netcap ${info.netcap} with API version ${info.api}; this client speaks version ${API_VERSION}`, `run netcap ${NETCAP_VERSION} on every agent`);
    if (info.netcap !== NETCAP_VERSION && !this.options.anyVersion) {
      throw new UserError(`runs netcap ${info.netcap}, this client is netcap ${NETCAP_VERSION}`, 'run one netcap version across the fleet, or give --any-version to use it anyway');
    }
    return info;
  }

  /** `op` on every agent whose version checks out first. */
  checked<T>(op: (agent: FleetAgent, info: ServiceInfo) => Promise<T>): Promise<Outcome<T>[]> {
    return this.each(async (a) => op(a, await this.info(a)));
  }
}

/** One line per failed agent: "node-b: no service at ...: connection refused (hint)". */
export function failureLines(outcomes: readonly Outcome<unknown>[]): string[] {
  return outcomes.filter((o): o is Extract<Outcome<unknown>, { ok: false }> => !o.ok).map((o) => {
    // The service client's hints name netcap remote's --url: here the URL is the agent's.
    const hint = o.error instanceof UserError && o.error.hint ? ` (${o.error.hint.replace(/--url/g, 'the agent\'s URL')})` : '';
    return `${o.agent.name}: ${o.error.message}${hint}`;
  });
}
