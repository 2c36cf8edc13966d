// The DWARF reader against gcc and gdb: a program compiled with DWARF 2, 4
// and 5, plain and zlib-compressed (-gz), gives the prototypes its source
// declares; on the DPDK test app and on libc's detached debug file (when
// libc6-dbg is installed), the prototypes agree with what gdb's `info
// functions` prints for the same functions (gdb spells gcc's base types its
// own way: "unsigned long" for "long unsigned int").
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { openElf } from '../../src/elf/elf-file';
import { findDebugFile } from '../../src/elf/debug-file';
import { dwarfPrototypes, type Prototype } from '../../src/elf/dwarf';
import { mbufForms } from '../../src/modes/mbuf/list';
import { buildTestApp } from '../../lab/dpdk';
import { cProgramDir } from './c-program';

const programs = cProgramDir('dwarf');
after(() => programs.remove());

const SOURCE = `
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
struct rte_mbuf { uint32_t pkt_len; };
typedef uint16_t count_t;
volatile unsigned long sink;
__attribute__((noinline)) uint16_t nc_burst(uint16_t port, struct rte_mbuf **pkts, count_t n) { for (count_t i = 0; i < n; i++) sink += pkts[i]->pkt_len + port; return n; }
__attribute__((noinline)) void nc_one(const struct rte_mbuf *m) { sink += m->pkt_len; }
__attribute__((noinline)) int nc_log(const char *fmt, ...) { va_list ap; va_start(ap, fmt); int n = vsnprintf(0, 0, fmt, ap); va_end(ap); sink += n; return n; }
static inline int nc_twice(int x) { return x * 2; }
static __attribute__((noinline)) void nc_local(struct rte_mbuf *m, volatile int *p) { *p = nc_twice((int)m->pkt_len); }
int main(int argc, char **argv) {
  struct rte_mbuf a = { (uint32_t)argc }, *list[1] = { &a };
  volatile int v = 0;
  nc_burst(1, list, 1); nc_one(&a); nc_local(&a, &v); nc_log("%s", argv[0]);
  return (int)(sink & 1) + v;
}
`;

const text = (p: Prototype) => `${p.returns}${p.returns.endsWith('*') ? '' : ' '}${p.name}(${p.params.map((q) => (q.name ? `${q.type}${q.type.endsWith('*') ? '' : ' '}${q.name}` : q.type)).join(', ') || 'void'})`;

for (const flags of [['-gdwarf-5'], ['-gdwarf-4'], ['-gdwarf-4', '-gz'], ['-gdwarf-5', '-gz'], ['-gdwarf-2']]) {
  void test(`gcc -O2 ${flags.join(' ')}: the prototypes of the functions with code, as the source declares them`, () => {
    const bin = programs.build(`p${flags.join('').replace(/\W/g, '')}`, SOURCE, ['-O2', ...flags]);
    const protos = dwarfPrototypes(openElf(bin))!.filter((p) => p.name.startsWith('nc_') || p.name === 'main');
    assert.deepEqual(protos.map(text).sort(), [
      'int main(int argc, char **argv)',
      'int nc_log(const char *fmt, ...)',
      'uint16_t nc_burst(uint16_t port, struct rte_mbuf **pkts, count_t n)',
      'void nc_local(struct rte_mbuf *m, volatile int *p)',
      'void nc_one(const struct rte_mbuf *m)',
    ]);
    const forms = Object.fromEntries(protos.map((p) => [p.name, mbufForms(p)]));
    assert.deepEqual(forms, { main: [], nc_log: [], nc_burst: ['nc_burst@2@3', 'nc_burst@2@ret'], nc_local: ['nc_local@1'], nc_one: ['nc_one@1'] });
    // gcc clones the static function (nc_local.isra.0, its pointer argument replaced by the value read
    // through it): DWARF says so, and nm shows the clone's name instead of the function's.
    const symbols = execFileSync('nm', [bin], { encoding: 'utf8' });
    const cloned = !/ nc_local$/m.test(symbols) && / nc_local\.\w+\.\d+$/m.test(symbols);
    for (const p of protos) assert.equal(p.rewritten === true, p.name === 'nc_local' && cloned, `${p.name}: rewritten ${p.rewritten}\n${symbols}`);
  });
}

void test('an object without DWARF gives nothing to read, and no error', () => {
  const bin = programs.build('nodebug', SOURCE, ['-O2', '-g0']);
  assert.equal(dwarfPrototypes(openElf(bin)), undefined);
  // Strings that never name the type asked for: not even read.
  assert.deepEqual(dwarfPrototypes(openElf(programs.build('other', SOURCE, ['-O2', '-g'])), 'no_such_type_name'), []);
});

/** gdb's `info functions .` as a map of name -> the prototypes it prints (without "static"). */
function gdbPrototypes(file: string): Map<string, Set<string>> {
  const out = execFileSync('gdb', ['-batch', '-nx', '-ex', 'info functions .', file], { encoding: 'utf8', maxBuffer: 256 << 20, stdio: ['ignore', 'pipe', 'ignore'] });
  const map = new Map<string, Set<string>>();
  for (const line of out.split('\n')) {
    const m = /^\d+:\t(?:static )?(.*\(.*\));$/.exec(line);
    const name = m && /([A-Za-z_]\w*)\(/.exec(m[1])?.[1];
    if (!m || !name) continue;
    if (!map.has(name)) map.set(name, new Set());
    map.get(name)!.add(m[1]);
  }
  return map;
}

/** Ours in gdb's spelling: types only, gcc's base type names as gdb prints them. */
function asGdbPrints(p: Prototype): string {
  const gcc = (t: string) =>
    t
      .replace(/\blong long unsigned int\b/g, 'unsigned long long')
      .replace(/\blong unsigned int\b/g, 'unsigned long')
      .replace(/\bshort unsigned int\b/g, 'unsigned short')
      .replace(/\blong long int\b/g, 'long long')
      .replace(/\blong int\b/g, 'long')
      .replace(/\bshort int\b/g, 'short');
  return gcc(`${p.returns}${p.returns.endsWith('*') ? '' : ' '}${p.name}(${p.params.map((q) => q.type).join(', ') || 'void'})`);
}

const haveGdb = spawnSync('gdb', ['--version']).status === 0;

void test('the DPDK test app: every prototype is the one gdb prints', { skip: !haveGdb && 'gdb is not installed' }, () => {
  const app = buildTestApp();
  const gdb = gdbPrototypes(app);
  const ours = dwarfPrototypes(openElf(app))!;
  assert.ok(ours.length >= 7, `${ours.length} prototypes`);
  for (const p of ours) assert.ok(gdb.get(p.name)?.has(asGdbPrints(p)), `${asGdbPrints(p)} | gdb: ${[...(gdb.get(p.name) ?? [])].join(' / ')}`);
  for (const name of ['app_rx_burst', 'app_process_burst', 'app_process_one', 'app_raw', 'app_process_chain']) assert.ok(ours.some((p) => p.name === name), name);
});

void test("libc's detached debug file (compressed DWARF 5, thousands of functions): agrees with gdb", (t) => {
  const libc = ['/lib/x86_64-linux-gnu/libc.so.6', '/usr/lib/x86_64-linux-gnu/libc.so.6'].find((f) => fs.existsSync(f));
  const debugFile = libc && findDebugFile(openElf(libc));
  if (!haveGdb || !debugFile) return t.skip(!haveGdb ? 'gdb is not installed' : 'libc6-dbg is not installed');
  const gdb = gdbPrototypes(debugFile);
  const ours = dwarfPrototypes(openElf(debugFile))!;
  // Names defined once on both sides, without function pointers (gdb spells them out, we do not).
  const count = new Map<string, number>();
  for (const p of ours) count.set(p.name, (count.get(p.name) ?? 0) + 1);
  const comparable = ours.filter((p) => count.get(p.name) === 1 && gdb.get(p.name)?.size === 1 && !p.params.some((q) => q.type.includes('function')) && !p.returns.includes('function'));
  const differ = comparable.filter((p) => !gdb.get(p.name)!.has(asGdbPrints(p)));
  assert.ok(comparable.length > 1000, `${comparable.length} functions to compare`);
  assert.ok(differ.length <= comparable.length / 100, `${differ.length} of ${comparable.length} differ, e.g. ${differ.slice(0, 5).map((p) => `${asGdbPrints(p)} | gdb: ${[...gdb.get(p.name)!][0]}`).join('; ')}`);
});
