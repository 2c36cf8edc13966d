// DPDK programs in the lab: DPDK's own l2fwd example (patched so its
// per-packet function stays a real function) and netcap's test program
// (examples/dpdk-app), each run inside a fresh namespace on two veth pairs
// through the af_packet PMD, without hugepages.
//
//    a1 (inject here) ── a0 [DPDK port 0]      [DPDK port 1] b0 ── b1 (frames come out here)
//
// Frames injected on a1 are forwarded out of b1, and b1 -> a1.
import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { waitForwarding } from './forwarding';
import { runCommand, type Namespace, type World } from './netns';
import { containedPid, containerRunPath, makeContainerRoot, type ContainerRoot } from './container';
import { examplesBuildDir, repoRoot } from './paths';

/** Where dpdk-doc installs DPDK's examples (their source is not ours to commit). */
export const DPDK_EXAMPLES_DIR = '/usr/share/dpdk/examples';

const L2FWD_FUNCTION_DEFINITION = 'static void\nl2fwd_simple_forward(struct rte_mbuf *m, unsigned portid)\n{';

/**
 * Builds DPDK's l2fwd into examples/build/l2fwd/build/l2fwd (once: cached
 * while the binary exists). At -O3 gcc inlines l2fwd_simple_forward into the
 * main loop, leaving no symbol to probe, so the copy gets
 * `__attribute__((noinline))` on that definition. Returns the binary's path.
 */
export function buildL2fwd(): string {
  const dir = path.join(examplesBuildDir, 'l2fwd');
  const binary = path.join(dir, 'build', 'l2fwd-shared');
  if (fs.existsSync(binary)) return binary;
  const source = path.join(DPDK_EXAMPLES_DIR, 'l2fwd');
  if (!fs.existsSync(path.join(source, 'main.c'))) {
    throw new Error(`${source}/main.c not found: install the dpdk-doc package (apt-get install dpdk-doc libdpdk-dev)`);
  }
  // Build in a private directory and rename it into place, so parallel test
  // files never see (or run) a half-built copy.
  fs.mkdirSync(examplesBuildDir, { recursive: true });
  const tmp = fs.mkdtempSync(path.join(examplesBuildDir, 'l2fwd.tmp-'));
  try {
    fs.cpSync(source, tmp, { recursive: true });
    const main = path.join(tmp, 'main.c');
    const text = fs.readFileSync(main, 'utf8');
    if (!text.includes(L2FWD_FUNCTION_DEFINITION)) {
      throw new Error(`${source}/main.c: the definition of l2fwd_simple_forward changed; update the patch in lab/dpdk.ts`);
    }
    fs.writeFileSync(main, text.replace(L2FWD_FUNCTION_DEFINITION, L2FWD_FUNCTION_DEFINITION.replace('static void', 'static void __attribute__((noinline))')));
    runCommand(['make', '-C', tmp], { timeoutMs: 180_000 });
    try {
      fs.renameSync(tmp, dir);
    } catch {
      // Another test file built it first: theirs is as good as ours.
      if (!fs.existsSync(binary)) throw new Error(`could not move the l2fwd build into ${dir}`);
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  return binary;
}

/** Builds examples/dpdk-app into examples/build/dpdk-app (make decides whether anything changed). */
export function buildTestApp(): string {
  const out = path.join(examplesBuildDir, 'dpdk-app');
  runCommand(['make', '-s', '-C', path.join(repoRoot, 'examples', 'dpdk-app'), `BUILD=${out}`], { timeoutMs: 180_000 });
  return path.join(out, 'netcap-test-app');
}

/** The probe points of the test app (see examples/dpdk-app/main.c). */
export const TEST_APP_FUNCTIONS = ['app_rx_burst', 'app_process_burst', 'app_process_one', 'app_raw', 'app_process_chain'] as const;

export interface DpdkStartOptions {
  /** The lcore to run on (default 1: core 0 stays free for the test itself). */
  lcore?: number;
  /** Time allowed until frames are forwarded (default 20 s). */
  timeoutMs?: number;
  /** Extra application arguments (after `--`). */
  appArgs?: string[];
}

export interface DpdkApp {
  /** The namespace holding a0/a1 and b0/b1. */
  ns: Namespace;
  /** The DPDK process (what `netcap mbuf --pid` takes). */
  pid: number;
  binary: string;
  /** DPDK's ports are on a0 and b0; inject on a1 / b1, read the other. */
  links: { a0: 'a0'; a1: 'a1'; b0: 'b0'; b1: 'b1' };
  /** Milliseconds from spawn until the first forwarded frame. */
  startMs: number;
  /** stdout + stderr so far. */
  output(): string;
  /** SIGINT (DPDK's apps exit cleanly on it), SIGKILL after 5 s. Resolves with the output. Idempotent. */
  stop(): Promise<string>;
}

/** Creates the namespace and the two veth pairs DPDK's af_packet ports sit on. */
export function addDpdkNamespace(world: World, purpose: string): Namespace {
  const ns = world.addNamespace(purpose);
  ns.addVeth('a0', 'a1', { local: { mac: '02:00:00:00:0a:00' }, peer: { mac: '02:00:00:00:0a:01' } });
  ns.addVeth('b0', 'b1', { local: { mac: '02:00:00:00:0b:00' }, peer: { mac: '02:00:00:00:0b:01' } });
  return ns;
}

/**
 * EAL arguments for a private, hugepage-free instance: --no-shconf and a
 * file prefix named after the namespace keep instances of parallel tests
 * apart (no shared /var/run/dpdk/rte config, no multi-process socket),
 * --no-telemetry creates no socket. (--in-memory would also do that but
 * EAL refuses it together with --no-huge, which implies --legacy-mem.)
 * framecnt=4096 (the PMD's default is 512 frames per ring): on this busy
 * two-core machine l2fwd forwarded 88% of 50k pps with the default ring and
 * 99.3% with 4096, since a descheduled lcore can't drain a small ring.
 */
function ealArgs(ns: Namespace, lcore: number): string[] {
  return [
    '-l', String(lcore),
    '--no-huge', '-m', '256',
    '--no-pci', '--no-shconf', '--no-telemetry',
    '--file-prefix', ns.name,
    '--vdev=net_af_packet0,iface=a0,framecnt=4096',
    '--vdev=net_af_packet1,iface=b0,framecnt=4096',
  ];
}

async function startDpdk(world: World, purpose: string, binary: string, appArgs: string[], opts: DpdkStartOptions, container?: ContainerRoot): Promise<DpdkApp> {
  const ns = addDpdkNamespace(world, purpose);
  const argv = [container ? container.binary : binary, ...ealArgs(ns, opts.lcore ?? 1), '--', ...appArgs];
  const child: ChildProcess = ns.spawn(container ? [containerRunPath(), container.dir, ...argv] : argv);
  let log = '';
  child.stdout?.setEncoding('utf8');
  child.stderr?.setEncoding('utf8');
  child.stdout?.on('data', (s: string) => (log += s));
  child.stderr?.on('data', (s: string) => (log += s));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const runtimeDir = `/var/run/dpdk/${ns.name}`;
  let stopping: Promise<string> | undefined;
  const stop = (): Promise<string> =>
    (stopping ??= (async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGINT');
        const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(killer);
      }
      // EAL creates its runtime directory even with --no-shconf and leaves it behind.
      fs.rmSync(runtimeDir, { recursive: true, force: true });
      return log;
    })());
  world.onDestroy(async () => {
    await stop();
  });
  const died = exited.then(() => {
    throw new Error(`${path.basename(binary)} exited (${child.exitCode ?? child.signalCode}) before forwarding:\n${log.trim()}`);
  });
  died.catch(() => {});
  let startMs: number;
  try {
    startMs = await waitForwarding(ns, 'a1', 'b1', { timeoutMs: opts.timeoutMs ?? 20_000, abort: died });
  } catch (e) {
    await stop();
    if (e instanceof Error && !e.message.includes('exited')) e.message += `\n${path.basename(binary)} output:\n${log.trim()}`;
    throw e;
  }
  // In a container the application is container-run's child, with a pid of its own.
  const pid = container ? containedPid(log) : child.pid;
  if (pid === undefined) throw new Error(`${binary} did not start`);
  return {
    ns,
    pid,
    binary,
    links: { a0: 'a0', a1: 'a1', b0: 'b0', b1: 'b1' },
    startMs,
    output: () => log,
    stop,
  };
}

/**
 * Starts DPDK's l2fwd (built by buildL2fwd) in a new namespace of `world`,
 * ports on a0 and b0, no MAC rewriting, and resolves once a frame injected
 * on a1 came out of b1. Probe point: `l2fwd_simple_forward@1`.
 */
export async function startL2fwd(world: World, opts: DpdkStartOptions = {}): Promise<DpdkApp> {
  const binary = buildL2fwd();
  return startDpdk(world, 'l2fwd', binary, ['-p', '0x3', '-q', '2', '-T', '0', '--no-mac-updating', ...(opts.appArgs ?? [])], opts);
}

/**
 * Starts l2fwd as startL2fwd does, but in a container (lab/container.ts):
 * its own mount and PID namespaces, a root holding only its binary, its
 * libraries and the DPDK drivers it loads (af_packet, the vdev bus, the ring
 * mempool). `pid` is its pid as the host sees it; it is 1 in its namespace.
 */
export async function startL2fwdInContainer(world: World, opts: DpdkStartOptions = {}): Promise<DpdkApp & { root: string }> {
  const binary = buildL2fwd();
  const pmds = fs.readdirSync('/usr/lib/x86_64-linux-gnu/dpdk').find((d) => d.startsWith('pmds-'));
  if (!pmds) throw new Error('the DPDK driver plugins (/usr/lib/x86_64-linux-gnu/dpdk/pmds-*) are not installed');
  const plugins = ['net_af_packet', 'bus_vdev', 'mempool_ring'].map((d) => {
    const dir = `/usr/lib/x86_64-linux-gnu/dpdk/${pmds}`;
    const file = fs.readdirSync(dir).find((f) => f.startsWith(`librte_${d}.so.`) && /\.so\.\d+\.\d+$/.test(f));
    if (!file) throw new Error(`${dir}: no librte_${d}.so.X.Y`);
    return `${dir}/${file}`;
  });
  const root = makeContainerRoot(binary, plugins);
  // Destroy runs its steps newest first: the app stops before its root goes.
  world.onDestroy(() => root.remove());
  const app = await startDpdk(world, 'l2fwdct', binary, ['-p', '0x3', '-q', '2', '-T', '0', '--no-mac-updating', ...(opts.appArgs ?? [])], opts, root);
  return { ...app, binary: root.binary, root: root.dir };
}

/**
 * Starts netcap's test program (examples/dpdk-app) the same way. Its probe
 * points are TEST_APP_FUNCTIONS; frames longer than 100 bytes also pass
 * through app_process_chain as a chain of 64-byte segments (change with
 * appArgs: ['--chain-min', N, '--seg-size', M]).
 */
export async function startTestApp(world: World, opts: DpdkStartOptions = {}): Promise<DpdkApp> {
  const binary = buildTestApp();
  return startDpdk(world, 'dpdkapp', binary, opts.appArgs ?? [], opts);
}
