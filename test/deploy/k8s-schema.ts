// Kubernetes objects checked offline against the API's own schemas, as
// kubernetes-models publishes them (generated from the Kubernetes OpenAPI
// document):
//   - its validators (compiled JSON schemas): types, enums, required fields;
//   - its typings, read with the TypeScript compiler: every field of the
//     object must be a property of its type there, so a misspelt field
//     (hostNetwrok) fails, which the validators let through (the API's
//     schemas do not forbid additional properties; the API server's
//     strict field validation does).
// YAML is read as Kubernetes reads it: YAML 1.1 (0400 is octal).
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as ts from 'typescript';
import { parseAllDocuments } from 'yaml';
import { closeNames } from '../../src/errors';

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata?: { name?: string; namespace?: string; labels?: Record<string, string> };
  [field: string]: unknown;
}

export interface ManifestObject {
  file: string;
  object: K8sObject;
}

/** Every object of the YAML files in `dir` (YAML 1.1, as Kubernetes reads it); a YAML error throws naming the file. */
export function readManifests(dir: string): ManifestObject[] {
  const out: ManifestObject[] = [];
  for (const name of fs.readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).sort()) out.push(...parseManifest(path.join(dir, name), fs.readFileSync(path.join(dir, name), 'utf8')));
  return out;
}

export function parseManifest(file: string, text: string): ManifestObject[] {
  const out: ManifestObject[] = [];
  for (const doc of parseAllDocuments(text, { version: '1.1' })) {
    if (doc.errors.length) throw new Error(`${file}: ${doc.errors[0].message}`);
    const object = doc.toJS() as K8sObject | null;
    if (object !== null) out.push({ file: path.basename(file), object });
  }
  return out;
}

/** "apps/v1" + "DaemonSet" -> kubernetes-models/apps/v1/DaemonSet ("v1" is the core group). */
function modelModule(apiVersion: string, kind: string): string {
  return `kubernetes-models/${apiVersion}/${kind}`;
}

/** The problems of each object, one line each ("20-daemonset.yaml DaemonSet netcap: spec.template.spec.hostNetwrok: unknown field"); none when valid. */
export function checkObjects(objects: readonly ManifestObject[]): string[] {
  const problems: string[] = [];
  const typed = new TypeWalker(objects.map((o) => o.object));
  for (const { file, object } of objects) {
    const where = `${file} ${object.kind ?? '?'} ${object.metadata?.name ?? '?'}`;
    if (typeof object.apiVersion !== 'string' || typeof object.kind !== 'string') {
      problems.push(`${where}: apiVersion and kind are required`);
      continue;
    }
    let model: new (data: unknown) => { validate(): void };
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      model = (require(modelModule(object.apiVersion, object.kind)) as Record<string, new (data: unknown) => { validate(): void }>)[object.kind];
    } catch {
      problems.push(`${where}: no kind ${object.kind} in ${object.apiVersion}`);
      continue;
    }
    try {
      new model(object).validate();
    } catch (e) {
      problems.push(`${where}: ${(e as Error).message.split('\n').join('; ')}`);
    }
    for (const p of typed.unknownFields(object)) problems.push(`${where}: ${p}`);
  }
  return problems;
}

/** The kubernetes-models typings of the kinds used, for the unknown-field walk. */
class TypeWalker {
  private readonly checker: ts.TypeChecker;
  private readonly program: ts.Program;

  constructor(objects: readonly K8sObject[]) {
    const files = [...new Set(objects.filter((o) => typeof o.apiVersion === 'string' && typeof o.kind === 'string').map((o) => typingsOf(o)).filter((f): f is string => f !== undefined))];
    this.program = ts.createProgram(files, { strict: true, noEmit: true, skipLibCheck: true, types: [] });
    this.checker = this.program.getTypeChecker();
  }

  /** Fields of `object` that its kind's type does not have, at any depth. */
  unknownFields(object: K8sObject): string[] {
    const file = typingsOf(object);
    const source = file && this.program.getSourceFile(file);
    const module = source && this.checker.getSymbolAtLocation(source);
    const symbol = module && this.checker.getExportsOfModule(module).find((s) => s.name === `I${object.kind}`);
    if (!symbol) return [];
    const out: string[] = [];
    this.walk(this.checker.getDeclaredTypeOfSymbol(symbol), object, '', out);
    return out;
  }

  private walk(type: ts.Type, value: unknown, at: string, out: string[]): void {
    if (value === null || typeof value !== 'object') return;
    const t = this.objectPart(type);
    if (!t) return;
    if (Array.isArray(value)) {
      const element = this.checker.isArrayType(t) ? this.checker.getTypeArguments(t as ts.TypeReference)[0] : undefined;
      if (element) value.forEach((v, i) => this.walk(element, v, `${at}[${i}]`, out));
      return;
    }
    const index = this.checker.getIndexInfosOfType(t)[0];
    for (const [key, v] of Object.entries(value as Record<string, unknown>)) {
      const prop = t.getProperty(key);
      const field = at ? `${at}.${key}` : key;
      if (prop) this.walk(this.checker.getTypeOfSymbol(prop), v, field, out);
      else if (index) this.walk(index.type, v, field, out);
      else {
        const near = closeNames(key, t.getProperties().map((p) => p.name), 1);
        out.push(`${field}: unknown field${near.length ? ` (did you mean ${near[0]}?)` : ''}`);
      }
    }
  }

  /** The object type in a union (undefined | T, string | number | T). */
  private objectPart(type: ts.Type): ts.Type | undefined {
    const t = this.checker.getNonNullableType(type);
    const parts = t.isUnion() ? t.types : [t];
    return parts.find((p) => (p.flags & ts.TypeFlags.Object) !== 0);
  }
}

function typingsOf(o: K8sObject): string | undefined {
  try {
    return require.resolve(modelModule(o.apiVersion, o.kind)).replace(/\.js$/, '.d.ts');
  } catch {
    return undefined;
  }
}
