// The last packets of a capture, for the web page's live view: only the
// last few of each batch are kept (copied, so no batch buffer is held),
// and they are decoded by the built-in decoder only when someone asks.
import type { CaptureInterface, CapturedPacket } from '../index';
import { formatPacket } from '../output/text-decoder';

export interface DecodedPacket {
  /** Numbered from 1 in the capture's life: a page asks for those after the last it has. */
  seq: number;
  /** The capture point (pcapng interface name). */
  point: string;
  /** One line as tcpdump -nn would print it. */
  text: string;
  length: number;
}

interface Kept {
  seq: number;
  pkt: CapturedPacket;
  iface: CaptureInterface;
}

export class RecentPackets {
  private readonly kept: Kept[] = [];
  private seq = 0;

  constructor(private readonly size: number) {}

  /** Remembers the end of a batch; `interfaces` are the capture's (by the packets' ifIndex). */
  add(batch: readonly CapturedPacket[], interfaces: readonly CaptureInterface[]): void {
    const skipped = Math.max(0, batch.length - this.size);
    this.seq += skipped;
    for (let i = skipped; i < batch.length; i++) {
      const p = batch[i];
      this.kept.push({ seq: ++this.seq, pkt: { ...p, data: Buffer.from(p.data) }, iface: interfaces[p.ifIndex] ?? { linktype: 1, snaplen: 0 } });
    }
    if (this.kept.length > this.size) this.kept.splice(0, this.kept.length - this.size);
  }

  /** The kept packets numbered above `after`, decoded. */
  since(after = 0): DecodedPacket[] {
    return this.kept
      .filter((k) => k.seq > after)
      .map((k) => ({ seq: k.seq, point: k.iface.name ?? String(k.pkt.ifIndex), text: safeDecode(k), length: k.pkt.wirelen }));
  }
}

function safeDecode(k: Kept): string {
  try {
    return formatPacket(k.pkt, k.iface.linktype);
  } catch {
    return `${k.pkt.data.length} bytes (not decoded)`;
  }
}
