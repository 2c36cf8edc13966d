// `netcap fleet`: many `netcap serve` agents driven as one (src/fleet): the
// same capture created on all of them (or with per-agent fields), changed,
// stopped and deleted on all, and their streams merged into one pcapng.
// Agents come from --agents, --agents-file or Kubernetes (--agents-from);
// tokens from --token-file, a Kubernetes Secret or the environment, never
// from the command line. This module only describes the options;
// fleet-run.ts does the work.
import type { Argv } from 'yargs';
import type { Command } from './command';

export const fleetCommand: Command = {
  command: 'fleet <verb> [name] [fields..]',
  describe: 'drive many netcap serve agents as one: add, set, stop, del, show a capture on all; stream them, or their dumps, merged into one pcapng',
  builder: (y: Argv) =>
    y
      .usage(
        'netcap fleet AGENTS agents                          the agents: version, clock offset, captures\n' +
          'netcap fleet AGENTS add NAME [FIELD=VALUE...]       create a capture on every agent (AGENT:FIELD=VALUE for one agent)\n' +
          'netcap fleet AGENTS set NAME FIELD=VALUE...         change it on every agent while it runs\n' +
          'netcap fleet AGENTS show [NAME] [--json]            each agent\'s captures, or one with its counters\n' +
          'netcap fleet AGENTS stop NAME | del NAME            stop or delete it on every agent\n' +
          'netcap fleet AGENTS stream NAME -w FILE|-           every agent\'s stream, merged in timestamp order into one pcapng\n' +
          'netcap fleet AGENTS dump NAME -w FILE|-             every agent\'s dump (mode local), merged the same way\n\n' +
          'AGENTS: --agents URL,NAME=URL,... | --agents-file FILE (NAME URL [FIELD=VALUE...] a line) | --agents-from kubectl[-pods]\n' +
          'Without them: NETCAP_AGENTS (as --agents), else NETCAP_URL. On Kubernetes (deploy/kubernetes/README.md):\n' +
          '  --agents-from kubectl --token-secret netcap-token --ca ca.crt --tls-name netcap.netcap.svc\n' +
          'Tokens: --token-file FILE (one token, or NAME TOKEN lines), --token-secret NAME (Kubernetes), NETCAP_TOKEN_<NAME>, NETCAP_TOKEN.\n' +
          'Exit status: 0; 2 bad input (or every agent failed); 3 packets lost on an agent; 4 some agents failed or went away.',
      )
      .positional('verb', { choices: ['agents', 'add', 'set', 'show', 'stop', 'del', 'stream', 'dump'] as const, describe: 'what to do' })
      .positional('name', { type: 'string', describe: 'the capture' })
      .positional('fields', { type: 'string', array: true, describe: 'FIELD=VALUE pairs (AGENT:FIELD=VALUE for one agent)' })
      .option('agents', { type: 'string', describe: 'the agents: URL or NAME=URL, comma-separated' })
      .option('agents-file', { type: 'string', describe: 'a file of agents, one a line: NAME URL [FIELD=VALUE...]' })
      .option('agents-from', { choices: ['kubectl', 'kubectl-pods'] as const, describe: "Kubernetes: the agents' Service endpoints (kubectl), or their pods (kubectl-pods)" })
      .option('kube-namespace', { type: 'string', default: 'netcap', describe: 'the agents\' namespace' })
      .option('kube-service', { type: 'string', default: 'netcap', describe: 'the agents\' headless Service (--agents-from kubectl)' })
      .option('kube-selector', { type: 'string', default: 'app.kubernetes.io/name=netcap', describe: 'the agents\' pods (--agents-from kubectl-pods)' })
      .option('kube-context', { type: 'string', describe: 'the kubeconfig context (default: its current one)' })
      .option('scheme', { choices: ['https', 'http'] as const, default: 'https', describe: 'how Kubernetes agents are reached' })
      .option('token-file', { type: 'string', describe: 'the agents\' token (first line), or NAME TOKEN lines, "* TOKEN" for the rest' })
      .option('token-secret', { type: 'string', describe: 'a Kubernetes Secret holding the agents\' token (read with kubectl)' })
      .option('token-secret-key', { type: 'string', default: 'token', describe: 'its key' })
      .option('ca', { type: 'string', describe: 'PEM certificates to trust for https agents' })
      .option('tls-name', { type: 'string', describe: 'the name the agents\' certificate carries, when not their address (e.g. netcap.netcap.svc)' })
      .option('any-version', { type: 'boolean', default: false, describe: 'use agents that run another netcap version (same API)' })
      .option('timeout', { type: 'number', default: 10, describe: 'seconds an agent has to answer a request' })
      .option('kind', { type: 'string', describe: 'add: what to capture (iface, skb, mbuf, raw, xdp)' })
      .option('f', { alias: 'points', type: 'string', describe: 'add: the capture points, as netcap -f' })
      .option('iface', { type: 'string', describe: 'add: the interface' })
      .option('netns', { type: 'string', describe: 'add: the network namespace of --iface' })
      .option('Q', { alias: 'direction', type: 'string', describe: 'add, set: in, out, inout (or ingress, egress, bidirectional), off' })
      .option('e', { alias: 'filter', type: 'string', describe: 'add, set: the tcpdump filter expression' })
      .option('s', { alias: 'snaplen', type: 'number', describe: 'add, set: the snap length' })
      .option('mode', { choices: ['local', 'network'] as const, describe: 'add: local (a dump file on each agent) or network (streams only)' })
      .option('dump', { type: 'string', describe: 'add: the dump file name on each agent' })
      .option('w', { alias: 'write', type: 'string', describe: 'stream, dump: the merged pcapng (- is stdout)' })
      .option('window', { type: 'number', default: 500, describe: 'stream, dump: the reordering window, ms: how long an agent that says nothing holds the others\' packets back (one that delivers is waited for, up to --max-held)' })
      .option('max-held', { type: 'number', default: 256, describe: 'stream, dump: MiB of packets the window may hold' })
      .option('clock', { choices: ['auto', 'shift', 'keep'] as const, default: 'auto', describe: "stream, dump: move agents' timestamps onto this machine's clock when their offset is beyond its error (auto), always (shift), never (keep)" })
      .option('c', { alias: 'count', type: 'number', describe: 'stream, dump: stop after this many packets' })
      .option('duration', { type: 'number', describe: 'stream: stop after this many seconds' })
      .option('remove-dump', { type: 'boolean', default: false, describe: 'del: remove the dump files too' })
      .option('json', { type: 'boolean', default: false, describe: 'show, agents: the API\'s JSON' }),
  // Run as shown by test/cmd/examples.test.ts, against the agents of NETCAP_AGENTS (or NETCAP_URL).
  examples: [
    { command: 'netcap fleet agents', describe: 'the agents of NETCAP_AGENTS (URL or NAME=URL, comma-separated; else NETCAP_URL): version, clock offset, captures' },
    { command: 'netcap fleet add web --iface v1 --netns nc-demo -Q inout -e "tcp port 443"', describe: 'one capture on every agent (--agents-file gives each its own fields: node-b iface=bond0)' },
    { command: 'netcap fleet set web -e "tcp port 80"', describe: 'change its filter on every agent while it runs' },
    { command: 'netcap fleet show web', describe: 'each agent\'s state and counters of it' },
    { command: 'netcap fleet stream web -w web-all.pcapng', describe: 'every agent\'s stream merged in timestamp order until Ctrl-C, one interface per agent and point (node-a/v1 ingress)' },
    { command: 'netcap fleet dump web -w web-dumps.pcapng', describe: 'every agent\'s dump merged the same way' },
    { command: 'netcap fleet stop web', describe: 'stop it on every agent' },
    { command: 'netcap fleet del web --remove-dump', describe: 'delete it and its dumps on every agent' },
  ],
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  run: (args) => (require('./fleet-run') as typeof import('./fleet-run')).runFleet(args),
};
