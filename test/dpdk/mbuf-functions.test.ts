// The table of DPDK's exported functions that take mbufs, checked against
// the installed DPDK: gcc compiles each entry's prototype against the
// headers (a type mismatch fails the build), and nm finds each function
// exported by its library.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DPDK_MBUF_FUNCTIONS } from '../../src/dpdk/mbuf-functions';
import { mbufForms } from '../../src/modes/mbuf/list';
import { cProgramDir } from '../elf/c-program';
import { dpdkCflags, noDpdk } from './installed';

const programs = cProgramDir('mbuf-functions');
after(() => programs.remove());


const HEADERS = ['rte_mbuf.h', 'rte_net.h', 'rte_ethdev.h', 'rte_gro.h', 'rte_gso.h', 'rte_ip_frag.h', 'rte_distributor.h', 'rte_reorder.h', 'rte_sched.h', 'rte_vhost.h'];

void test('every prototype in the table is the one DPDK\'s headers declare (gcc)', { skip: noDpdk }, () => {
  const checks = DPDK_MBUF_FUNCTIONS.map((f) => {
    const params = f.params.map((p) => p.type).join(', ');
    return `_Static_assert(__builtin_types_compatible_p(__typeof__(&${f.name}), ${f.returns} (*)(${params})), "${f.name}");`;
  });
  const source = `#include <stdio.h>\n${HEADERS.map((h) => `#include <${h}>`).join('\n')}\n${checks.join('\n')}\nint main(void) { return 0; }\n`;
  const cflags = dpdkCflags();
  // -fsyntax-only: the assertions are the test; nothing needs linking.
  assert.doesNotThrow(() => programs.build('prototypes', source, [...cflags, '-fsyntax-only', '-Wno-deprecated-declarations']), 'gcc accepts every prototype');
});

void test('every function is exported by its library (nm -D)', { skip: noDpdk }, () => {
  const libdir = execFileSync('pkg-config', ['--variable=libdir', 'libdpdk']).toString().trim();
  const exported = new Map<string, Set<string>>();
  for (const f of DPDK_MBUF_FUNCTIONS) {
    if (!exported.has(f.library)) {
      const so = fs.readdirSync(libdir).find((n) => n.startsWith(`${f.library}.so.`));
      assert.ok(so, `${f.library} is installed in ${libdir}`);
      const nm = execFileSync('nm', ['-D', '--defined-only', path.join(libdir, so)], { encoding: 'utf8' });
      exported.set(f.library, new Set(nm.split('\n').map((l) => l.split(' ').pop()!.replace(/@.*$/, ''))));
    }
    assert.ok(exported.get(f.library)!.has(f.name), `${f.name} in ${f.library}`);
  }
});

void test('each entry takes an mbuf where a probe can read it: it has a -f form', () => {
  for (const f of DPDK_MBUF_FUNCTIONS) assert.ok(mbufForms(f).length > 0, f.name);
  assert.deepEqual(mbufForms(DPDK_MBUF_FUNCTIONS.find((f) => f.name === 'rte_pktmbuf_free_bulk')!), ['rte_pktmbuf_free_bulk@1@2']);
  assert.deepEqual(mbufForms(DPDK_MBUF_FUNCTIONS.find((f) => f.name === 'rte_vhost_dequeue_burst')!), ['rte_vhost_dequeue_burst@4@5', 'rte_vhost_dequeue_burst@4@ret']);
});
