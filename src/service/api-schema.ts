// The JSON schemas of what the API answers (the request bodies' are in
// definition.ts): they document the API in /openapi.json, and Fastify
// serialises each answer by them.
import { DEFINITION_SCHEMA } from './definition';

export const PROBLEM_SCHEMA = {
  type: 'object',
  description: 'an error (RFC 9457 problem details), sent as application/problem+json',
  properties: {
    type: { type: 'string' },
    title: { type: 'string' },
    status: { type: 'integer' },
    detail: { type: 'string', description: 'what was wrong' },
    hint: { type: 'string', description: 'what to do about it' },
    field: { type: 'string', description: 'the request field to blame' },
  },
} as const;

const POINT_COUNTERS = {
  type: 'object',
  properties: {
    name: { type: 'string' },
    seen: { type: 'integer', description: 'packets the point looked at' },
    matched: { type: 'integer', description: 'packets the filter accepted' },
    lost: { type: 'integer', description: 'matched packets lost because the ring was full' },
    readErrors: { type: 'integer' },
    captured: { type: 'integer', description: 'packets written to the outputs' },
    bytes: { type: 'integer', description: 'bytes captured (after the snap length)' },
  },
} as const;

const STREAM_CLIENT = {
  type: 'object',
  properties: {
    id: { type: 'integer' },
    remote: { type: 'string' },
    connectedAtMs: { type: 'integer' },
    packets: { type: 'integer', description: 'packets queued for the client' },
    missed: { type: 'integer', description: 'packets it missed because its queue was full (also told in the stream: pcapng statistics blocks)' },
    queuedBytes: { type: 'integer' },
    queueLimit: { type: 'integer' },
  },
} as const;

export const CAPTURE_VIEW_SCHEMA = {
  type: 'object',
  properties: {
    name: { type: 'string' },
    definition: { type: 'object', additionalProperties: true, description: 'the definition as the service keeps it (defaults filled in, Polycube names turned into netcap\'s)', properties: DEFINITION_SCHEMA.properties },
    status: { type: 'string', enum: ['starting', 'running', 'paused', 'stopped', 'failed'] },
    restored: { type: 'boolean', description: 'brought back from the state directory when the service started' },
    message: { type: 'string', description: 'why it stopped or failed' },
    createdAt: { type: 'string', format: 'date-time' },
    startedAt: { type: 'string', format: 'date-time' },
    counters: { type: 'object', properties: { points: { type: 'array', items: POINT_COUNTERS }, captured: { type: 'integer' }, bytes: { type: 'integer' } } },
    dump: {
      type: 'object',
      properties: {
        file: { type: 'string' },
        files: { type: 'array', items: { type: 'object', properties: { name: { type: 'string' }, bytes: { type: 'integer' }, modifiedMs: { type: 'integer' } } } },
        written: { type: 'integer', description: 'packets handed to the dump' },
        flushed: { type: 'integer', description: 'packets the last flush covered: in the file for tcpdump, kept across a SIGKILL of the service' },
        flushedAtMs: { type: 'integer' },
        syncedAtMs: { type: 'integer', description: 'the last sync to the disk (kept across a power cut)' },
      },
    },
    stream: { type: 'object', properties: { clients: { type: 'array', items: STREAM_CLIENT }, clientsGone: { type: 'integer' }, missedByGone: { type: 'integer' } } },
  },
} as const;

export const CAPTURE_LIST_SCHEMA = { type: 'object', properties: { captures: { type: 'array', items: CAPTURE_VIEW_SCHEMA } } } as const;

export const INFO_SCHEMA = {
  type: 'object',
  properties: {
    netcap: { type: 'string', description: "netcap's version" },
    api: { type: 'integer', description: "the API's version" },
    host: { type: 'string' },
    kinds: { type: 'array', items: { type: 'object', properties: { name: { type: 'string' }, summary: { type: 'string' }, fields: { type: 'array', items: { type: 'string' } } } } },
    limits: { type: 'object', additionalProperties: { type: 'integer' } },
    memory: { type: 'object', description: "the service process's memory (Node's process.memoryUsage(), in bytes)", additionalProperties: { type: 'integer' } },
    clock: {
      type: 'object',
      description: 'the clocks when the answer was made, for a client estimating its offset from round trips (packet times are realtime)',
      properties: {
        realtimeNs: { type: 'string', description: 'CLOCK_REALTIME, ns since the epoch (a decimal string: it needs 64 bits)' },
        monotonicNs: { type: 'string', description: 'CLOCK_MONOTONIC, ns (what the probes stamp packets with before the realtime offset is added)' },
      },
    },
  },
} as const;

export const DECODED_PACKETS_SCHEMA = {
  type: 'object',
  properties: {
    packets: { type: 'array', items: { type: 'object', properties: { seq: { type: 'integer' }, point: { type: 'string' }, text: { type: 'string' }, length: { type: 'integer' } } } },
  },
} as const;

export const NAME_PARAMS = { type: 'object', required: ['name'], properties: { name: { type: 'string', description: 'the capture name' } } } as const;
