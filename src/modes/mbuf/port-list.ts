// `netcap mbuf --pid P --list`: the ports of a running DPDK process as its
// own tables describe them (read-only, /proc/PID/mem), with the burst
// functions a port point would probe (object + file offset: the PMD
// libraries need no symbols; a symbol is shown when the object has one) and
// the points to give -f.
import * as path from 'node:path';
import { openElf } from '../../elf/elf-file';
import { EthdevReader, type DpdkPort } from '../../dpdk/ports';
import { codeLocation, type CodeLocation } from '../../proc/addresses';
import { comm, mappedObjects } from '../../proc/process';
import { requireDpdkRelease } from '../../dpdk/release';
import type { ListingSection } from './list';

/** The function symbol covering a file offset of an object, when it has one. */
function symbolAt(loc: CodeLocation): string | undefined {
  try {
    const elf = openElf(loc.openPath);
    const vaddr = elf.vaddrOf(loc.fileOffset);
    if (vaddr === undefined) return undefined;
    const hit = [...elf.symbols('.symtab'), ...elf.symbols('.dynsym')].find((s) => (s.type === 'FUNC' || s.type === 'IFUNC') && s.name && vaddr >= s.vaddr && vaddr < s.vaddr + Math.max(1, s.size));
    return hit ? (hit.vaddr === vaddr ? hit.name : `${hit.name}+0x${(vaddr - hit.vaddr).toString(16)}`) : undefined;
  } catch {
    return undefined;
  }
}

function functionText(objects: ReturnType<typeof mappedObjects>, address: bigint, port: DpdkPort): string {
  if (port.dummy) return `0x${address.toString(16)} (DPDK's placeholder: not started)`;
  const loc = codeLocation(objects, address);
  if (!loc) return `0x${address.toString(16)} (in no mapped file)`;
  const sym = symbolAt(loc);
  return `${path.basename(loc.object)}+0x${loc.fileOffset.toString(16)}${sym ? ` <${sym}>` : ''} (0x${address.toString(16)})`;
}

/** The ports section of `netcap mbuf --pid P --list`. */
export function portSection(pid: number, dpdkVersion?: string): ListingSection {
  const release = requireDpdkRelease({ pid, dpdkVersion });
  const reader = EthdevReader.open(pid, release.release);
  try {
    const t = reader.read();
    const objects = mappedObjects(pid);
    const lines = [
      `pid ${pid} (${comm(pid)}): DPDK ${release.release} (${release.evidence})`,
      `ports from ${t.source} in ${path.basename(t.objects.rte_eth_fp_ops ?? t.objects.rte_eth_devices)}${t.objects.rte_eth_fp_ops ? ` and rte_eth_devices in ${path.basename(t.objects.rte_eth_devices)}` : ''}: ${t.ports.length} of ${t.maxPorts} in use`,
    ];
    for (const p of t.ports) {
      lines.push('', `port ${p.id}  ${p.name}${p.driver ? `  driver ${p.driver}` : ''}  ${p.started ? 'started' : 'not started'}${p.state !== 'attached' ? `  (${p.state})` : ''}`);
      for (const dir of ['rx', 'tx'] as const) {
        const queues = dir === 'rx' ? p.rxQueues : p.txQueues;
        const fn = dir === 'rx' ? p.rxBurst : p.txBurst;
        lines.push(`  ${dir}: ${queues.length} queue${queues.length === 1 ? '' : 's'}, burst function ${functionText(objects, fn, p)}`);
        lines.push(`      probe: ${dir === 'rx' ? 'uprobe + uretprobe (the mbufs it returned)' : 'uprobe (the mbufs it is handed)'}; points: port:${p.id}:${dir}${queues.length > 1 ? `, port:${p.id}:${dir}/q0 .. /q${queues.length - 1}` : ''}`);
        queues.forEach((q, i) => lines.push(`      queue ${i}: 0x${q.toString(16)}`));
      }
    }
    return { title: lines[0], lines: lines.slice(1) };
  } finally {
    reader.close();
  }
}
