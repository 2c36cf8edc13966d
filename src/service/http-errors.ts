// Every error a request can meet, as the problem the API answers with: a
// schema violation (Fastify's Ajv errors) named by field with the field's
// own description, a body Fastify's parser refused (not JSON, too large,
// not JSON at all), a Problem from the service, a UserError of the
// library. Anything else is a 500 whose detail is the message only.
import { UserError } from '../errors';
import { DEFINITION_SCHEMA, unknownField, CHANGE_SCHEMA, CHANGEABLE } from './definition';
import { Problem } from './problem';

interface SchemaError {
  instancePath: string;
  keyword: string;
  params: Record<string, unknown>;
  message?: string;
}

interface FastifyLikeError {
  statusCode?: number;
  code?: string;
  message: string;
  validation?: SchemaError[];
  validationContext?: string;
}

interface FieldSchema {
  description?: string;
  properties?: Record<string, FieldSchema>;
}

/** The field schema at a dotted path of a body schema. */
function fieldSchema(schema: FieldSchema, dotted: string): FieldSchema | undefined {
  let s: FieldSchema | undefined = schema;
  for (const part of dotted.split('.').filter(Boolean)) s = s?.properties?.[part];
  return s;
}

/** The problem a request gets for `e`. */
export function problemFor(e: unknown, route: { method: string; url: string }): Problem {
  if (e instanceof Problem) return e;
  if (e instanceof UserError) return new Problem(400, e.message, e.hint);
  const err = e as FastifyLikeError;
  if (err?.validation?.length) return schemaProblem(err.validation[0], err.validationContext ?? 'body', route);
  switch (err?.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new Problem(413, 'the request body is too large', 'a capture definition is a few hundred bytes; the service takes at most --max-body-bytes');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new Problem(415, 'the request body is not JSON', 'send Content-Type: application/json and a JSON object');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new Problem(400, 'the request body is empty', 'send a JSON object, e.g. {"filter": "tcp port 80"}');
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new Problem(400, 'the request body is not valid JSON', 'send one JSON object, e.g. {"filter": "tcp port 80"}');
  }
  if (err?.statusCode === 400 && err instanceof SyntaxError) return new Problem(400, 'the request body is not valid JSON', 'send one JSON object, e.g. {"filter": "tcp port 80"}');
  if (err?.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500) return new Problem(err.statusCode, err.message);
  return new Problem(500, `internal error: ${err?.message ?? String(e)}`, 'the service goes on; the capture concerned may have failed (GET /captures shows it)');
}

function schemaProblem(v: SchemaError, context: string, route: { method: string; url: string }): Problem {
  const change = route.method === 'PATCH';
  const schema: FieldSchema = change ? CHANGE_SCHEMA : DEFINITION_SCHEMA;
  const at = v.instancePath.replace(/^\//, '').replace(/\//g, '.');
  if (context !== 'body') {
    return new Problem(400, `${context}${at ? ` ${at}` : ''}: ${v.message ?? 'is not valid'}`, `see GET /openapi.json for ${route.method} ${route.url}`, at || undefined);
  }
  switch (v.keyword) {
    case 'additionalProperties': {
      const field = [at, v.params.additionalProperty as string].filter(Boolean).join('.');
      const known = Object.keys(fieldSchema(schema, at)?.properties ?? {});
      const p = unknownField(field, known, change && !at);
      return p;
    }
    case 'required':
      return new Problem(400, `${[at, v.params.missingProperty as string].filter(Boolean).join('.')} is missing`, describe(fieldSchema(schema, [at, v.params.missingProperty as string].filter(Boolean).join('.'))), v.params.missingProperty as string);
    case 'minProperties':
      return new Problem(400, 'nothing to change', `give at least one of ${CHANGEABLE.join(', ')}`);
    case 'type':
      if (!at) return new Problem(400, 'the request body is not a JSON object', 'send one JSON object, e.g. {"name": "web", "kind": "skb", ...}');
      return new Problem(400, `${at} must be ${v.params.type === 'integer' ? 'a whole number' : `a ${v.params.type}`}`, describe(fieldSchema(schema, at)), at);
    case 'enum':
      return new Problem(400, `${at} must be one of ${(v.params.allowedValues as unknown[]).join(', ')}`, describe(fieldSchema(schema, at)), at);
    default:
      return new Problem(400, `${at || 'the body'} ${v.message ?? 'is not valid'}`, describe(fieldSchema(schema, at)), at || undefined);
  }
}

function describe(s: FieldSchema | undefined): string {
  return s?.description ? `it is ${s.description}` : 'see GET /openapi.json';
}
