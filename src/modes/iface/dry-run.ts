// `netcap iface --dry-run`: the interfaces, the hooks each point would use,
// and every program as loaded (the verifier accepted it); nothing attached.
import { disassemble } from '../../ebpf/disassemble';
import { link } from '../../ebpf/link';
import type { PreparedIfaceCapture } from './capture';
import { COMPILE_DEVICE, netmaskOf } from './filter';
import { defaultPosition } from './hooks';
import type { TcPosition } from '../../bpf/link/tc';

export function describeIfaceDryRun(c: PreparedIfaceCapture, position?: TcPosition): string {
  const s = c.selection;
  const lines: string[] = [];
  const netns = s.netns.label === 'current' ? `netcap's own network namespace (inode ${s.netns.inode})` : `network namespace ${s.netns.label} (inode ${s.netns.inode})`;
  lines.push(`interfaces in ${netns}; hooks by ${c.mechanism}; filter compiled by libpcap on a live handle (${COMPILE_DEVICE})`);
  if (s.any) lines.push(`-i any: points ${s.points.map((p) => p.name).join(', ')}; interfaces that appear while capturing get programs too`);
  for (const h of c.hooks) {
    const mask = netmaskOf(h.iface.ipv4Prefix);
    lines.push(`interface ${h.iface.name}: ifindex ${h.iface.ifindex}, link type ${h.iface.linkType}, ${h.iface.up ? 'up' : 'down'}, IPv4 netmask ${mask === undefined ? 'none' : `0x${mask.toString(16)}`}`);
    for (const p of h.programs) {
      const point = s.points[p.point];
      lines.push(`  point ${p.point} (${point.name}): ${c.mechanism} ${p.direction}, ${position ?? defaultPosition(p.direction)}`);
      const linked = link(p.insns);
      lines.push(`  program ${p.program.name}: ${linked.slots} instructions, accepted by the verifier`);
      lines.push(disassemble(linked).trimEnd().replace(/^/gm, '    '));
    }
  }
  return lines.join('\n') + '\n';
}
