// The machine the examples of --help and the README talk about, made real:
// a namespace where netcap runs (the reader's machine) holding the
// interfaces the examples name, the example XDP firewall attached with its
// hook pinned where the examples point, the DPDK processes whose pids they
// give, the files they read, traffic on every interface they capture on,
// and the placeholders a reader replaces (a pid, a namespace's name, a pin
// path, a program that writes packets) as one table.
//
//   lab (netns where netcap runs; also the examples' "--netns lab" and the demo's nc-demo)
//     v0 ── v1 192.0.2.2      the interfaces of the iface, skb and replay examples
//     v3 ── v2 198.51.100.2
//     w0 ── w1 203.0.113.2    w1: xdp firewall, hook /sys/fs/bpf/fw (drop udp 53, bounce udp 7)
//     w2 ── w3 198.18.0.2     w3: the same program, hook /sys/fs/bpf/lb
//       (the README attaches fw to v1; here the firewalls have interfaces of their own,
//       since under a generic XDP program the TC hook sees packets without their
//       Ethernet header, which the iface examples would show)
//     va 10.17.0.1 ── vb 10.17.0.2 (vb in a peer namespace: broadcasts, an 802.1Q-tagged one too)
//     a0p ── a1p              (nothing else on them: what netcap replay sends is all a1p receives)
//     lo
//   DPDK, one at a time (each polls a core): the test app (pid 1234, 4242), l2fwd
//         (pid 1234 with l2fwd_simple_forward, 12833), dpdk-testpmd with two
//         queues per port (pid 1234 with port points, 30093, $(pidof dpdk-testpmd))
//   bin/ first on PATH, for the lines a shell runs: netcap, some-generator (numbered
//         frames as JSON lines), pidof (the real one, answering only with the lab's processes)
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { startL2fwd, startTestApp, type DpdkApp } from '../../lab/dpdk';
import { tcpFrame, udpFrame } from '../../lab/frames';
import { inject } from '../../lab/inject';
import type { Namespace, World } from '../../lab/netns';
import { startTestpmd } from '../../lab/testpmd';
import { attachXdpFirewall, inNetns, type AttachedFirewall } from '../../lab/xdp';
import { LINKTYPE_ETHERNET } from '../../src/output/linktypes';
import type { CapturedPacket } from '../../src/output/packet';
import { PcapWriter } from '../../src/output/pcap-writer';
import { PcapngWriter } from '../../src/output/pcapng-writer';
import { packetsFromSpec } from '../../src/replay/packet-spec';
import { splitShellWords } from '../../src/output/shell-words';
import { NETCAP } from '../capture/netcap-child';

const MAC = { v0: '02:00:00:00:12:01', v1: '02:00:00:00:12:02', v2: '02:00:00:00:12:03', v3: '02:00:00:00:12:04', w0: '02:00:00:00:13:00', w1: '02:00:00:00:13:01', w2: '02:00:00:00:13:02', w3: '02:00:00:00:13:03', va: '02:00:00:00:17:01', vb: '02:00:00:00:17:02' };

/** Frames of every kind the examples filter for, from `src` to `dst` (IP and MAC). */
function mixedTraffic(src: { ip: string; mac: string }, dst: { ip: string; mac: string }): Buffer[] {
  const addr = { srcIp: src.ip, dstIp: dst.ip, srcMac: src.mac, dstMac: dst.mac };
  const icmp = packetsFromSpec(`icmp-echo,src=${src.ip},dst=${dst.ip},smac=${src.mac},dmac=${dst.mac}`, LINKTYPE_ETHERNET)[0].data;
  // Eight flows, so that both queues of a two-queue af_packet port (a hash of the flow) get some.
  return [53, 7, 123, 5353, 80, 81, 82, 83].flatMap((port, i) => [
    udpFrame({ ...addr, srcPort: 40000 + i, dstPort: port, payload: Buffer.from('query') }),
    tcpFrame({ ...addr, srcPort: 41000 + i, dstPort: i % 2 ? 443 : 80, flags: 0x18, payload: Buffer.from('GET / HTTP/1.1\r\n\r\n') }),
    icmp,
  ]);
}

/** An 802.1Q tag put into an Ethernet frame. */
function vlanTagged(frame: Buffer, vid: number): Buffer {
  const tag = Buffer.from([0x81, 0x00, vid >> 8, vid & 0xff]);
  return Buffer.concat([frame.subarray(0, 12), tag, frame.subarray(12)]);
}

/** Sends `frames` round and round out of `ifname` until the world is destroyed. */
function keepSending(ns: Namespace, ifname: string, frames: Buffer[]): void {
  // Killed on world.destroy(): the rejection that follows is the end, not a failure
  // (a sender that could not start shows as an example that captured nothing).
  inject(ns, ifname, frames, { rate: 200, count: 720_000, durationMs: 3_600_000, timeoutMs: 3_700_000 }).catch(() => {});
}

async function writePcap(file: string, packets: CapturedPacket[]): Promise<void> {
  const w = new PcapWriter(fs.createWriteStream(file), { linktype: LINKTYPE_ETHERNET, snaplen: 262144, nanosecond: true });
  for (const p of packets) await w.writePacket(p);
  await w.close(true);
}

async function writePcapng(file: string, packets: CapturedPacket[]): Promise<void> {
  const w = new PcapngWriter(fs.createWriteStream(file), { interfaces: [{ name: 'v1', linktype: LINKTYPE_ETHERNET, snaplen: 262144 }] });
  for (const p of packets) await w.writePacket(p);
  await w.close(true);
}

/** `count` frames `gapMs` apart, from a fixed start. */
function trace(frames: Buffer[], count: number, gapMs: number): CapturedPacket[] {
  const start = 1_700_000_000_000_000_000n;
  return Array.from({ length: count }, (_, i) => {
    const data = frames[i % frames.length];
    return { ifIndex: 0, tsNs: start + BigInt(i) * BigInt(gapMs) * 1_000_000n, data, wirelen: data.length };
  });
}

/** The files the examples read: captures (read), backgrounds and probes (replay), a ring folder (-C -W). */
async function writeFiles(dir: string): Promise<void> {
  // A DNS query, a TCP SYN to port 80, an mDNS datagram, an ICMP echo request: one for each of the read examples' filters.
  const some = [udpFrame({ dstPort: 53 }), tcpFrame({ dstPort: 80, payload: Buffer.from('GET /') }), udpFrame({ dstPort: 5353 }), ...packetsFromSpec('icmp-echo,src=192.0.2.1,dst=192.0.2.2', LINKTYPE_ETHERNET).map((p) => p.data)];
  await writePcap(path.join(dir, 'in.pcap'), trace(some, some.length, 1));
  await writePcap(path.join(dir, 'web.pcap'), trace(some, some.length, 1));
  await writePcap(path.join(dir, 'big.pcap'), trace(Array.from({ length: 100 }, (_, i) => udpFrame({ dstPort: 1000 + i, payload: Buffer.alloc(400, i) })), 5000, 1));
  // The replays inject at 0.25 s to 3 s of their background: backgrounds span 3.1 s.
  const background = trace(mixedTraffic({ ip: '192.0.2.1', mac: MAC.v0 }, { ip: '192.0.2.2', mac: MAC.v1 }), 32, 100);
  for (const name of ['background.pcap', 'trace.pcap']) await writePcap(path.join(dir, name), background);
  await writePcapng(path.join(dir, 'captured.pcapng'), background);
  await writePcap(path.join(dir, 'probe.pcap'), trace([udpFrame({ dstPort: 9999, payload: Buffer.from('probe') })], 5, 10));
  fs.mkdirSync(path.join(dir, 'ring'));
}

/** The DPDK processes the examples trace. */
export type DpdkKind = 'app' | 'l2fwd' | 'testpmd';

/** The README's transcripts give the pids they ran with. */
const PID_WORDS = new Map<string, DpdkKind>([['12833', 'l2fwd'], ['4242', 'app'], ['30093', 'testpmd']]);

/** The DPDK process an example's line is about: its pid's (1234 stands for the one the line names). */
export function dpdkOf(line: string): DpdkKind | undefined {
  if (/\$\(pidof dpdk-testpmd\)/.test(line)) return 'testpmd';
  const pid = /--pid (\d+)/.exec(line)?.[1];
  if (pid === undefined) return undefined;
  return PID_WORDS.get(pid) ?? (line.includes('l2fwd_simple_forward') ? 'l2fwd' : /\bport:/.test(line) ? 'testpmd' : 'app');
}

/** A command line of an example, ready to spawn inside the lab. */
export interface ExampleRun {
  argv: string[];
  env: NodeJS.ProcessEnv;
}

export interface WhereToRun {
  /** In the test's own namespace (netcap remote, whose service the test runs there) instead of the lab's. */
  host?: boolean;
  /** With a /var/lib of its own (an empty tmpfs in a mount namespace), for the defaults that live there. */
  ownVarLib?: boolean;
  /** Variables the example's text sets before it (the README's `export NETCAP_AGENTS=...`). */
  env?: NodeJS.ProcessEnv;
}

export interface ExampleLab {
  /** The namespace netcap runs in (the examples' "lab" and "nc-demo"). */
  ns: Namespace;
  /** The folder holding the files the examples name: netcap's working directory. */
  dir: string;
  /** The firewalls whose hooks the examples call /sys/fs/bpf/fw and /sys/fs/bpf/lb. */
  fw: AttachedFirewall;
  lb: AttachedFirewall;
  /** Starts the DPDK process `kind` (stopping the one before: each polls a core) and resolves with it. */
  startDpdk(kind: DpdkKind): Promise<DpdkApp>;
  /** Stops the running DPDK process, if any. */
  stopDpdk(): Promise<void>;
  /** The example's line as run here: its words with the placeholders filled in, or the line itself through bash. */
  commandLine(line: string, where?: WhereToRun): ExampleRun;
  /** What the example says in place of a name of the lab (the hook "fw" for "nc-examples-1a2b3c"), for comparing transcripts. */
  readerName(name: string): string;
}

/** The line without a prompt and without a comment, as a shell takes it. */
export function exampleText(line: string): string {
  return line.replace(/^\$ /, '').replace(/\s+#\s.*$/, '');
}

/** The lab's bin/: netcap, the generator the replay example pipes in, and pidof limited to `pids()`. */
function writeBin(dir: string, pids: () => number[]): { bin: string; writePidof: () => void } {
  const bin = path.join(dir, 'bin');
  fs.mkdirSync(bin);
  fs.symlinkSync(NETCAP, path.join(bin, 'netcap'));
  const producer = path.join(__dirname, '..', 'replay', 'fixtures', 'stream-producer.js');
  fs.writeFileSync(path.join(bin, 'some-generator'), `#!/bin/sh\n# ten numbered frames as JSON lines, one every 100 ms\nexec ${process.execPath} ${producer} --format json --count 10 --interval-ms 100\n`, { mode: 0o755 });
  const realPidof = execFileSync('bash', ['-c', 'command -v pidof'], { encoding: 'utf8' }).trim();
  // Other engineers' tests run the same programs: the lab's pidof keeps to its own.
  const writePidof = () =>
    fs.writeFileSync(path.join(bin, 'pidof'), `#!/bin/sh\nfor p in $(${realPidof} "$@"); do case " ${pids().join(' ')} " in *" $p "*) echo $p; exit 0;; esac; done\nexit 1\n`, { mode: 0o755 });
  writePidof();
  return { bin, writePidof };
}

/** The world's part for the examples: everything is destroyed with `world`. */
export async function setUpExampleLab(world: World, dir: string): Promise<ExampleLab> {
  const ns = world.addNamespace();
  const peer = world.addNamespace(`${world.purpose}-peer`);
  ns.addVeth('v0', 'v1', { local: { mac: MAC.v0 }, peer: { mac: MAC.v1, address: '192.0.2.2/24' } });
  ns.addVeth('v3', 'v2', { local: { mac: MAC.v3 }, peer: { mac: MAC.v2, address: '198.51.100.2/24' } });
  ns.addVeth('va', 'vb', { peerIn: peer, local: { mac: MAC.va, address: '10.17.0.1/24' }, peer: { mac: MAC.vb, address: '10.17.0.2/24' } });
  ns.addVeth('w0', 'w1', { local: { mac: MAC.w0 }, peer: { mac: MAC.w1, address: '203.0.113.2/24' } });
  ns.addVeth('w2', 'w3', { local: { mac: MAC.w2 }, peer: { mac: MAC.w3, address: '198.18.0.2/24' } });
  ns.addVeth('a0p', 'a1p');
  // v0, v3, w0 and w2 have no address: answers to their frames go to their MACs (no ARP left unanswered).
  ns.ip(['neigh', 'add', '192.0.2.1', 'lladdr', MAC.v0, 'dev', 'v1', 'nud', 'permanent']);
  ns.ip(['neigh', 'add', '198.51.100.1', 'lladdr', MAC.v3, 'dev', 'v2', 'nud', 'permanent']);
  ns.ip(['neigh', 'add', '203.0.113.1', 'lladdr', MAC.w0, 'dev', 'w1', 'nud', 'permanent']);
  ns.ip(['neigh', 'add', '198.18.0.1', 'lladdr', MAC.w2, 'dev', 'w3', 'nud', 'permanent']);
  const fw = attachXdpFirewall(ns, 'w1', { drop: [53], bounce: [7] });
  const lb = attachXdpFirewall(ns, 'w3', { drop: [53], bounce: [7] });
  await writeFiles(dir);

  keepSending(ns, 'v0', mixedTraffic({ ip: '192.0.2.1', mac: MAC.v0 }, { ip: '192.0.2.2', mac: MAC.v1 }));
  keepSending(ns, 'v3', mixedTraffic({ ip: '198.51.100.1', mac: MAC.v3 }, { ip: '198.51.100.2', mac: MAC.v2 }));
  keepSending(ns, 'w0', mixedTraffic({ ip: '203.0.113.1', mac: MAC.w0 }, { ip: '203.0.113.2', mac: MAC.w1 }));
  keepSending(ns, 'w2', mixedTraffic({ ip: '198.18.0.1', mac: MAC.w2 }, { ip: '198.18.0.2', mac: MAC.w3 }));
  keepSending(ns, 'lo', mixedTraffic({ ip: '127.0.0.1', mac: '00:00:00:00:00:00' }, { ip: '127.0.0.1', mac: '00:00:00:00:00:00' }));
  const broadcast = udpFrame({ srcIp: '10.17.0.2', dstIp: '10.17.0.255', srcMac: MAC.vb, dstMac: 'ff:ff:ff:ff:ff:ff', dstPort: 53 });
  keepSending(peer, 'vb', [broadcast, vlanTagged(broadcast, 100), ...mixedTraffic({ ip: '10.17.0.2', mac: MAC.vb }, { ip: '10.17.0.1', mac: MAC.va })]);

  let running: { kind: DpdkKind; app: DpdkApp } | undefined;
  const { bin, writePidof } = writeBin(dir, () => (running ? [running.app.pid] : []));
  const stopDpdk = async (): Promise<void> => {
    await running?.app.stop();
    running = undefined;
    writePidof();
  };
  const start = { app: startTestApp, l2fwd: startL2fwd, testpmd: (w: World) => startTestpmd(w, { queues: 2 }) };
  const startDpdk = async (kind: DpdkKind): Promise<DpdkApp> => {
    if (running?.kind === kind) return running.app;
    await stopDpdk();
    const app = await start[kind](world);
    running = { kind, app };
    writePidof();
    keepSending(app.ns, 'a1', mixedTraffic({ ip: '192.0.2.1', mac: '02:00:00:00:0a:01' }, { ip: '192.0.2.2', mac: '02:00:00:00:0b:01' }));
    return app;
  };
  const namespaces = new Map([['lab', ns.name], ['nc-demo', ns.name]]);
  const pins = new Map([['/sys/fs/bpf/fw', fw], ['/sys/fs/bpf/lb', lb]] as [string, AttachedFirewall][]);
  const fill = (line: string) => (word: string): string => {
    if (/^(1234|12833|4242|30093)$/.test(word)) {
      if (running === undefined || running.kind !== dpdkOf(line)) throw new Error(`"${line}": start its DPDK process (${dpdkOf(line)}) first`);
      return String(running.app.pid);
    }
    if (namespaces.has(word)) return namespaces.get(word)!;
    for (const [pin, firewall] of pins) if (word.startsWith(`${pin}/`)) return firewall.dir + word.slice(pin.length);
    return word;
  };

  return {
    ns,
    dir,
    fw,
    lb,
    startDpdk,
    stopDpdk,
    commandLine(text: string, where: WhereToRun = {}): ExampleRun {
      const line = exampleText(text);
      const env = { ...process.env, ...where.env, PATH: `${bin}:${path.dirname(process.execPath)}:${process.env.PATH ?? '/usr/bin:/bin'}` };
      const place = (argv: string[]): string[] => {
        const placed = where.host ? argv : inNetns(ns, argv);
        // The mount namespace dies with the command, and the tmpfs with it.
        return where.ownVarLib ? ['unshare', '--mount', '--propagation', 'private', 'bash', '-c', 'mount -t tmpfs netcap-example /var/lib && exec "$@"', 'own-var-lib', ...placed] : placed;
      };
      if (/[|$`]/.test(line.replace(/'[^']*'|"[^"]*"/g, ''))) {
        // A pipe or $(...) is the shell's work: bash runs the line as it is (so no placeholder may need filling).
        const words = splitShellWords(line.replace(/\$\([^)]*\)/g, 'x').replace(/\|/g, ' '));
        if (words.map(fill(line)).some((w, i) => w !== words[i])) throw new Error(`"${text}": a line for the shell must not need a placeholder filled`);
        return { argv: place(['bash', '-c', line]), env };
      }
      const words = splitShellWords(line).map(fill(line));
      if (words[0] !== 'netcap') throw new Error(`"${text}" does not run netcap`);
      return { argv: place([process.execPath, NETCAP, ...words.slice(1)]), env };
    },
    readerName(name: string): string {
      for (const [pin, firewall] of pins) if (path.basename(firewall.dir) === name) return path.basename(pin);
      return name;
    },
  };
}
