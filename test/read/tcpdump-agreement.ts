// `netcap read -r F -e EXPR -w OUT` against `tcpdump -r F -w REF EXPR` on one
// file: the same refusals (both refuse, or neither) and the same written
// file, byte for byte (file header, record headers as written: timestamps,
// captured and wire lengths, and the captured bytes). netcap runs in this
// process (the command's own runRead, with its output code), tcpdump as a
// child. pcapng inputs are written as pcap by both (tcpdump always writes
// pcap); nanosecond inputs are read by tcpdump at nanosecond precision, the
// precision netcap keeps.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { UserError } from '../../src/errors';
import { runRead } from '../../cmd/read-run';
import type { EngineName } from '../../src/read/engines';

export interface Outcome {
  /** Exit status 0. */
  ok: boolean;
  /** The -w file, when one was written (also after a failure part way). */
  written?: Buffer;
  /** The error line (tcpdump's stderr, netcap's UserError message). */
  message: string;
}

/** Kinds of input, from the first bytes: what tcpdump must be told to write what netcap writes. */
export function captureKind(file: string): 'pcap' | 'pcap-nano' | 'pcapng' | 'other' {
  const fd = fs.openSync(file, 'r');
  const head = Buffer.alloc(4);
  const n = fs.readSync(fd, head, 0, 4, 0);
  fs.closeSync(fd);
  if (n < 4) return 'other';
  const le = head.readUInt32LE(0);
  const be = head.readUInt32BE(0);
  if (le === 0x0a0d0d0a) return 'pcapng';
  if (le === 0xa1b23c4d || be === 0xa1b23c4d) return 'pcap-nano';
  if ([0xa1b2c3d4, 0xa1b2cd34].some((m) => m === le || m === be)) return 'pcap';
  return 'other';
}

/** `tcpdump -r input -w out [--time-stamp-precision=nano] -- expression`, as a child (async: netcap runs meanwhile). */
export async function tcpdumpRead(input: string, expression: string, out: string): Promise<Outcome> {
  fs.rmSync(out, { force: true });
  const nano = captureKind(input) !== 'pcap' ? ['--time-stamp-precision=nano'] : [];
  const child = spawn('tcpdump', ['-r', input, '-w', out, ...nano, ...(expression ? ['--', expression] : [])], { stdio: ['ignore', 'ignore', 'pipe'], timeout: 60_000 });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const status = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve(code));
  });
  const written = fs.existsSync(out) ? fs.readFileSync(out) : undefined;
  const message = stderr.split('\n').filter((l) => l && !l.startsWith('reading from file')).join(' ');
  return { ok: status === 0, written, message };
}

export async function netcapRead(input: string, expression: string, engine: EngineName, out: string): Promise<Outcome> {
  fs.rmSync(out, { force: true });
  const lines: string[] = [];
  let ok: boolean;
  try {
    const status = await runRead({ file: input, expression, engine, output: { writeFile: out, format: 'pcap' }, log: (l) => lines.push(l) });
    ok = status === 0;
  } catch (e) {
    if (!(e instanceof UserError)) throw e;
    lines.push(e.message);
    ok = false;
  }
  const written = fs.existsSync(out) ? fs.readFileSync(out) : undefined;
  return { ok, written, message: lines.filter((l) => !/^netcap: kept \d+ of/.test(l)).join(' ') };
}

/** How two outcomes differ, or undefined when they agree. */
export function difference(ref: Outcome, ours: Outcome): string | undefined {
  if (ref.ok !== ours.ok) return ref.ok ? `netcap refused what tcpdump read: ${ours.message}` : `netcap read what tcpdump refused: ${ref.message}`;
  const a = ref.written ?? Buffer.alloc(0);
  const b = ours.written ?? Buffer.alloc(0);
  // A refusal before anything was written: tcpdump writes no file, netcap may write an empty one.
  if (!ref.ok && a.length <= 24 && b.length <= 24) return undefined;
  if (a.equals(b)) return undefined;
  return describeFileDifference(a, b);
}

/** The pcap records of a -w file: [seconds, fraction, caplen, len, bytes] as written. */
export function pcapRecords(b: Buffer | undefined): Buffer[] {
  const out: Buffer[] = [];
  if (!b) return out;
  for (let at = 24; at + 16 <= b.length; ) {
    const end = at + 16 + b.readUInt32LE(at + 8);
    out.push(b.subarray(at, end));
    at = end;
  }
  return out;
}

/** The first place two pcap files differ, in words. */
function describeFileDifference(ref: Buffer, ours: Buffer): string {
  if (ref.length < 24 || ours.length < 24) return `tcpdump wrote ${ref.length} bytes, netcap ${ours.length}`;
  const hdr = (b: Buffer) => `magic ${b.readUInt32LE(0).toString(16)} v${b.readUInt16LE(4)}.${b.readUInt16LE(6)} snaplen ${b.readUInt32LE(16)} linktype ${b.readUInt32LE(20)}`;
  if (!ref.subarray(0, 24).equals(ours.subarray(0, 24))) return `file headers differ: tcpdump ${hdr(ref)}, netcap ${hdr(ours)}`;
  const records = (b: Buffer) => {
    const out: { at: number; sec: number; frac: number; caplen: number; len: number; data: Buffer }[] = [];
    for (let at = 24; at + 16 <= b.length; ) {
      const caplen = b.readUInt32LE(at + 8);
      out.push({ at, sec: b.readUInt32LE(at), frac: b.readUInt32LE(at + 4), caplen, len: b.readUInt32LE(at + 12), data: b.subarray(at + 16, at + 16 + caplen) });
      at += 16 + caplen;
    }
    return out;
  };
  const r = records(ref);
  const o = records(ours);
  for (let i = 0; i < Math.min(r.length, o.length); i++) {
    const x = r[i];
    const y = o[i];
    if (x.sec !== y.sec || x.frac !== y.frac) return `packet ${i + 1}: timestamp ${x.sec}.${x.frac} (tcpdump), ${y.sec}.${y.frac} (netcap)`;
    if (x.caplen !== y.caplen || x.len !== y.len) return `packet ${i + 1}: caplen/len ${x.caplen}/${x.len} (tcpdump), ${y.caplen}/${y.len} (netcap)`;
    if (!x.data.equals(y.data)) return `packet ${i + 1}: captured bytes differ`;
  }
  return `tcpdump wrote ${r.length} packets, netcap ${o.length}`;
}

/** Capture files under `dir` (any depth), by their first bytes; gzip'd ones are left out. */
export function captureFilesUnder(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile() && /\.(pcap|pcapng|cap|ntar|dmp)$/i.test(e.name)) out.push(p);
    }
  };
  walk(dir);
  return out;
}
