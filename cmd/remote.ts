// `netcap remote`: a client of netcap serve with polycubectl's verbs (add,
// show, set, del, stream, dump, and stop), speaking its REST API. Fields go
// as FIELD=VALUE (Polycube's names too: capture=, networkmode=, filter=all)
// or as netcap's options. The token comes from --token-file or NETCAP_TOKEN,
// never from the command line. This module only describes the options;
// remote-run.ts does the work.
import type { Argv } from 'yargs';
import type { Command } from './command';

export const remoteCommand: Command = {
  command: 'remote <verb> [name] [fields..]',
  describe: 'drive a netcap serve: add, show, set, del, stop, stream, dump (like polycubectl)',
  builder: (y: Argv) =>
    y
      .usage(
        'netcap remote add NAME [FIELD=VALUE...] [options]   create a capture (it starts at once)\n' +
          'netcap remote show [NAME] [--json]                  the captures, or one with its counters\n' +
          'netcap remote set NAME FIELD=VALUE...               change filter, snaplen, direction or mode while it runs\n' +
          'netcap remote stop NAME                             stop it (its dump is closed, it stays to be downloaded)\n' +
          'netcap remote del NAME [--remove-dump]              delete it\n' +
          'netcap remote stream NAME [-w FILE|-]               its live pcapng stream (default: stdout, for tcpdump -r -)\n' +
          'netcap remote dump NAME [-w FILE|-] [--file F]      download its dump\n\n' +
          'Fields are those of POST /captures (GET /openapi.json): kind, points, iface, netns, pid, binary, filter,\n' +
          'snaplen, mode, dump, flush, rotation.megabytes, rotation.files, ...; Polycube\'s capture=, networkmode=true\n' +
          'and filter=all are taken as they are.',
      )
      .positional('verb', { choices: ['add', 'show', 'set', 'del', 'stop', 'stream', 'dump'] as const, describe: 'what to do' })
      .positional('name', { type: 'string', describe: 'the capture' })
      .positional('fields', { type: 'string', array: true, describe: 'FIELD=VALUE pairs' })
      .option('url', { type: 'string', describe: 'the service (default NETCAP_URL, else http://127.0.0.1:9000)' })
      .option('token-file', { type: 'string', describe: 'a file holding the service\'s token (or set NETCAP_TOKEN)' })
      .option('ca', { type: 'string', describe: 'PEM certificates to trust for an https service' })
      .option('kind', { type: 'string', describe: 'add: what to capture (skb, mbuf, raw, ...)' })
      .option('f', { alias: 'points', type: 'string', describe: 'add: the capture points, as netcap -f' })
      .option('iface', { type: 'string', describe: 'add: the interface' })
      .option('netns', { type: 'string', describe: 'add: the network namespace of --iface' })
      .option('pid', { type: 'number', describe: 'add: the process to trace (mbuf, raw)' })
      .option('binary', { type: 'string', describe: 'add: the program to trace (mbuf, raw)' })
      .option('hook', { type: 'string', describe: 'add: the pinned xdpcap hook map (xdp)' })
      .option('capture', { type: 'string', describe: 'add: the direction (ingress, egress, bidirectional, off)' })
      .option('e', { alias: 'filter', type: 'string', describe: 'add: the tcpdump filter expression' })
      .option('s', { alias: 'snaplen', type: 'number', describe: 'add: the snap length' })
      .option('mode', { choices: ['local', 'network'] as const, describe: 'add: local (a dump file) or network (streams only)' })
      .option('dump', { type: 'string', describe: 'add: the dump file name (NAME.pcapng)' })
      .option('w', { alias: 'write', type: 'string', default: '-', describe: 'stream, dump: where the pcapng goes (- is stdout)' })
      .option('file', { type: 'string', describe: 'dump: which of the dump files (default the newest)' })
      .option('remove-dump', { type: 'boolean', default: false, describe: 'del: remove the dump files too' })
      .option('json', { type: 'boolean', default: false, describe: 'show: the API\'s JSON' }),
  examples: [
    { command: 'netcap remote add web --kind iface --iface v1 --netns nc-demo --capture ingress filter="tcp port 80"', describe: 'capture what v1 of namespace nc-demo receives for port 80 (Polycube\'s names work: capture=, networkmode=)' },
    { command: 'netcap remote set web filter="tcp port 443" snaplen=96 capture=bidirectional', describe: 'change filter, snap length and direction at once while it runs: every packet is judged by the old or the new' },
    { command: 'netcap remote show web', describe: 'its state, counters per point, dump files and stream clients' },
    { command: 'netcap remote stream web -w web-live.pcapng', describe: 'its live stream into a file until Ctrl-C (-w -, the default, for tcpdump -r -)' },
    { command: 'netcap remote dump web -w web.pcapng', describe: 'download its dump: every packet so far' },
    { command: 'netcap remote stop web', describe: 'stop it: the dump is closed with its statistics, it stays to be downloaded' },
    { command: 'netcap remote del web --remove-dump', describe: 'delete it and its dump' },
  ],
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  run: (args) => (require('./remote-run') as typeof import('./remote-run')).runRemote(args),
};
