// netcap iface against tcpdump -i on the same veth in the same run (issues
// 17, 18): `netcap iface -i v1 -Q in` (a tcx program at v1's ingress) and
// `tcpdump -i v1 -Q in` side by side, like for like (pcap and pcapng file
// names, both buffered or both -U), then a rate ladder
// (bench/harness/vs-tcpdump.ts).
import type { BenchSection } from './harness/section';
import { runVsTcpdump, VS_TCPDUMP_FILTER } from './harness/vs-tcpdump';

export const section: BenchSection = {
  id: 'iface',
  title: 'netcap iface vs tcpdump -i on a veth: CPU, losses and memory at fixed rates, and a rate ladder',
  budgetMs: 300_000,
  run: (ctx) =>
    runVsTcpdump(ctx, {
      subcommand: 'iface',
      netcapArgs: (ns, file) => ['-i', 'v1', '-Q', 'in', '--netns', ns, '-e', VS_TCPDUMP_FILTER, '-w', file],
      tcpdumpArgs: ['-Q', 'in'],
      programs: /^nc_in_/,
      describe: [
        "netcap iface (a tcx program at v1's ingress) and tcpdump -i v1 -Q in capture at the same time. \"ns per packet\" is the kernel's",
        "own measure of netcap's program (kernel.bpf_stats_enabled: run_time_ns / run_cnt): the copy with bpf_skb_load_bytes, the",
        'filter, the record, for every packet of v1.',
      ],
      nsColumn: 'ns per packet',
    }),
};
