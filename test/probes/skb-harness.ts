// Runs an SkbCapture and collects its decoded records, for the probe tests.
import * as fs from 'node:fs';
import { RingReader } from '../../src/bpf/ringbuf';
import { decodeRecord, type PacketRecord } from '../../src/capture/record';
import { SkbCapture, type SkbCaptureOptions } from '../../probes/skb-capture';
import type { Namespace } from '../../lab/netns';

export class CollectedCapture {
  readonly records: PacketRecord[] = [];
  readonly capture: SkbCapture;
  private readonly reader: RingReader;

  constructor(options: SkbCaptureOptions) {
    this.capture = new SkbCapture(options);
    this.reader = new RingReader(this.capture.maps.ring, (batch) => {
      for (const r of batch) this.records.push(decodeRecord(r));
    });
    this.capture.attach();
  }

  /** Waits until `count` records arrived (or `ms` passed), draining the ring. */
  async waitFor(count: number, ms = 3000): Promise<PacketRecord[]> {
    const deadline = Date.now() + ms;
    while (this.records.length < count && Date.now() < deadline) {
      this.reader.drain();
      await new Promise((r) => setTimeout(r, 20));
    }
    this.reader.drain();
    return this.records;
  }

  close(): void {
    this.reader.close();
    this.capture.close();
  }
}

/** The inode of a test namespace, as the kernel's net->ns.inum. */
export function netnsInode(ns: Namespace): number {
  return fs.statSync(`/var/run/netns/${ns.name}`).ino;
}
