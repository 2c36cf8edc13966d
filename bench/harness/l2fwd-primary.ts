// The benchmark's l2fwd (examples/l2fwd-pdump) started as a DPDK *primary*
// process with hugepages and a shared configuration, so that dpdk-dumpcap can
// attach to it as a secondary. The lab's startL2fwd runs with
// --no-huge --no-shconf instead, which no secondary can join; every variant
// of the dataplane benchmark runs on this one instance so that they compare
// the same thing.
//
//    a1 (inject) ── a0 [port 0]  l2fwd  [port 1] b0 ── b1 (count here)
import * as fs from 'node:fs';
import { addDpdkNamespace, waitForwarding, type Namespace, type World } from '../../lab';
import { onAbort } from './last-resort';
import { startTool, type ToolProcess } from './tool-process';

export interface L2fwdPrimary {
  ns: Namespace;
  pid: number;
  binary: string;
  /** EAL's --file-prefix: what a secondary (dpdk-dumpcap) must pass to find this instance. */
  filePrefix: string;
  /** The EAL + application arguments it runs with (for RESULTS.md). */
  argv: string[];
  tool: ToolProcess;
  stop(): Promise<void>;
}

export interface L2fwdPrimaryOptions {
  binary: string;
  hugeDir: string;
  /** The lcore l2fwd busy-polls (default 1, leaving core 0 to the injector and the tools). */
  lcore?: number;
  /** EAL memory in MiB (default 256). */
  memoryMiB?: number;
}

export async function startL2fwdPrimary(world: World, opts: L2fwdPrimaryOptions): Promise<L2fwdPrimary> {
  const ns = addDpdkNamespace(world, 'bench-dp');
  const filePrefix = ns.name;
  const argv = [
    opts.binary,
    '-l', String(opts.lcore ?? 1),
    '-m', String(opts.memoryMiB ?? 256),
    '--huge-dir', opts.hugeDir,
    '--no-pci', '--no-telemetry',
    '--file-prefix', filePrefix,
    '--vdev=net_af_packet0,iface=a0',
    '--vdev=net_af_packet1,iface=b0',
    '--', '-p', '0x3', '-q', '2', '-T', '0', '--no-mac-updating',
  ];
  const tool = startTool(argv, { ns, world });
  const removeRuntime = (): void => {
    // EAL leaves its runtime directory (config, multi-process socket) and, in
    // legacy memory mode, its page files behind.
    fs.rmSync(`/var/run/dpdk/${filePrefix}`, { recursive: true, force: true });
    try {
      for (const f of fs.readdirSync(opts.hugeDir)) if (f.startsWith(filePrefix)) fs.rmSync(`${opts.hugeDir}/${f}`, { force: true });
    } catch {
      // the mount is already gone
    }
  };
  // Interrupted runs: the test world SIGKILLs l2fwd; its files go here.
  const unregister = onAbort(removeRuntime);
  const stop = async (): Promise<void> => {
    await tool.stop('SIGINT', 5000);
    removeRuntime();
    unregister();
  };
  world.onDestroy(stop);
  const died = tool.exited.then((r) => {
    throw new Error(`l2fwd exited (${r.signal ?? `status ${r.code}`}) before forwarding:\n${r.output.trim().slice(-2000)}`);
  });
  died.catch(() => {});
  try {
    await waitForwarding(ns, 'a1', 'b1', { timeoutMs: 20_000, abort: died });
  } catch (e) {
    await stop();
    throw e;
  }
  return { ns, pid: tool.pid, binary: opts.binary, filePrefix, argv, tool, stop };
}
