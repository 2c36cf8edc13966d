// A client of netcap serve's API (netcap remote; a fleet of agents): JSON
// requests with the token, problems turned into UserErrors that keep the
// service's message and hint, and the binary routes (stream, dump) as
// readable streams. Node's http/https modules, so a private CA can be given.
import * as http from 'node:http';
import * as https from 'node:https';
import type { Readable } from 'node:stream';
import { UserError } from '../errors';
import type { ProblemBody } from './problem';
import type { CaptureView } from './service-capture';

export interface ClientOptions {
  /** http://127.0.0.1:9000 or https://host:9000 */
  url: string;
  token?: string;
  /** PEM certificates to trust (an agent's own CA). */
  ca?: Buffer;
  /** Per request, in ms (not for streams). */
  timeoutMs?: number;
}

export interface ServiceInfo {
  netcap: string;
  api: number;
  host: string;
  kinds: { name: string; summary: string; fields: string[] }[];
  limits: Record<string, number>;
  clock: { realtimeNs: string; monotonicNs: string };
}

export class ServiceClient {
  private readonly base: URL;

  constructor(private readonly options: ClientOptions) {
    try {
      this.base = new URL(options.url);
    } catch {
      throw new UserError(`--url ${options.url}: not a URL`, 'e.g. --url http://127.0.0.1:9000');
    }
    if (this.base.protocol !== 'http:' && this.base.protocol !== 'https:') throw new UserError(`--url ${options.url}: not http or https`, 'e.g. --url https://node-a:9000');
  }

  /** The service's origin: http://127.0.0.1:9000 */
  get url(): string {
    return this.base.origin;
  }

  info(): Promise<ServiceInfo> {
    return this.json('GET', '/info');
  }

  list(): Promise<CaptureView[]> {
    return this.json<{ captures: CaptureView[] }>('GET', '/captures').then((r) => r.captures);
  }

  get(name: string): Promise<CaptureView> {
    return this.json('GET', `/captures/${encodeURIComponent(name)}`);
  }

  create(definition: Record<string, unknown>): Promise<CaptureView> {
    return this.json('POST', '/captures', definition);
  }

  change(name: string, change: Record<string, unknown>): Promise<CaptureView> {
    return this.json('PATCH', `/captures/${encodeURIComponent(name)}`, change);
  }

  stop(name: string): Promise<CaptureView> {
    return this.json('POST', `/captures/${encodeURIComponent(name)}/stop`);
  }

  async delete(name: string, removeDump = false): Promise<void> {
    await this.json('DELETE', `/captures/${encodeURIComponent(name)}${removeDump ? '?removeDump=true' : ''}`);
  }

  /** The live pcapng stream of a capture. */
  stream(name: string): Promise<Readable> {
    return this.binary(`/captures/${encodeURIComponent(name)}/stream`);
  }

  /** A dump file of a capture (the newest unless `file`). */
  dump(name: string, file?: string): Promise<Readable> {
    return this.binary(`/captures/${encodeURIComponent(name)}/dump${file !== undefined ? `?file=${encodeURIComponent(file)}` : ''}`);
  }

  private async json<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await this.request(method, path, body, this.options.timeoutMs ?? 30_000);
    const text = await readAll(res);
    if ((res.statusCode ?? 0) >= 400) throw problemError(res, text, method, path);
    return (text ? JSON.parse(text) : undefined) as T;
  }

  private async binary(path: string): Promise<Readable> {
    const res = await this.request('GET', path, undefined, undefined);
    if ((res.statusCode ?? 0) >= 400) throw problemError(res, await readAll(res), 'GET', path);
    return res;
  }

  private request(method: string, path: string, body: unknown, timeoutMs: number | undefined): Promise<http.IncomingMessage> {
    const url = new URL(path, this.base);
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const headers: http.OutgoingHttpHeaders = { accept: 'application/json, application/x-pcapng' };
    if (this.options.token) headers.authorization = `Bearer ${this.options.token}`;
    if (payload) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = payload.length;
    }
    const lib = url.protocol === 'https:' ? https : http;
    return new Promise((resolve, reject) => {
      const req = lib.request(url, { method, headers, ...(this.options.ca ? { ca: this.options.ca } : {}) }, resolve);
      if (timeoutMs !== undefined) req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer in ${timeoutMs} ms`)));
      req.on('error', (e: NodeJS.ErrnoException) => reject(connectionError(this.base, e)));
      req.end(payload);
    });
  }
}

function readAll(res: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on('data', (c: Buffer) => chunks.push(c));
    res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    res.on('error', reject);
  });
}

/** The service's problem as a UserError: its detail, its hint, the field. */
function problemError(res: http.IncomingMessage, text: string, method: string, path: string): UserError {
  let p: Partial<ProblemBody> = {};
  try {
    p = JSON.parse(text) as ProblemBody;
  } catch {
    // not a problem document: a proxy's page, say
  }
  const detail = p.detail ?? `${method} ${path}: HTTP ${res.statusCode}`;
  return new UserError(p.field ? `${detail} (field ${p.field})` : detail, p.hint, `HTTP ${res.statusCode} ${method} ${path}`);
}

function connectionError(base: URL, e: NodeJS.ErrnoException): UserError {
  const where = base.origin;
  if (e.code === 'ECONNREFUSED') return new UserError(`no service at ${where}: connection refused`, 'start it with netcap serve, or give --url');
  if (e.code === 'ENOTFOUND' || e.code === 'EAI_AGAIN') return new UserError(`cannot resolve ${base.hostname}`, 'check --url');
  if (/certificate|self.signed|SSL|TLS/i.test(e.message)) return new UserError(`${where}: the TLS certificate is not trusted: ${e.message}`, 'give the CA that signed it with --ca FILE');
  return new UserError(`${where}: ${e.message}`, 'check --url and that the service runs');
}
