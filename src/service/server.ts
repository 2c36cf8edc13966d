// netcap serve's HTTP face: a Fastify application whose routes carry their
// JSON schemas (every request is validated against them; @fastify/swagger
// makes the OpenAPI 3 document at /openapi.json from the same schemas),
// errors as application/problem+json (http-errors.ts), the token check
// (auth.ts), the live streams, the dump downloads, server-sent events for
// the web page, and the page itself (web/).
import * as fs from 'node:fs';
import * as path from 'node:path';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import swagger from '@fastify/swagger';
import { CaptureService } from './service';
import { CHANGE_SCHEMA, DEFINITION_SCHEMA, changeFrom } from './definition';
import { CAPTURE_LIST_SCHEMA, CAPTURE_VIEW_SCHEMA, DECODED_PACKETS_SCHEMA, INFO_SCHEMA, NAME_PARAMS, PROBLEM_SCHEMA } from './api-schema';
import { KIND_NAMES, KINDS } from './kinds';
import { problemFor } from './http-errors';
import { Problem } from './problem';
import { TokenCheck, isPublic } from './auth';
import { API_VERSION, NETCAP_VERSION } from './version';
import { PACKAGE_ROOT } from './package-root';
import { EventStreams } from './events';

export interface ServerOptions {
  service: CaptureService;
  /** Required on every API request when given. */
  token?: string;
  tls?: { cert: Buffer; key: Buffer };
}

/** The page's files, from the source tree (src/service/web). */
const WEB_DIR = path.join(PACKAGE_ROOT, 'src', 'service', 'web');
const WEB_FILES: Record<string, string> = { 'index.html': 'text/html; charset=utf-8', 'app.js': 'text/javascript; charset=utf-8', 'style.css': 'text/css; charset=utf-8' };
const PCAPNG_TYPE = 'application/x-pcapng';

type Named = FastifyRequest<{ Params: { name: string } }>;

const problemResponses = { 400: PROBLEM_SCHEMA, 401: PROBLEM_SCHEMA, 404: PROBLEM_SCHEMA, 409: PROBLEM_SCHEMA };

export async function buildServer(opts: ServerOptions): Promise<FastifyInstance> {
  const { service } = opts;
  const app = Fastify({
    logger: false,
    bodyLimit: service.limits.bodyBytes,
    // Unknown fields are refused, not dropped; types are not coerced.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, useDefaults: false, allErrors: false } },
    // Closing the service ends the streams and event sources too.
    forceCloseConnections: true,
    ...(opts.tls ? { https: { cert: opts.tls.cert, key: opts.tls.key } } : {}),
  }) as unknown as FastifyInstance;
  // JSON only: Fastify would take text/plain bodies as strings.
  app.removeContentTypeParser('text/plain');
  const web = loadWebFiles();
  const events = new EventStreams(service);

  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'netcap serve',
        version: NETCAP_VERSION,
        description: `The packet capture service of netcap (API version ${API_VERSION}). Captures are resources: create, show, change their filter, snap length, direction and mode while they run, stop, delete; read their live pcapng stream or download their dump. Errors are application/problem+json.`,
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: opts.token ? [{ bearer: [] }] : [],
    },
  });

  const check = opts.token ? new TokenCheck(opts.token) : undefined;
  app.addHook('onRequest', async (req, reply) => {
    if (!check || isPublic(req.method, req.url) || check.accepts(req.headers.authorization)) return;
    reply.header('www-authenticate', 'Bearer realm="netcap"');
    throw new Problem(401, req.headers.authorization ? 'the token is wrong' : 'this service needs a token', 'send Authorization: Bearer TOKEN (netcap remote reads it from --token-file or NETCAP_TOKEN)');
  });
  app.setErrorHandler((e, req, reply) => sendProblem(reply, problemFor(e, { method: req.method, url: req.routeOptions.url ?? req.url })));
  app.setNotFoundHandler((req, reply) => sendProblem(reply, new Problem(404, `no such resource: ${req.method} ${req.url.split('?')[0]}`, 'GET /openapi.json describes the API')));

  app.get('/openapi.json', { schema: { hide: true } }, () => app.swagger());
  app.get('/', { schema: { hide: true } }, (_req, reply) => reply.type(WEB_FILES['index.html']).send(web['index.html']));
  app.get<{ Params: { file: string } }>('/web/:file', { schema: { hide: true } }, (req, reply) => {
    const body = web[req.params.file];
    if (body === undefined) throw new Problem(404, `no page file ${req.params.file}`);
    return reply.type(WEB_FILES[req.params.file]).send(body);
  });

  app.get('/info', { schema: { summary: 'the service: netcap and API versions, host, capture kinds, limits, clocks', response: { 200: INFO_SCHEMA } } }, () => ({
    netcap: NETCAP_VERSION,
    api: API_VERSION,
    host: service.host,
    kinds: KIND_NAMES.map((name) => ({ name, summary: KINDS[name].summary, fields: [...KINDS[name].fields] })),
    limits: { ...service.limits },
    clock: clocks(),
    memory: memory(),
  }));

  app.get('/captures', { schema: { summary: 'every capture', response: { 200: CAPTURE_LIST_SCHEMA } } }, () => ({ captures: service.list().map((c) => c.view()) }));

  app.post<{ Body: Record<string, unknown> }>(
    '/captures',
    { schema: { summary: 'create a capture (it starts at once)', body: DEFINITION_SCHEMA, response: { 201: CAPTURE_VIEW_SCHEMA, ...problemResponses, 429: PROBLEM_SCHEMA } } },
    async (req, reply) => {
      const view = await service.create(req.body);
      return reply.code(201).header('location', `/captures/${encodeURIComponent(view.name)}`).send(view);
    },
  );

  app.get('/captures/:name', { schema: { summary: 'one capture: definition, state, counters per point, dump files, stream clients', params: NAME_PARAMS, response: { 200: CAPTURE_VIEW_SCHEMA, 404: PROBLEM_SCHEMA } } }, (req: Named) =>
    service.get(req.params.name).view(),
  );

  app.patch<{ Params: { name: string }; Body: Record<string, unknown> }>(
    '/captures/:name',
    {
      schema: {
        summary: 'change filter, snap length, direction or mode while it runs (filter and snap length switch atomically: every packet is judged by the old settings or the new)',
        params: NAME_PARAMS,
        body: CHANGE_SCHEMA,
        response: { 200: CAPTURE_VIEW_SCHEMA, ...problemResponses },
      },
    },
    (req) => service.change(req.params.name, changeFrom(req.body, service.get(req.params.name).definition)),
  );

  app.delete<{ Params: { name: string }; Querystring: { removeDump?: string } }>(
    '/captures/:name',
    {
      schema: {
        summary: "delete a capture: its programs are removed, its streams end; its dump files stay unless removeDump=true",
        params: NAME_PARAMS,
        querystring: { type: 'object', additionalProperties: false, properties: { removeDump: { type: 'string', enum: ['true', 'false'] } } },
        response: { 204: { type: 'null' }, 404: PROBLEM_SCHEMA },
      },
    },
    async (req, reply) => {
      await service.delete(req.params.name, req.query.removeDump === 'true');
      return reply.code(204).send();
    },
  );

  app.post('/captures/:name/stop', { schema: { summary: 'stop a capture: the dump is closed with the statistics, the streams end; it stays to be shown and downloaded', params: NAME_PARAMS, response: { 200: CAPTURE_VIEW_SCHEMA, ...problemResponses } } }, (req: Named) =>
    service.stop(req.params.name),
  );

  app.get(
    '/captures/:name/stream',
    {
      schema: {
        summary: 'the live pcapng stream (tcpdump -r -, tshark -r -): the interfaces known so far, then the packets from now on; statistics blocks tell what this client missed',
        params: NAME_PARAMS,
        response: { 200: { description: 'a pcapng stream', content: { [PCAPNG_TYPE]: { schema: { type: 'string', format: 'binary' } } } }, 404: PROBLEM_SCHEMA, 409: PROBLEM_SCHEMA, 429: PROBLEM_SCHEMA },
      },
    },
    (req: Named, reply) => {
      const c = service.get(req.params.name);
      if (c.status === 'stopped' || c.status === 'failed') throw new Problem(409, `capture '${c.name}' has ${c.status}: there is nothing to stream`, `download its dump: GET /captures/${c.name}/dump`);
      if (c.streamClients >= service.limits.maxClientsPerCapture) throw new Problem(429, `capture '${c.name}' has ${c.streamClients} stream clients, the service's limit`, 'close one, or start the service with a higher --max-clients');
      reply.hijack();
      const res = reply.raw;
      // One stream per connection: it is closed when the stream ends.
      res.writeHead(200, { 'content-type': PCAPNG_TYPE, 'cache-control': 'no-store', 'x-content-type-options': 'nosniff', connection: 'close' });
      res.flushHeaders();
      c.addStreamClient(res, `${req.ip}:${req.socket.remotePort ?? 0}`);
    },
  );

  app.get<{ Params: { name: string }; Querystring: { file?: string } }>(
    '/captures/:name/dump',
    {
      schema: {
        summary: 'download a dump file (the newest unless file names one of those GET /captures/{name} lists); it holds every packet up to the moment of the request',
        params: NAME_PARAMS,
        querystring: { type: 'object', additionalProperties: false, properties: { file: { type: 'string', maxLength: 256 } } },
        response: { 200: { description: 'a pcapng file', content: { [PCAPNG_TYPE]: { schema: { type: 'string', format: 'binary' } } } }, 404: PROBLEM_SCHEMA },
      },
    },
    async (req, reply) => sendDump(service, req.params.name, req.query.file, reply),
  );

  app.get<{ Params: { name: string }; Querystring: { after?: string } }>(
    '/captures/:name/packets',
    { schema: { summary: 'the last packets, decoded (those numbered above after)', params: NAME_PARAMS, querystring: { type: 'object', additionalProperties: false, properties: { after: { type: 'string', pattern: '^[0-9]+$' } } }, response: { 200: DECODED_PACKETS_SCHEMA, 404: PROBLEM_SCHEMA } } },
    (req) => ({ packets: service.get(req.params.name).recentPackets(Number(req.query.after ?? 0)) }),
  );

  app.get<{ Querystring: { capture?: string } }>(
    '/events',
    {
      schema: {
        summary: 'server-sent events for the web page: "captures" (every capture, each second) and, for ?capture=NAME, "packets" (its last packets, decoded)',
        querystring: { type: 'object', additionalProperties: false, properties: { capture: { type: 'string' } } },
        response: { 200: { description: 'text/event-stream', content: { 'text/event-stream': { schema: { type: 'string' } } } } },
      },
    },
    (req, reply) => events.serve(req.query.capture, reply),
  );

  await app.ready();
  return app;
}

function sendProblem(reply: FastifyReply, p: Problem): FastifyReply {
  return reply.code(p.status).type('application/problem+json').send(p.body());
}

function loadWebFiles(): Record<string, Buffer> {
  const out: Record<string, Buffer> = {};
  for (const name of Object.keys(WEB_FILES)) out[name] = fs.readFileSync(path.join(WEB_DIR, name));
  return out;
}

function memory(): Record<string, number> {
  const m = process.memoryUsage();
  return { rssBytes: m.rss, heapUsedBytes: m.heapUsed, heapTotalBytes: m.heapTotal, externalBytes: m.external, arrayBuffersBytes: m.arrayBuffers };
}

function clocks(): { realtimeNs: string; monotonicNs: string } {
  const before = process.hrtime.bigint();
  const realtimeNs = BigInt(Math.round((performance.timeOrigin + performance.now()) * 1000)) * 1000n;
  const after = process.hrtime.bigint();
  return { realtimeNs: realtimeNs.toString(), monotonicNs: ((before + after) / 2n).toString() };
}

async function sendDump(service: CaptureService, name: string, file: string | undefined, reply: FastifyReply): Promise<FastifyReply> {
  const c = service.get(name);
  // Flushed first, so the file has every packet written so far; only the
  // bytes there now are sent: they end on a whole block, whatever is written meanwhile.
  await c.flushDump();
  const chosen = file ?? service.dumps.files(name)[0]?.name;
  if (chosen === undefined) throw new Problem(404, `capture '${name}' has no dump file yet`, c.definition.mode === 'network' ? 'it is in network mode: set mode local, or read its stream' : 'wait for its first packets');
  const { fd, size } = service.dumps.openForReading(name, chosen);
  reply.header('content-type', PCAPNG_TYPE).header('content-disposition', `attachment; filename="${name}-${chosen}"`).header('content-length', String(size));
  if (size === 0) {
    fs.closeSync(fd);
    return reply.send(Buffer.alloc(0));
  }
  return reply.send(fs.createReadStream('', { fd, start: 0, end: size - 1, autoClose: true }));
}
