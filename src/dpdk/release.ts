// Which DPDK release a process or binary uses, to pick its rte_mbuf layout.
//
// Evidence, best first:
//  1. Shared libraries: since 19.11 every librte_* carries the project-wide
//     ABI version in its file name (ABI_VERSION: 20.0 = 19.11, 21.0 = 20.11,
//     22.0 = 21.11, 23.0 = 22.11, 24.0 = 23.11, 25.0 = 24.11, 26.0 = 25.11;
//     the minor counts the releases in between). Before that each library had
//     its own LIBABIVER; librte_mbuf's went 2 -> 3 exactly when the layout
//     changed in 17.05, and stayed 3-5 until 19.08.
//  2. Static binaries with symbols: rte_version_year()/rte_version_month()
//     (since 21.05) are `mov $imm32, %eax; ret`: the release is in the code.
//  3. Static binaries from 20.11 on without those: the 20.11-only symbol
//     rte_mbuf_dyn_rx_timestamp_register marks the 20.11 layout.
// The user can always override with --dpdk-version.
import * as path from 'node:path';
import { openElf, type ElfFile } from '../elf/elf-file';
import { mappedObjects, exePath } from '../proc/process';
import { UserError } from '../errors';
import { parseDpdkVersion } from './mbuf-layout';

export interface DpdkRelease {
  /** 'YY.MM' */
  release: string;
  /** What the release was read from, for --verbose and error messages. */
  evidence: string;
}

/** Project-wide ABI major.minor -> release; known values only. */
const ABI_RELEASES: Record<string, string> = {
  '20.0': '19.11', '20.0.1': '20.02', '20.0.2': '20.05', '20.0.3': '20.08',
  '21.0': '20.11', '21.1': '21.02', '21.2': '21.05', '21.3': '21.08',
  '22.0': '21.11', '22.1': '22.03', '22.2': '22.07',
  '23.0': '22.11', '23.1': '23.03', '23.2': '23.07',
  '24.0': '23.11', '24.1': '24.03', '24.2': '24.07',
  '25.0': '24.11', '25.1': '25.03', '25.2': '25.07',
  '26.0': '25.11',
};

/** The release of a librte file name ('librte_eal.so.23.0', 'librte_mbuf.so.3'), or undefined. */
export function releaseFromLibraryName(file: string): DpdkRelease | undefined {
  const m = /^librte_(\w+)\.so\.(\d+)((?:\.\d+)*)$/.exec(path.basename(file));
  if (!m) return undefined;
  const major = Number(m[2]);
  const abi = `${m[2]}${m[3]}`;
  if (major >= 20) {
    // A soname carries only the major ('librte_eal.so.23'): its x.0 release is an LTS of the same layout.
    const release = ABI_RELEASES[abi] ?? ABI_RELEASES[`${major}.0`] ?? `${major - 1}.11`;
    const exact = ABI_RELEASES[abi] !== undefined;
    const note = exact ? `DPDK ${release}` : `DPDK ${release} or a release up to the next LTS (one mbuf layout)`;
    return { release, evidence: `${file}: DPDK ABI ${abi} = ${note}` };
  }
  if (m[1] === 'mbuf') {
    if (major === 2) return { release: '16.11', evidence: `${file}: librte_mbuf ABI 2 = DPDK 16.04 to 17.02 (same mbuf layout)` };
    if (major >= 3 && major <= 5) return { release: '18.11', evidence: `${file}: librte_mbuf ABI ${major} = DPDK 17.05 to 19.08 (same mbuf layout)` };
  }
  return undefined;
}

/** Reads `mov $imm32,%eax; ret` (optionally after endbr64) at a function's start. */
function constantReturn(elf: ElfFile, name: string): number | undefined {
  const fn = elf.findFunction(name);
  if (!fn) return undefined;
  let code = elf.readFileBytes(fn.fileOffset, 16);
  if (code[0] === 0xf3 && code[1] === 0x0f && code[2] === 0x1e && code[3] === 0xfa) code = code.subarray(4); // endbr64
  if (code[0] === 0xb8 && code[5] === 0xc3) return code.readUInt32LE(1);
  return undefined;
}

/** Release evidence inside one ELF file (its DT_NEEDED libraries, or code of a static build). */
export function releaseFromElf(file: string, shownAs = file): DpdkRelease | undefined {
  const elf = openElf(file);
  const dyn = elf.dynamic();
  for (const name of [dyn.soname ?? '', ...dyn.needed]) {
    const r = releaseFromLibraryName(name);
    if (r) return { release: r.release, evidence: `${shownAs} ${name === dyn.soname ? 'is' : 'needs'} ${r.evidence}` };
  }
  const year = constantReturn(elf, 'rte_version_year');
  const month = constantReturn(elf, 'rte_version_month');
  if (year !== undefined && month !== undefined && year < 100 && month >= 1 && month <= 12) {
    const release = `${year}.${String(month).padStart(2, '0')}`;
    return { release, evidence: `${shownAs}: rte_version_year() and rte_version_month() return ${release}` };
  }
  if (elf.findFunction('rte_mbuf_dyn_rx_timestamp_register')) {
    return { release: '20.11', evidence: `${shownAs}: has rte_mbuf_dyn_rx_timestamp_register (DPDK 20.11 or later)` };
  }
  return undefined;
}

/**
 * The DPDK release of a running process (by pid) or of a binary (by path),
 * or null when nothing says (not a DPDK program, or a stripped static build).
 */
export function detectDpdkRelease(target: number | string): DpdkRelease | null {
  if (typeof target === 'string') return releaseFromElf(target) ?? null;
  const objects = mappedObjects(target);
  // librte_mbuf owns the layout; librte_eal is next best; any librte_* says the ABI too.
  const rank = (p: string) => (/\/librte_mbuf\.so/.test(p) ? 0 : /\/librte_eal\.so/.test(p) ? 1 : 2);
  for (const o of [...objects].sort((a, b) => rank(a.path) - rank(b.path))) {
    const r = releaseFromLibraryName(o.path);
    if (r) return { release: r.release, evidence: `pid ${target} maps ${r.evidence}` };
  }
  const exe = exePath(target);
  const main = objects.find((o) => o.path === exe) ?? objects[0];
  return main ? releaseFromElf(main.openPath, `pid ${target} (${main.path})`) ?? null : null;
}

/** The release to use: --dpdk-version when given, else detected from the process (or binary); UserError when nothing says. */
export function requireDpdkRelease(o: { pid?: number; binary?: string; dpdkVersion?: string }): DpdkRelease {
  if (o.dpdkVersion !== undefined) return { release: parseDpdkVersion(o.dpdkVersion), evidence: '--dpdk-version' };
  const found = detectDpdkRelease(o.pid ?? o.binary!);
  if (!found) {
    const what = o.pid !== undefined ? `process ${o.pid}` : o.binary;
    throw new UserError(
      `${what} does not look like a DPDK program: looked for librte_*.so libraries (mapped or in DT_NEEDED) and a DPDK version in the executable, found none`,
      'point --pid at the DPDK application, or give its release with --dpdk-version YY.MM (a statically linked, stripped build says nothing)',
    );
  }
  return found;
}
