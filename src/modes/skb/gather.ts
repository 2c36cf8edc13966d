// Gather mode's report (-G, as in the original netcap): records of one
// packet, matched in the kernel by skb address, grouped in arrival order;
// for each packet, when it was seen at each point, the latency from the
// first point, and the points it never reached.
import type { PacketRecord } from '../../capture/record';
import { LINKTYPE_ETHERNET } from '../../output/linktypes';
import { CONTENT_KEY } from '../../../probes/skb';

const VLAN_TYPES = new Set([0x8100, 0x88a8]);

/** The key the kernel computed for --gather-by-content (probes/skb.ts emitContentKey), from the captured bytes; undefined when too short. */
export function contentKey(rec: PacketRecord, bytes: number): number | undefined {
  let net = 0;
  if (rec.linktype === LINKTYPE_ETHERNET) {
    net = 14;
    for (let tags = 0; tags < 2 && rec.data.length >= net && VLAN_TYPES.has(rec.data.readUInt16BE(net - 2)); tags++) net += 4;
  }
  const start = net + CONTENT_KEY.skip;
  if (start + bytes > rec.data.length) return undefined;
  let h = CONTENT_KEY.fnvOffset;
  for (let i = 0; i < bytes; i++) h = Math.imul(h ^ rec.data[start + i], CONTENT_KEY.fnvPrime) >>> 0;
  return h;
}

interface Sighting {
  point: number;
  tsNs: bigint;
}

interface Group {
  id: number;
  /** The skb address, the content hash, or undefined (too few bytes for a content key: reported alone). */
  key: bigint | number | undefined;
  addr: bigint;
  sightings: Sighting[];
}

function micros(ns: bigint): string {
  return `${(Number(ns) / 1000).toFixed(1)}us`;
}

export class GatherReport {
  private readonly open = new Map<bigint | number, Group>();
  private readonly done: Group[] = [];
  private next = 1;

  /** `keyOf` says which records are one packet: the skb address by default (the kernel's gather key). */
  constructor(
    private readonly pointNames: string[],
    private readonly keyOf: (rec: PacketRecord) => bigint | number | undefined = (rec) => rec.addr,
  ) {}

  /** Adds a record; returns the annotation for its packet line ("gather #3 +12.4us after <first point>"). */
  observe(rec: PacketRecord): string {
    const key = this.keyOf(rec);
    let group = key === undefined ? undefined : this.open.get(key);
    // The first point starts a packet; so does an address seen again at a
    // point it already passed (the skb was freed and its memory reused).
    if (!group || rec.point === 0 || group.sightings.some((s) => s.point === rec.point)) {
      if (group) this.done.push(group);
      group = { id: this.next++, key, addr: rec.addr, sightings: [] };
      if (key === undefined) this.done.push(group);
      else this.open.set(key, group);
    }
    group.sightings.push({ point: rec.point, tsNs: rec.tsNs });
    const first = group.sightings[0];
    if (group.sightings.length === 1) return `gather #${group.id} first seen`;
    return `gather #${group.id} +${micros(rec.tsNs - first.tsNs)} after ${this.pointNames[first.point] ?? `point ${first.point}`}`;
  }

  /** Every packet, in order: one line each. */
  lines(): string[] {
    const all = [...this.done, ...this.open.values()].sort((a, b) => a.id - b.id);
    return all.map((g) => {
      const t0 = g.sightings[0].tsNs;
      let prev = t0;
      const seen = g.sightings.map((s, i) => {
        const text = `${this.pointNames[s.point] ?? `point ${s.point}`} ${i === 0 ? '+0us' : `+${micros(s.tsNs - t0)} (+${micros(s.tsNs - prev)})`}`;
        prev = s.tsNs;
        return text;
      });
      const missing = this.pointNames.filter((_, p) => !g.sightings.some((s) => s.point === p));
      const what = typeof g.key === 'number' ? `content 0x${g.key.toString(16).padStart(8, '0')}` : `skb 0x${g.addr.toString(16)}`;
      return `#${g.id} ${what}: ${seen.join(' -> ')}${missing.length ? `; not seen at ${missing.join(', ')}` : ''}`;
    });
  }
}
