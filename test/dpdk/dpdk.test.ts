// rte_mbuf layout facts and DPDK release detection, against the installed
// DPDK (22.11 headers compiled by gcc with offsetof(), and rte_version() as
// printed by programs linked to DPDK, shared and static).
import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import { mbufLayout, parseDpdkVersion, type MbufLayout } from '../../src/dpdk/mbuf-layout';
import { detectDpdkRelease, releaseFromLibraryName } from '../../src/dpdk/release';
import { UserError } from '../../src/errors';
import { cProgramDir, type BuiltProgram } from '../elf/c-program';
import { buildL2fwd } from '../../lab/dpdk';
import { noDpdk, pkgConfig } from './installed';

const FIELDS = ['buf_addr', 'buf_iova', 'buf_len', 'data_off', 'refcnt', 'nb_segs', 'port', 'ol_flags', 'packet_type', 'pkt_len', 'data_len', 'vlan_tci', 'hash', 'vlan_tci_outer', 'pool', 'next'] as const;

let programs: BuiltProgram;
const children: ChildProcess[] = [];

const cflags = (): string[] => pkgConfig('--cflags');

const VERSION_PROGRAM = `
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <rte_version.h>
int main(int argc, char **argv) { printf("%s\\n", rte_version()); fflush(stdout); if (argc > 1) sleep(atoi(argv[1])); return 0; }
`;

before(() => {
  programs = cProgramDir('dpdk');
});
after(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  programs?.remove();
});

/** offsetof/sizeof of every field of struct rte_mbuf, from gcc on the installed headers. */
function gccLayout(prelude: string, fields: readonly string[] = FIELDS): Record<string, [number, number]> {
  const lines = fields.map((name) => `  printf("${name} %zu %zu\\n", offsetof(struct rte_mbuf, ${name}), sizeof(((struct rte_mbuf *)0)->${name}));`);
  const src = `${prelude}\n#include <stdio.h>\n#include <stddef.h>\nint main(void) {\n${lines.join('\n')}\n  printf("size %zu 0\\n", sizeof(struct rte_mbuf));\n  return 0;\n}\n`;
  const exe = programs.build(`layout${Math.random().toString(36).slice(2, 8)}`, src, ['-w', ...cflags()]);
  const out: Record<string, [number, number]> = {};
  for (const line of execFileSync(exe).toString().trim().split('\n')) {
    const [name, off, size] = line.split(' ');
    out[name] = [Number(off), Number(size)];
  }
  return out;
}

function ours(layout: MbufLayout): Record<string, [number, number]> {
  const out: Record<string, [number, number]> = {};
  for (const name of FIELDS) {
    const fld = layout[name];
    if (fld) out[name] = [fld.offset, fld.size];
  }
  out.size = [layout.size, 0];
  return out;
}

void test('the 22.11 layout equals gcc offsetof() on the installed rte_mbuf_core.h', { skip: noDpdk }, () => {
  const installed = execFileSync('pkg-config', ['--modversion', 'libdpdk']).toString().trim();
  const release = parseDpdkVersion(installed);
  assert.deepEqual(ours(mbufLayout(release)), gccLayout('#include <rte_mbuf.h>'));
});

void test('the 22.11 layout without the IOVA field equals gcc with RTE_IOVA_AS_PA=0', { skip: noDpdk }, (t) => {
  const header = execFileSync('pkg-config', ['--variable=includedir', 'libdpdk']).toString().trim();
  const core = fs.readdirSync(header).includes('dpdk') ? `${header}/dpdk/rte_mbuf_core.h` : `${header}/rte_mbuf_core.h`;
  if (fs.existsSync(core) && !fs.readFileSync(core, 'utf8').includes('RTE_IOVA_AS_PA')) return t.skip('these headers have no RTE_IOVA_AS_PA switch');
  // rte_config.h defines the switch as 1; redefine it before the mbuf header reads it.
  const withoutIova = FIELDS.filter((name) => name !== 'buf_iova'); // not a member any more
  const reference = gccLayout('#include <rte_config.h>\n#undef RTE_IOVA_AS_PA\n#define RTE_IOVA_AS_PA 0\n#include <rte_mbuf.h>', withoutIova);
  assert.deepEqual(ours(mbufLayout('22.11', { iovaInMbuf: false })), reference);
});

void test('release ranges: data_off at 18 before 17.05, pool/next moved in 20.11, unknown versions refused', () => {
  assert.equal(mbufLayout('16.11').data_off.offset, 18);
  assert.equal(mbufLayout('16.11').nb_segs.size, 1);
  assert.equal(mbufLayout('17.05').data_off.offset, 16);
  assert.equal(mbufLayout('20.08').next.offset, 80);
  assert.equal(mbufLayout('20.11').next.offset, 64);
  assert.equal(mbufLayout('24.11').next.offset, 64);
  assert.equal(mbufLayout('23.11', { iovaInMbuf: false }).next.offset, 8);
  assert.equal(parseDpdkVersion('DPDK 22.11.11'), '22.11');
  assert.equal(parseDpdkVersion('v23.11'), '23.11');
  assert.throws(() => parseDpdkVersion('22'), UserError);
  assert.throws(() => parseDpdkVersion('22.13'), UserError);
  assert.throws(() => mbufLayout('2.2'), UserError);
  assert.throws(() => mbufLayout('15.11'), UserError);
  assert.throws(() => mbufLayout('21.11', { iovaInMbuf: false }), UserError);
});

void test('library names map to releases', () => {
  assert.equal(releaseFromLibraryName('/usr/lib/x86_64-linux-gnu/librte_eal.so.23.0')?.release, '22.11');
  assert.equal(releaseFromLibraryName('librte_ethdev.so.21.1')?.release, '21.02');
  assert.equal(releaseFromLibraryName('librte_mbuf.so.2')?.release, '16.11');
  assert.equal(releaseFromLibraryName('librte_mbuf.so.4')?.release, '18.11');
  assert.equal(releaseFromLibraryName('libc.so.6'), undefined);
});

async function startVersionProgram(exe: string): Promise<{ child: ChildProcess; printed: string }> {
  const child = spawn(exe, ['30'], { stdio: ['ignore', 'pipe', 'ignore'] });
  children.push(child);
  const printed = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${exe} printed nothing`)), 5000);
    child.stdout!.once('data', (d: Buffer) => { clearTimeout(timer); resolve(d.toString().trim()); });
  });
  return { child, printed };
}

void test('a running process linked to librte_eal: release from its maps equals its own rte_version()', { skip: noDpdk }, async () => {
  const exe = programs.build('version-shared', VERSION_PROGRAM, ['-O2', ...cflags()], ['-lrte_eal']);
  const { child, printed } = await startVersionProgram(exe);
  const found = detectDpdkRelease(child.pid!);
  assert.ok(found, 'detected');
  assert.equal(found.release, parseDpdkVersion(printed));
  assert.match(found.evidence, /librte_eal\.so/, 'librte_eal is preferred over its dependencies');
  assert.equal(detectDpdkRelease(exe)?.release, parseDpdkVersion(printed), 'from the binary: DT_NEEDED');
  child.kill('SIGKILL');
});

void test('a static build: release read from rte_version_year()/month() code equals rte_version()', { skip: noDpdk }, async () => {
  const exe = programs.build('version-static', VERSION_PROGRAM, ['-O2', ...cflags()], ['/usr/lib/x86_64-linux-gnu/librte_eal.a']);
  const { child, printed } = await startVersionProgram(exe);
  const found = detectDpdkRelease(child.pid!);
  assert.equal(found?.release, parseDpdkVersion(printed));
  assert.match(found!.evidence, /rte_version_year/);
  child.kill('SIGKILL');
});

void test('DPDK l2fwd binary and a non-DPDK program', { skip: noDpdk }, (t) => {
  assert.equal(detectDpdkRelease('/bin/true'), null);
  let l2fwd: string;
  try {
    l2fwd = buildL2fwd();
  } catch (e) {
    return t.skip(`l2fwd cannot be built here: ${(e as Error).message.split('\n')[0]}`);
  }
  const installed = parseDpdkVersion(execFileSync('pkg-config', ['--modversion', 'libdpdk']).toString());
  assert.equal(detectDpdkRelease(l2fwd)?.release, installed);
});
