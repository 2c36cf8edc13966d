// A minimal classic pcap file (Ethernet, microseconds) of given frames, for
// feeding the lab's injector with `-f` when the bench needs to start
// and stop it as a process of its own.
import * as fs from 'node:fs';

export function writePcap(file: string, frames: readonly Buffer[]): void {
  const header = Buffer.alloc(24);
  header.writeUInt32LE(0xa1b2c3d4, 0); // magic, microsecond timestamps
  header.writeUInt16LE(2, 4); // version 2.4
  header.writeUInt16LE(4, 6);
  header.writeUInt32LE(65535, 16); // snaplen
  header.writeUInt32LE(1, 20); // LINKTYPE_ETHERNET
  const records = frames.map((f) => {
    const rec = Buffer.alloc(16);
    rec.writeUInt32LE(f.length, 8);
    rec.writeUInt32LE(f.length, 12);
    return Buffer.concat([rec, f]);
  });
  fs.writeFileSync(file, Buffer.concat([header, ...records]));
}
