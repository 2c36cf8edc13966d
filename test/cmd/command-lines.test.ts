// A table of command lines that worked before the capture library was
// reshaped (issue 10), each run as a user runs it (bin/netcap as a child,
// real kernel, real DPDK test app), with what it must give: the exit
// status, patterns its stdout and stderr must show, and a digest of the
// packets it wrote (their bytes and wire lengths, in order; timestamps
// differ from run to run and are left out). The digests were recorded with
// the code as it was before the change (NETCAP_RECORD=1 prints them), so
// the same table passing afterwards shows that these command lines give the
// same packets, files and exit statuses.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readCaptureFile } from '../../src/output/read-capture';
import { PcapWriter } from '../../src/output/pcap-writer';
import { World, type Namespace } from '../../lab/netns';
import { inject } from '../../lab/inject';
import { tcpFrame, udpFrame } from '../../lab/frames';
import { startTestApp, type DpdkApp } from '../../lab/dpdk';
import { runNetcap, tempDir } from '../capture/netcap-child';

const RECORD = process.env.NETCAP_RECORD === '1';
const world = new World('cmdtable');
const dir = tempDir('cmdtable');
let ns: Namespace;
let app: DpdkApp;

/** Six frames: UDP to 53 and 5353, TCP to 80 and 22, of several sizes; the same every run. */
function frames(dstMac: string): Buffer[] {
  const base = { srcMac: '02:00:00:00:7c:01', dstMac, src: '192.0.2.1', dst: '192.0.2.2' };
  return [
    udpFrame({ ...base, srcPort: 40001, dstPort: 53, payload: Buffer.from('first query') }),
    tcpFrame({ ...base, srcPort: 40002, dstPort: 80, payload: Buffer.alloc(300, 0x41) }),
    udpFrame({ ...base, srcPort: 40003, dstPort: 5353, payload: Buffer.alloc(900, 0x42) }),
    tcpFrame({ ...base, srcPort: 40004, dstPort: 22, payload: Buffer.alloc(40, 0x43) }),
    udpFrame({ ...base, srcPort: 40005, dstPort: 53, payload: Buffer.alloc(1200, 0x44) }),
    tcpFrame({ ...base, srcPort: 40006, dstPort: 80, payload: Buffer.from('GET / HTTP/1.1\r\n\r\n') }),
  ];
}

const SKB_FRAMES = () => frames('02:00:00:00:7c:02');
const APP_FRAMES = () => frames('02:00:00:00:0b:01');

before(async () => {
  ns = world.addNamespace();
  ns.addVeth('v0', 'v1', { local: { mac: '02:00:00:00:7c:01' }, peer: { mac: '02:00:00:00:7c:02', address: '192.0.2.2/24' } });
  app = await startTestApp(world);
  // A file for `netcap read` to filter: the six frames, fixed timestamps.
  const out = fs.createWriteStream(path.join(dir, 'in.pcap'));
  const w = new PcapWriter(out, { linktype: 1, snaplen: 262144 });
  let t = 1_700_000_000_000_000_000n;
  for (const f of SKB_FRAMES()) await w.writePacket({ ifIndex: 0, tsNs: (t += 1_000_000n), data: f, wirelen: f.length });
  await w.close(true);
});

after(async () => {
  await world.destroy();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** sha256 (first 16 hex digits) over each packet's wire length and bytes, in order. */
function digest(packets: { data: Buffer; wirelen: number }[]): string {
  const h = createHash('sha256');
  for (const p of packets) {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(p.wirelen);
    h.update(len).update(p.data);
  }
  return h.digest('hex').slice(0, 16);
}

interface Row {
  /** Words after `netcap`; {ns}, {pid}, {dir} are filled in. */
  args: string[];
  /** Frames sent once netcap is listening: on v0 of the veth pair, or into the DPDK app. */
  send?: 'skb' | 'app';
  /** The command ends by itself (-c, an error, a listing); otherwise SIGINT after the frames. */
  endsItself?: boolean;
  code: number;
  stdout?: RegExp[];
  stderr?: RegExp[];
  /** -w file (relative to {dir}): format, link type of interface 0, packet count and digest. */
  file?: { name: string; format: 'pcap' | 'pcapng'; linktype: number; packets: number; digest: string; interfaces?: string[] };
  /** --json: the count of lines and the digest of their data fields. */
  json?: { packets: number; digest: string };
}

const SKB = ['skb', '-f', 'tracepoint:net:netif_receive_skb', '-i', 'v1', '--netns', '{ns}'];
const ROWS: Row[] = [
  { args: [...SKB, '-e', 'udp', '-w', '{dir}/skb.pcap', '-c', '3'], send: 'skb', endsItself: true, code: 0, stderr: [/listening on tracepoint:net:netif_receive_skb on v1 \(netns nc-cmdtable-\w+\), snaplen 262144, filter "udp"/, /3 packets captured/], file: { name: 'skb.pcap', format: 'pcap', linktype: 1, packets: 3, digest: '1696afeecdf7a94c' } },
  { args: [...SKB, '-e', 'tcp', '-w', '{dir}/skb.pcapng'], send: 'skb', code: 0, stderr: [/3 packets captured/, /6 packets seen by probes/, /3 packets matched by filter/, /0 packets lost in ring/], file: { name: 'skb.pcapng', format: 'pcapng', linktype: 1, packets: 3, digest: '585a3e7e100a1202' } },
  { args: [...SKB, '-e', 'udp port 53', '--json', '-c', '2'], send: 'skb', endsItself: true, code: 0, json: { packets: 2, digest: 'a2d20adb1f313a8b' } },
  { args: [...SKB, '-e', 'tcp port 80', '--no-tcpdump', '-c', '2'], send: 'skb', endsItself: true, code: 0, stdout: [/IP 192\.0\.2\.1\.40002 > 192\.0\.2\.2\.80: Flags \[S\], seq 1:301, win 65535, length 300/, /IP 192\.0\.2\.1\.40006 > 192\.0\.2\.2\.80: Flags \[S\], seq 1:19, win 65535, length 18/] },
  { args: [...SKB, '-e', 'udp port 5353', '-t', '-nnq', '-c', '1'], send: 'skb', endsItself: true, code: 0, stdout: [/IP 192\.0\.2\.1\.40003 > 192\.0\.2\.2\.5353: UDP, length 900/], stderr: [/reading from file -, link-type EN10MB/, /1 packet captured/] },
  { args: [...SKB, '-e', 'udp', '-w', '{dir}/last.pcap', '--write-file-rotate', '2'], send: 'skb', code: 0, file: { name: 'last.pcap', format: 'pcap', linktype: 1, packets: 2, digest: 'a7c16ec10974e12c' } },
  { args: ['skb', '-f', 'tracepoint:skb:kfree_skb', '-i', 'v1', '--netns', '{ns}', '-e', 'udp port 5353', '-S', '-c', '1'], send: 'skb', endsItself: true, code: 0, stdout: [/reason=NO_SOCKET/, /udp_rcv|__udp4_lib_rcv/, /IP 192\.0\.2\.1\.40003 > 192\.0\.2\.2\.5353/] },
  { args: ['skb', '-G', '-f', 'tracepoint:net:netif_receive_skb,tracepoint:skb:kfree_skb', '-i', 'v1', '--netns', '{ns}', '-e', 'udp port 5353'], send: 'skb', code: 0, stdout: [/gather: 1 packet\n/, /#1 skb 0x[0-9a-f]+: tracepoint:net:netif_receive_skb \+0us -> tracepoint:skb:kfree_skb \+[\d.]+us/] },
  { args: [...SKB, '-e', 'udp', '--dry-run'], endsItself: true, code: 0, stdout: [/point 0: tracepoint:net:netif_receive_skb \(tracepoint\)/, /accepted by the verifier/] },
  { args: ['skb', '-f', 'tracepoint:net:no_such_event'], endsItself: true, code: 2, stderr: [/netcap: /] },
  { args: ['skb', '-f', 'tracepoint:net:netif_receive_skb', '-e', 'tcp port'], endsItself: true, code: 2, stderr: [/syntax error/] },
  { args: ['skb', '-f', 'tracepoint:net:netif_receive_skb', '-i', 'nosuch0', '--netns', '{ns}'], endsItself: true, code: 2, stderr: [/nosuch0/] },
  { args: ['mbuf', '-f', 'app_process_one@1', '--pid', '{pid}', '-e', 'udp', '-w', '{dir}/one.pcap', '-c', '3'], send: 'app', endsItself: true, code: 0, stderr: [/listening on mbuf:app_process_one@1 \(pid \d+\)/], file: { name: 'one.pcap', format: 'pcap', linktype: 1, packets: 3, digest: '5c13f42734ab7267' } },
  { args: ['mbuf', '-f', 'app_process_burst@1@2', '--pid', '{pid}', '-e', 'tcp', '-w', '{dir}/burst.pcapng'], send: 'app', code: 0, stderr: [/3 packets captured/, /6 packets seen by probes/], file: { name: 'burst.pcapng', format: 'pcapng', linktype: 1, packets: 3, digest: '9c2c11dec117c068', interfaces: ['mbuf:app_process_burst@1@2'] } },
  { args: ['mbuf', '-f', 'app_rx_burst@2@ret', '--pid', '{pid}', '-e', 'udp port 53', '--json', '-c', '2'], send: 'app', endsItself: true, code: 0, json: { packets: 2, digest: '00e5b6c1dcef6a9f' } },
  { args: ['raw', '-f', 'app_raw@1@2', '--pid', '{pid}', '-e', 'tcp port 80', '-w', '{dir}/raw.pcap', '-c', '2'], send: 'app', endsItself: true, code: 0, file: { name: 'raw.pcap', format: 'pcap', linktype: 1, packets: 2, digest: 'c9e6b5d147e9554d' } },
  { args: ['mbuf', '-f', 'app_process_one@1', '--pid', '{pid}', '--dry-run'], endsItself: true, code: 0, stdout: [/DPDK 22\.11/, /point 0: mbuf:app_process_one@1/, /accepted by the verifier/] },
  { args: ['mbuf', '-f', 'no_such_function@1', '--pid', '{pid}'], endsItself: true, code: 2, stderr: [/no_such_function/] },
  { args: ['mbuf', '-f', 'app_process_one@9', '--pid', '{pid}'], endsItself: true, code: 2, stderr: [/argument 9/] },
  { args: ['mbuf', '-f', 'app_process_one@1'], endsItself: true, code: 2, stderr: [/needs the process to trace/] },
  { args: ['read', '-r', '{dir}/in.pcap', '-e', 'udp', '-w', '{dir}/read.pcap'], endsItself: true, code: 0, stderr: [/kept 3 of 6 packets/], file: { name: 'read.pcap', format: 'pcap', linktype: 1, packets: 3, digest: '1696afeecdf7a94c' } },
  { args: ['read', '-r', '{dir}/in.pcap', 'tcp', '--engine', 'kernel', '-w', '{dir}/read.pcapng', '--format', 'pcapng'], endsItself: true, code: 0, file: { name: 'read.pcapng', format: 'pcapng', linktype: 1, packets: 3, digest: '585a3e7e100a1202' } },
  { args: ['read', '-r', '{dir}/in.pcap', '-e', 'tcp port 80', '--no-tcpdump'], endsItself: true, code: 0, stdout: [/192\.0\.2\.1\.40002 > 192\.0\.2\.2\.80: Flags \[S\], seq 1:301, win 65535, length 300/] },
  { args: ['read', '-r', '{dir}/in.pcap', '-e', 'udp', '--json'], endsItself: true, code: 0, json: { packets: 3, digest: '1696afeecdf7a94c' } },
  { args: ['read', '-r', '{dir}/missing.pcap'], endsItself: true, code: 2, stderr: [/cannot read .*missing\.pcap: no such file/] },
  { args: ['compile', '-e', 'tcp port 80', '--emit', 'cbpf'], endsItself: true, code: 0, stdout: [/\(000\) ldh\s+\[12\]/, /20 cBPF instructions/] },
  { args: ['compile', '-e', 'ip and ('], endsItself: true, code: 2, stderr: [/syntax error/] },
];

function fill(args: string[]): string[] {
  return args.map((a) => a.replace('{ns}', ns.name).replace('{pid}', String(app.pid)).replace('{dir}', dir));
}

async function runRow(row: Row): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const run = runNetcap(fill(row.args), world);
  if (row.send) {
    await run.ready();
    if (row.send === 'skb') await inject(ns, 'v0', SKB_FRAMES(), { rate: 200 });
    else await inject(app.ns, app.links.a1, APP_FRAMES(), { rate: 200 });
  }
  let exit;
  if (row.endsItself) {
    const timer = setTimeout(() => run.child.kill('SIGKILL'), 20_000);
    exit = await run.exited;
    clearTimeout(timer);
  } else {
    await new Promise((r) => setTimeout(r, 600));
    exit = await run.stop('SIGINT');
  }
  return { code: exit.code, stdout: run.stdout().toString(), stderr: run.stderr() };
}

function jsonDigest(stdout: string): { packets: number; digest: string } {
  const lines = stdout.split('\n').filter((l) => l.trim() !== '');
  const packets = lines.map((l) => {
    const o = JSON.parse(l) as { data: string; wirelen: number };
    return { data: Buffer.from(o.data, 'hex'), wirelen: o.wirelen };
  });
  return { packets: packets.length, digest: digest(packets) };
}

for (const row of ROWS) {
  test(`netcap ${row.args.join(' ')}`, async () => {
    const out = await runRow(row);
    const report = `stdout:\n${out.stdout}\nstderr:\n${out.stderr}`;
    if (row.file) {
      const file = await readCaptureFile(path.join(dir, row.file.name));
      const got = { format: file.format, linktype: file.interfaces[0]?.linktype, packets: file.packets.length, digest: digest(file.packets) };
      if (RECORD) process.stderr.write(`RECORD ${row.args.join(' ')}: file ${JSON.stringify(got)}\n`);
      else {
        assert.deepEqual(got, { format: row.file.format, linktype: row.file.linktype, packets: row.file.packets, digest: row.file.digest }, report);
        if (row.file.interfaces) assert.deepEqual(file.interfaces.map((i) => i.name), row.file.interfaces);
      }
    }
    if (row.json) {
      const got = jsonDigest(out.stdout);
      if (RECORD) process.stderr.write(`RECORD ${row.args.join(' ')}: json ${JSON.stringify(got)}\n`);
      else assert.deepEqual(got, row.json, report);
    }
    assert.equal(out.code, row.code, report);
    for (const re of row.stdout ?? []) assert.match(out.stdout, re, report);
    for (const re of row.stderr ?? []) assert.match(out.stderr, re, report);
  });
}
