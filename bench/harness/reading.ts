// "What limits netcap": a short reading of the figures, written from the
// figures of this run (so it stays true when they change), with the facts
// that explain them. A sentence whose figures are missing is left out.
import { num } from './format';

type Figures = Record<string, number>;

function has(f: Figures, ...keys: string[]): boolean {
  return keys.every((k) => Number.isFinite(f[k]));
}

function x(v: number): string {
  return `${num(v)}x`;
}

function perHit(f: Figures): string {
  const parts = [
    'Every call of a probed user-space function traps into the kernel (a breakpoint, then the BPF program), matched or not.',
  ];
  if (has(f, 'mbuf.single.bare_ns', 'mbuf.single.bpftrace_added_ns', 'mbuf.single.unmatched_added_ns', 'mbuf.single.matched_added_ns')) {
    parts.push(
      `Measured here: a bare call ${num(f['mbuf.single.bare_ns'])} ns; bpftrace's empty uprobe adds ${num(f['mbuf.single.bpftrace_added_ns'])} ns, ` +
        `netcap adds ${num(f['mbuf.single.unmatched_added_ns'])} ns when its filter rejects the packet and ` +
        `${num(f['mbuf.single.matched_added_ns'])} ns when it copies and emits it.`,
    );
    const filterShare = (f['mbuf.single.unmatched_added_ns'] - f['mbuf.single.bpftrace_added_ns']) / f['mbuf.single.unmatched_added_ns'];
    if (filterShare < 0.33) parts.push('So the trap itself, not netcap\'s filter, is most of the cost.');
    else parts.push(`netcap's own program (reading the mbuf, filtering) is ${num(filterShare * 100)} % of its unmatched cost: worth optimising.`);
  } else {
    parts.push('That costs microseconds per hit on this kind of machine, against nanoseconds for the call itself.');
  }
  parts.push('It is paid on the DPDK thread, in its time budget per packet.');
  return `- **Per-hit uprobe cost.** ${parts.join(' ')}`;
}

function dataplane(f: Figures, rate: string): string | undefined {
  const k = (v: string, m: string): string => `dataplane.${rate}.${v}.${m}`;
  if (!has(f, k('none', 'forwarded_pps'))) return undefined;
  const parts = [`At ${rate} pps offered, l2fwd forwarded ${num(f[k('none', 'forwarded_pps')])} pps without capture`];
  const add = (v: string, what: string): void => {
    if (has(f, k(v, 'forwarded_ratio'))) parts.push(`${x(f[k(v, 'forwarded_ratio')])} of that ${what}`);
  };
  add('bpftrace', "under bpftrace's empty uprobe");
  add('netcap_all', 'with netcap on the per-packet function (every packet matching)');
  add('netcap_none', 'when its filter matches nothing');
  add('netcap_burst', 'with netcap on the burst function');
  add('dumpcap', 'with dpdk-dumpcap');
  const captured: string[] = [];
  const cap = (v: string, who: string): void => {
    if (has(f, k(v, 'captured_ratio'))) captured.push(`${who} ${num(f[k(v, 'captured_ratio')] * 100)} %`);
  };
  cap('netcap_all', 'netcap (per-packet point)');
  cap('netcap_burst', 'netcap (burst point)');
  cap('dumpcap', 'dpdk-dumpcap');
  const tail = captured.length ? ` Of what l2fwd forwarded, the file held: ${captured.join(', ')}.` : '';
  return `- **Dataplane, ${rate} pps.** ${parts.join('; ')}.${tail}`;
}

/** netcap serve's stream against tcpdump -w - | cat, and what a client costs it. */
function serveReading(f: Figures): string | undefined {
  if (!has(f, 'serve.stream.lossless_pps', 'serve.tcpdump.lossless_pps')) return undefined;
  const parts = [
    `A netcap serve stream client over loopback received every frame up to ${num(f['serve.stream.lossless_pps'])} frames/s, ` +
      `tcpdump -w - | cat on the same frames up to ${num(f['serve.tcpdump.lossless_pps'])}; above that it lost packets in its ring or in ` +
      "the client's queue (both counted and told to the client): the per-packet user-space path of any capture, plus one copy per client.",
  ];
  if (has(f, 'serve.memory.stalled_4.queued_kib')) {
    parts.push(`A client that reads nothing holds its queue, ${num(f['serve.memory.stalled_4.queued_kib'])} KiB each at the end (the service's count), and misses the rest; it is told so.`);
  }
  return `- **The service.** ${parts.join(' ')}`;
}

/** Kernel time per run of the capture programs (bpf_stats, and BPF_PROG_TEST_RUN for xdp), against the goal of 300 ns (issue 18). */
function kernelPerPacket(f: Figures): string | undefined {
  const parts: string[] = [];
  const perRate = (mode: string, what: string): void => {
    const at = ['20k', '100k'].filter((r) => has(f, `${mode}.${r}.program_ns_per_run`)).map((r) => `${num(f[`${mode}.${r}.program_ns_per_run`])} ns at ${r} pps`);
    if (at.length) parts.push(`${what} ${at.join(', ')}`);
  };
  perRate('skb', 'netcap skb (tracepoint, -i) takes');
  perRate('iface', 'netcap iface (tcx)');
  if (has(f, 'xdp.matched.added_ns_per_packet')) parts.push(`netcap xdp adds ${num(f['xdp.matched.added_ns_per_packet'])} ns to an XDP program per matched packet (BPF_PROG_TEST_RUN, warm)`);
  const breakdown = has(f, 'probecost.20k.main_ns', 'probecost.20k.netcap_ns', 'probecost.20k.anchor_ns');
  if (parts.length === 0 && !breakdown) return undefined;
  let line = '- **Kernel per packet.** The goal is at most 300 ns per run of the attached program (the kernel\'s bpf_stats: run_time_ns / run_cnt, the tail-called slot included).';
  if (parts.length) line += ` ${parts.join('; ')}.`;
  if (breakdown) {
    line +=
      ` Where it went (probe-cost section, same run): with ring flags 0 the kernel woke the reader for nearly every record, an irq_work inside the program ` +
      `(on this VM a self-IPI and a wake-up): ${num(f['probecost.20k.main_ns'])} ns per run at 20k pps against ${num(f['probecost.20k.netcap_ns'])} ns ` +
      `now that the skb probe wakes the reader only once an eighth of the ring waits, as the mbuf, raw, tc and xdp programs do; an anchor that only finds the device, ` +
      `copies 60 bytes and writes the record takes ${num(f['probecost.20k.anchor_ns'])} ns` +
      (has(f, 'probecost.20k.anchor_wake_ns') ? ` (${num(f['probecost.20k.anchor_wake_ns'])} ns with flags 0)` : '') +
      '. The rest of netcap\'s program over the anchor is the metadata it records (the sk_buff and net_device reads, pid/tid/comm), the dispatcher\'s tail call and the filter, each a few tens of ns at most.';
  }
  return line;
}

/** netcap read against tcpdump -r, whole and without Node's own start (issue 18: at most 2x, and 1.2x). */
function readFiles(f: Figures): string | undefined {
  if (!has(f, 'read.file.ratio_vs_tcpdump')) return undefined;
  let line = `- **netcap read.** A 100,000-packet file took ${x(f['read.file.ratio_vs_tcpdump'])} tcpdump -r's time, Node's start included`;
  if (has(f, 'read.file.node_start_ms', 'read.file.beyond_node_ratio_vs_tcpdump')) {
    line += `; without Node's own start (\`node -e 0\`: ${num(f['read.file.node_start_ms'])} ms) ${x(f['read.file.beyond_node_ratio_vs_tcpdump'])}`;
  }
  return (
    `${line}. The file is read a chunk at a time into one buffer, every packet judged where it lies by the filter compiled to a JavaScript function, and the kept ` +
    'packets of a chunk go to the file outputs as columns over it, as a capture\'s ring batch does (no object or promise per packet; pcapng input still makes one per kept packet). ' +
    'Where the time went when measured apart (2026-12-04, by hand, not by this run: `vlan and ip`, 5 % kept): Node\'s own start ~61 ms, starting the CLI ~14 ms (`netcap --version`: reading and compiling the bundle, yargs), ' +
    'read\'s own set-up ~15 ms (a 10-packet file: libpcap loaded and compiling, the files opened and closed), then ~25 ms for the 100k packets: read(2) of the 25 MB alone ~7 ms, ' +
    'the rest the record scan and the filter running while V8 compiles them; tcpdump -r does all of it in ~16 ms.'
  );
}

export function readingMarkdown(f: Figures): string {
  const lines: string[] = [perHit(f)];
  for (const rate of ['20k', '100k']) {
    const line = dataplane(f, rate);
    if (line) lines.push(line);
  }
  const burst = ['Probe placement is the lever: a burst point (`func@N@M`) pays one hit per burst of up to 32 packets.'];
  if (has(f, 'mbuf.burst32.ratio_vs_single')) burst.push(`In the mbuf section a packet in a 32-packet burst cost netcap ${x(f['mbuf.burst32.ratio_vs_single'])} of a one-mbuf call.`);
  if (has(f, 'dataplane.100k.netcap_burst.forwarded_ratio', 'dataplane.100k.netcap_all.forwarded_ratio')) {
    burst.push(
      `In l2fwd at 100k pps the burst point kept ${x(f['dataplane.100k.netcap_burst.forwarded_ratio'])} of the no-capture rate against ` +
        `${x(f['dataplane.100k.netcap_all.forwarded_ratio'])} on the per-packet function.`,
    );
  }
  burst.push('dpdk-dumpcap pays no trap at all (a callback in the application copies each packet), but only works in applications rebuilt to call `rte_pdump_init()`, as a DPDK secondary process with hugepages.');
  lines.push(`- **Where to probe.** ${burst.join(' ')}`);
  const user: string[] = [];
  if (has(f, 'ringbuf.js.drain_ratio_vs_c')) {
    user.push(
      `Draining a full ring, the JavaScript reader (records read in place in the ring, each one looked at) runs at ${x(f['ringbuf.js.drain_ratio_vs_c'])} libbpf's C consumer` +
        (has(f, 'ringbuf.js.lossless_records_per_s') ? `, and kept up with ${num(f['ringbuf.js.lossless_records_per_s'] / 1e6)} M records/s without loss` : '') +
        ', far above what the probes produce: the reader is not the limit. The addon walks the record headers asking for the ring\'s memory 2 KiB ahead; ' +
        'without that the walk waited on a cache miss at nearly every header, and the drain ran at about half the C consumer\'s rate on this host.',
    );
  }
  if (has(f, 'dataplane.20k.netcap_all.cpu_s', 'dataplane.20k.dumpcap.cpu_s')) {
    user.push(`At 20k pps in l2fwd netcap's process used ${num(f['dataplane.20k.netcap_all.cpu_s'])} CPU s per run (its start-up included) against dumpcap's ${num(f['dataplane.20k.dumpcap.cpu_s'])} s.`);
  }
  // netcap skb and iface against tcpdump on a veth, like for like (bench/harness/vs-tcpdump.ts).
  for (const mode of ['skb', 'iface']) {
    const k = (variant: string, m: string): string => `${mode}.100k.${variant}.${m}`;
    const ratios: string[] = [];
    for (const [variant, what] of [['pcap', '-w FILE.pcap'], ['pcap_U', '-w FILE.pcap -U'], ['pcapng', '-w FILE.pcapng'], ['pcapng_U', '-w FILE.pcapng -U']]) {
      if (has(f, k(variant, 'cpu_ratio_vs_tcpdump'))) ratios.push(`${x(f[k(variant, 'cpu_ratio_vs_tcpdump')])} with \`${what}\``);
    }
    if (ratios.length === 0) continue;
    let line = `At 100k pps on a veth netcap ${mode} used, while capturing, ${ratios.join(', ')} of tcpdump's CPU time, both doing the same`;
    const late = ['pcap', 'pcapng'].filter((v) => has(f, k(v, 'cpu_ratio_vs_tcpdump_2nd_half'))).map((v) => `${x(f[k(v, 'cpu_ratio_vs_tcpdump_2nd_half')])} with \`-w FILE.${v}\``);
    if (late.length) line += ` (from half way through the frames, once V8 has compiled the packet path: ${late.join(', ')})`;
    if (has(f, k('pcap', 'netcap_captured_ratio'), k('pcap', 'tcpdump_captured_ratio'))) {
      line += `; buffered pcap, netcap captured ${num(f[k('pcap', 'netcap_captured_ratio')] * 100)} % of the frames sent, tcpdump ${num(f[k('pcap', 'tcpdump_captured_ratio')] * 100)} %`;
    }
    if (has(f, `${mode}.ladder.tcpdump_lossless_pps`, `${mode}.ladder.netcap_lossless_pps`)) {
      line += `; on the rate ladder tcpdump held ${num(f[`${mode}.ladder.tcpdump_lossless_pps`])} pps without loss, netcap ${num(f[`${mode}.ladder.netcap_lossless_pps`])} pps`;
    }
    user.push(`${line}.`);
  }
  if (user.length) {
    user.push(
      'Where netcap\'s user-space time goes (perf on captures at 100k pps, issue 18): nothing is allocated per packet on the fast path (the ' +
        'scavenger ran 6 times in a 10 s capture); a batch\'s record headers are read into reused columns, the file\'s record headers written by ' +
        'JavaScript and the packet bytes copied by the addon in one call per slice, about 100 ns of JavaScript per packet. Then the write(2)s: for pcap ' +
        'the same bytes as tcpdump\'s (the kernel\'s copy into the page cache is the largest single item of both), for pcapng 3.4 times them, the comment ' +
        'with each packet\'s metadata (pid, comm, CPU, point, sk_buff, device, namespace, mark: about 120 bytes, made once per distinct record header in a ' +
        'batch; tcpdump writes pcap whatever the name), whose copy alone takes more CPU than tcpdump\'s whole capture. V8 compiles the hot functions in ' +
        'the first tens of thousands of packets, 0.1-0.3 s of CPU once per capture on its own threads: the whole window counts it, the second half does ' +
        'not; a loop over a batch is a function of its own, since V8\'s on-stack-replaced code for a loop that also covered the rest of its function ' +
        'deoptimised after the loop on every batch, hundreds of times per capture at ~0.4 ms each (--trace-deopt, in 4 of 6 captures before). A wake-up of the event loop has a fixed cost, 0.1-0.5 ms of CPU whether it finds packets or not: with -U into a file the ring is read 10 times a second (it was 100, 2.9 times the CPU of tcpdump -U at 20k pps), still well within the delay of tcpdump -w -U (the 1 s buffer timeout of libpcap). An skb point whose probe wakes the reader for every record (ring flags ' +
        '0) costs tens of times more: the wake-ups, not the packets.',
    );
  }
  if (user.length) lines.push(`- **User space.** ${user.join(' ')}`);
  const serve = serveReading(f);
  if (serve) lines.push(serve);
  const kernel = kernelPerPacket(f);
  if (kernel) lines.push(kernel);
  const read = readFiles(f);
  if (read) lines.push(read);
  const mem: string[] = [];
  const rss = (k: string, who: string): void => {
    if (has(f, k)) mem.push(`${who} ${num(f[k])} MiB`);
  };
  rss('dataplane.20k.netcap_all.peak_rss_mib', 'netcap mbuf');
  rss('startup.netcap_skb.peak_rss_mib', 'netcap skb');
  rss('skb.100k.pcap.netcap_peak_rss_mib', 'netcap skb at 100k pps (-w FILE.pcap)');
  rss('skb.100k.pcapng.netcap_peak_rss_mib', 'netcap skb at 100k pps (-w FILE.pcapng)');
  rss('iface.100k.pcap.netcap_peak_rss_mib', 'netcap iface at 100k pps (-w FILE.pcap)');
  rss('skb.100k.pcap.tcpdump_peak_rss_mib', 'tcpdump at 100k pps');
  rss('dataplane.20k.bpftrace.peak_rss_mib', 'bpftrace');
  rss('startup.tcpdump.peak_rss_mib', 'tcpdump');
  rss('dataplane.20k.dumpcap.peak_rss_mib', 'dpdk-dumpcap');
  if (mem.length) {
    lines.push(
      `- **Memory (peak RSS).** ${mem.join(', ')}. netcap's floor is Node itself (V8 heap and code: \`node -e ''\` alone is about 40 MiB here), like bpftrace's is LLVM; ` +
        'its ring counts 8.3 MiB (the default 8 MiB, and its first 260 KiB mapped again after its end so that the longest record can wrap; libbpf maps the whole ring twice, 16 MiB); the C tools need a few MiB.',
    );
  }
  if (has(f, 'startup.tcpdump.first_packet_ms')) {
    const s = [`tcpdump shows its first packet ${num(f['startup.tcpdump.first_packet_ms'])} ms after it starts`];
    if (has(f, 'startup.netcap_skb.ratio_vs_tcpdump')) s.push(`netcap skb takes ${x(f['startup.netcap_skb.ratio_vs_tcpdump'])} that`);
    if (has(f, 'startup.bpftrace_tp.ratio_vs_tcpdump')) s.push(`bpftrace ${x(f['startup.bpftrace_tp.ratio_vs_tcpdump'])}`);
    if (has(f, 'mbuf.first_packet.ratio_vs_bpftrace')) s.push(`netcap mbuf ${x(f['mbuf.first_packet.ratio_vs_bpftrace'])} bpftrace's time to its first uprobe hit`);
    lines.push(
      `- **Start-up.** ${s.join('; ')}. netcap's start is Node's own start-up, loading the addon and BTF, compiling the filter with ` +
        'libpcap, generating and verifying the eBPF program and attaching; there is no clang, so no seconds of compilation as with BCC. ' +
        'The CLI itself starts from one bundled file compiled from V8\'s code cache (scripts/bundle.mjs; NETCAP_TRACE_STARTUP=1 says which start ran; ' +
        'the service\'s web framework stays out of it, loaded only by `netcap serve`: it was 2.5 MB of the 3.8 the bundle had), ' +
        'a cache of what a run of read and compile and, as root, an skb `--dry-run` compiled (a cache of every function, 4.6 MB, took V8 longer to load than compiling one command\'s code), ' +
        'interfaces are listed by getifaddrs(3) in the addon, not by running ip through nsenter, and the kernel\'s BTF is mapped, not read (sysfs reads it a page per read(2), 5-6 ms); ' +
        'a V8 start-up snapshot was measured too: it saves less than the code cache and needs `node --snapshot-blob` on the command line, which `node bin/netcap` cannot pass.',
    );
  }
  if (has(f, 'compile.total_ms.p50')) {
    lines.push(`- **Filter compilation** is not a limit: expression to loaded program takes ${num(f['compile.total_ms.p50'])} ms at the median` + (has(f, 'compile.total_ms.p99') ? `, ${num(f['compile.total_ms.p99'])} ms at p99.` : '.'));
  }
  lines.push('- **This machine**: 2 CPUs shared with other work (see the load average under each section). l2fwd busy-polls one CPU; the traffic generator, the capture tools and the kernel\'s veth processing share the other, so absolute rates swing between runs; compare the ratios measured side by side.');
  return lines.join('\n');
}
