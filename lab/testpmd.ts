// Debian's dpdk-testpmd, unmodified, in the lab: io forwarding between two
// af_packet ports on the usual veth pairs of a fresh namespace
//
//    a1 (inject here) ── a0 [port 0]  testpmd  [port 1] b0 ── b1 (frames come out here)
//
// driven through its interactive prompt on a pipe (`command('port stop 0')`,
// `xstats(0)`). Without hugepages by default (a private instance, like the
// lab's other DPDK apps); with `hugeDir` it runs as a primary with a shared
// configuration that dpdk-dumpcap can join (testpmd calls rte_pdump_init).
// Forwarding runs on lcore 1 (a thread of its own); lcore 0 reads the prompt.
import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import { addDpdkNamespace, type DpdkApp } from './dpdk';
import { waitForwarding } from './forwarding';
import type { World } from './netns';

export const TESTPMD = 'dpdk-testpmd';

export interface TestpmdOptions {
  /** Queues per port (af_packet qpairs, testpmd --rxq/--txq; default 1). */
  queues?: number;
  /** A hugetlbfs mount: run as a multi-process primary (for dpdk-dumpcap) instead of --no-huge --no-shconf. */
  hugeDir?: string;
  /** Time allowed until frames are forwarded (default 30 s). */
  timeoutMs?: number;
}

export interface Testpmd extends DpdkApp {
  /** EAL's --file-prefix: what a secondary process (dpdk-dumpcap) passes to join. */
  filePrefix: string;
  /** The command line it runs with. */
  argv: string[];
  /**
   * Types `line` at the prompt and resolves with what it printed until the
   * next prompt (or until `until` matched, for commands whose output ends
   * later than the prompt, such as `port start`).
   */
  command(line: string, until?: RegExp): Promise<string>;
  /** `show port xstats PORT` as numbers ("rx_q1_packets" -> 12). */
  xstats(port: number): Promise<Record<string, number>>;
}

const PROMPT = 'testpmd> ';

export async function startTestpmd(world: World, opts: TestpmdOptions = {}): Promise<Testpmd> {
  const ns = addDpdkNamespace(world, 'testpmd');
  const queues = opts.queues ?? 1;
  const qpairs = queues > 1 ? `,qpairs=${queues}` : '';
  const memory = opts.hugeDir ? ['--huge-dir', opts.hugeDir] : ['--no-huge', '--no-shconf'];
  const argv = [
    // testpmd prints with stdio: line-buffer it, or a pipe holds its answers back until exit.
    'stdbuf', '-oL', '-eL',
    TESTPMD, '-l', '0-1', '-m', '256', ...memory, '--no-pci', '--no-telemetry', '--file-prefix', ns.name,
    `--vdev=net_af_packet0,iface=a0,framecnt=4096${qpairs}`, `--vdev=net_af_packet1,iface=b0,framecnt=4096${qpairs}`,
    '--', '-i', '--auto-start', '--forward-mode=io', `--rxq=${queues}`, `--txq=${queues}`, '--total-num-mbufs=8192',
  ];
  const child: ChildProcess = ns.spawn(argv, { stdio: ['pipe', 'pipe', 'pipe'] });
  let log = '';
  child.stdout!.setEncoding('utf8');
  child.stderr!.setEncoding('utf8');
  child.stdout!.on('data', (s: string) => (log += s));
  child.stderr!.on('data', (s: string) => (log += s));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const runtime = `/var/run/dpdk/${ns.name}`;
  let stopping: Promise<string> | undefined;
  const stop = (): Promise<string> =>
    (stopping ??= (async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.stdin!.end('quit\n');
        const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        const interrupt = setTimeout(() => child.kill('SIGINT'), 5000);
        await exited;
        clearTimeout(killer);
        clearTimeout(interrupt);
      }
      fs.rmSync(runtime, { recursive: true, force: true });
      if (opts.hugeDir) for (const f of fs.readdirSync(opts.hugeDir)) if (f.startsWith(ns.name)) fs.rmSync(`${opts.hugeDir}/${f}`, { force: true });
      return log;
    })());
  world.onDestroy(async () => {
    await stop();
  });
  const died = exited.then(() => {
    throw new Error(`testpmd exited (${child.exitCode ?? child.signalCode}) before forwarding:\n${log.trim().slice(-3000)}`);
  });
  died.catch(() => {});
  let startMs: number;
  try {
    startMs = await waitForwarding(ns, 'a1', 'b1', { timeoutMs: opts.timeoutMs ?? 30_000, abort: died });
  } catch (e) {
    await stop();
    throw e;
  }
  const command = async (line: string, until?: RegExp): Promise<string> => {
    const from = log.length;
    child.stdin!.write(`${line}\n`);
    const deadline = Date.now() + 20_000;
    for (;;) {
      const said = log.slice(from);
      // The prompt is printed again once the command ran; its output comes before.
      const done = until ? until.test(said) : said.includes(PROMPT);
      if (done) return said;
      if (child.exitCode !== null || Date.now() > deadline) throw new Error(`testpmd did not answer '${line}':\n${said.slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  const xstats = async (port: number): Promise<Record<string, number>> => {
    const text = await command(`show port xstats ${port}`);
    const out: Record<string, number> = {};
    for (const m of text.matchAll(/^(\w+): (\d+)$/gm)) out[m[1]] = Number(m[2]);
    return out;
  };
  return {
    ns,
    pid: child.pid!,
    binary: TESTPMD,
    links: { a0: 'a0', a1: 'a1', b0: 'b0', b1: 'b1' },
    startMs,
    output: () => log,
    stop,
    filePrefix: ns.name,
    argv,
    command,
    xstats,
  };
}
