// netcap skb against tcpdump on the same interface in the same run (issues
// 5, 18): `netcap skb -f tracepoint:net:netif_receive_skb -i v1` and
// `tcpdump -i v1` side by side, like for like (pcap and pcapng file names,
// both buffered or both -U), then a rate ladder (bench/harness/vs-tcpdump.ts,
// which netcap iface's section uses too).
import type { BenchSection } from './harness/section';
import { runVsTcpdump, VS_TCPDUMP_FILTER } from './harness/vs-tcpdump';

export const section: BenchSection = {
  id: 'skb',
  title: 'netcap skb vs tcpdump on a veth: CPU, losses and memory at fixed rates, and a rate ladder',
  budgetMs: 300_000,
  run: (ctx) =>
    runVsTcpdump(ctx, {
      subcommand: 'skb',
      netcapArgs: (ns, file) => ['-f', 'tracepoint:net:netif_receive_skb', '-i', 'v1', '--netns', ns, '-e', VS_TCPDUMP_FILTER, '-w', file],
      tcpdumpArgs: [],
      programs: /^ncskb_/,
      describe: [
        'netcap skb (tracepoint net:netif_receive_skb, -i v1 matched by ifindex and namespace in the kernel) and tcpdump -i v1 capture',
        'at the same time. "ns per probe run" is the kernel\'s own measure of netcap\'s program (kernel.bpf_stats_enabled: run_time_ns /',
        'run_cnt) over every skb the tracepoint saw, on any interface (other skbs are rejected early by the ifindex + namespace check).',
      ],
      nsColumn: 'ns per probe run',
    }),
};
