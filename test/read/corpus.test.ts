// `netcap read` is tcpdump -r's answer on real capture files nobody here
// wrote: for every file, ~140 expressions (test/read/expressions.ts) and both
// engines, `netcap read -r F -e EXPR -w OUT` and `tcpdump -r F -w REF EXPR`
// refuse the same runs and write the same bytes (file header, timestamps as
// written, captured and wire lengths, captured bytes).
//
// The files come from where the project's own install steps put them
// (scripts/setup.sh installs the Debian packages):
//   golang-github-gopacket-gopacket-dev  gopacket's test captures and the pcapng test generator's
//                                        files (github.com/hadrielk/pcapng-test-generator), both
//                                        byte orders; BSD-3-Clause (the package's copyright file)
//   python3-dpkt                         dpkt's example captures (HTTP, DNS, truncated DNS); BSD-3-Clause
//   pcapfix                              pcapfix's test captures, intact and damaged; GPL-3+
//   python3-libtrace                     python-libtrace's example captures (gzip'd: unpacked here); GPL-3
// and, when it exists, the corpus the project keeps beside the repository
// (../shared/corpus, e.g. libpcap's and tcpdump's test captures, BSD-3-Clause)
// or in $NETCAP_READ_CORPUS; without one that part is skipped, saying so.
//
// Named exceptions, counted and checked, never silently skipped:
// - pcapng files whose interfaces differ in link type or snap length:
//   libpcap 1.10 stops at the second interface ("an interface has a type ...
//   different from the type of the first interface"); netcap reads them all,
//   as Wireshark does. Checked: what tcpdump wrote is where netcap's file
//   starts (or netcap says a pcap file holds one link type, or that a later
//   interface's link type refuses the expression).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { compileCbpf } from '../../src/filter/libpcap';
import type { EngineName } from '../../src/read/engines';
import { KernelEngine } from '../../src/read/kernel-engine';
import { tempDir } from '../output/reference-tools';
import { corpusExpressions } from './expressions';
import { captureFilesUnder, difference, netcapRead, pcapRecords, tcpdumpRead } from './tcpdump-agreement';

const tmp = tempDir('read-corpus');
after(() => tmp.remove());

const PACKAGED: { name: string; dir: string; gzip?: boolean }[] = [
  { name: 'gopacket (Debian golang-github-gopacket-gopacket-dev)', dir: '/usr/share/gocode/src/github.com/gopacket/gopacket' },
  { name: 'dpkt (Debian python3-dpkt)', dir: '/usr/share/doc/python3-dpkt/examples/data' },
  { name: 'pcapfix (Debian pcapfix)', dir: '/usr/share/doc/pcapfix/examples' },
  { name: 'python-libtrace (Debian python3-libtrace)', dir: '/usr/share/doc/python3-libtrace/examples', gzip: true },
];
const SHARED = process.env.NETCAP_READ_CORPUS ?? path.join(__dirname, '..', '..', '..', '..', 'shared', 'corpus');

const MIXED_INTERFACES = /an interface has a (type|snapshot length) \d+ different from the (type|snapshot length) of the first interface/;

let kernelSkip: string | undefined;
before(() => {
  try {
    new KernelEngine(compileCbpf('ip', { handle: 'savefile' })).close();
  } catch (e) {
    kernelSkip = `kernel engine unavailable here: ${(e as Error).message}`;
  }
});

/** The capture files of a source: gzip'd ones unpacked into the temporary folder. */
function filesOf(source: { dir: string; gzip?: boolean }): string[] {
  const files = captureFilesUnder(source.dir);
  if (!source.gzip) return files;
  for (const e of fs.readdirSync(source.dir).filter((n) => /\.(pcap|pcapng)\.gz$/.test(n))) {
    const out = path.join(tmp.dir, e.replace(/\.gz$/, ''));
    fs.writeFileSync(out, zlib.gunzipSync(fs.readFileSync(path.join(source.dir, e))));
    files.push(out);
  }
  return files;
}

interface Tally {
  runs: number;
  agree: number;
  refusedByBoth: number;
  mixedInterfaces: number;
  failures: string[];
}

async function checkFiles(files: string[], engines: EngineName[]): Promise<Tally> {
  const tally: Tally = { runs: 0, agree: 0, refusedByBoth: 0, mixedInterfaces: 0, failures: [] };
  const ref = path.join(tmp.dir, 'ref.pcap');
  for (const file of files) {
    for (const expression of corpusExpressions) {
      const reference = tcpdumpRead(file, expression, ref);
      const ours = [];
      for (const engine of engines) ours.push({ engine, outcome: await netcapRead(file, expression, engine, path.join(tmp.dir, `out-${engine}.pcap`)) });
      const theirs = await reference;
      for (const { engine, outcome } of ours) {
        tally.runs++;
        const what = `${path.basename(file)} ${JSON.stringify(expression)} --engine ${engine}`;
        if (!theirs.ok && MIXED_INTERFACES.test(theirs.message)) {
          // The named exception: netcap reads past libpcap's stop.
          tally.mixedInterfaces++;
          const mine = pcapRecords(outcome.written);
          const before = pcapRecords(theirs.written);
          const prefix = before.every((r, i) => mine[i]?.equals(r));
          // A pcap -w file holds one link type, and a later interface's link
          // type may refuse the expression (vlan on DLT_NULL): both refusals
          // come where libpcap has stopped too.
          if (!(outcome.ok && prefix) && !/mix(es)? link types|bad filter expression/.test(outcome.message)) tally.failures.push(`${what}: interfaces of several kinds: ${outcome.message || 'netcap\'s file does not start with what tcpdump wrote'}`);
          continue;
        }
        const d = difference(theirs, outcome);
        if (d === undefined) {
          tally.agree++;
          if (!theirs.ok) tally.refusedByBoth++;
        } else tally.failures.push(`${what}: ${d}`);
      }
    }
  }
  return tally;
}

function report(t: Tally, files: number): string {
  return `${files} files, ${corpusExpressions.length} expressions: ${t.agree}/${t.runs} runs agree (${t.refusedByBoth} refused by both), ${t.mixedInterfaces} runs on files with interfaces of several link types or snap lengths (read past libpcap's stop)`;
}

for (const source of PACKAGED) {
  void test(`packaged captures, ${source.name}: netcap read writes what tcpdump -r writes, refuses what it refuses`, async (t) => {
    if (!fs.existsSync(source.dir)) return t.skip(`${source.dir} is missing: run scripts/setup.sh`);
    const files = filesOf(source);
    assert.ok(files.length > 0, `no capture files under ${source.dir}`);
    const engines: EngineName[] = kernelSkip ? ['interp'] : ['interp', 'kernel'];
    const tally = await checkFiles(files, engines);
    t.diagnostic(report(tally, files.length) + (kernelSkip ? ` (${kernelSkip})` : ''));
    assert.deepEqual(tally.failures.slice(0, 20), [], `${tally.failures.length} runs disagree`);
    assert.ok(tally.agree > 0);
  });
}

void test('the corpus beside the repository (shared/corpus): netcap read writes what tcpdump -r writes', async (t) => {
  if (!fs.existsSync(SHARED)) return t.skip(`no corpus at ${SHARED} (set NETCAP_READ_CORPUS to a folder of capture files)`);
  const files = captureFilesUnder(SHARED);
  assert.ok(files.length > 0, `no capture files under ${SHARED}`);
  const engines: EngineName[] = kernelSkip ? ['interp'] : ['interp', 'kernel'];
  const tally = await checkFiles(files, engines);
  t.diagnostic(report(tally, files.length) + (kernelSkip ? ` (${kernelSkip})` : ''));
  assert.deepEqual(tally.failures.slice(0, 20), [], `${tally.failures.length} runs disagree`);
});
