// The lab: network namespaces, veth pairs, frame injection and
// capture, and DPDK programs to trace. Everything here is real (kernel
// namespaces, AF_PACKET sockets, DPDK's af_packet PMD); nothing is mocked.
//
// The tests, the demo (examples/demo.ts) and the benchmarks (bench/) all
// build their world with it; nothing under src/ or cmd/ may import it.
//
//   import { World, startTestApp, inject, receive, udpFrame } from '../lab';
//
//   const world = new World('mbuf');            // names: nc-mbuf-<random>
//   after(() => world.destroy());               // kills processes, deletes namespaces, even on failure
//
//   // A namespace with a veth pair, IPv6 off (no router solicitations), up:
//   const ns = world.addNamespace();
//   ns.addVeth('v0', 'v1', { local: { mac: '02:00:00:00:00:01', address: '192.0.2.1/24' } });
//   ns.addVeth('h0', uniqueLinkName(), { peerIn: 'root' });   // one end in the root namespace (deleted on destroy)
//   ns.run(['tcpdump', '-c', '1', ...]);        // sync, argv array, never a shell
//   ns.spawn([...]);                            // ChildProcess, killed on destroy
//
//   // Frames: send, and collect what arrives (the receiver is bound when receive() resolves).
//   const rx = await receive(ns, 'v1', { max: 10, durationMs: 5000 });   // or keepFrames: false, pcapFile
//   await inject(ns, 'v0', [udpFrame({ dstPort: 53 }), tcpFrame({ dstPort: 80 })], { repeat: 5, rate: 1000 });
//   const { count, frames } = await rx.done;    // or rx.stop()
//
//   // DPDK: a namespace with a0<->a1 and b0<->b1; DPDK's ports are a0 and b0.
//   // Frames injected on a1 come out of b1 (and b1 -> a1). Resolves once forwarding works.
//   const app = await startTestApp(world);      // examples/dpdk-app: probe points TEST_APP_FUNCTIONS
//   const l2 = await startL2fwd(world);         // DPDK's l2fwd: probe point l2fwd_simple_forward@1
//   const ct = await startL2fwdInContainer(world); // the same in a container (own mount + PID namespaces): ct.pid is the host pid
//   app.pid; app.binary; app.ns; app.startMs; await app.stop();   // stop() returns the app's output
//
//   // Debian's dpdk-testpmd (io forwarding, same namespace shape), driven through its prompt:
//   const pmd = await startTestpmd(world, { queues: 2 });   // hugeDir: a primary dpdk-dumpcap can join
//   await pmd.command('port stop 0'); (await pmd.xstats(0)).rx_q1_packets;
//
//   // bpftrace as an independent reference at the same probe points (maps of scalars):
//   const bt = await startBpftrace(world, `uprobe:${app.binary}:app_process_one { @n = count(); }`, { pid: app.pid });
//   (await bt.stop()).get('n');
//
// The readiness check leaves marker frames (EtherType 0x88b5, isProbeFrame())
// behind it; they never reach a receiver started after startX() resolved,
// but filter them out when comparing whole captures to be safe.
//
// XDP: the example firewall attached in a namespace, its xdpcap hook pinned under bpffs:
//   const fw = attachXdpFirewall(ns, 'v1', { drop: [53], bounce: [7] });   // fw.hookPath, fw.counts()
//   hookSlots(fw.hookPath);                     // program ids in the hook's slots, from bpftool
//
// Test-app probe points (examples/dpdk-app/main.c), for `netcap mbuf -f`:
//   app_rx_burst(port, pkts, n): pkts (arg 2) is filled only when it returns, and the
//     return value is the count: a return probe reads arg 2 saved at entry + the return value
//   app_process_burst@1@2, app_process_one@1, app_raw@1@2 (raw mode),
//   app_process_chain@1 (frames > 100 bytes as chains of 64-byte segments;
//   appArgs: ['--chain-min', N, '--seg-size', M]; ['--idle-us', '0'] to busy-poll).
export * from './netns';
export * from './inject';
export * from './frames';
export * from './forwarding';
export * from './dpdk';
export * from './bpftrace';
export { buildTool, injectorPath } from './tools';
export { repoRoot, examplesBuildDir, labBuildDir } from './paths';
export * from './testpmd';
export * from './xdp';
