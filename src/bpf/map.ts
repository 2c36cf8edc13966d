// BPF maps (cilium/ebpf's map.go): create, look up, update, delete and walk
// keys on Buffers, with per-CPU values split per possible CPU and typed
// helpers for the u32/u64 keys and counters the probes use.
import { isNativeError, native } from '../native';
import { UserError } from '../errors';
import { OwnedFd } from './fd';
import { possibleCpus } from './cpus';
import { MapType } from './constants';

/** The map types netcap uses, by name. */
export type MapKind = 'hash' | 'array' | 'percpu_hash' | 'percpu_array' | 'stack_trace' | 'lru_hash' | 'ringbuf' | 'prog_array';

const MAP_TYPE_IDS: Record<MapKind, MapType> = {
  hash: MapType.HASH,
  array: MapType.ARRAY,
  percpu_hash: MapType.PERCPU_HASH,
  percpu_array: MapType.PERCPU_ARRAY,
  stack_trace: MapType.STACK_TRACE,
  lru_hash: MapType.LRU_HASH,
  ringbuf: MapType.RINGBUF,
  /** Programs for bpf_tail_call: u32 index -> program fd (the kernel keeps a reference until the entry or the map goes). */
  prog_array: MapType.PROG_ARRAY,
};

/** The kernel's enum bpf_map_type value of a map kind. */
export function mapTypeId(kind: MapKind): number {
  return MAP_TYPE_IDS[kind];
}

/** BPF_MAP_UPDATE_ELEM flags (BPF_ANY, BPF_NOEXIST, BPF_EXIST). */
export type UpdateMode = 'any' | 'noexist' | 'exist';
const UPDATE_FLAGS: Record<UpdateMode, number> = { any: 0, noexist: 1, exist: 2 };

export interface MapSpec {
  type: MapKind;
  /** At most 15 characters (BPF_OBJ_NAME_LEN - 1); shows in `bpftool map`. */
  name: string;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags?: number;
}

const PAGE_SIZE = 4096;
const OBJ_NAME = /^[A-Za-z0-9_.]{0,15}$/;

/** Per-CPU values are copied out as one slot per possible CPU, each rounded up to 8 bytes (kernel: bpf_percpu_*_copy, round_up(value_size, 8)). */
function perCpuSlot(valueSize: number): number {
  return Math.ceil(valueSize / 8) * 8;
}

function isPerCpu(kind: MapKind): boolean {
  return kind === 'percpu_array' || kind === 'percpu_hash';
}

function checkSpec(spec: MapSpec): void {
  if (!OBJ_NAME.test(spec.name)) throw new Error(`map name "${spec.name}": at most 15 of [A-Za-z0-9_.] (kernel bpf_obj_name_cpy)`);
  if (spec.type === 'ringbuf') {
    // kernel/bpf/ringbuf.c ringbuf_map_alloc: key/value size 0, max_entries a
    // power-of-2 multiple of the page size.
    const n = spec.maxEntries;
    if (n < PAGE_SIZE || (n & (n - 1)) !== 0 || n % PAGE_SIZE !== 0) {
      throw new UserError(
        `ring buffer size ${n} is not a power of 2 multiple of the ${PAGE_SIZE}-byte page size`,
        'choose a size like 262144 (256 KiB) or 4194304 (4 MiB)',
      );
    }
    if (spec.keySize !== 0 || spec.valueSize !== 0) throw new Error('a ring buffer map has keySize 0 and valueSize 0');
  } else if (spec.maxEntries < 1) {
    throw new Error(`map ${spec.name}: maxEntries must be at least 1`);
  }
  if (spec.type === 'prog_array' && (spec.keySize !== 4 || spec.valueSize !== 4)) throw new Error(`map ${spec.name}: program arrays have u32 keys and u32 (fd) values`);
  if ((spec.type === 'array' || spec.type === 'percpu_array') && spec.keySize !== 4) {
    throw new Error(`map ${spec.name}: array keys are 4 bytes (u32)`);
  }
  if (spec.type === 'stack_trace' && (spec.keySize !== 4 || spec.valueSize % 8 !== 0 || spec.valueSize === 0)) {
    throw new Error(`map ${spec.name}: stack trace maps have 4-byte keys and values of 8 bytes per frame`);
  }
}

export class BpfMap {
  readonly #fd: OwnedFd;
  readonly perCpu: boolean;
  /** Bytes of one CPU's slot in a per-CPU value (valueSize rounded up to 8). */
  readonly slotSize: number;
  readonly cpus: number;

  constructor(
    readonly spec: Readonly<MapSpec>,
    fd: number,
  ) {
    this.#fd = new OwnedFd(fd, `map ${spec.name}`);
    this.perCpu = isPerCpu(spec.type);
    this.cpus = this.perCpu ? possibleCpus() : 1;
    this.slotSize = this.perCpu ? perCpuSlot(spec.valueSize) : spec.valueSize;
  }

  get fd(): number {
    return this.#fd.value;
  }

  get name(): string {
    return this.spec.name;
  }

  get closed(): boolean {
    return this.#fd.closed;
  }

  /** Bytes a lookup writes: the value, or one slot per possible CPU. */
  get valueBufferSize(): number {
    return this.perCpu ? this.slotSize * this.cpus : this.spec.valueSize;
  }

  #checkKey(key: Buffer): void {
    if (key.length !== this.spec.keySize) throw new Error(`map ${this.name}: key is ${key.length} bytes, expected ${this.spec.keySize}`);
  }

  /** The value under `key` (per-CPU maps: every CPU's slot back to back), or undefined. */
  lookupRaw(key: Buffer): Buffer | undefined {
    this.#checkKey(key);
    const value = Buffer.alloc(this.valueBufferSize);
    return native().bpf.mapLookup(this.fd, key, value) ? value : undefined;
  }

  /** The value under `key`, or undefined. Per-CPU maps: use lookupPerCpu. */
  lookup(key: Buffer): Buffer | undefined {
    if (this.perCpu) throw new Error(`map ${this.name} is per-CPU: use lookupPerCpu()`);
    return this.lookupRaw(key);
  }

  /** Each possible CPU's value under `key` (index = CPU number), or undefined. */
  lookupPerCpu(key: Buffer): Buffer[] | undefined {
    if (!this.perCpu) throw new Error(`map ${this.name} is not per-CPU: use lookup()`);
    const raw = this.lookupRaw(key);
    if (!raw) return undefined;
    const out: Buffer[] = [];
    for (let cpu = 0; cpu < this.cpus; cpu++) out.push(raw.subarray(cpu * this.slotSize, cpu * this.slotSize + this.spec.valueSize));
    return out;
  }

  /**
   * Stores `value` under `key`. Per-CPU maps take one value per possible CPU
   * (an array) or one value copied to every CPU.
   */
  update(key: Buffer, value: Buffer | Buffer[], mode: UpdateMode = 'any'): void {
    this.#checkKey(key);
    let raw: Buffer;
    if (this.perCpu) {
      const values = Array.isArray(value) ? value : Array.from({ length: this.cpus }, () => value);
      if (values.length !== this.cpus) throw new Error(`map ${this.name}: ${values.length} per-CPU values for ${this.cpus} possible CPUs`);
      raw = Buffer.alloc(this.valueBufferSize);
      values.forEach((v, cpu) => {
        this.#checkValue(v);
        v.copy(raw, cpu * this.slotSize);
      });
    } else {
      if (Array.isArray(value)) throw new Error(`map ${this.name} is not per-CPU: pass one value`);
      this.#checkValue(value);
      raw = value;
    }
    native().bpf.mapUpdate(this.fd, key, raw, UPDATE_FLAGS[mode]);
  }

  #checkValue(v: Buffer): void {
    if (v.length !== this.spec.valueSize) throw new Error(`map ${this.name}: value is ${v.length} bytes, expected ${this.spec.valueSize}`);
  }

  /** Removes `key`; false when it was absent. Arrays can't delete (EINVAL). */
  delete(key: Buffer): boolean {
    this.#checkKey(key);
    return native().bpf.mapDelete(this.fd, key);
  }

  /**
   * Walks the keys with BPF_MAP_GET_NEXT_KEY. Like the kernel's own walk, a
   * map changing underneath may skip or repeat keys (hash maps restart from
   * the first bucket when the current key was deleted).
   */
  *keys(): Generator<Buffer> {
    if (this.spec.type === 'ringbuf') throw new Error(`map ${this.name} is a ring buffer: read it with RingReader`);
    let key: Buffer | null = null;
    for (;;) {
      const next = Buffer.alloc(this.spec.keySize);
      if (!native().bpf.mapNextKey(this.fd, key, next)) return;
      yield next;
      key = next;
    }
  }

  // Typed helpers for u32 / u64 keys and values (host byte order: BPF
  // programs store them natively).

  lookupU32Key(index: number): Buffer | undefined {
    return this.lookup(u32(index));
  }

  updateU32Key(index: number, value: Buffer | Buffer[], mode: UpdateMode = 'any'): void {
    this.update(u32(index), value, mode);
  }

  lookupU64Key(key: bigint): Buffer | undefined {
    return this.lookup(u64(key));
  }

  /** A per-CPU u64 counter summed over every CPU (0n when absent). */
  sumU64(key: Buffer): bigint {
    if (this.spec.valueSize !== 8) throw new Error(`map ${this.name}: values are ${this.spec.valueSize} bytes, not a u64`);
    const values = this.perCpu ? this.lookupPerCpu(key) : [this.lookup(key)].filter((v): v is Buffer => v !== undefined);
    let sum = 0n;
    for (const v of values ?? []) sum += v.readBigUInt64LE(0);
    return sum;
  }

  /**
   * The instruction pointers of a stack trace map entry (bpf_get_stackid's
   * id), innermost first; trailing zero frames (unused depth) left off.
   */
  stackTrace(id: number): bigint[] | undefined {
    if (this.spec.type !== 'stack_trace') throw new Error(`map ${this.name} is not a stack trace map`);
    const raw = this.lookupRaw(u32(id));
    if (!raw) return undefined;
    const ips: bigint[] = [];
    for (let off = 0; off + 8 <= raw.length; off += 8) {
      const ip = raw.readBigUInt64LE(off);
      if (ip === 0n) break;
      ips.push(ip);
    }
    return ips;
  }

  /** Idempotent. The kernel frees the map when no program uses it any more. */
  close(): void {
    this.#fd.close();
  }
}

/** A 4-byte key or value in host byte order. */
export function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n >>> 0);
  return b;
}

/** An 8-byte key or value in host byte order. */
export function u64(n: bigint | number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(n));
  return b;
}

/** What the kernel says about a map (BPF_OBJ_GET_INFO_BY_FD). */
export interface MapInfo {
  id: number;
  /** enum bpf_map_type */
  type: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags: number;
  name: string;
}

export function mapInfo(fd: number): MapInfo {
  return native().bpf.mapInfo(fd);
}

/** "BPF_MAP_TYPE_PROG_ARRAY" for 3: the kernel's name of a map type, for messages. */
export function mapTypeName(type: number): string {
  const kind = (Object.keys(MAP_TYPE_IDS) as MapKind[]).find((k) => MAP_TYPE_IDS[k] === type);
  return kind ? `BPF_MAP_TYPE_${kind.toUpperCase()}` : `map type ${type}`;
}

/**
 * A BpfMap over an fd of an existing map (opened from a pin, or inherited
 * from a parent process), described by the kernel's own info. Takes
 * ownership of `fd`. Throws for a map type netcap has no name for.
 */
export function adoptMap(fd: number, info: MapInfo = mapInfo(fd)): BpfMap {
  const kind = (Object.keys(MAP_TYPE_IDS) as MapKind[]).find((k) => MAP_TYPE_IDS[k] === info.type);
  if (!kind) throw new Error(`map ${info.name} (id ${info.id}) has ${mapTypeName(info.type)}, which netcap does not handle`);
  return new BpfMap({ type: kind, name: info.name, keySize: info.keySize, valueSize: info.valueSize, maxEntries: info.maxEntries, flags: info.flags }, fd);
}

/** Creates a map; its fd is owned by the returned object. */
export function createMap(spec: MapSpec): BpfMap {
  checkSpec(spec);
  let fd: number;
  try {
    fd = native().bpf.mapCreate(MAP_TYPE_IDS[spec.type], spec.name, spec.keySize, spec.valueSize, spec.maxEntries, spec.flags ?? 0);
  } catch (e) {
    if (isNativeError(e) && (e.code === 'EPERM' || e.code === 'EACCES')) {
      throw new UserError(`creating BPF map ${spec.name} was refused (${e.code})`, 'run netcap as root (it needs CAP_BPF)', e.message);
    }
    if (isNativeError(e) && e.code === 'EINVAL' && spec.type === 'ringbuf') {
      throw new UserError('this kernel has no BPF ring buffer', 'netcap needs Linux 5.8 or newer', e.message);
    }
    throw e;
  }
  return new BpfMap({ ...spec }, fd);
}
