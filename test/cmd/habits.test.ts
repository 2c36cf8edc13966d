// A second table of command lines (beside command-lines.test.ts): tcpdump
// users' habits, the cases that used to give a silently wrong result, and
// bad input, each run as a user runs it (bin/netcap as a child, real kernel,
// real DPDK test app, real tcpdump). Where a habit or a silent case is about
// what gets captured, the row counts the packets and checks what they are
// (a filter that was dropped would let the TCP frames through; an output
// option that was ignored would leave no file), not only the exit status.
// A row that reaches "listening on" also proves that every BPF program and
// link the netcap process held is gone once it has exited.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readCaptureFile } from '../../src/output/read-capture';
import { PcapWriter } from '../../src/output/pcap-writer';
import { World, listTestNamespaces, type Namespace } from '../../lab/netns';
import { inject } from '../../lab/inject';
import { tcpFrame, udpFrame } from '../../lab/frames';
import { startTestApp, startL2fwd, type DpdkApp } from '../../lab/dpdk';
import { NETCAP, bpfObjectsOf, runNetcap, stillLoaded, tempDir } from '../capture/netcap-child';

const world = new World('habits');
const dir = tempDir('habits');
let ns: Namespace;
let app: DpdkApp;
let l2fwd: DpdkApp;
const SENDER_MAC = '02:00:00:00:11:01';
const RECEIVER_MAC = '02:00:00:00:11:02';

/** Six frames: UDP to 53, TCP to 80, UDP to 5353, TCP to 22, UDP to 53, TCP to 80 (three UDP, three TCP). */
function frames(dstMac: string): Buffer[] {
  const base = { srcMac: SENDER_MAC, dstMac, src: '192.0.2.1', dst: '192.0.2.2' };
  return [
    udpFrame({ ...base, srcPort: 47001, dstPort: 53, payload: Buffer.from('first query') }),
    tcpFrame({ ...base, srcPort: 47002, dstPort: 80, payload: Buffer.alloc(300, 0x41) }),
    udpFrame({ ...base, srcPort: 47003, dstPort: 5353, payload: Buffer.alloc(900, 0x42) }),
    tcpFrame({ ...base, srcPort: 47004, dstPort: 22, payload: Buffer.alloc(40, 0x43) }),
    udpFrame({ ...base, srcPort: 47005, dstPort: 53, payload: Buffer.alloc(1200, 0x44) }),
    tcpFrame({ ...base, srcPort: 47006, dstPort: 80, payload: Buffer.from('GET / HTTP/1.1\r\n\r\n') }),
  ];
}
const SKB_FRAMES = () => frames(RECEIVER_MAC);
const APP_FRAMES = () => frames('02:00:00:00:0b:01');

/** IPv4 protocol of an Ethernet frame: 6 TCP, 17 UDP. */
const proto = (p: Buffer) => p[23];
const UDP = (p: Buffer) => proto(p) === 17;
const TCP = (p: Buffer) => proto(p) === 6;
const dstPort = (p: Buffer) => p.readUInt16BE(36);

async function writePcap(file: string, list: Buffer[], stepNs: bigint, cutAt?: number): Promise<void> {
  const w = new PcapWriter(fs.createWriteStream(file), { linktype: 1, snaplen: 262144 });
  let t = 1_700_000_000_000_000_000n;
  for (const f of list) await w.writePacket({ ifIndex: 0, tsNs: (t += stepNs), data: f, wirelen: f.length });
  await w.close(true);
  if (cutAt !== undefined) fs.truncateSync(file, fs.statSync(file).size - cutAt);
}

before(async () => {
  ns = world.addNamespace();
  ns.addVeth('v0', 'v1', { local: { mac: SENDER_MAC }, peer: { mac: RECEIVER_MAC, address: '192.0.2.2/24' } });
  app = await startTestApp(world);
  l2fwd = await startL2fwd(world);
  await writePcap(path.join(dir, 'in.pcap'), SKB_FRAMES(), 1_000_000n);
  // One second apart, for --rotate-seconds; and a file cut in its last packet.
  await writePcap(path.join(dir, 'spread.pcap'), SKB_FRAMES(), 1_000_000_000n);
  await writePcap(path.join(dir, 'cut.pcap'), SKB_FRAMES(), 1_000_000n, 50);
  await writePcap(path.join(dir, 'big.pcap'), [...SKB_FRAMES(), ...SKB_FRAMES(), ...SKB_FRAMES(), ...SKB_FRAMES()], 1_000_000n);
  // The rows run as nobody read in.pcap (and must not read secret.pcap).
  fs.chmodSync(dir, 0o755);
  fs.mkdirSync(path.join(dir, 'adir'));
  fs.writeFileSync(path.join(dir, 'secret.pcap'), fs.readFileSync(path.join(dir, 'in.pcap')), { mode: 0o600 });
});

after(async () => {
  spawnSync('umount', [FULL]);
  await world.destroy();
  fs.rmSync(dir, { recursive: true, force: true });
  assert.deepEqual(listTestNamespaces().filter((n) => n.startsWith('nc-habits-')), [], 'no namespace of this test is left');
});

interface Row {
  /** Words after `netcap`; {ns}, {pid} (the test app), {l2fwd}, {app} (its binary), {dir} are filled in. */
  args: string[];
  /** Frames sent once netcap is listening: on v0 (received on v1), or into the DPDK app. */
  send?: 'skb' | 'app';
  /** The command ends by itself (-c, an error, a listing); otherwise SIGINT after the frames. */
  endsItself?: boolean;
  /** Run as this user instead of root. */
  user?: 'nobody';
  code: number;
  stdout?: RegExp[];
  stderr?: RegExp[];
  /** Must not appear: e.g. "listening on" for what must fail before anything is attached. */
  notStderr?: RegExp[];
  notStdout?: RegExp[];
  /** Lines of stdout matching `match`: exactly `count`. */
  lines?: { match: RegExp; count: number };
  /** A file (relative to {dir}) the row writes: its packet count, what every packet is, and whether tcpdump -r reads it. */
  file?: { name: string; packets: number; every?: (p: Buffer) => boolean; caplenAtMost?: number; linktype?: number; tcpdumpReads?: boolean };
  /** Files that must not exist afterwards (relative to {dir}). */
  noFile?: string[];
  setup?: () => void;
  cleanup?: () => void;
}

const SKB = ['skb', '-f', 'tracepoint:net:netif_receive_skb', '-i', 'v1', '--netns', '{ns}'];
const IN = '{dir}/in.pcap';
const LISTENING = /netcap: listening on /;
const NOTHING_ATTACHED = { notStderr: [LISTENING] };
const FULL = path.join(dir, 'full');

const ROWS: Row[] = [
  // --- the silent cases: words after --, the raw-IP interface, readers that go away, options that did not apply, -t and -nn
  { args: [...SKB, '-w', '{dir}/dashdash.pcap', '--', 'udp'], send: 'skb', code: 0, stderr: [/filter "udp"/], file: { name: 'dashdash.pcap', packets: 3, every: UDP } },
  { args: [...SKB, '-c', '2', '--json', '--', 'udp', 'port', '53'], send: 'skb', endsItself: true, code: 0, lines: { match: /"summary":"IP 192\.0\.2\.1\.4700[15] > 192\.0\.2\.2\.53: UDP/, count: 2 } },
  { args: ['read', '-r', IN, '--', 'udp', '-w', '{dir}/dd-read.pcap'], endsItself: true, code: 2, stderr: [/bad filter expression "udp -w .*dd-read\.pcap"/], noFile: ['dd-read.pcap'] },
  { args: ['read', '-r', IN, 'udp', '-w', '{dir}/trail-read.pcap'], endsItself: true, code: 0, stderr: [/kept 3 of 6 packets/], file: { name: 'trail-read.pcap', packets: 3, every: UDP } },
  { args: [...SKB, '-w', '{dir}/one.pcapng', 'tcp'], send: 'skb', code: 0, file: { name: 'one.pcapng', packets: 3, every: TCP, linktype: 1, tcpdumpReads: true } },
  { args: ['read', '-r', '{dir}/one.pcapng', '-w', '{dir}/one-again.pcap'], endsItself: true, code: 0, file: { name: 'one-again.pcap', packets: 3, every: TCP } },
  { args: [...SKB, '-t', '-Y'], endsItself: true, code: 2, stderr: [/tcpdump refused the flags -l -nn -Y/], ...NOTHING_ATTACHED },
  { args: [...SKB, '-t', '-T nosuchtype'], endsItself: true, code: 2, stderr: [/tcpdump refused the flags .*: unknown packet type `nosuchtype'/], ...NOTHING_ATTACHED },
  { args: [...SKB, '-t', '-X', '-t', '-e'], endsItself: true, code: 2, stderr: [/-t was given more than once \("-X" and "-e"\)/], ...NOTHING_ATTACHED },
  { args: [...SKB, '-t', 'udp'], endsItself: true, code: 2, stderr: [/-t takes tcpdump's printing flags, and "udp" is none/], ...NOTHING_ATTACHED },
  { args: [...SKB, '-t', '-c 5'], endsItself: true, code: 2, stderr: [/tcpdump flag -c is not allowed in -t \(netcap -c N stops after N packets\)/] },
  { args: ['skb', '-f', 'tracepoint:net:netif_receive_skb', '--netns', '{ns}'], endsItself: true, code: 2, stderr: [/--netns names the network namespace of the -i device/] },
  { args: ['mbuf', '-f', 'app_process_one@1', '--pid', '{pid}', '--binary', '/bin/true'], endsItself: true, code: 2, stderr: [/process \d+ does not map \/bin\/true/] },
  { args: ['mbuf', '-f', 'app_process_one@1', '--pid', '{pid}', '--binary', '{app}', '-c', '2', '-w', '{dir}/binpid.pcap', 'udp'], send: 'app', endsItself: true, code: 0, file: { name: 'binpid.pcap', packets: 2, every: UDP } },
  { args: [...SKB, '--json', '-w', '{dir}/j.pcap'], endsItself: true, code: 2, stderr: [/--json prints packets; -w writes them to a file/], noFile: ['j.pcap'] },
  { args: [...SKB, '--print', '-w', '-'], endsItself: true, code: 2, stderr: [/--print decodes to stdout, where -w - writes the capture/] },
  { args: [...SKB, '--print'], endsItself: true, code: 2, stderr: [/--print applies with -w FILE/] },
  { args: [...SKB, '--format', 'pcapng'], endsItself: true, code: 2, stderr: [/--format applies to the file written with -w/] },
  { args: [...SKB, '--meta', '-w', '{dir}/m.pcap'], endsItself: true, code: 2, stderr: [/--meta applies to packets decoded as text, and -w writes them to a file/] },
  { args: [...SKB, '--meta', '--json'], endsItself: true, code: 2, stderr: [/--meta applies to packets decoded as text, and --json prints JSON/] },
  { args: [...SKB, '-t', '-e', '-w', '{dir}/t.pcap'], endsItself: true, code: 2, stderr: [/-t "-e" applies to packets decoded as text/] },
  { args: [...SKB, '--meta', '-c', '3', 'udp'], send: 'skb', endsItself: true, code: 0, lines: { match: /^\[v1@tracepoint:net:netif_receive_skb\] pid=\d+ .*skb=0x[0-9a-f]+ ifindex=\d+ \(v1\)/, count: 3 }, notStdout: [/point=/] },
  { args: ['skb', '-f', 'tracepoint:skb:kfree_skb', '-i', 'v1', '--netns', '{ns}', '-S', '-v'], endsItself: true, code: 2, stderr: [/tcpdump flag -v: the built-in decoder, used for packets with a stack, a drop reason or gather notes, cannot honour it/] },
  { args: [...SKB, '--no-tcpdump', '-t', '-tttt'], endsItself: true, code: 2, stderr: [/tcpdump flag -t \(in -tttt\): the built-in decoder, used with --no-tcpdump, cannot honour it/] },
  { args: [...SKB, '-t', '-X', '-c', '2', 'udp port 53'], send: 'skb', endsItself: true, code: 0, lines: { match: /IP 192\.0\.2\.1\.4700[15] > 192\.0\.2\.2\.53: /, count: 2 }, stdout: [/0x0000: {2}4500 /] },
  { args: [...SKB, '--names', '-n'], endsItself: true, code: 2, stderr: [/-n and --names ask for numbers and for names/] },
  // --- tcpdump's flags that mean the same here
  { args: [...SKB, '-nn', '-v', '-c', '1', 'udp port 5353'], send: 'skb', endsItself: true, code: 0, stdout: [/IP \(tos 0x0, ttl \d+, id \d+, offset 0, flags \[\w*\], proto UDP \(17\), length 928\)/] },
  { args: [...SKB, '-vvv', '-c', '1', 'udp port 5353'], send: 'skb', endsItself: true, code: 0, stdout: [/proto UDP \(17\)/] },
  { args: [...SKB, '-x', '-c', '1', 'tcp port 22'], send: 'skb', endsItself: true, code: 0, stdout: [/0x0000: {2}4500 00[0-9a-f]{2} /] },
  { args: [...SKB, '-xx', '-c', '1', 'tcp port 22'], send: 'skb', endsItself: true, code: 0, stdout: [/0x0000: {2}0200 0000 1102 0200 0000 1101 0800 4500/] },
  { args: [...SKB, '-XX', '-c', '1', 'tcp port 22'], send: 'skb', endsItself: true, code: 0, stdout: [/0x0000: {2}0200 0000 1102 0200 0000 1101 0800 4500 {2}\.\.\.\.\.\.\.\.\.\.\.\.\.\.E\./] },
  { args: [...SKB, '-A', '-c', '1', 'tcp port 80 and greater 300'], send: 'skb', endsItself: true, code: 0, stdout: [/AAAAAAAAAAAAAAAA/] },
  { args: [...SKB, '-q', '-c', '1', 'tcp port 22'], send: 'skb', endsItself: true, code: 0, stdout: [/IP 192\.0\.2\.1\.47004 > 192\.0\.2\.2\.22: tcp 40/] },
  { args: [...SKB, '-l', '--immediate-mode', '-U', '-c', '3', 'udp'], send: 'skb', endsItself: true, code: 0, lines: { match: /^\d\d:\d\d:\d\d\.\d{6} IP 192\.0\.2\.1\.4700[135] > /, count: 3 } },
  { args: [...SKB, '-s', '0', '-w', '{dir}/s0.pcap', 'udp'], send: 'skb', code: 0, stderr: [/snaplen 262144/], file: { name: 's0.pcap', packets: 3, every: UDP } },
  { args: [...SKB, '-s', '64', '-w', '{dir}/s64.pcap', 'udp'], send: 'skb', code: 0, stderr: [/snaplen 64/], file: { name: 's64.pcap', packets: 3, every: UDP, caplenAtMost: 64 } },
  { args: ['skb', '-f', 'tracepoint:net:netif_receive_skb', '-i', 'any', '-c', '3', '-w', '{dir}/any.pcap', `udp and ether src ${SENDER_MAC} and ether dst ${RECEIVER_MAC}`], send: 'skb', endsItself: true, code: 0, stderr: [/listening on tracepoint:net:netif_receive_skb, snaplen/], file: { name: 'any.pcap', packets: 3, every: UDP } },
  { args: [...SKB, '-Q', 'in', '-w', '{dir}/qin.pcap', 'tcp'], send: 'skb', code: 0, file: { name: 'qin.pcap', packets: 3, every: TCP } },
  { args: [...SKB, '-Q', 'out'], endsItself: true, code: 2, stderr: [/-Q out: tracepoint:net:netif_receive_skb is on the receive path/] },
  { args: ['skb', '-f', 'tracepoint:skb:kfree_skb', '-Q', 'in'], endsItself: true, code: 2, stderr: [/-Q in: tracepoint:skb:kfree_skb sees packets of both directions/] },
  { args: ['skb', '-f', 'tracepoint:net:netif_receive_skb', '-Q', 'sideways'], endsItself: true, code: 2, stderr: [/-Q sideways: not a direction/] },
  { args: ['mbuf', '-f', 'app_process_one@1', '--pid', '{pid}', '-Q', 'in'], endsItself: true, code: 2, stderr: [/-Q applies to port points only/] },
  { args: ['--version'], endsItself: true, code: 0, stdout: [/^netcap version \d+\.\d+\.\d+\n/] },
  { args: ['skb', '--version'], endsItself: true, code: 0, stdout: [/^netcap version /] },
  { args: ['mbuf', '-f', 'app_process_one@1', '--pid', '{pid}', '-G', '60'], endsItself: true, code: 2, stderr: [/-G 60: tcpdump's -G \(a new file every 60 seconds\) is --rotate-seconds 60 here/] },
  { args: ['read', '-r', IN, '-G', '5'], endsItself: true, code: 2, stderr: [/is --rotate-seconds 5 here/] },
  { args: [...SKB, '-tttt'], endsItself: true, code: 2, stderr: [/-tttt: in netcap -t takes tcpdump's flags/, /write -t -tttt/] },
  { args: [...SKB, '-Z', 'root'], endsItself: true, code: 2, stderr: [/-Z is tcpdump's, and netcap skb has no such option/, /netcap skb --help lists its options/] },
  { args: ['read', '-r', IN, '-K'], endsItself: true, code: 2, stderr: [/-K is tcpdump's, and netcap read has no such option/, /-t '-nn -K'/, /netcap read --help/] },
  { args: ['mbuf', '--pid', '{pid}', '--no-such-option'], endsItself: true, code: 2, stderr: [/^netcap: unknown option --no-such-option for netcap mbuf\n/, /netcap mbuf --help lists its options/] },
  { args: ['mbuf', '-f', 'app_process_one@1', '--pid', '{pid}', '-i', 'eth0'], endsItself: true, code: 2, stderr: [/-i is tcpdump's, and netcap mbuf has no such option/, /capture inside a process/] },
  // --- the filter as trailing words in every command, and the -e clash
  { args: ['mbuf', '-f', 'app_process_one@1', '--pid', '{pid}', '-w', '{dir}/mbuf-trail.pcap', 'udp', 'and', 'port', '53'], send: 'app', code: 0, file: { name: 'mbuf-trail.pcap', packets: 2, every: (p) => UDP(p) && dstPort(p) === 53 } },
  { args: ['raw', '-f', 'app_raw@1@2', '--pid', '{pid}', '-c', '2', '-w', '{dir}/raw-trail.pcap', 'tcp', 'port', '80'], send: 'app', endsItself: true, code: 0, file: { name: 'raw-trail.pcap', packets: 2, every: (p) => TCP(p) && dstPort(p) === 80 } },
  { args: ['compile', 'tcp', 'port', '80', '--emit', 'cbpf'], endsItself: true, code: 0, stdout: [/; tcp port 80 \(link type EN10MB/, /\(000\) ldh\s+\[12\]/] },
  { args: ['compile', '-e', '-len < 0', '--emit', 'cbpf'], endsItself: true, code: 0, stdout: [/; -len < 0 \(link type EN10MB/, /ld +#pktlen/] },
  { args: ['read', '-r', IN, '--no-tcpdump', '--', '-len', '<', '-100'], endsItself: true, code: 0, lines: { match: /^\d\d:\d\d:\d\d\.\d{6} IP /, count: 3 } },
  { args: ['compile', '-e'], endsItself: true, code: 2, stderr: [/-e needs the filter expression: netcap's -e is the filter/, /tcpdump's -e \(print link-level headers\) is -t -e here/] },
  { args: [...SKB, '-e'], endsItself: true, code: 2, stderr: [/-e needs the filter expression/] },
  { args: [...SKB, '-e', '-X'], endsItself: true, code: 2, stderr: [/-e -X: netcap's -e takes the filter expression, and -X is a flag/] },
  { args: [...SKB, '-nne'], endsItself: true, code: 2, stderr: [/-nne: in netcap -e takes the filter expression/, /-t '-nne'/] },
  { args: [...SKB, '-e', 'udp', 'tcp'], endsItself: true, code: 2, stderr: [/two filters: -e "udp" and "tcp"/] },
  { args: [...SKB, '-t', '-e', '-c', '1', 'tcp port 22'], send: 'skb', endsItself: true, code: 0, stdout: [/02:00:00:00:11:01 > 02:00:00:00:11:02, ethertype IPv4 \(0x0800\)/] },
  { args: ['iface', '-i', 'v1', '--netns', '{ns}', '-Q', 'in', '-c', '1', '-t', '-e', 'tcp', 'port', '22'], send: 'skb', endsItself: true, code: 0, stdout: [/02:00:00:00:11:01 > 02:00:00:00:11:02, ethertype IPv4 \(0x0800\).*\.22: /] },
  { args: ['xdp', '--hook', '{dir}/no-hook', 'udp', 'port', '53'], endsItself: true, code: 2, stderr: [/no-hook: no such file/] },
  // --- discovery
  { args: ['skb', '--list'], endsItself: true, code: 0, stdout: [/^ {2}tracepoint:net:netif_receive_skb +receive path \(-Q in\)$/m, /^ {2}tracepoint:skb:kfree_skb +drop reason, frees the skb$/m, /^ {2}raw_tp:netif_receive_skb /m, /Kernel functions \(FUNC@N/] },
  { args: ['skb', '-D'], endsItself: true, code: 0, stdout: [/tracepoint:net:net_dev_queue +transmit path \(-Q out\)/] },
  { args: ['skb', '--list', '-f', 'tracepoint:net:netif_receive_skb'], endsItself: true, code: 2, stderr: [/--list lists the capture points and exits: -f does not apply/] },
  { args: ['mbuf', '--pid', '{pid}', '--list'], endsItself: true, code: 0, stdout: [/netcap-test-app \(DWARF\):/, /uint16_t app_rx_burst\(uint16_t port, struct rte_mbuf \*\*pkts, uint16_t n\)\n +-f app_rx_burst@2@3 {2}or {2}app_rx_burst@2@ret/, /-f app_process_one@1\n/, /-f app_process_burst@1@2\n/, /librte_mbuf\.so\.\d+.* \(DPDK ABI\):/, /-f librte_mbuf:rte_pktmbuf_free_bulk@1@2/] },
  { args: ['mbuf', '--binary', '{app}', '-D'], endsItself: true, code: 0, stdout: [/-f app_process_chain@1\n/] },
  { args: ['mbuf', '--pid', '{l2fwd}', '--list'], endsItself: true, code: 0, stdout: [/l2fwd\S*: no DWARF, so the types of its own functions are unknown/, /-f librte_ethdev:rte_eth_tx_buffer_drop_callback@1@2/] },
  { args: ['mbuf', '--list'], endsItself: true, code: 2, stderr: [/netcap mbuf --list needs the process or the binary/] },
  { args: ['raw', '--list', '--pid', '{pid}'], endsItself: true, code: 2, stderr: [/netcap raw has no listing/] },
  { args: ['skb'], endsItself: true, code: 2, stderr: [/netcap skb needs capture points: -f POINTS/, /netcap skb --list shows the points/] },
  // --- read: standard input is a test of its own (below); the capturing commands' output options
  { args: ['read', '-r', IN, '-s', '60', '-w', '{dir}/read-s.pcap'], endsItself: true, code: 0, file: { name: 'read-s.pcap', packets: 6, caplenAtMost: 60, tcpdumpReads: true } },
  { args: ['read', '-r', IN, '-w', '{dir}/read-print.pcap', '--print', '--no-tcpdump', 'tcp'], endsItself: true, code: 0, lines: { match: /IP 192\.0\.2\.1\.4700[246] > 192\.0\.2\.2\.(80|22): Flags/, count: 3 }, file: { name: 'read-print.pcap', packets: 3, every: TCP } },
  { args: ['read', '-r', '{dir}/spread.pcap', '-w', '{dir}/rot-%s.pcap', '--rotate-seconds', '2', '-W', '2'], endsItself: true, code: 0, stderr: [/maximum file limit reached/] },
  { args: ['read', '-r', IN, '--write-file-rotate', '2', '-w', '{dir}/read-last.pcap', 'udp'], endsItself: true, code: 0, file: { name: 'read-last.pcap', packets: 2, every: UDP } },
  { args: ['read', '-r', IN, '-c', '2', '-U', '-w', '{dir}/read-c.pcap'], endsItself: true, code: 0, file: { name: 'read-c.pcap', packets: 2 } },
  { args: ['read', '-r', IN, '--time-stamp-precision', 'nano', '-w', '{dir}/read-nano.pcap'], endsItself: true, code: 0, file: { name: 'read-nano.pcap', packets: 6, tcpdumpReads: true } },
  { args: ['read', '-r', '{dir}/cut.pcap', '--no-tcpdump'], endsItself: true, code: 2, lines: { match: /^\d\d:\d\d:\d\d\.\d{6} IP /, count: 5 }, stderr: [/cut\.pcap: truncated dump file/] },
  { args: ['read', '-r', IN, '--engine', 'fast'], endsItself: true, code: 2, stderr: [/--engine fast: not one of interp, kernel/] },
  { args: ['read'], endsItself: true, code: 2, stderr: [/netcap read needs the file to read: -r FILE/] },
  // --- repeated options and numbers as typed
  { args: ['skb', '-f', 'tracepoint:net:netif_receive_skb', '-i', 'lo', '-i', 'eth0'], endsItself: true, code: 2, stderr: [/-i was given more than once \("lo" and "eth0"\)/] },
  { args: ['skb', '-f', 'tracepoint:net:netif_receive_skb', '-i', 'v1', '--netns', 'a', '--netns', 'b'], endsItself: true, code: 2, stderr: [/--netns was given more than once \("a" and "b"\)/] },
  { args: [...SKB, '-e', 'udp', '-e', 'tcp'], endsItself: true, code: 2, stderr: [/-e was given more than once \("udp" and "tcp"\)/] },
  { args: [...SKB, '-c', '1', '-c', '2'], endsItself: true, code: 2, stderr: [/-c was given more than once \("1" and "2"\)/] },
  { args: ['read', '-r', IN, '-w', '{dir}/a.pcap', '-w', '{dir}/b.pcap'], endsItself: true, code: 2, stderr: [/-w was given more than once/], noFile: ['a.pcap', 'b.pcap'] },
  { args: ['skb', '-f', 'tracepoint:net:netif_receive_skb', '-f', 'tracepoint:skb:kfree_skb', '-i', 'v1', '--netns', '{ns}', '--dry-run'], endsItself: true, code: 0, stdout: [/point 0: tracepoint:net:netif_receive_skb/, /point 1: tracepoint:skb:kfree_skb/] },
  { args: [...SKB, '-c', 'abc'], endsItself: true, code: 2, stderr: [/-c abc: not a whole number above 0/] },
  { args: ['read', '-r', IN, '-c', '2x'], endsItself: true, code: 2, stderr: [/-c 2x: not a whole number above 0/] },
  { args: [...SKB, '-s', 'big'], endsItself: true, code: 2, stderr: [/-s big: not a whole number from 1 to 262144/] },
  { args: [...SKB, '--duration', 'soon'], endsItself: true, code: 2, stderr: [/--duration soon: not a positive number of seconds/] },
  { args: [...SKB, '--ring-size', '3'], endsItself: true, code: 2, stderr: [/--ring-size 3: not a power of two/] },
  { args: ['mbuf', '-f', 'app_process_one@1', '--pid', 'abc'], endsItself: true, code: 2, stderr: [/--pid abc: not a process id/] },
  { args: ['read', '-r', IN, '-w', '{dir}/c.pcap', '-C', 'lots'], endsItself: true, code: 2, stderr: [/-C lots: not a positive number of millions of bytes/] },
  { args: [...SKB, '--gather-bytes', '12'], endsItself: true, code: 2, stderr: [/--gather-bytes applies to --gather-by-content/] },
  // --- I/O errors and privileges
  { args: ['read', '-r', IN, '-w', '{dir}/adir'], endsItself: true, code: 2, stderr: [/cannot write .*adir: it is a directory/] },
  { args: ['read', '-r', IN, '-w', '/proc/netcap-test'], endsItself: true, code: 2, stderr: [/cannot write \/proc\/netcap-test: \/proc is on the kernel's proc file system, where no file can be created/] },
  { args: ['read', '-r', IN, '-w', '/proc/self/status'], endsItself: true, code: 2, stderr: [/cannot write \/proc\/self\/status: it is a file of the kernel's proc file system/] },
  { args: [...SKB, '-w', '{dir}/no/such/dir/x.pcap'], endsItself: true, code: 2, stderr: [/cannot write .*x\.pcap: its directory .*no\/such\/dir does not exist/], ...NOTHING_ATTACHED },
  { args: ['read', '-r', '{dir}/adir'], endsItself: true, code: 2, stderr: [/cannot read .*adir: it is a directory/] },
  { args: ['read', '-r', IN, '-w', '/root/netcap-habits.pcap'], user: 'nobody', endsItself: true, code: 2, stderr: [/cannot write \/root\/netcap-habits\.pcap: permission denied \(user 65534 may not write there\)/] },
  { args: ['read', '-r', '{dir}/secret.pcap'], user: 'nobody', endsItself: true, code: 2, stderr: [/cannot read .*secret\.pcap: permission denied \(user 65534 may not read it\)/] },
  { args: ['skb', '-f', 'tracepoint:net:netif_receive_skb'], user: 'nobody', endsItself: true, code: 2, stderr: [/run as root: netcap needs CAP_BPF and CAP_PERFMON/] },
  { args: ['read', '-r', IN, '--engine', 'kernel'], user: 'nobody', endsItself: true, code: 2, stderr: [/run as root: netcap needs CAP_BPF and CAP_PERFMON/] },
  { args: ['skb', '--list'], user: 'nobody', endsItself: true, code: 2, stderr: [/run as root/] },
  { args: ['mbuf', '-f', 'main@1', '--pid', '1'], endsItself: true, code: 2, stderr: [/pid 1 \(\/proc\/1\/(exe|maps): permission denied\)|process 1 does not look like a DPDK program/] },
  {
    args: ['read', '-r', '{dir}/big.pcap', '-w', `${FULL}/out.pcap`],
    endsItself: true,
    code: 2,
    stderr: [/full\/out\.pcap: disk full after (\d+) packets?; the file holds the first \1\n/],
    setup: () => {
      fs.mkdirSync(FULL, { recursive: true });
      // One page: room for the header and some of big.pcap's 24 frames (11.6 kB).
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4k', 'tmpfs', FULL]);
    },
  },
];

function fill(args: string[]): string[] {
  return args.map((a) => a.replace('{ns}', ns.name).replace('{pid}', String(app.pid)).replace('{l2fwd}', String(l2fwd.pid)).replace('{app}', app.binary).replace('{dir}', dir));
}

interface Outcome {
  code: number | null;
  stdout: string;
  stderr: string;
}

async function runRow(row: Row): Promise<Outcome> {
  const args = fill(row.args);
  if (row.user) {
    const r = spawnSync('setpriv', ['--reuid=nobody', '--regid=nogroup', '--clear-groups', process.execPath, NETCAP, ...args], { encoding: 'utf8', timeout: 60_000 });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  }
  const run = runNetcap(args, world);
  let objects: { programs: number[]; links: number[] } | undefined;
  if (row.send || !row.endsItself) {
    await run.ready();
    objects = bpfObjectsOf(run.child.pid!);
    assert.ok(objects.programs.length > 0, 'a listening netcap holds its programs');
    if (row.send === 'skb') await inject(ns, 'v0', SKB_FRAMES(), { rate: 200 });
    if (row.send === 'app') await inject(app.ns, app.links.a1, APP_FRAMES(), { rate: 200 });
  }
  let exit;
  if (row.endsItself) {
    const timer = setTimeout(() => run.child.kill('SIGKILL'), 30_000);
    exit = await run.exited;
    clearTimeout(timer);
  } else {
    await new Promise((r) => setTimeout(r, 600));
    exit = await run.stop('SIGINT');
  }
  if (objects) assert.deepEqual(stillLoaded(objects), { programs: [], links: [] }, 'every program and link of the exited netcap is gone');
  return { code: exit.code, stdout: run.stdout().toString(), stderr: run.stderr() };
}

async function checkFile(row: Row, report: string): Promise<void> {
  const f = row.file!;
  const file = path.join(dir, f.name);
  assert.ok(fs.existsSync(file), `${f.name} was written\n${report}`);
  const c = await readCaptureFile(file);
  assert.equal(c.packets.length, f.packets, `${f.name}: packets\n${report}`);
  if (f.every) c.packets.forEach((p, i) => assert.ok(f.every!(p.data), `${f.name}: packet ${i} is not what the filter keeps\n${report}`));
  if (f.caplenAtMost !== undefined) for (const p of c.packets) assert.equal(p.data.length, Math.min(p.wirelen, f.caplenAtMost), `${f.name}: caplen ${p.data.length}, wirelen ${p.wirelen}`);
  if (f.linktype !== undefined) assert.deepEqual(c.interfaces.map((i) => i.linktype), [f.linktype], `${f.name}: one interface of link type ${f.linktype}`);
  if (f.tcpdumpReads) {
    const r = spawnSync('tcpdump', ['-nn', '-r', file], { encoding: 'utf8' });
    assert.equal(r.status, 0, `tcpdump -r ${f.name}: ${r.stderr}`);
    assert.equal(r.stdout.trim().split('\n').length, f.packets, `tcpdump -r ${f.name} prints every packet`);
  }
}

for (const row of ROWS) {
  test(`netcap ${row.args.join(' ')}${row.user ? ` (as ${row.user})` : ''}`, async () => {
    row.setup?.();
    try {
      const out = await runRow(row);
      const report = `stdout:\n${out.stdout}\nstderr:\n${out.stderr}`;
      assert.equal(out.code, row.code, report);
      for (const re of row.stdout ?? []) assert.match(out.stdout, re, report);
      for (const re of row.stderr ?? []) assert.match(out.stderr, re, report);
      for (const re of row.notStderr ?? []) assert.doesNotMatch(out.stderr, re, report);
      for (const re of row.notStdout ?? []) assert.doesNotMatch(out.stdout, re, report);
      if (out.code !== 0) assert.doesNotMatch(out.stderr, /\n\s+at |TypeError|ERR_|Received an instance/, `no Node-internal text\n${report}`);
      if (row.lines) assert.equal(out.stdout.split('\n').filter((l) => row.lines!.match.test(l)).length, row.lines.count, `lines matching ${row.lines.match}\n${report}`);
      if (row.file) await checkFile(row, report);
      for (const name of row.noFile ?? []) assert.ok(!fs.existsSync(path.join(dir, name)), `${name} must not be written\n${report}`);
    } finally {
      row.cleanup?.();
    }
  });
}

void test('the full disk row: the file holds whole packets tcpdump reads, as many as the message says', async () => {
  try {
    const file = path.join(FULL, 'out.pcap');
    const r = spawnSync(process.execPath, [NETCAP, 'read', '-r', path.join(dir, 'big.pcap'), '-w', file], { encoding: 'utf8' });
    const n = Number(/disk full after (\d+) packets?/.exec(r.stderr)?.[1]);
    assert.ok(n >= 1 && n < 24, r.stderr);
    const t = spawnSync('tcpdump', ['-nn', '-r', file], { encoding: 'utf8' });
    assert.equal(t.status, 0, `tcpdump reads it whole: ${t.stderr}`);
    assert.equal(t.stdout.trim().split('\n').length, n);
  } finally {
    spawnSync('umount', [FULL]);
  }
});

void test('--rotate-seconds with -W in read: files by the packets\' own time, two of them, then the end', () => {
  const files = fs.readdirSync(dir).filter((f) => /^rot-\d+\.pcap$/.test(f));
  assert.equal(files.length, 2, files.join(', '));
  const counts = files.map((f) => spawnSync('tcpdump', ['-nn', '-r', path.join(dir, f)], { encoding: 'utf8' }).stdout.trim().split('\n').length);
  assert.deepEqual(counts.sort(), [2, 2]);
});

void test('netcap skb -w - | netcap read -r - -e udp: the pipe carries the capture, read filters it', async () => {
  const writer = runNetcap(fill([...SKB, '-w', '-']), world);
  const reader = spawn(process.execPath, [NETCAP, 'read', '-r', '-', '-e', 'udp', '--no-tcpdump'], { stdio: ['pipe', 'pipe', 'pipe'] });
  world.track(reader);
  writer.child.stdout!.pipe(reader.stdin!);
  let text = '';
  reader.stdout!.on('data', (b: Buffer) => (text += b.toString()));
  const done = new Promise<number | null>((resolve) => reader.once('close', (code) => resolve(code)));
  await writer.ready();
  await inject(ns, 'v0', SKB_FRAMES(), { rate: 200 });
  await new Promise((r) => setTimeout(r, 600));
  const w = await writer.stop('SIGINT');
  assert.equal(w.code, 0, writer.stderr());
  assert.equal(await done, 0);
  const lines = text.trim().split('\n');
  assert.equal(lines.length, 3, text);
  for (const l of lines) assert.match(l, /IP 192\.0\.2\.1\.\d+ > 192\.0\.2\.2\.(53|5353): UDP/);
});

void test('a reader that goes away (| head -1) ends the capture at once, with the summary and status 0', async () => {
  const run = runNetcap(fill([...SKB, '--duration', '60']), world);
  let got = '';
  // The reader takes one line and closes its end, as `head -1` does.
  run.child.stdout!.once('data', (b: Buffer) => {
    got = b.toString().split('\n')[0];
    run.child.stdout!.destroy();
  });
  await run.ready();
  const started = Date.now();
  await inject(ns, 'v0', [...SKB_FRAMES(), ...SKB_FRAMES()], { rate: 100 });
  const timer = setTimeout(() => run.child.kill('SIGKILL'), 20_000);
  const exit = await run.exited;
  clearTimeout(timer);
  assert.match(got, /IP 192\.0\.2\.1\.47001 > 192\.0\.2\.2\.53/);
  assert.equal(exit.code, 0, run.stderr());
  assert.ok(Date.now() - started < 20_000, 'ended long before --duration');
  assert.match(run.stderr(), /the reader of stdout went away; capture ended\n\d+ packets? captured\n/);
  assert.doesNotMatch(run.stderr(), /Interrupted system call|EPIPE/);
});

void test('a tcpdump that dies mid-capture ends it with the summary and names it, status 2', async () => {
  const run = runNetcap(fill([...SKB, '--duration', '60']), world);
  await run.ready();
  const tcpdump = execFileSync('pgrep', ['-P', String(run.child.pid), 'tcpdump'], { encoding: 'utf8' }).trim();
  process.kill(Number(tcpdump), 'SIGKILL');
  const timer = setTimeout(() => run.child.kill('SIGKILL'), 20_000);
  const exit = await run.exited;
  clearTimeout(timer);
  assert.equal(exit.code, 2, run.stderr());
  assert.match(run.stderr(), /0 packets captured\n[\s\S]*netcap: tcpdump failed \(SIGKILL\)/);
});

void test('the -i device deleted while capturing: the capture ends, says why, prints the summary', async () => {
  ns.ip(['link', 'add', 'gone0', 'type', 'veth', 'peer', 'name', 'gone1']);
  ns.ip(['link', 'set', 'gone1', 'up']);
  const run = runNetcap(fill(['skb', '-f', 'tracepoint:net:netif_receive_skb', '-i', 'gone1', '--netns', '{ns}', '--duration', '60']), world);
  await run.ready();
  ns.ip(['link', 'del', 'gone0']);
  const timer = setTimeout(() => run.child.kill('SIGKILL'), 20_000);
  const exit = await run.exited;
  clearTimeout(timer);
  assert.equal(exit.code, 0, run.stderr());
  assert.match(run.stderr(), /netcap: device gone1 was removed from network namespace nc-habits-\w+; capture ended\n0 packets captured/);
});

void test('the --netns namespace deleted and made again under its name while capturing: the capture ends, it does not go on in the new one', async () => {
  // The kernel reuses a freed namespace's inode number, which is what the probe matches: the new namespace must not be taken for the old.
  const other = world.addNamespace('renewed');
  const veth = (n: typeof other) => {
    n.ip(['link', 'add', 'r0', 'type', 'veth', 'peer', 'name', 'r1']);
    n.ip(['link', 'set', 'r1', 'up']);
  };
  veth(other);
  const run = runNetcap(['skb', '-f', 'tracepoint:net:netif_receive_skb', '-i', 'r1', '--netns', other.name, '--duration', '60'], world);
  await run.ready();
  execFileSync('ip', ['netns', 'del', other.name]);
  execFileSync('ip', ['netns', 'add', other.name]);
  veth(other);
  const timer = setTimeout(() => run.child.kill('SIGKILL'), 20_000);
  const exit = await run.exited;
  clearTimeout(timer);
  assert.equal(exit.code, 0, run.stderr());
  assert.match(run.stderr(), new RegExp(`netcap: network namespace ${other.name} \\(of r1\\) was deleted; capture ended\n0 packets captured`));
});

void test('the traced process exiting ends the capture, says why, prints the summary', async () => {
  const own = await startTestApp(world);
  const run = runNetcap(['mbuf', '-f', 'app_process_one@1', '--pid', String(own.pid)], world);
  await run.ready();
  await inject(own.ns, own.links.a1, APP_FRAMES(), { rate: 200 });
  await new Promise((r) => setTimeout(r, 300));
  await own.stop();
  const timer = setTimeout(() => run.child.kill('SIGKILL'), 20_000);
  const exit = await run.exited;
  clearTimeout(timer);
  assert.equal(exit.code, 0, run.stderr());
  assert.match(run.stderr(), new RegExp(`netcap: process ${own.pid} exited; capture ended\\n6 packets captured\\n6 packets seen by probes`));
});

void test('a pcapng with raw-IP packets reads in tshark (and one without them in tcpdump, rows above)', async () => {
  ns.run(['sysctl', '-q', '-w', 'net.ipv4.neigh.v1.mcast_solicit=1', 'net.ipv4.neigh.v1.ucast_solicit=0', 'net.ipv4.neigh.v1.app_solicit=0', 'net.ipv4.neigh.v1.retrans_time_ms=50']);
  const file = path.join(dir, 'mixed.pcapng');
  const run = runNetcap(['skb', '-f', 'tracepoint:skb:kfree_skb', '-i', 'v1', '--netns', ns.name, '-w', file, '-c', '2', 'udp port 7303 or udp port 47005'], world);
  await run.ready();
  // A frame dropped at v1 (Ethernet), and a datagram to an unresolvable neighbour (dropped before it has a MAC header: raw IP).
  const send = () => ns.run([process.execPath, '-e', "const s=require('node:dgram').createSocket('udp4'); s.send(Buffer.from('l3'), 7303, '192.0.2.99', () => s.close())"]);
  await inject(ns, 'v0', [SKB_FRAMES()[4]], { rate: 10 });
  send();
  const again = setInterval(send, 1000);
  const timer = setTimeout(() => run.child.kill('SIGINT'), 15_000);
  const exit = await run.exited;
  clearInterval(again);
  clearTimeout(timer);
  assert.equal(exit.code, 0, run.stderr());
  const out = execFileSync('tshark', ['-r', file, '-T', 'fields', '-e', 'frame.interface_name', '-e', 'udp.dstport'], { stdio: ['ignore', 'pipe', 'ignore'] }).toString();
  const rows = out.trim().split('\n').map((l) => l.split('\t')).sort((a, b) => a[1].localeCompare(b[1]));
  assert.deepEqual(rows, [['v1@tracepoint:skb:kfree_skb', '53'], ['v1@tracepoint:skb:kfree_skb (raw IP)', '7303']]);
});

void test('the table has more than 60 command lines, with the first table', () => {
  assert.ok(ROWS.length >= 60, `${ROWS.length} rows`);
});
