// Builds test/bpf/fixtures/uprobe-target.c into a temporary directory and
// finds the file offset a uprobe needs for nc_target_add, with binutils (nm,
// readelf) as the reference rather than our own ELF reader.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export interface UprobeTarget {
  binary: string;
  /** File offset of nc_target_add. */
  offset: number;
  dir: string;
  remove(): void;
}

const SOURCE = path.join(__dirname, '..', '..', '..', 'test', 'bpf', 'fixtures', 'uprobe-target.c');

export function buildUprobeTarget(): UprobeTarget {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nc-uprobe-'));
  const binary = path.join(dir, 'uprobe-target');
  execFileSync('gcc', ['-O2', '-o', binary, SOURCE]);
  const nm = execFileSync('nm', [binary]).toString();
  const sym = /^([0-9a-f]+) T nc_target_add$/m.exec(nm);
  if (!sym) throw new Error(`nm shows no nc_target_add in ${binary}`);
  const vaddr = parseInt(sym[1], 16);
  // readelf -lW: "LOAD 0xOFFSET 0xVIRTADDR 0xPHYSADDR 0xFILESZ 0xMEMSZ FLAGS ALIGN".
  const segments = execFileSync('readelf', ['-lW', binary])
    .toString()
    .split('\n')
    .filter((l) => l.trim().startsWith('LOAD'))
    .map((l) => l.trim().split(/\s+/))
    .map((f) => ({ offset: parseInt(f[1], 16), vaddr: parseInt(f[2], 16), filesz: parseInt(f[4], 16), flags: f.slice(6, -1).join('') }));
  const seg = segments.find((s) => s.flags.includes('E') && vaddr >= s.vaddr && vaddr < s.vaddr + s.filesz);
  if (!seg) throw new Error(`no executable LOAD segment holds 0x${vaddr.toString(16)}`);
  return { binary, offset: vaddr - seg.vaddr + seg.offset, dir, remove: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/** The value nc_target_add returns for call number i (0-based). */
export function expectedReturn(i: number): bigint {
  return BigInt((i + 1) * 2 + 1000 + i);
}
