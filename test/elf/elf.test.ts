// The ELF reader against binutils (readelf -sW, readelf -lW, readelf -n,
// objdump -d) on programs gcc builds here (PIE, non-PIE, stripped), on
// DPDK's librte_ethdev.so.23 (versioned exports) and on DPDK's l2fwd.
import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import { openElf, type ElfFile } from '../../src/elf/elf-file';
import { UserError } from '../../src/errors';
import { cProgramDir, SAMPLE_PROGRAM, type BuiltProgram } from './c-program';
import { buildL2fwd } from '../../lab/dpdk';

const ETHDEV = '/usr/lib/x86_64-linux-gnu/librte_ethdev.so.23';
let programs: BuiltProgram;
let pie = '';
let noPie = '';
let stripped = '';

before(() => {
  programs = cProgramDir('elf');
  pie = programs.build('pie', SAMPLE_PROGRAM, ['-O2', '-fPIE', '-pie']);
  noPie = programs.build('nopie', SAMPLE_PROGRAM, ['-O2', '-fno-pie', '-no-pie']);
  stripped = programs.build('stripped', SAMPLE_PROGRAM, ['-O2', '-s', '-rdynamic']);
});
after(() => programs?.remove());

interface ReadelfSymbol { num: number; value: number; size: number; type: string; bind: string; ndx: string; name: string }

/** readelf -sW, one table ('.symtab' or '.dynsym'). */
function readelfSymbols(file: string, table: string): ReadelfSymbol[] {
  const out = execFileSync('readelf', ['-sW', file]).toString();
  const part = out.split(/\n(?=Symbol table ')/).find((p) => p.includes(`Symbol table '${table}'`)) ?? '';
  const rows: ReadelfSymbol[] = [];
  for (const line of part.split('\n')) {
    const m = /^\s*(\d+): ([0-9a-f]+)\s+(\d+|0x[0-9a-f]+) (\w+)\s+(\w+)\s+\w+\s+(\w+) ?(.*)$/.exec(line);
    if (m) rows.push({ num: +m[1], value: parseInt(m[2], 16), size: Number(m[3]), type: m[4], bind: m[5], ndx: m[6], name: m[7].replace(/ \(\d+\)$/, '') });
  }
  return rows;
}

/** Our symbols printed the way readelf does (versions as name@@VER / name@VER). */
function ourSymbols(elf: ElfFile, table: '.symtab' | '.dynsym'): ReadelfSymbol[] {
  return elf.symbols(table).map((s, i) => ({
    num: i,
    value: s.vaddr,
    size: s.size,
    type: s.type,
    bind: s.binding,
    ndx: s.sectionIndex === 0 ? 'UND' : s.sectionIndex === 0xfff1 ? 'ABS' : String(s.sectionIndex),
    // readelf prints a version definition's own symbol (ABS, named like the version) bare.
    name: s.version && s.name !== s.version ? `${s.name}${s.defaultVersion ? '@@' : '@'}${s.version}` : s.name,
  }));
}

function checkSymbolsLikeReadelf(file: string): void {
  const elf = openElf(file);
  for (const table of ['.symtab', '.dynsym'] as const) {
    assert.deepEqual(ourSymbols(elf, table), readelfSymbols(file, table), `${table} of ${file}`);
  }
}

/** The first `n` code bytes of a function as objdump disassembles them at its virtual address. */
function objdumpBytes(file: string, vaddr: number, n: number): Buffer {
  const out = execFileSync('objdump', ['-d', `--start-address=0x${vaddr.toString(16)}`, `--stop-address=0x${(vaddr + n).toString(16)}`, file]).toString();
  const hex: string[] = [];
  for (const line of out.split('\n')) {
    const m = /^\s*[0-9a-f]+:\t((?:[0-9a-f]{2} )+)/.exec(line);
    if (m) hex.push(...m[1].trim().split(' '));
  }
  return Buffer.from(hex.join(''), 'hex');
}

/** Function file offsets: the bytes there are the bytes objdump shows at the symbol's address. */
function checkFileOffsets(file: string, names: string[]): void {
  const elf = openElf(file);
  for (const name of names) {
    const fn = elf.findFunction(name);
    assert.ok(fn, `${name} in ${file}`);
    const expected = objdumpBytes(file, fn.vaddr, 16);
    assert.ok(expected.length >= 8, `objdump shows code for ${name}`);
    assert.deepEqual(elf.readFileBytes(fn.fileOffset, expected.length), expected, `bytes at the file offset of ${name}`);
  }
}

void test('symbols of PIE and non-PIE gcc builds equal readelf -sW, and file offsets point at the code', () => {
  checkSymbolsLikeReadelf(pie);
  checkSymbolsLikeReadelf(noPie);
  assert.equal(openElf(pie).isPositionIndependent, true);
  assert.equal(openElf(noPie).isPositionIndependent, false);
  const fns = ['nc_process_one', 'nc_process_burst', 'nc_local_helper', 'main'];
  checkFileOffsets(pie, fns);
  checkFileOffsets(noPie, fns);
  // A non-PIE text segment starts at 0x400000 while the file starts at 0: vaddr and offset differ.
  const fn = openElf(noPie).findFunction('nc_process_one')!;
  assert.notEqual(fn.vaddr, fn.fileOffset);
  assert.equal(openElf(noPie).findFunction('nc_global_counter'), undefined, 'an OBJECT is not a function');
  assert.equal(fn.indirect, false);
  assert.ok(openElf(pie).functionNames().includes('nc_local_helper'));
});

void test('stripped binaries: no .symtab, exported functions still found in .dynsym', () => {
  const elf = openElf(stripped);
  assert.equal(elf.isStripped, true);
  assert.equal(openElf(pie).isStripped, false);
  checkSymbolsLikeReadelf(stripped);
  const fn = elf.findFunction('nc_process_burst');
  assert.equal(fn?.table, '.dynsym');
  checkFileOffsets(stripped, ['nc_process_burst']);
  assert.equal(elf.findFunction('nc_local_helper'), undefined, 'a static function is gone with .symtab');
});

void test('librte_ethdev.so.23: versioned .dynsym like readelf, nm -D names, offsets, needed libraries, build-id', { skip: !fs.existsSync(ETHDEV) && `${ETHDEV} missing (libdpdk-dev)` }, () => {
  checkSymbolsLikeReadelf(ETHDEV);
  const elf = openElf(ETHDEV);
  const nm = execFileSync('nm', ['-D', '--defined-only', ETHDEV]).toString().split('\n')
    .map((l) => /^[0-9a-f]+ [TtWi] (\S+)$/.exec(l)?.[1]).filter((n): n is string => !!n).map((n) => n.replace(/@.*$/, ''));
  assert.deepEqual(elf.functionNames().sort(), [...new Set(nm)].sort());
  checkFileOffsets(ETHDEV, ['rte_eth_dev_start', 'rte_eth_dev_configure']);
  assert.deepEqual(elf.findFunction('rte_eth_dev_start@@DPDK_23'), elf.findFunction('rte_eth_dev_start'));
  assert.equal(elf.findFunction('rte_eth_dev_start@DPDK_99'), undefined);
  const dyn = elf.dynamic();
  assert.equal(dyn.soname, /SONAME.*\[(.*)\]/.exec(execFileSync('readelf', ['-dW', ETHDEV]).toString())?.[1]);
  assert.ok(dyn.needed.includes('librte_eal.so.23'));
  const note = /Build ID: ([0-9a-f]+)/.exec(execFileSync('readelf', ['-n', ETHDEV]).toString());
  assert.equal(elf.buildId(), note?.[1]);
});

void test('DPDK l2fwd (built from dpdk-doc): symbols like readelf, l2fwd_simple_forward at the right offset', (t) => {
  let l2fwd: string;
  try {
    l2fwd = buildL2fwd();
  } catch (e) {
    return t.skip(`l2fwd cannot be built here: ${(e as Error).message.split('\n')[0]}`);
  }
  checkSymbolsLikeReadelf(l2fwd);
  checkFileOffsets(l2fwd, ['l2fwd_simple_forward', 'main']);
});

void test('non-ELF and 32-bit files are refused with a UserError', () => {
  assert.throws(() => openElf('/etc/hostname'), (e: unknown) => e instanceof UserError && /not an ELF file/.test(e.message));
  assert.throws(() => openElf('/nonexistent/netcap'), UserError);
  // A 32-bit ELF header, as gcc -m32 would write (no multilib needed to test the refusal).
  const elf32 = `${programs.dir}/elf32`;
  const header = Buffer.alloc(52);
  header.write('\x7fELF', 0, 'latin1');
  header[4] = 1; // ELFCLASS32
  header[5] = 1; // little-endian
  fs.writeFileSync(elf32, header);
  assert.throws(() => openElf(elf32), (e: unknown) => e instanceof UserError && /32-bit/.test(e.message));
});
