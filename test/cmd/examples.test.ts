// Every example of every command's --help and every command line shown in
// the README runs as shown, in the lab the examples talk about
// (./example-lab.ts: its interfaces, XDP hooks, DPDK processes, files and
// traffic), and does what it says: each line has an expectation below that
// checks the packets it printed or wrote against what the lab sent (with
// tcpdump and tshark as the references where they read the same thing). A
// line that runs until Ctrl-C gets SIGINT once it has shown what it should;
// nothing is added to its words. A new example without an expectation fails.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { commands } from '../../cmd/commands';
import { World } from '../../lab/netns';
import { repoRoot } from '../../lab/paths';
import { tempDir } from '../capture/netcap-child';
import { startServe, type Served } from '../service/serve-process';
import { dpdkOf, exampleText, setUpExampleLab, type ExampleLab, type WhereToRun } from './example-lab';

const world = new World('examples');
const dir = tempDir('examples');
let lab: ExampleLab;
/** The service netcap remote's examples speak to (NETCAP_URL), on a port of its own; with `second`, the fleet's agents. */
let served: Served;
let second: Served;

before(async () => {
  lab = await setUpExampleLab(world, dir);
  served = await startServe({ stateDir: path.join(dir, 'remote-state'), world });
  second = await startServe({ stateDir: path.join(dir, 'second-state'), world });
  process.env.NETCAP_URL = served.url;
});

after(async () => {
  // Node must not leave before the lab is gone: when no test ran (a failed before()), only the
  // lab's unref'd timers are left while it stops, and Node would exit in the middle.
  const alive = setInterval(() => {}, 1000);
  try {
    await served?.stop();
    await second?.stop();
    await world.destroy();
    fs.rmSync(dir, { recursive: true, force: true });
  } finally {
    clearInterval(alive);
  }
});

interface Ran {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** An example while it runs: what it printed so far. */
interface Running {
  stdout(): string;
  stderr(): string;
  /** Resolves once `holds()` (checked every 50 ms); rejects after `ms` or if the example ended first. */
  until(holds: () => boolean, what: string, ms?: number): Promise<void>;
}

interface Plan extends WhereToRun {
  /** For a line that runs until Ctrl-C: resolves when it is time for SIGINT. */
  interrupt?: (r: Running) => Promise<void>;
  check(r: Ran): void | Promise<void>;
}

const LISTENING = /netcap: listening on /;
/** tcpdump's packet lines (and the built-in decoder's): they start with the time. */
const PACKET_LINE = /^\d\d:\d\d:\d\d\.\d{6} /;

const packetLines = (text: string): string[] => text.split('\n').filter((l) => PACKET_LINE.test(l));
const captured = (stderr: string): number => Number(/^(\d+) packets? captured$/m.exec(stderr)?.[1] ?? NaN);
/** The "NAME: N captured, ..." line of one point in the summary. */
const pointCaptured = (stderr: string, point: string): number => Number(new RegExp(`^\\s+${point.replace(/[()]/g, '\\$&')}: (\\d+) captured`, 'm').exec(stderr)?.[1] ?? NaN);

/** The reference: tcpdump's lines for `file` (in the lab's folder), with a filter. */
function tcpdump(file: string, filter = ''): string[] {
  const out = execFileSync('tcpdump', ['-nn', '-r', path.join(dir, file), ...(filter ? [filter] : [])], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  return packetLines(out);
}

/** tshark's fields for every packet of `file`, one array per packet. */
function tshark(file: string, fields: string[]): string[][] {
  const out = execFileSync('tshark', ['-r', path.join(dir, file), '-T', 'fields', ...fields.flatMap((f) => ['-e', f])], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  return out
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => l.split('\t'));
}

/** Ctrl-C once `n` packets were printed. */
const afterPackets =
  (n: number) =>
  (r: Running): Promise<void> =>
    r.until(() => packetLines(r.stdout()).length >= n, `${n} packets printed`);

/** Ctrl-C `ms` after it listens (a capture into a file shows nothing while it runs; the lab's traffic flows at 200 frames/s on every interface). */
const afterListening =
  (ms: number) =>
  async (r: Running): Promise<void> => {
    await r.until(() => LISTENING.test(r.stderr()), 'the "listening on" line');
    await new Promise((resolve) => setTimeout(resolve, ms));
  };

/** Ended with status 0 after a Ctrl-C or by itself. */
function ok(r: Ran): void {
  assert.equal(r.code, 0, `status ${r.code ?? r.signal}\n${r.stderr}`);
}

/**
 * The same for a capture without -i, which sees the whole machine: under
 * another test's flood the ring may overflow, and status 3 (the losses in
 * the summary) is then the documented answer.
 */
function okOrLost(r: Ran): void {
  const lost = Number(/^(\d+) packets? lost in ring$/m.exec(r.stderr)?.[1] ?? 0);
  assert.equal(r.code, lost > 0 ? 3 : 0, `status ${r.code ?? r.signal}\n${r.stderr}`);
}

/** Every packet line of `lines` (at least one) matches `re`. */
function allMatch(lines: string[], re: RegExp, what: string): void {
  assert.ok(lines.length > 0, `no packets (${what})`);
  const odd = lines.filter((l) => !re.test(l));
  assert.deepEqual(odd, [], `packets that are not ${what}`);
}

/** A capture file of packets that match `filter` and nothing else, by tcpdump's reading. */
function fileHolds(file: string, filter: string): void {
  assert.ok(tcpdump(file).length > 0, `${file} holds no packets`);
  assert.deepEqual(tcpdump(file, `not (${filter})`), [], `${file} holds packets that are not "${filter}"`);
}

/** Counters of a link of the lab, read before and after a replay. */
function txOf(ifname: string): () => number {
  const first = lab.ns.stats(ifname).txPackets;
  return () => lab.ns.stats(ifname).txPackets - first;
}
function rxOf(ifname: string): () => number {
  const first = lab.ns.stats(ifname).rxPackets;
  return () => lab.ns.stats(ifname).rxPackets - first;
}

/** The listing's lines a reader is told to use, for the test app (README's transcript for pid 4242). */
function appListing(r: Ran): void {
  ok(r);
  says(r, ['void app_process_one(struct rte_mbuf *m)', '-f app_process_one@1', 'uint16_t app_rx_burst(uint16_t port, struct rte_mbuf **pkts, uint16_t n)', '-f app_rx_burst@2@3  or  app_rx_burst@2@ret', '-f app_process_burst@1@2', 'void rte_pktmbuf_free_bulk(struct rte_mbuf **mbufs, unsigned int count)', '-f librte_mbuf:rte_pktmbuf_free_bulk@1@2']);
}

const l2fwdPort80: Plan = {
  interrupt: afterPackets(3),
  check: (r) => {
    ok(r);
    allMatch(packetLines(r.stdout), / > 192\.0\.2\.2\.80: Flags /, 'TCP to port 80');
  },
};

const portZeroToFile: Plan = {
  interrupt: afterListening(1500),
  check: (r) => {
    ok(r);
    fileHolds('p0.pcapng', 'udp');
    allMatch(tshark('p0.pcapng', ['frame.interface_name']).map(([name]) => name), /^port0 (rx|tx) \(net_af_packet0\)$/, "port 0's interfaces");
  },
};

/** The kfree_skb example (in --help and the README): what the kernel freed to or from 192.0.2.1, with the stack. */
const freedOfHost: Plan = {
  interrupt: afterPackets(2),
  check: (r) => {
    okOrLost(r);
    allMatch(packetLines(r.stdout), /\b192\.0\.2\.1\b/, 'to or from 192.0.2.1');
    assert.match(r.stdout, /kfree_skb/, 'the stack (-S) names the function that freed the skb');
  },
};

/**
 * A gather (-G): the first point's packets that match, followed through the
 * other points by skb address (and what else gets a freed skb's address
 * there, see the README's caveat), timed in the summary on stdout.
 */
function gathered(first: RegExp, what: string): Plan {
  return {
    interrupt: afterPackets(2),
    check: (r) => {
      okOrLost(r);
      // Only a packet the first point selected is followed: what is printed first matches.
      allMatch(packetLines(r.stdout).slice(0, 1), first, what);
      assert.match(r.stdout, /^gather: \d+ packets?$/m);
      assert.match(r.stdout, /^\s+#1 skb 0x[0-9a-f]+: tracepoint:net:netif_receive_skb \+0us/m);
    },
  };
}

/** The lb hook's drops of DNS, the lab's firewall dropping UDP 53: tshark reads the verdict of each packet. */
const lbDropsToFile: Plan = {
  interrupt: afterListening(1500),
  check: (r) => {
    ok(r);
    const rows = tshark('lb.pcapng', ['frame.interface_name', 'frame.verdict.ebpf_xdp', 'udp.dstport']);
    allMatch(rows.map((row) => row.join(' ')), new RegExp(`^xdp:${path.basename(lab.lb.dir)} drop 1 53$`), 'dropped DNS (verdict 1) on the lb hook');
  },
};

/** The verdicts the firewall gives the lab's UDP (drop 53, bounce 7, pass the rest), as the meta line before each packet says. */
function verdictsOf(stdout: string, hook: string): { action: string; packet: string }[] {
  const lines = stdout.split('\n');
  const out: { action: string; packet: string }[] = [];
  lines.forEach((l, i) => {
    const m = new RegExp(`^\\[xdp:${hook} (\\w+)\\]`).exec(l);
    if (m && PACKET_LINE.test(lines[i + 1] ?? '')) out.push({ action: m[1], packet: lines[i + 1] });
  });
  return out;
}
const VERDICT_PORT: Record<string, RegExp> = { drop: /\.53: /, tx: /\.7: /, pass: /\.(123|5353|80|81|82|83): / };
function firewallVerdicts(stdout: string, hook: string, actions: string[]): void {
  const seen = verdictsOf(stdout, hook);
  assert.ok(seen.length > 0, `no packets with their verdict:\n${stdout.slice(0, 2000)}`);
  for (const { action, packet } of seen) {
    assert.ok(actions.includes(action), `a packet of action ${action}, not asked for: ${packet}`);
    assert.match(packet, VERDICT_PORT[action], `the firewall's ${action}`);
  }
}

const replayOntoV0: () => Plan = () => {
  const sent = txOf('v0');
  return {
    check: (r) => {
      ok(r);
      assert.match(r.stderr, new RegExp(`sent 32 packets onto v0 \\(netns ${lab.ns.name}\\)`));
      assert.match(r.stderr, /32 sent, 0 ENOBUFS retries, none failed/);
      assert.ok(sent() >= 32, `v0 sent ${sent()} frames (the replay's 32 and the lab's own)`);
    },
  };
};

/** Lines of `netcap serve` examples: they listen, answer, and end on Ctrl-C. */
const serving = (url: string, stateDir: string): Plan => {
  let info = '';
  return {
    ownVarLib: true,
    interrupt: async (r) => {
      await r.until(() => LISTENING.test(r.stderr()), 'the "listening on" line');
      info = lab.ns.run(['curl', '-sf', `${url}/info`]);
    },
    check: (r) => {
      ok(r);
      assert.match(r.stderr, new RegExp(`listening on ${url}`));
      const answer = JSON.parse(info) as { netcap?: string; kinds?: { name: string }[] };
      assert.ok(answer.netcap && answer.kinds?.some((k) => k.name === 'iface'), `GET /info answered ${info}`);
      assert.match(r.stderr, new RegExp(stateDir.replace(/\//g, '\\/')), 'it names its state directory');
    },
  };
};

interface ServiceCapture {
  status: string;
  filter?: string;
}

/** What `service` holds of the capture "web" (undefined: none). */
async function webOn(service: Served): Promise<ServiceCapture | undefined> {
  const answer = (await (await fetch(`${service.url}/captures`)).json()) as { captures: { name: string; status: string; definition: { filter?: string } }[] };
  const web = answer.captures.find((c) => c.name === 'web');
  return web && { status: web.status, filter: web.definition.filter };
}

/** A netcap remote line (run beside the test's service), and what the service then holds of the capture "web". */
function remoteThen(holds: (web: ServiceCapture | undefined) => void): Plan {
  return {
    host: true,
    check: async (r) => {
      ok(r);
      holds(await webOn(served));
    },
  };
}

/** A netcap fleet line, with the README's `export NETCAP_AGENTS=node-a=...,node-b=...` naming the test's two services. */
function fleet(plan: { interrupt?: Plan['interrupt']; check?: (r: Ran) => void; holds?: (web: ServiceCapture | undefined) => void }): Plan {
  return {
    host: true,
    env: { NETCAP_AGENTS: `node-a=${served.url},node-b=${second.url}` },
    interrupt: plan.interrupt,
    check: async (r) => {
      ok(r);
      plan.check?.(r);
      if (plan.holds) for (const service of [served, second]) plan.holds(await webOn(service));
    },
  };
}

/** A merged pcapng of the fleet: packets of `filter` only, from both agents' v1 (interfaces "node-a/v1 ingress"...). */
function mergedHolds(file: string, filter: string): void {
  fileHolds(file, filter);
  const names = new Set(tshark(file, ['frame.interface_name']).map(([name]) => name.replace(/ .*/, '')));
  assert.deepEqual([...names].sort(), ['node-a/v1', 'node-b/v1'], `the agents' interfaces in ${file}`);
}

/** Each of `words` is in what the example printed. */
function says(r: Ran, words: string[]): void {
  for (const word of words) assert.ok(r.stdout.includes(word), `it says ${word}:\n${r.stdout}`);
}

const fleetAgents = (): Plan => fleet({ check: (r) => assert.match(r.stdout, /^node-a: .*netcap [\d.]+ \(API \d+\).*\nnode-b: .*netcap [\d.]+ \(API \d+\)/m) });

/** What each example must do, by its words (spaces between words as one). */
const EXPECTED: Record<string, () => Plan> = {
  'netcap mbuf -f port:0 -e "udp" --pid $(pidof dpdk-testpmd) -w p0.pcapng': () => portZeroToFile,
  'netcap mbuf -f port:0:rx,port:1:tx --pid 1234 -c 1000': () => ({
    check: (r) => {
      ok(r);
      assert.equal(captured(r.stderr), 1000, r.stderr);
      assert.equal(packetLines(r.stdout).length, 1000);
      assert.ok(pointCaptured(r.stderr, 'port0 rx (net_af_packet0)') > 0 && pointCaptured(r.stderr, 'port1 tx (net_af_packet1)') > 0, r.stderr);
    },
  }),
  'netcap mbuf -f port:net_af_packet0:rx/q1 --pid 1234': () => ({
    interrupt: afterPackets(2),
    check: (r) => {
      ok(r);
      assert.match(r.stderr, /listening on port0 rx q1 \(net_af_packet0\)/);
      allMatch(packetLines(r.stdout), / 192\.0\.2\.1[. >]/, "the lab's frames into port 0");
    },
  }),
  'netcap mbuf -f l2fwd_simple_forward@1 -e "tcp port 80" --pid 1234': () => l2fwdPort80,
  'netcap mbuf -f l2fwd_simple_forward@1 -e "tcp port 80" --pid 12833': () => l2fwdPort80,
  'netcap mbuf -f app_process_burst@1@2 --pid 1234 -w out.pcapng udp': () => ({
    interrupt: afterListening(1500),
    check: (r) => {
      ok(r);
      fileHolds('out.pcapng', 'udp');
    },
  }),
  'netcap mbuf --pid 1234 --list': () => ({ check: appListing }),
  'netcap mbuf --pid 4242 --list': () => ({ check: appListing }),
  'netcap mbuf --pid 30093 --list': () => ({
    check: (r) => {
      ok(r);
      assert.match(r.stdout, /^pid \d+ \(dpdk-testpmd\): DPDK 22\.11/m);
      for (const port of [0, 1]) assert.match(r.stdout, new RegExp(`^port ${port}  net_af_packet${port}  driver net_af_packet  started$`, 'm'));
      assert.match(r.stdout, /rx: 2 queues, burst function librte_net_af_packet\.so[\d.]*\+0x[0-9a-f]+/);
      assert.match(r.stdout, /points: port:0:rx/);
    },
  }),
  "netcap mbuf -f port:0 -e udp --pid 30093 -t '-nn -e'": () => ({
    interrupt: afterPackets(3),
    check: (r) => {
      ok(r);
      assert.match(r.stderr, /listening on port0 rx \(net_af_packet0\), port0 tx \(net_af_packet0\) \(pid \d+\), snaplen 262144, filter "udp"/);
      allMatch(packetLines(r.stdout), /^\S+ [0-9a-f:]{17} > [0-9a-f:]{17}, ethertype IPv4 \(0x0800\), length \d+: 192\.0\.2\.1\.\d+ > 192\.0\.2\.2\.\d+: /, 'UDP with its link-level header (-e)');
    },
  }),
  'netcap raw -f app_raw@1@2 --pid 1234 icmp': () => ({
    interrupt: afterPackets(2),
    check: (r) => {
      ok(r);
      allMatch(packetLines(r.stdout), /ICMP echo request/, 'ICMP');
    },
  }),
  'netcap skb -f tracepoint:net:netif_receive_skb -i lo tcp port 80': () => ({
    interrupt: afterPackets(2),
    check: (r) => {
      ok(r);
      allMatch(packetLines(r.stdout), /^\S+ IP 127\.0\.0\.1\.\d+ > 127\.0\.0\.1\.\d+: Flags .*/, 'TCP on lo');
      allMatch(packetLines(r.stdout), /\.80[: ]/, 'port 80');
    },
  }),
  'netcap skb -f tracepoint:skb:kfree_skb -e "host 192.0.2.1" -S': () => freedOfHost,
  'netcap skb -G -f tracepoint:net:netif_receive_skb,tracepoint:net:net_dev_queue icmp': () => gathered(/: ICMP /, 'ICMP'),
  'netcap skb --list': () => ({
    check: (r) => {
      ok(r);
      for (const point of ['tracepoint:net:netif_receive_skb', 'tracepoint:net:net_dev_queue', 'tracepoint:skb:kfree_skb']) assert.ok(r.stdout.includes(point), `${point} is listed`);
    },
  }),
  'netcap skb -f tracepoint:skb:kfree_skb -i v1 --netns nc-demo -e udp -S': () => ({
    interrupt: afterPackets(2),
    check: (r) => {
      ok(r);
      allMatch(packetLines(r.stdout), / > 192\.0\.2\.2\.\d+: /, "UDP the lab sent to v1's address");
      assert.match(r.stdout, /kfree_skb/, 'the stack (-S)');
    },
  }),
  'netcap skb -G -f tracepoint:net:netif_receive_skb,tracepoint:skb:kfree_skb,tracepoint:net:net_dev_queue -e "udp port 5353"': () => gathered(/\.5353: /, 'UDP to port 5353'),
  'netcap iface -i v1 -Q in -e "tcp port 80" -w in.pcapng': () => ({
    interrupt: afterListening(1500),
    check: (r) => {
      ok(r);
      fileHolds('in.pcapng', 'tcp port 80');
      allMatch(tshark('in.pcapng', ['frame.interface_name']).map(([name]) => name), /^v1 ingress$/, 'what came in on v1');
    },
  }),
  'netcap iface -i v1,v2 -Q inout --netns lab -e udp': () => ({
    interrupt: (r) => r.until(() => /198\.51\.100\.\d+\.\d+ > /.test(r.stdout()) && /192\.0\.2\.\d+\.\d+ > /.test(r.stdout()), 'UDP of both interfaces'),
    check: (r) => {
      ok(r);
      allMatch(packetLines(r.stdout), /^\S+ IP (192\.0\.2|198\.51\.100)\.\d+\.\d+ > (192\.0\.2|198\.51\.100)\.\d+\.\d+: /, 'UDP (ports both sides, no ICMP, no TCP flags)');
      assert.doesNotMatch(r.stdout, /Flags \[|ICMP/);
      for (const point of ['v1 ingress', 'v2 ingress']) assert.ok(pointCaptured(r.stderr, point) > 0, `${point} captured:\n${r.stderr}`);
    },
  }),
  'netcap iface -i any -Q out -c 100': () => ({
    check: (r) => {
      ok(r);
      assert.equal(captured(r.stderr), 100, r.stderr);
      assert.equal(packetLines(r.stdout).length, 100);
      assert.doesNotMatch(r.stderr, /ingress/, 'only egress points');
    },
  }),
  "netcap iface -i va --netns lab -e 'udp or icmp or vlan 100' -t '-nn -e'": () => ({
    interrupt: (r) => r.until(() => /vlan 100/.test(r.stdout()) && /ICMP/.test(r.stdout()), 'a VLAN-100 frame and ICMP'),
    check: (r) => {
      ok(r);
      const lines = packetLines(r.stdout);
      allMatch(lines, /^\S+ [0-9a-f:]{17} > [0-9a-f:]{17}, ethertype (IPv4 \(0x0800\)|802\.1Q \(0x8100\)), /, 'with the link-level header (-e)');
      assert.ok(lines.some((l) => /ethertype 802\.1Q \(0x8100\), length \d+: vlan 100, p 0, ethertype IPv4/.test(l)), 'the VLAN tag put back into the frame');
      assert.deepEqual(lines.filter((l) => /Flags \[/.test(l) && !/vlan 100/.test(l)), [], 'no TCP but the VLAN-100 one');
    },
  }),
  'netcap xdp --hook /sys/fs/bpf/lb/xdpcap_hook -e "udp port 53" -w lb.pcapng': () => lbDropsToFile,
  'netcap xdp --hook /sys/fs/bpf/lb/xdpcap_hook --actions drop,tx -c 100': () => ({
    check: (r) => {
      ok(r);
      assert.equal(captured(r.stderr), 100, r.stderr);
      firewallVerdicts(r.stdout, path.basename(lab.lb.dir), ['drop', 'tx']);
    },
  }),
  'netcap xdp --hook /sys/fs/bpf/fw/xdpcap_hook -e udp': () => ({
    interrupt: (r) => r.until(() => ['drop', 'tx', 'pass'].every((a) => verdictsOf(r.stdout(), path.basename(lab.fw.dir)).some((v) => v.action === a)), 'a drop, a tx and a pass'),
    check: (r) => {
      ok(r);
      firewallVerdicts(r.stdout, path.basename(lab.fw.dir), ['drop', 'tx', 'pass']);
      assert.match(r.stderr, new RegExp(`^xdp:${path.basename(lab.fw.dir)} received/matched: aborted: 0/0  drop: \\d+/\\d+  pass: \\d+/\\d+  tx: \\d+/\\d+  redirect: 0/0$`, 'm'));
    },
  }),
  'netcap xdp --hook /sys/fs/bpf/fw/xdpcap_hook -e udp -w fw.pcapng': () => ({
    interrupt: afterListening(1500),
    check: (r) => {
      ok(r);
      // The README's next line: tshark -r fw.pcapng -T fields -e frame.interface_name -e frame.verdict.ebpf_xdp -e udp.dstport
      const rows = tshark('fw.pcapng', ['frame.interface_name', 'frame.verdict.ebpf_xdp', 'udp.dstport']).map(([name, verdict, port]) => `${name.replace(/^xdp:(\S+)/, (_, hook: string) => `xdp:${lab.readerName(hook)}`)} ${verdict} ${port}`);
      allMatch(rows, /^xdp:fw (drop 1 53|tx 3 7|pass 2 (123|5353|80|81|82|83))$/, 'the firewall verdicts, as the README shows them');
      for (const action of ['drop', 'tx', 'pass']) assert.ok(rows.some((row) => row.startsWith(`xdp:fw ${action} `)), `a ${action} in ${rows.length} packets`);
    },
  }),
  'netcap compile -e "tcp port 80" --emit cbpf': () => ({
    check: (r) => {
      ok(r);
      // tcpdump -d on an Ethernet file prints the same program (after netcap's line saying what it is).
      assert.match(r.stdout, /^; tcp port 80 \(link type EN10MB, snaplen 262144\): \d+ cBPF instructions$/m);
      assert.equal(r.stdout.replace(/^;.*\n/gm, '').trim(), execFileSync('tcpdump', ['-r', path.join(dir, 'in.pcap'), '-d', 'tcp port 80'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim());
    },
  }),
  'netcap compile -e "tcp port 80" --emit ebpf': () => ({ check: (r) => ebpfListing(r, 'tcp port 80', 'EN10MB') }),
  'netcap compile -e "tcp port 80" --emit c': () => ({ check: compilesAsC }),
  'netcap compile udp --linktype raw --emit c': () => ({ check: compilesAsC }),
  'netcap compile -e "ip6" --linktype raw': () => ({ check: (r) => ebpfListing(r, 'ip6', 'RAW') }),
  'netcap read -r in.pcap -e "tcp port 80" -w out.pcap': () => writesAsTcpdump('out.pcap', 'in.pcap', 'tcp port 80'),
  'netcap read -r in.pcap udp and port 53 --engine kernel': () => printsAsTcpdump('in.pcap', 'udp and port 53'),
  'netcap read -r in.pcap icmp --no-tcpdump -t "-e -X"': () => ({
    check: (r) => {
      ok(r);
      allMatch(packetLines(r.stdout), /[0-9a-f:]{17} > [0-9a-f:]{17}.*ICMP echo request/, 'ICMP with its link-level header (-e)');
      assert.equal(packetLines(r.stdout).length, tcpdump('in.pcap', 'icmp').length);
      assert.match(r.stdout, /^\s+0x0000: /m, 'the bytes in hex and ASCII (-X)');
    },
  }),
  'netcap read -r web.pcap -e "tcp[tcpflags] & (tcp-syn|tcp-fin) != 0"': () => printsAsTcpdump('web.pcap', 'tcp[tcpflags] & (tcp-syn|tcp-fin) != 0'),
  'netcap read -r web.pcap -w web-udp.pcapng --format pcapng --engine kernel udp': () => writesAsTcpdump('web-udp.pcapng', 'web.pcap', 'udp'),
  'netcap read -r web-udp.pcapng --no-tcpdump -t "-e -X"': () => ({
    check: (r) => {
      ok(r);
      assert.equal(packetLines(r.stdout).length, tcpdump('web.pcap', 'udp').length);
      allMatch(packetLines(r.stdout), /[0-9a-f:]{17} > [0-9a-f:]{17}.*UDP/, 'UDP with its link-level header (-e)');
      assert.match(r.stdout, /^\s+0x0000: /m, '-X');
    },
  }),
  'netcap read -r big.pcap -w ring/out -C 1 -W 3': () => ({
    check: (r) => {
      ok(r);
      // tcpdump's own ring of the same trace is the reference: the same files, the same packets in each.
      fs.mkdirSync(path.join(dir, 'tcpdump-ring'), { recursive: true });
      execFileSync('tcpdump', ['-r', path.join(dir, 'big.pcap'), '-w', path.join(dir, 'tcpdump-ring', 'out'), '-C', '1', '-W', '3', '-Z', 'root'], { stdio: 'ignore' });
      const files = fs.readdirSync(path.join(dir, 'tcpdump-ring')).sort();
      assert.deepEqual(fs.readdirSync(path.join(dir, 'ring')).sort(), files);
      for (const f of files) assert.deepEqual(tcpdump(`ring/${f}`), tcpdump(`tcpdump-ring/${f}`), f);
    },
  }),
  'netcap replay -r background.pcap -w out.pcap --inject probe.pcap@2.5s': () => ({
    check: (r) => {
      ok(r);
      const lines = tcpdump('out.pcap');
      assert.equal(lines.length, tcpdump('background.pcap').length + 5);
      assert.equal(lines.filter((l) => /\.9999: UDP/.test(l)).length, 5, 'the five probes');
    },
  }),
  'netcap replay -r captured.pcapng -i v0 --netns lab -x 2': replayOntoV0,
  'netcap replay -r background.pcap -i v0 --netns lab -x 2': replayOntoV0,
  "netcap replay -r trace.pcap -i a0p --inject 'icmp-echo,src=192.0.2.1,dst=192.0.2.2@3s'": () => {
    const received = rxOf('a1p');
    return {
      check: (r) => {
        ok(r);
        assert.match(r.stderr, /sent 33 packets onto a0p .*: 32 of 32 read from trace\.pcap, 1 from icmp-echo,src=192\.0\.2\.1,dst=192\.0\.2\.2@3s/);
        assert.equal(received(), 33, 'a1p, the other end, received them all');
      },
    };
  },
  'some-generator | netcap replay -r background.pcap -w out.pcap --inject-stream -': () => ({
    check: (r) => {
      ok(r);
      const lines = tcpdump('out.pcap');
      assert.equal(tcpdump('out.pcap', 'udp dst port 7001').length, 10, "the generator's ten frames");
      assert.equal(lines.length, tcpdump('background.pcap').length + 10);
    },
  }),
  "netcap replay -r background.pcap -w out.pcap --inject probe.pcap@0.5s --inject 'icmp-echo,src=192.0.2.1,dst=192.0.2.2@0.25s'": () => ({
    check: (r) => {
      ok(r);
      const lines = tcpdump('out.pcap');
      assert.equal(lines.length, tcpdump('background.pcap').length + 6);
      assert.equal(lines.filter((l) => /\.9999: UDP/.test(l)).length, 5, 'the five probes');
      assert.equal(lines.filter((l) => /192\.0\.2\.1 > 192\.0\.2\.2: ICMP echo request/.test(l)).length, tcpdump('background.pcap', 'icmp').length + 1, 'the echo request woven in');
    },
  }),
  'netcap serve': () => serving('http://127.0.0.1:9000', '/var/lib/netcap'),
  'netcap serve --listen 127.0.0.1:9100 --state-dir netcap-state': () => serving('http://127.0.0.1:9100', 'netcap-state'),
  'netcap remote add web --kind iface --iface v1 --netns nc-demo --capture ingress filter="tcp port 80"': () => remoteThen((web) => assert.equal(web?.filter, 'tcp port 80')),
  'netcap remote set web filter="tcp port 443" snaplen=96 capture=bidirectional': () => remoteThen((web) => assert.equal(web?.filter, 'tcp port 443')),
  'netcap remote show web': () => ({
    host: true,
    check: (r) => {
      ok(r);
      // Bidirectional: both of v1's directions are points.
      says(r, ['filter "tcp port 443"', 'snaplen 96', 'v1 ingress: seen', 'v1 egress: seen']);
    },
  }),
  'netcap remote stream web -w web-live.pcapng': () => ({
    host: true,
    interrupt: afterListening(1500),
    check: (r) => {
      ok(r);
      fileHolds('web-live.pcapng', 'tcp port 443');
    },
  }),
  'netcap remote dump web -w web.pcapng': () => ({
    host: true,
    check: (r) => {
      ok(r);
      fileHolds('web.pcapng', 'tcp port 80 or tcp port 443');
      assert.ok(tcpdump('web.pcapng', 'tcp port 443').length > 0, 'what came after the set');
    },
  }),
  'netcap remote stop web': () => remoteThen((web) => assert.equal(web?.status, 'stopped')),
  'netcap remote del web --remove-dump': () => remoteThen((web) => assert.equal(web, undefined)),
  'netcap fleet agents': fleetAgents,
  'netcap fleet add web --iface v1 --netns nc-demo -Q inout -e "tcp port 443"': () => fleet({ holds: (web) => assert.equal(web?.filter, 'tcp port 443') }),
  'netcap fleet set web -e "tcp port 80"': () => fleet({ holds: (web) => assert.equal(web?.filter, 'tcp port 80') }),
  'netcap fleet show web': () => fleet({ check: (r) => says(r, ['node-a', 'node-b', 'tcp port 80']) }),
  'netcap fleet stream web -w web-all.pcapng': () => fleet({ interrupt: afterListening(1500), check: () => mergedHolds('web-all.pcapng', 'tcp port 80') }),
  'netcap fleet dump web -w web-dumps.pcapng': () => fleet({ check: () => mergedHolds('web-dumps.pcapng', 'tcp port 80 or tcp port 443') }),
  'netcap fleet stop web': () => fleet({ holds: (web) => assert.equal(web?.status, 'stopped') }),
  'netcap fleet del web --remove-dump': () => fleet({ holds: (web) => assert.equal(web, undefined) }),
  'netcap fleet show': () => fleet({ check: (r) => says(r, ['node-a', 'node-b']) }),
};

/** A read that prints what `tcpdump -r file filter` prints. */
function printsAsTcpdump(file: string, filter: string): Plan {
  return {
    check: (r) => {
      ok(r);
      assert.deepEqual(packetLines(r.stdout), tcpdump(file, filter));
    },
  };
}

/** A read that writes to `out` the packets `tcpdump -r file filter` shows. */
function writesAsTcpdump(out: string, file: string, filter: string): Plan {
  return {
    check: (r) => {
      ok(r);
      assert.deepEqual(tcpdump(out), tcpdump(file, filter));
    },
  };
}

/** An eBPF listing of `expr`: as many instructions as its first line says, the last one an exit. */
function ebpfListing(r: Ran, expr: string, linktype: string): void {
  ok(r);
  const count = Number(new RegExp(`^; ${expr} \\(link type ${linktype}, snaplen 262144\\): \\d+ cBPF -> (\\d+) eBPF instructions$`, 'm').exec(r.stdout)?.[1]);
  const insns = r.stdout.split('\n').filter((l) => /^\d+: \(/.test(l));
  assert.ok(count > 0, r.stdout);
  assert.deepEqual(insns.map((l) => Number(l.split(':')[0])), Array.from({ length: count }, (_, i) => i), 'instructions numbered 0 .. N-1');
  assert.match(insns[count - 1], /\(95\) exit/);
}

/** The C a compile example prints is C: gcc takes it. */
function compilesAsC(r: Ran): void {
  ok(r);
  const file = path.join(dir, 'filter.c');
  fs.writeFileSync(file, r.stdout);
  execFileSync('gcc', ['-fsyntax-only', '-x', 'c', file], { stdio: ['ignore', 'pipe', 'pipe'] });
}

function run(line: string, plan: Plan): Promise<Ran> {
  const { argv, env } = lab.commandLine(line, plan);
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0], argv.slice(1), { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    world.track(child);
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
    let ended = false;
    const killer = setTimeout(() => child.kill('SIGKILL'), 40_000);
    const running: Running = {
      stdout: () => stdout,
      stderr: () => stderr,
      until: (holds, what, ms = 20_000) =>
        new Promise((done, fail) => {
          const start = Date.now();
          const check = (): void => {
            if (holds()) return done();
            if (ended || Date.now() - start > ms) return fail(new Error(`${ended ? 'ended' : `${ms} ms passed`} before ${what}:\n${stderr}\n${stdout.slice(-2000)}`));
            setTimeout(check, 50);
          };
          check();
        }),
    };
    let interrupted: Promise<void> = Promise.resolve();
    if (plan.interrupt) interrupted = plan.interrupt(running).then(() => void child.kill('SIGINT'));
    interrupted.catch(() => child.kill('SIGINT'));
    child.once('close', (code, signal) => {
      ended = true;
      clearTimeout(killer);
      interrupted.then(() => resolve({ code, signal, stdout, stderr }), reject);
    });
  });
}

const helpExamples = commands.flatMap((c) => c.examples.map((e) => ({ where: `netcap ${c.command.split(' ')[0]} --help`, line: e.command })));
const readmeExamples = fs
  .readFileSync(path.join(repoRoot, 'README.md'), 'utf8')
  .split('\n')
  .map((l) => /^ {4}((?:\$ )?netcap .*)$/.exec(l)?.[1])
  .filter((l): l is string => l !== undefined)
  .map((line) => ({ where: 'README.md', line }));
const key = (line: string): string => exampleText(line).replace(/ {2,}/g, ' ');

void test('there are examples to run: every command has some, the README many; every one has an expectation', () => {
  for (const c of commands) assert.ok(c.examples.length > 0, c.command);
  assert.ok(readmeExamples.length >= 12, readmeExamples.map((e) => e.line).join('\n'));
  assert.deepEqual([...helpExamples, ...readmeExamples].map((e) => key(e.line)).filter((k) => !(k in EXPECTED)), [], 'examples without an expectation in EXPECTED');
});

// One DPDK process at a time (each polls a core): the examples of each run together, after the others.
const ORDER = [undefined, 'app', 'l2fwd', 'testpmd'];
const examples = [...helpExamples, ...readmeExamples].sort((a, b) => ORDER.indexOf(dpdkOf(a.line)) - ORDER.indexOf(dpdkOf(b.line)));

for (const { where, line } of examples) {
  test(`${where}: ${line}`, async () => {
    const expected = EXPECTED[key(line)];
    assert.ok(expected, `no expectation for "${line}"`);
    const kind = dpdkOf(line);
    if (kind) await lab.startDpdk(kind);
    else await lab.stopDpdk();
    const plan = expected();
    await plan.check(await run(line, plan));
  });
}

