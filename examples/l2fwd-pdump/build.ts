// Builds the l2fwd the dataplane benchmark runs: DPDK's own l2fwd example
// (from the dpdk-doc package; its source is not ours to commit) with three
// textual edits, made at build time into examples/build/l2fwd-pdump/:
//
//   1. rte_pdump_init() after rte_eal_init() (and rte_pdump_uninit() before
//      rte_eal_cleanup()): DPDK's dpdk-dumpcap only works against an
//      application that calls it. Until a capture is started it costs
//      nothing: the pdump rx/tx callbacks are installed only on request.
//   2. l2fwd_simple_forward kept out of line (gcc -O3 inlines it away
//      otherwise), so `netcap mbuf -f l2fwd_simple_forward@1` has a symbol.
//   3. The per-burst loop moved into `l2fwd_forward_burst(pkts, n, portid)`,
//      also out of line, giving a burst point (`l2fwd_forward_burst@1@2`):
//      l2fwd has no function of its own that takes the mbuf array (rx/tx
//      bursts are inline calls into the PMD, whose library is stripped).
//
// One binary for every variant of the benchmark, so that "no capture",
// netcap and dpdk-dumpcap are compared on the same code.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';

/** Where dpdk-doc installs l2fwd's source. */
export const L2FWD_SOURCE_DIR = '/usr/share/dpdk/examples/l2fwd';

/** The probe points the built binary offers. */
export const L2FWD_BENCH_POINTS = { single: 'l2fwd_simple_forward@1', burst: 'l2fwd_forward_burst@1@2' } as const;

interface Edit {
  why: string;
  from: string;
  to: string;
}

const EDITS: Edit[] = [
  {
    why: 'include rte_pdump.h',
    from: '#include <rte_string_fns.h>\n',
    to: '#include <rte_string_fns.h>\n#include <rte_pdump.h>\n',
  },
  {
    why: 'call rte_pdump_init after rte_eal_init',
    from: '\targc -= ret;\n\targv += ret;\n\n\tforce_quit = false;',
    to: '\targc -= ret;\n\targv += ret;\n\tif (rte_pdump_init() < 0)\n\t\trte_exit(EXIT_FAILURE, "rte_pdump_init failed\\n");\n\n\tforce_quit = false;',
  },
  {
    why: 'call rte_pdump_uninit before rte_eal_cleanup',
    from: '\trte_eal_cleanup();',
    to: '\trte_pdump_uninit();\n\trte_eal_cleanup();',
  },
  {
    why: 'keep l2fwd_simple_forward out of line',
    from: 'static void\nl2fwd_simple_forward(struct rte_mbuf *m, unsigned portid)\n{',
    to: 'static void __attribute__((noinline))\nl2fwd_simple_forward(struct rte_mbuf *m, unsigned portid)\n{',
  },
  {
    why: 'call the burst function from the main loop',
    from: '\t\t\tfor (j = 0; j < nb_rx; j++) {\n\t\t\t\tm = pkts_burst[j];\n\t\t\t\trte_prefetch0(rte_pktmbuf_mtod(m, void *));\n\t\t\t\tl2fwd_simple_forward(m, portid);\n\t\t\t}',
    to: '\t\t\tl2fwd_forward_burst(pkts_burst, nb_rx, portid);\n\t\t\t(void)j; (void)m;',
  },
  {
    why: 'define the burst function (before the main loop that calls it)',
    from: '/* main processing loop */',
    to:
      '/* netcap bench: the burst loop as a function of its own (a burst probe point). */\n' +
      'static void __attribute__((noinline))\n' +
      'l2fwd_forward_burst(struct rte_mbuf **pkts, unsigned n, unsigned portid)\n' +
      '{\n\tunsigned i;\n\n\tfor (i = 0; i < n; i++) {\n' +
      '\t\trte_prefetch0(rte_pktmbuf_mtod(pkts[i], void *));\n' +
      '\t\tl2fwd_simple_forward(pkts[i], portid);\n\t}\n}\n\n/* main processing loop */',
  },
];

/** Applies the edits; throws naming the edit whose anchor text DPDK changed. */
export function patchL2fwdSource(text: string): string {
  let out = text;
  for (const e of EDITS) {
    const at = out.indexOf(e.from);
    if (at < 0 || out.indexOf(e.from, at + 1) >= 0) {
      throw new Error(`l2fwd's main.c no longer has exactly one place to ${e.why}; update examples/l2fwd-pdump/build.ts for this DPDK release`);
    }
    out = out.slice(0, at) + e.to + out.slice(at + e.from.length);
  }
  return out;
}

/**
 * Builds the patched l2fwd into `<buildRoot>/l2fwd-pdump/build/l2fwd-shared`
 * (cached while the binary is newer than DPDK's source). Returns its path.
 */
export function buildL2fwdPdump(buildRoot: string): string {
  const dir = path.join(buildRoot, 'l2fwd-pdump');
  const binary = path.join(dir, 'build', 'l2fwd-shared');
  const sourceMain = path.join(L2FWD_SOURCE_DIR, 'main.c');
  if (!fs.existsSync(sourceMain)) {
    throw new Error(`${sourceMain} not found: install the dpdk-doc and libdpdk-dev packages (npm run setup)`);
  }
  if (fs.existsSync(binary) && fs.statSync(binary).mtimeMs > fs.statSync(sourceMain).mtimeMs) return binary;
  fs.mkdirSync(buildRoot, { recursive: true });
  // Build in a private directory and rename it into place: nobody ever runs a half-built copy.
  const tmp = fs.mkdtempSync(path.join(buildRoot, 'l2fwd-pdump.tmp-'));
  try {
    fs.cpSync(L2FWD_SOURCE_DIR, tmp, { recursive: true });
    const main = path.join(tmp, 'main.c');
    fs.writeFileSync(main, patchL2fwdSource(fs.readFileSync(main, 'utf8')));
    execFileSync('make', ['-s', '-C', tmp], { stdio: ['ignore', 'pipe', 'pipe'], timeout: 180_000 });
    fs.rmSync(dir, { recursive: true, force: true });
    fs.renameSync(tmp, dir);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  return binary;
}
