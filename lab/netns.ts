// Network namespaces, veth pairs and the processes that run inside them, for
// tests. Every object a World creates is destroyed by world.destroy() (call it
// from an after() hook) and, as a last resort, by a synchronous exit handler,
// so a failing or interrupted test leaves no namespace, link or process behind.
//
// Commands are always spawned with argument arrays (never a shell).
import { execFileSync, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';

/** Link-layer and IPv4 settings for one end of a veth pair. */
export interface LinkSettings {
  /** "02:00:00:00:00:01" style; the kernel picks a random one otherwise. */
  mac?: string;
  /** IPv4 address with prefix length, e.g. "192.0.2.1/24". */
  address?: string;
}

export interface VethOptions {
  /**
   * Where the peer end lives: this namespace (default), another namespace of
   * the same world, or 'root' (the namespace the tests run in).
   */
  peerIn?: Namespace | 'root';
  local?: LinkSettings;
  peer?: LinkSettings;
}

export interface RunOptions {
  input?: string | Buffer;
  timeoutMs?: number;
}

const ipv6Present = fs.existsSync('/proc/sys/net/ipv6');

/** A short random tag for names: namespaces and links of parallel runs never collide. */
export function randomTag(bytes = 3): string {
  return randomBytes(bytes).toString('hex');
}

/**
 * A link name for the root namespace that parallel runs won't collide on:
 * `<prefix><6 hex>`, within the kernel's 15-character limit (IFNAMSIZ 16).
 */
export function uniqueLinkName(prefix = 'nc'): string {
  const name = `${prefix}${randomTag()}`;
  if (name.length > 15) throw new Error(`link name prefix "${prefix}" is too long (names are at most 15 characters)`);
  return name;
}

/** Runs a command synchronously; on failure the error names the command and its stderr. */
export function runCommand(argv: string[], opts: RunOptions = {}): string {
  try {
    return execFileSync(argv[0], argv.slice(1), {
      input: opts.input,
      timeout: opts.timeoutMs ?? 20_000,
      stdio: ['pipe', 'pipe', 'pipe'],
      maxBuffer: 64 * 1024 * 1024,
    }).toString();
  } catch (e) {
    const err = e as { stderr?: Buffer; status?: number | null; message: string };
    const stderr = err.stderr?.toString().trim();
    throw new Error(`command failed (status ${err.status ?? '?'}): ${argv.join(' ')}${stderr ? `\n${stderr}` : `\n${err.message}`}`);
  }
}

/** One network namespace owned by a World. */
export class Namespace {
  constructor(
    readonly world: World,
    readonly name: string,
  ) {}

  /** argv prefixed with `ip netns exec NAME`, for spawning elsewhere. */
  wrap(argv: string[]): string[] {
    return ['ip', 'netns', 'exec', this.name, ...argv];
  }

  /** Runs a command inside the namespace and returns its stdout; throws with stderr on failure. */
  run(argv: string[], opts: RunOptions = {}): string {
    return runCommand(this.wrap(argv), opts);
  }

  /**
   * Starts a long-running command inside the namespace. The world kills it on
   * destroy() if it is still running. `ip netns exec` execs the command, so
   * the child's pid is the command's pid. stdout/stderr are pipes by default:
   * read them, or a chatty process blocks once 64 KiB are unread.
   */
  spawn(argv: string[], opts: SpawnOptions = {}): ChildProcess {
    return this.world.track(spawn('ip', ['netns', 'exec', this.name, ...argv], { stdio: ['ignore', 'pipe', 'pipe'], ...opts }));
  }

  /** `ip ARGS` inside the namespace (no exec wrapper needed: `ip -n`). */
  ip(args: string[]): string {
    return runCommand(['ip', '-n', this.name, ...args]);
  }

  /**
   * Creates a veth pair `local` (here) <-> `peer` (here, in another namespace
   * or in the root namespace), disables IPv6 on both ends before they come up
   * (no router solicitations or DAD probes in captures), applies MAC and IPv4
   * settings, and brings both ends up.
   */
  addVeth(local: string, peer: string, opts: VethOptions = {}): void {
    const peerIn = opts.peerIn ?? this;
    // `netns <pid>` names the namespace of that process: ours is the root one.
    const peerNetns = peerIn === 'root' ? String(process.pid) : peerIn.name;
    this.ip(['link', 'add', local, 'type', 'veth', 'peer', 'name', peer, 'netns', peerNetns]);
    if (peerIn === 'root') this.world.trackRootLink(peer);
    this.configure(local, opts.local ?? {});
    if (peerIn === 'root') configureRootLink(peer, opts.peer ?? {});
    else peerIn.configure(peer, opts.peer ?? {});
  }

  /** Disables IPv6, sets MAC and address, brings the link up. */
  configure(ifname: string, settings: LinkSettings): void {
    this.disableIpv6(ifname);
    if (settings.mac) this.ip(['link', 'set', 'dev', ifname, 'address', settings.mac]);
    if (settings.address) this.ip(['addr', 'add', settings.address, 'dev', ifname]);
    this.up(ifname);
  }

  disableIpv6(ifname: string): void {
    if (!ipv6Present) return;
    this.run(['sysctl', '-q', '-w', `net.ipv6.conf.${ifname.replace(/\./g, '/')}.disable_ipv6=1`]);
  }

  up(ifname: string): void {
    this.ip(['link', 'set', 'dev', ifname, 'up']);
  }

  setMac(ifname: string, mac: string): void {
    this.ip(['link', 'set', 'dev', ifname, 'address', mac]);
  }

  addAddress(ifname: string, cidr: string): void {
    this.ip(['addr', 'add', cidr, 'dev', ifname]);
  }

  /** The link's MAC address, lower case. */
  mac(ifname: string): string {
    return this.linkInfo(ifname).address;
  }

  ifindex(ifname: string): number {
    return this.linkInfo(ifname).ifindex;
  }

  /** Link names in the namespace. */
  links(): string[] {
    const list = JSON.parse(this.ip(['-j', 'link', 'show'])) as { ifname: string }[];
    return list.map((l) => l.ifname);
  }

  /** Kernel RX/TX packet counters of a link (from `ip -s`). */
  stats(ifname: string): { rxPackets: number; txPackets: number; rxDropped: number; txDropped: number } {
    const [info] = JSON.parse(this.ip(['-j', '-s', 'link', 'show', 'dev', ifname])) as {
      stats64: { rx: { packets: number; dropped: number }; tx: { packets: number; dropped: number } };
    }[];
    const s = info.stats64;
    return { rxPackets: s.rx.packets, txPackets: s.tx.packets, rxDropped: s.rx.dropped, txDropped: s.tx.dropped };
  }

  /** Pids of every process whose network namespace is this one. */
  pids(): number[] {
    return runCommand(['ip', 'netns', 'pids', this.name])
      .split('\n')
      .filter((s) => s.trim() !== '')
      .map(Number);
  }

  private linkInfo(ifname: string): { address: string; ifindex: number } {
    const [info] = JSON.parse(this.ip(['-j', 'link', 'show', 'dev', ifname])) as { address: string; ifindex: number }[];
    return info;
  }
}

function configureRootLink(ifname: string, settings: LinkSettings): void {
  if (ipv6Present) fs.writeFileSync(`/proc/sys/net/ipv6/conf/${ifname}/disable_ipv6`, '1');
  if (settings.mac) runCommand(['ip', 'link', 'set', 'dev', ifname, 'address', settings.mac]);
  if (settings.address) runCommand(['ip', 'addr', 'add', settings.address, 'dev', ifname]);
  runCommand(['ip', 'link', 'set', 'dev', ifname, 'up']);
}

const liveWorlds = new Set<World>();
let exitHookInstalled = false;

function destroyAllSync(): void {
  for (const w of liveWorlds) w.destroySync();
}

/**
 * Last-resort cleanup: on normal exit, and on SIGINT/SIGTERM/SIGHUP, whose
 * default action kills Node without running 'exit' handlers. When a program
 * (the demo, a benchmark) handles the signal itself, it owns the shutdown and
 * this hook stays out of its way; otherwise it cleans up and re-raises the
 * signal with its default action.
 */
function installExitHooks(): void {
  process.on('exit', destroyAllSync);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      if (process.listenerCount(sig) > 0) return;
      destroyAllSync();
      process.kill(process.pid, sig);
    });
  }
}

/**
 * Everything one test file creates: namespaces (named nc-<purpose>-<random>),
 * veth ends in the root namespace, and processes. destroy() removes it all.
 */
export class World {
  readonly namespaces: Namespace[] = [];
  private readonly processes = new Set<ChildProcess>();
  private readonly rootLinks: string[] = [];
  private readonly cleanups: (() => void | Promise<void>)[] = [];
  private destroyed = false;

  constructor(readonly purpose: string) {
    if (!/^[a-z0-9-]{1,24}$/.test(purpose)) throw new Error(`world purpose "${purpose}" must be 1-24 of [a-z0-9-]`);
    liveWorlds.add(this);
    if (!exitHookInstalled) {
      exitHookInstalled = true;
      installExitHooks();
    }
  }

  /**
   * A new namespace `nc-<purpose>-<random>` with loopback up and IPv6 off by
   * default for every link created in it later.
   */
  addNamespace(purpose = this.purpose): Namespace {
    const name = `nc-${purpose}-${randomTag()}`;
    runCommand(['ip', 'netns', 'add', name]);
    const ns = new Namespace(this, name);
    this.namespaces.push(ns);
    if (ipv6Present) {
      ns.run(['sysctl', '-q', '-w', 'net.ipv6.conf.default.disable_ipv6=1', 'net.ipv6.conf.all.disable_ipv6=1']);
    }
    ns.up('lo');
    return ns;
  }

  /** Registers a child process so destroy() kills it if it still runs. */
  track(child: ChildProcess): ChildProcess {
    this.processes.add(child);
    child.once('exit', () => this.processes.delete(child));
    return child;
  }

  /** Registers a root-namespace link to delete on destroy (namespaced links die with their namespace). */
  trackRootLink(ifname: string): void {
    this.rootLinks.push(ifname);
  }

  /** Registers extra cleanup work, run first (in reverse order) on destroy. */
  onDestroy(fn: () => void | Promise<void>): void {
    this.cleanups.push(fn);
  }

  /**
   * Stops processes (SIGTERM, then SIGKILL after `graceMs`), kills whatever
   * else still runs in the namespaces, deletes root-side links and the
   * namespaces. Idempotent; never throws (cleanup must finish).
   */
  async destroy(graceMs = 2000): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    for (const fn of this.cleanups.reverse()) {
      try {
        await fn();
      } catch {
        // keep cleaning up
      }
    }
    const running = [...this.processes].filter((c) => c.exitCode === null && c.signalCode === null);
    const exited = running.map((c) => new Promise<void>((resolve) => c.once('exit', () => resolve())));
    for (const c of running) c.kill('SIGTERM');
    const timer = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), graceMs).unref());
    if ((await Promise.race([Promise.all(exited), timer])) === 'timeout') {
      for (const c of running) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
      await Promise.race([Promise.all(exited), new Promise((r) => setTimeout(r, 1000).unref())]);
    }
    this.destroySync();
  }

  /** The synchronous part: SIGKILL everything left, delete links and namespaces. */
  destroySync(): void {
    this.destroyed = true;
    for (const c of this.processes) {
      try {
        c.kill('SIGKILL');
      } catch {
        // already gone
      }
    }
    this.processes.clear();
    for (const ns of this.namespaces) {
      try {
        for (const pid of ns.pids()) process.kill(pid, 'SIGKILL');
      } catch {
        // namespace already gone or process exited
      }
    }
    for (const link of this.rootLinks) {
      try {
        runCommand(['ip', 'link', 'del', 'dev', link]);
      } catch {
        // deleted with its peer's namespace
      }
    }
    for (const ns of this.namespaces) {
      // A namespace with a process still in it stays alive after `del` until
      // that process exits; the SIGKILLs above make that brief.
      deleteNamespace(ns.name);
    }
    this.namespaces.length = 0;
    this.rootLinks.length = 0;
    liveWorlds.delete(this);
  }
}

/**
 * `ip netns del`, tried again for a second: it can fail for a moment (EBUSY)
 * while another process on the machine holds a copy of the mount of the
 * namespace's file. A namespace still there after that is said on stderr.
 */
function deleteNamespace(name: string): void {
  for (let attempt = 0; ; attempt++) {
    try {
      runCommand(['ip', 'netns', 'del', name]);
      return;
    } catch (e) {
      if (!fs.existsSync(`/run/netns/${name}`)) return;
      if (attempt === 10) {
        process.stderr.write(`lab: namespace ${name} could not be deleted: ${(e as Error).message}\n`);
        return;
      }
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100);
    }
  }
}

/** Names of namespaces that look like ours (nc-*), for leak checks. */
export function listTestNamespaces(): string[] {
  return runCommand(['ip', 'netns', 'list'])
    .split('\n')
    .map((l) => l.split(' ')[0])
    .filter((n) => n.startsWith('nc-'));
}
