// netcap serve's run: options -> the service (src/service) -> listening,
// the readiness line on stderr, and signals. SIGINT, SIGTERM and SIGHUP
// stop every capture (dumps closed with their statistics, streams ended)
// and exit 0; the definitions stay in the state directory. A SIGKILL
// leaves nothing attached either: the library pins nothing, so the kernel
// removes every program and link with the process.
import * as fs from 'node:fs';
import type { ArgumentsCamelCase } from 'yargs';
import { UserError } from '../src/errors';
import { readToken } from '../src/service/auth';
import { CaptureService, type ServiceLimits } from '../src/service/service';
import { buildServer } from '../src/service/server';

const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

export interface ListenAddress {
  host: string;
  port: number;
}

/** "127.0.0.1:9000", "[::1]:9000", "0.0.0.0:9000", or a port alone (loopback). */
export function parseListen(text: string): ListenAddress {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+)):(\d+)$/.exec(text) ?? (/^\d+$/.test(text) ? [text, undefined, '127.0.0.1', text] : null);
  const port = m ? Number(m[3]) : NaN;
  if (!m || !Number.isInteger(port) || port > 65535) throw new UserError(`--listen ${text}: not an address and port`, 'e.g. --listen 127.0.0.1:9000, --listen [::1]:9000 or --listen 0.0.0.0:9000');
  return { host: m[1] ?? m[2]!, port };
}

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

function readFile(file: string, what: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (e) {
    throw new UserError(`cannot read the ${what} ${file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`, `give --${what === 'certificate' ? 'tls-cert' : 'tls-key'} a PEM file`);
  }
}

function limitsOf(args: ArgumentsCamelCase): Partial<ServiceLimits> {
  const limits: Partial<ServiceLimits> = {};
  const take = (option: string, key: keyof ServiceLimits, min: number) => {
    const v = args[option];
    if (v === undefined) return;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min) throw new UserError(`--${option.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} ${String(v)}: not a whole number of at least ${min}`, 'see netcap serve --help');
    limits[key] = v;
  };
  take('maxCaptures', 'maxCaptures', 1);
  take('maxRingBytes', 'maxRingBytes', 4096);
  take('clientQueueBytes', 'clientQueueBytes', 64 * 1024);
  take('maxClients', 'maxClientsPerCapture', 1);
  take('maxBodyBytes', 'bodyBytes', 1024);
  return limits;
}

export async function runServe(args: ArgumentsCamelCase): Promise<number> {
  const listen = parseListen(args.listen as string);
  const token = readToken(args.tokenFile as string | undefined, process.env.NETCAP_TOKEN, 'NETCAP_TOKEN');
  if (!isLoopback(listen.host) && token === undefined) {
    throw new UserError(`listening on ${listen.host} needs a token: anyone who reaches it could capture this machine's packets`, 'give --token-file FILE (or set NETCAP_TOKEN), or listen on loopback');
  }
  if ((args.tlsCert === undefined) !== (args.tlsKey === undefined)) throw new UserError('--tls-cert and --tls-key go together', 'give both, or neither for plain HTTP');
  const tls = args.tlsCert !== undefined ? { cert: readFile(args.tlsCert as string, 'certificate'), key: readFile(args.tlsKey as string, 'key') } : undefined;
  const stateDir = args.stateDir as string;
  let service: CaptureService;
  try {
    service = new CaptureService({ stateDir, dumpDir: args.dumpDir as string | undefined, limits: limitsOf(args) });
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code) throw new UserError(`cannot use the state directory ${stateDir}: ${err.message}`, 'give --state-dir a writable directory');
    throw e;
  }
  const warnings = args.restore === false ? [] : await service.restore();
  for (const w of warnings) process.stderr.write(`netcap: warning: ${w}\n`);
  const app = await buildServer({ service, token, tls }).catch(async (e: unknown) => {
    await service.close();
    throw e;
  });
  let stopping: Promise<void> | undefined;
  const stop = () => (stopping ??= (async () => {
    await service.close();
    await app.close();
  })());
  const onSignal = (sig: NodeJS.Signals) => {
    if (stopping) {
      process.stderr.write(`netcap: ${sig} again: exiting now\n`);
      process.exit(1);
    }
    process.stderr.write(`netcap: ${sig}: stopping the captures\n`);
    void stop();
  };
  for (const sig of SIGNALS) process.on(sig, onSignal);
  try {
    try {
      await app.listen({ host: listen.host, port: listen.port });
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      await stop();
      if (err.code === 'EADDRINUSE') throw new UserError(`cannot listen on ${args.listen as string}: the address is in use`, 'another service listens there: stop it, or choose another --listen');
      if (err.code === 'EADDRNOTAVAIL' || err.code === 'ENOTFOUND') throw new UserError(`cannot listen on ${args.listen as string}: no such address on this machine`, 'give an address of one of its interfaces');
      throw e;
    }
    const address = app.server.address();
    const port = typeof address === 'object' && address ? address.port : listen.port;
    const host = listen.host.includes(':') ? `[${listen.host}]` : listen.host;
    const restored = service.list().filter((c) => c.restored).length;
    process.stderr.write(
      `netcap: listening on ${tls ? 'https' : 'http'}://${host}:${port} (state ${service.stateDir}, dumps ${service.dumps.root}${token ? ', token required' : ''}${restored ? `; ${restored} capture${restored === 1 ? '' : 's'} restored` : ''})\n`,
    );
    await new Promise<void>((resolve) => app.server.once('close', () => resolve()));
    await stopping;
    return 0;
  } finally {
    for (const sig of SIGNALS) process.off(sig, onSignal);
  }
}
