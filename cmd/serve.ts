// `netcap serve`: the packet capture service (src/service): a REST API
// with its OpenAPI document, live pcapng streams, dumps, and a web page.
// This module only describes the options; the service is loaded when the
// command runs (serve-run.ts).
import type { Argv } from 'yargs';
import type { Command } from './command';

export const DEFAULT_LISTEN = '127.0.0.1:9000';
export const DEFAULT_STATE_DIR = '/var/lib/netcap';

export const serveCommand: Command = {
  command: 'serve',
  describe: 'the packet capture service: REST API (OpenAPI at /openapi.json), live pcapng streams, dumps, a web page',
  builder: (y: Argv) =>
    y
      .usage(
        'netcap serve [--listen HOST:PORT] [--state-dir DIR] [--token-file FILE] [--tls-cert FILE --tls-key FILE] [limits]\n\n' +
          'Listens on loopback unless told otherwise; any other address needs a token (--token-file or NETCAP_TOKEN),\n' +
          'and should have TLS: netcap serve --listen 0.0.0.0:9000 --token-file token --tls-cert cert.pem --tls-key key.pem.\n' +
          'Capture definitions are kept in the state directory and come back when the service starts again.',
      )
      .option('listen', { type: 'string', default: DEFAULT_LISTEN, describe: 'address and port: 127.0.0.1:9000, [::1]:9000, 0.0.0.0:9000 (port 0: any free one)' })
      .option('state-dir', { type: 'string', default: DEFAULT_STATE_DIR, describe: 'where capture definitions are kept (and dumps, unless --dump-dir)' })
      .option('dump-dir', { type: 'string', describe: 'where dumps are written, one folder per capture (default STATE-DIR/dumps)' })
      .option('token-file', { type: 'string', describe: 'a file holding the token every request must carry (Authorization: Bearer); or set NETCAP_TOKEN' })
      .option('tls-cert', { type: 'string', describe: 'serve HTTPS with this certificate (PEM)' })
      .option('tls-key', { type: 'string', describe: 'the private key of --tls-cert (PEM)' })
      .option('restore', { type: 'boolean', default: true, describe: 'bring back the captures of the state directory (--no-restore: start with none, keep the files)' })
      .option('max-captures', { type: 'number', describe: 'captures at once (default 64)' })
      .option('max-ring-bytes', { type: 'number', describe: 'the largest ring a capture may ask for (default 256 MiB)' })
      .option('client-queue-bytes', { type: 'number', describe: "each stream client's queue; a client that falls this far behind misses packets and is told (default 4 MiB)" })
      .option('max-clients', { type: 'number', describe: 'stream clients per capture (default 16)' })
      .option('max-body-bytes', { type: 'number', describe: 'the largest request body (default 64 KiB)' }),
  examples: [
    { command: 'netcap serve', describe: 'on 127.0.0.1:9000, state and dumps under /var/lib/netcap; the page at http://127.0.0.1:9000/' },
    { command: 'netcap serve --listen 127.0.0.1:9100 --state-dir netcap-state', describe: 'another port, its state and dumps in ./netcap-state' },
  ],
  // Loaded on use: Fastify and the service are not loaded by the other commands.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  run: (args) => (require('./serve-run') as typeof import('./serve-run')).runServe(args),
};
