// Runs the reference readers (tcpdump, tshark, capinfos) with argument
// arrays, and parses `tcpdump -tt -xx` text back into timestamps and bytes.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export function run(argv: string[], input?: Buffer): string {
  const r = spawnSync(argv[0], argv.slice(1), { input, maxBuffer: 256 * 1024 * 1024, timeout: 60_000 });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`${argv.join(' ')} exited ${r.status}: ${r.stderr.toString()}`);
  return r.stdout.toString();
}

/** A fresh temporary directory and its remover (for after() hooks). */
export function tempDir(purpose: string): { dir: string; remove: () => void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `nc-${purpose}-`));
  return { dir, remove: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

export interface DumpedPacket {
  /** "seconds.fraction" exactly as tcpdump printed it. */
  time: string;
  /** The captured bytes from the -xx hex lines. */
  bytes: Buffer;
  /** The summary text after the timestamp. */
  summary: string;
}

/** Reads a capture with `tcpdump -r FILE -tt -xx -nn [--nano]` and parses every packet. */
export function tcpdumpDump(file: string, nano: boolean): DumpedPacket[] {
  const text = run(['tcpdump', '-r', file, '-tt', '-xx', '-nn', ...(nano ? ['--nano'] : [])]);
  const out: DumpedPacket[] = [];
  for (const line of text.split('\n')) {
    const hex = /^\t0x([0-9a-f]+):\s+((?:[0-9a-f]{2,4}\s?)+)/.exec(line);
    if (hex && out.length) {
      // Some decoders (unknown ICMPv6 types...) print their own hex block
      // first; the -xx dump of the whole frame is the last one starting at 0.
      const last = out[out.length - 1];
      const bytes = Buffer.from(hex[2].replace(/\s/g, ''), 'hex');
      last.bytes = parseInt(hex[1], 16) === 0 ? bytes : Buffer.concat([last.bytes, bytes]);
      continue;
    }
    const head = /^(\d+\.\d+) (.*)$/.exec(line);
    if (head) out.push({ time: head[1], summary: head[2], bytes: Buffer.alloc(0) });
  }
  return out;
}

/** "seconds.fraction" for a ns timestamp, with 6 or 9 digits (tcpdump -tt / --nano -tt). */
export function epochText(tsNs: bigint, nano: boolean): string {
  const s = tsNs / 1_000_000_000n;
  const f = tsNs % 1_000_000_000n;
  return nano ? `${s}.${f.toString().padStart(9, '0')}` : `${s}.${(f / 1000n).toString().padStart(6, '0')}`;
}
