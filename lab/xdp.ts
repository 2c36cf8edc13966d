// The XDP firewall example (examples/xdp-firewall) in a namespace of the
// world: attached to one of its interfaces with the example's own command
// (run there with `nsenter --net`, which keeps /sys/fs/bpf visible; `ip
// netns exec` would remount /sys and hide the pins), its hook pinned under
// a directory of bpffs made for this world, and bpftool as the reference
// for what the hook's slots hold.
//
//   const fw = attachXdpFirewall(ns, 'v1', { drop: [53], bounce: [7] });   // detached and unpinned on destroy
//   fw.hookPath;        // /sys/fs/bpf/nc-<purpose>-<tag>/xdpcap_hook, for netcap xdp --hook
//   fw.counts();        // the firewall's own verdict counts, index = XDP action
//   hookSlots(fw.hookPath);   // program ids in the slots (bpftool map dump)
//   processesOnHook(fw.hookPath);   // pids of netcap and its watchdog while they run on it
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ensureBpffs, BPFFS_MOUNT_POINT } from '../src/bpf/pinned';
import { runCommand, randomTag, type Namespace } from './netns';
import { repoRoot } from './paths';

export interface FirewallOptions {
  drop?: number[];
  bounce?: number[];
  abort?: number[];
  /** port -> interface name in the same namespace */
  redirect?: { port: number; iface: string }[];
}

export interface AttachedFirewall {
  dir: string;
  hookPath: string;
  /** Verdict counts so far, index = XDP action (aborted, drop, pass, tx, redirect). */
  counts(): bigint[];
  /** Removes the pins (detaching the program); also done on world.destroy(). */
  detach(): void;
}

const FIREWALL = path.join(repoRoot, 'dist', 'examples', 'xdp-firewall', 'main.js');

/** argv that runs inside `ns` with /sys (and bpffs) as the test sees it. */
export function inNetns(ns: Namespace, argv: string[]): string[] {
  return ['nsenter', `--net=/run/netns/${ns.name}`, ...argv];
}

export function attachXdpFirewall(ns: Namespace, dev: string, opts: FirewallOptions = {}): AttachedFirewall {
  ensureBpffs();
  const dir = path.join(BPFFS_MOUNT_POINT, `nc-${ns.world.purpose}-${randomTag()}`);
  const list = (ports?: number[]) => (ports && ports.length ? ports.join(',') : undefined);
  const args = ['attach', dev, '--pin', dir, '--generic'];
  for (const [flag, value] of [
    ['--drop', list(opts.drop)],
    ['--bounce', list(opts.bounce)],
    ['--abort', list(opts.abort)],
    ['--redirect', opts.redirect?.map((r) => `${r.port}=${r.iface}`).join(',') || undefined],
  ] as const) {
    if (value !== undefined) args.push(flag, value);
  }
  const detach = () => {
    try {
      runCommand([process.execPath, FIREWALL, 'detach', '--pin', dir]);
    } catch {
      // gone already
    }
  };
  ns.world.onDestroy(detach);
  runCommand(inNetns(ns, [process.execPath, FIREWALL, ...args]));
  return {
    dir,
    hookPath: path.join(dir, 'xdpcap_hook'),
    counts: () => {
      const out = runCommand([process.execPath, FIREWALL, 'stats', '--pin', dir]);
      return [...out.matchAll(/(\w+): (\d+)/g)].map((m) => BigInt(m[2]));
    },
    detach,
  };
}

/** The program id in each slot of a pinned prog array (undefined = empty), from bpftool. */
export function hookSlots(hookPath: string, entries = 5): (number | undefined)[] {
  const dump = JSON.parse(execFileSync('bpftool', ['-j', 'map', 'dump', 'pinned', hookPath], { encoding: 'utf8' })) as { key: string[]; value: string[] }[];
  const slots: (number | undefined)[] = Array.from({ length: entries }, () => undefined);
  for (const e of dump) slots[Buffer.from(e.key.map((x) => parseInt(x, 16))).readUInt32LE(0)] = Buffer.from(e.value.map((x) => parseInt(x, 16))).readUInt32LE(0);
  return slots;
}

/** Processes whose command line names `hookPath` (netcap xdp on it, and its watchdog, whose plan names it). */
export function processesOnHook(hookPath: string): number[] {
  const pids: number[] = [];
  for (const pid of fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      if (fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(hookPath)) pids.push(Number(pid));
    } catch {
      // gone
    }
  }
  return pids;
}
