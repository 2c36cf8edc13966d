// The capture service without its HTTP face: the set of captures by name,
// the limits, the dump directory and the state directory. server.ts puts
// the REST API in front of it; tests and other programs can drive it
// directly.
import * as os from 'node:os';
import { DumpDirectory } from './dump-dir';
import { definitionFrom, type CaptureChange, type CaptureDefinition } from './definition';
import { Problem } from './problem';
import { ServiceCapture, type CaptureEnvironment, type CaptureView } from './service-capture';
import { StateStore } from './state-store';
import { NETCAP_VERSION } from './version';

export interface ServiceLimits {
  /** Captures at once. */
  maxCaptures: number;
  /** The largest ring a capture may ask for (ringBytes). */
  maxRingBytes: number;
  /** Each stream client's queue, in bytes. */
  clientQueueBytes: number;
  /** Stream clients per capture. */
  maxClientsPerCapture: number;
  /** Request bodies, in bytes. */
  bodyBytes: number;
}

export const DEFAULT_LIMITS: ServiceLimits = {
  maxCaptures: 64,
  maxRingBytes: 256 << 20,
  clientQueueBytes: 4 << 20,
  maxClientsPerCapture: 16,
  bodyBytes: 64 << 10,
};

export interface ServiceOptions {
  stateDir: string;
  /** Default: <stateDir>/dumps. */
  dumpDir?: string;
  limits?: Partial<ServiceLimits>;
}

export class CaptureService {
  readonly limits: ServiceLimits;
  readonly dumps: DumpDirectory;
  readonly host = os.hostname();
  private readonly store: StateStore;
  private readonly captures = new Map<string, ServiceCapture>();
  /** Names being created: a second create of the same name is refused at once. */
  private readonly creating = new Set<string>();
  private readonly env: CaptureEnvironment;
  private closing = false;

  constructor(readonly options: ServiceOptions) {
    this.limits = { ...DEFAULT_LIMITS, ...options.limits };
    this.store = new StateStore(options.stateDir);
    this.dumps = new DumpDirectory(options.dumpDir ?? `${options.stateDir}/dumps`);
    this.env = {
      dumps: this.dumps,
      queueBytes: this.limits.clientQueueBytes,
      sectionComment: (def) => `netcap ${NETCAP_VERSION} serve on ${this.host}: capture ${def.name} (${def.kind}${def.filter ? `, filter "${def.filter}"` : ''})`,
      changed: (c) => {
        if (this.captures.get(c.name) === c) this.save(c);
      },
    };
  }

  get stateDir(): string {
    return this.options.stateDir;
  }

  /** Brings back the saved captures; returns what to tell the operator (files that could not be read, captures that could not run). */
  async restore(): Promise<string[]> {
    const { saved, warnings } = this.store.load();
    for (const s of saved) {
      let def: CaptureDefinition;
      try {
        def = definitionFrom({ ...s.definition });
      } catch (e) {
        warnings.push(`capture ${s.definition.name}: ${(e as Error).message}; not restored`);
        continue;
      }
      const c = await ServiceCapture.restore(def, s.desired, s.createdAtMs, this.env);
      this.captures.set(def.name, c);
      if (c.status === 'failed') warnings.push(`capture ${def.name}: ${c.message}`);
    }
    return warnings;
  }

  private save(c: ServiceCapture): void {
    this.store.save({ definition: c.definition, desired: c.desired, createdAtMs: c.createdAtMs });
  }

  list(): ServiceCapture[] {
    return [...this.captures.values()];
  }

  get(name: string): ServiceCapture {
    const c = this.captures.get(name);
    if (!c) throw new Problem(404, `no capture named '${name}'`, this.captures.size ? `the captures are ${[...this.captures.keys()].join(', ')}` : 'POST /captures creates one');
    return c;
  }

  /** Creates and starts a capture from a (schema-valid) request body. */
  async create(body: Record<string, unknown>): Promise<CaptureView> {
    if (this.closing) throw new Problem(503, 'the service is stopping', 'try again once it has restarted');
    const def = definitionFrom(body);
    if (this.captures.has(def.name) || this.creating.has(def.name)) throw new Problem(409, `a capture named '${def.name}' exists`, `choose another name, or DELETE /captures/${def.name} first`, 'name');
    if (this.captures.size + this.creating.size >= this.limits.maxCaptures) {
      throw new Problem(429, `the service runs ${this.limits.maxCaptures} captures, its limit`, 'delete one first, or start the service with a higher --max-captures');
    }
    if (def.ringBytes !== undefined && def.ringBytes > this.limits.maxRingBytes) {
      throw new Problem(400, `ringBytes ${def.ringBytes} is above the service's limit of ${this.limits.maxRingBytes}`, 'ask for a smaller ring, or start the service with a higher --max-ring-bytes', 'ringBytes');
    }
    this.creating.add(def.name);
    try {
      const c = await ServiceCapture.create(def, this.env);
      this.captures.set(def.name, c);
      this.save(c);
      return c.view();
    } finally {
      this.creating.delete(def.name);
    }
  }

  async change(name: string, change: CaptureChange): Promise<CaptureView> {
    const c = this.get(name);
    await c.change(change);
    return c.view();
  }

  async stop(name: string): Promise<CaptureView> {
    const c = this.get(name);
    await c.stop();
    return c.view();
  }

  /** Deletes a capture: its programs are closed, its streams end; its dump files stay unless `removeDump`. */
  async delete(name: string, removeDump: boolean): Promise<void> {
    const c = this.get(name);
    this.captures.delete(name);
    this.store.remove(name);
    await c.delete();
    if (removeDump) this.dumps.remove(name);
  }

  /** Stops every capture (their definitions stay in the state directory, to come back at the next start). */
  async close(): Promise<void> {
    this.closing = true;
    await Promise.all(this.list().map((c) => c.delete().catch(() => undefined)));
  }
}
