// GNU symbol versioning (.gnu.version, .gnu.version_d, .gnu.version_r), so
// that 'rte_eth_rx_burst@@DPDK_23' and 'memset@GLIBC_2.2.5' read the way
// readelf prints them. Layouts: Elf64_Verdef/Verdaux/Verneed/Vernaux in <elf.h>.
import type { ElfFile } from './elf-file';
import { cString } from './elf-file';
import { SHT_GNU_VERDEF, SHT_GNU_VERNEED, SHT_GNU_VERSYM } from './format';

const VERSYM_HIDDEN = 0x8000;
const VER_NDX_GLOBAL = 1;

export interface SymbolVersion {
  name: string;
  /** Hidden (non-default) version: readelf prints name@VER instead of name@@VER. */
  hidden: boolean;
  /** Defined by this object (.gnu.version_d) rather than required from another (.gnu.version_r). */
  defined: boolean;
}

/** One entry per .dynsym symbol: its version, or undefined for local/global (unversioned) ones. */
export function readVersions(elf: ElfFile, count: number): (SymbolVersion | undefined)[] {
  const versym = elf.sections.find((s) => s.type === SHT_GNU_VERSYM);
  if (!versym) return [];
  const names = new Map<number, { name: string; defined: boolean }>();
  for (const s of elf.sections) {
    if (s.type !== SHT_GNU_VERDEF && s.type !== SHT_GNU_VERNEED) continue;
    const d = elf.sectionData(s);
    const strings = elf.sections[s.link] ? elf.sectionData(elf.sections[s.link]) : Buffer.alloc(0);
    let o = 0;
    for (let n = 0; n < s.info && o + 16 <= d.length; n++) {
      if (s.type === SHT_GNU_VERDEF) {
        // vd_version, vd_flags, vd_ndx, vd_cnt (u16), vd_hash, vd_aux, vd_next (u32); first aux names it.
        const ndx = d.readUInt16LE(o + 4);
        const aux = o + d.readUInt32LE(o + 12);
        if (aux + 8 <= d.length) names.set(ndx, { name: cString(strings, d.readUInt32LE(aux)), defined: true });
        const next = d.readUInt32LE(o + 16);
        if (!next) break;
        o += next;
      } else {
        // vn_version, vn_cnt (u16), vn_file, vn_aux, vn_next (u32); each Vernaux has vna_other = index.
        const cnt = d.readUInt16LE(o + 2);
        let a = o + d.readUInt32LE(o + 8);
        for (let k = 0; k < cnt && a + 16 <= d.length; k++) {
          names.set(d.readUInt16LE(a + 6), { name: cString(strings, d.readUInt32LE(a + 8)), defined: false });
          const next = d.readUInt32LE(a + 12);
          if (!next) break;
          a += next;
        }
        const next = d.readUInt32LE(o + 12);
        if (!next) break;
        o += next;
      }
    }
  }
  const versyms = elf.sectionData(versym);
  const out: (SymbolVersion | undefined)[] = [];
  for (let i = 0; i < count && i * 2 + 2 <= versyms.length; i++) {
    const raw = versyms.readUInt16LE(i * 2);
    const ndx = raw & ~VERSYM_HIDDEN;
    const v = ndx > VER_NDX_GLOBAL ? names.get(ndx) : undefined;
    out.push(v ? { ...v, hidden: (raw & VERSYM_HIDDEN) !== 0 } : undefined);
  }
  return out;
}
