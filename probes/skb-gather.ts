// Gather mode's report (-G, as in the original netcap): records of one
// packet, matched in the kernel by skb address, grouped in arrival order;
// for each packet, when it was seen at each point, the latency from the
// first point, and the points it never reached.
import type { PacketRecord } from '../src/capture/record';

interface Sighting {
  point: number;
  tsNs: bigint;
}

interface Group {
  id: number;
  addr: bigint;
  sightings: Sighting[];
}

function micros(ns: bigint): string {
  return `${(Number(ns) / 1000).toFixed(1)}us`;
}

export class GatherReport {
  private readonly open = new Map<bigint, Group>();
  private readonly done: Group[] = [];
  private next = 1;

  constructor(private readonly pointNames: string[]) {}

  /** Adds a record; returns the annotation for its packet line ("gather #3 +12.4us after <first point>"). */
  observe(rec: PacketRecord): string {
    let group = this.open.get(rec.addr);
    // The first point starts a packet; so does an address seen again at a
    // point it already passed (the skb was freed and its memory reused).
    if (!group || rec.point === 0 || group.sightings.some((s) => s.point === rec.point)) {
      if (group) this.done.push(group);
      group = { id: this.next++, addr: rec.addr, sightings: [] };
      this.open.set(rec.addr, group);
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
      return `#${g.id} skb 0x${g.addr.toString(16)}: ${seen.join(' -> ')}${missing.length ? `; not seen at ${missing.join(', ')}` : ''}`;
    });
  }
}
