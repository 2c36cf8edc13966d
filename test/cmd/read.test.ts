// `netcap read` against tcpdump itself: for a dozen expressions over a file of
// generated packets, the file netcap writes reads back (tcpdump -r -tt -xx)
// exactly like the file `tcpdump -r IN -w REF EXPR` writes — with the
// interpreter and with the kernel engine. pcapng keeps interfaces and
// comments; bad input exits 2 with a message.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PcapWriter } from '../../src/output/pcap-writer';
import { PcapngWriter } from '../../src/output/pcapng-writer';
import type { CapturedPacket } from '../../src/output/packet';
import { generatePackets } from '../filter/packets';
import { run, tempDir } from '../output/reference-tools';

const NETCAP = path.join(__dirname, '..', '..', '..', 'bin', 'netcap');
const tmp = tempDir('read');
after(() => tmp.remove());

function netcap(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [NETCAP, ...args], { encoding: 'utf8', timeout: 120_000, maxBuffer: 64 * 1024 * 1024 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** tcpdump's view of a file: timestamps, summaries and every byte. */
function tcpdumpText(file: string): string {
  return run(['tcpdump', '-r', file, '-tt', '-xx', '-nn']);
}

const EXPRESSIONS = [
  'tcp port 80',
  'udp and port 53',
  'icmp or icmp6',
  'arp or rarp',
  'vlan and ip',
  'mpls',
  'ip[6:2] & 0x1fff != 0',
  'tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn',
  'net 10.0.0.0/8 and not host 10.1.2.3',
  'ip6 and (tcp or udp)',
  'greater 1000',
  'ether broadcast or ether multicast',
];

const input = path.join(tmp.dir, 'in.pcap');
let packets: CapturedPacket[] = [];

before(async () => {
  let ts = 1_700_000_000_000_000_000n;
  packets = generatePackets(2000, 77).map((p) => ({ ifIndex: 0, tsNs: (ts += 1_234_000n), data: p.data, wirelen: p.wirelen }));
  const w = new PcapWriter(fs.createWriteStream(input), { linktype: 1, snaplen: 262144 });
  for (const p of packets) await w.writePacket(p);
  await w.close();
});

for (const engine of ['interp', 'kernel'] as const) {
  void test(`-w with --engine ${engine}: the same packets, timestamps and lengths as tcpdump -r IN -w REF EXPR`, () => {
    let nonEmpty = 0;
    for (const [i, expression] of EXPRESSIONS.entries()) {
      const ref = path.join(tmp.dir, `ref-${i}.pcap`);
      const out = path.join(tmp.dir, `out-${engine}-${i}.pcap`);
      run(['tcpdump', '-r', input, '-w', ref, expression]);
      const r = netcap(['read', '-r', input, '-e', expression, '-w', out, '--engine', engine]);
      assert.equal(r.status, 0, `${expression}: ${r.stderr}`);
      const want = tcpdumpText(ref);
      assert.equal(tcpdumpText(out), want, expression);
      // Same header and records: the files are byte-identical too.
      assert.ok(fs.readFileSync(out).equals(fs.readFileSync(ref)), `${expression}: files differ`);
      if (want.length > 0) nonEmpty++;
    }
    assert.equal(nonEmpty, EXPRESSIONS.length, 'every expression keeps packets');
  });
}

void test('raw IP files (LINKTYPE_RAW 101, DLT_RAW 12 for libpcap\'s compiler) filter like tcpdump', async () => {
  // The IP packets of the generated Ethernet frames, as a raw-IP capture.
  const rawIn = path.join(tmp.dir, 'raw.pcap');
  const w = new PcapWriter(fs.createWriteStream(rawIn), { linktype: 101, snaplen: 262144 });
  let n = 0;
  for (const p of packets) {
    if (p.data.length > 14 && p.data.length === p.wirelen && [0x0800, 0x86dd].includes(p.data.readUInt16BE(12))) {
      await w.writePacket({ ...p, data: p.data.subarray(14), wirelen: p.wirelen - 14 });
      n++;
    }
  }
  await w.close();
  assert.ok(n > 500);
  for (const expression of ['udp', 'ip6 and tcp', 'host 10.1.2.3', 'ip[9] = 1']) {
    const ref = path.join(tmp.dir, 'raw-ref.pcap');
    const out = path.join(tmp.dir, 'raw-out.pcap');
    run(['tcpdump', '-r', rawIn, '-w', ref, expression]);
    const r = netcap(['read', '-r', rawIn, '-e', expression, '-w', out]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(tcpdumpText(out), tcpdumpText(ref), expression);
    assert.ok(tcpdumpText(ref).length > 0, `${expression} keeps packets`);
  }
});

void test('the filter may follow the options, as with tcpdump; -c stops early', () => {
  const ref = path.join(tmp.dir, 'ref-c.pcap');
  const out = path.join(tmp.dir, 'out-c.pcap');
  run(['tcpdump', '-r', input, '-w', ref, '-c', '5', 'udp', 'or', 'arp']);
  const r = netcap(['read', '-r', input, '-w', out, '-c', '5', 'udp', 'or', 'arp']);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(tcpdumpText(out), tcpdumpText(ref));
  assert.equal(run(['tcpdump', '-r', out, '-nn']).trim().split('\n').length, 5);
});

void test('printing goes through tcpdump -r - with the -t flags', () => {
  const r = netcap(['read', '-r', input, '-e', 'tcp port 22', '-t', '-nn -tt -e']);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, run(['tcpdump', '-r', input, '-nn', '-tt', '-e', 'tcp port 22']));
  assert.ok(r.stdout.length > 0);
});

void test('a reader that goes away (| head) ends netcap quietly with status 0', async () => {
  for (const extra of [[], ['--no-tcpdump'], ['--json']]) {
    const child = spawn(process.execPath, [NETCAP, 'read', '-r', input, ...extra], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const closed = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
    // Wait for the first output (or for an early exit, which the status check reports).
    await Promise.race([new Promise<void>((resolve) => child.stdout.once('data', () => resolve())), closed]);
    child.stdout.destroy(); // like head -1 exiting
    const status = await closed;
    assert.equal(status, 0, `${extra.join(' ')}: ${stderr}`);
    assert.doesNotMatch(stderr, /EPIPE|\n\s+at /, extra.join(' '));
  }
});

void test('pcapng in and out: interfaces and per-packet comments are kept', async () => {
  const ngIn = path.join(tmp.dir, 'in.pcapng');
  const w = new PcapngWriter(fs.createWriteStream(ngIn), {
    interfaces: [
      { linktype: 1, snaplen: 262144, name: 'mbuf:rx@1' },
      { linktype: 1, snaplen: 262144, name: 'mbuf:tx@1' },
    ],
  });
  const sample = packets.slice(0, 600);
  for (const [i, p] of sample.entries()) await w.writePacket({ ...p, ifIndex: i % 2, comment: `packet ${i}`, direction: i % 2 ? 'out' : 'in' });
  await w.close();
  const out = path.join(tmp.dir, 'out.pcapng');
  const r = netcap(['read', '-r', ngIn, '-e', 'tcp or udp', '-w', out]);
  assert.equal(r.status, 0, r.stderr);
  // tcpdump reads pcapng too: the kept packets are the ones it keeps, to the nanosecond.
  const nano = ['-tt', '-xx', '-nn', '--nano'];
  assert.equal(run(['tcpdump', '-r', out, ...nano]), run(['tcpdump', '-r', ngIn, ...nano, 'tcp or udp']));
  const rows = run(['tshark', '-r', out, '-T', 'fields', '-E', 'separator=|', '-e', 'frame.interface_name', '-e', 'frame.comment', '-e', 'frame.packet_flags_direction']).trim().split('\n');
  assert.ok(rows.length > 100);
  for (const row of rows) {
    const [name, comment, direction] = row.split('|');
    const i = Number(/^packet (\d+)$/.exec(comment)?.[1]);
    assert.ok(Number.isInteger(i), row);
    assert.equal(name, i % 2 ? 'mbuf:tx@1' : 'mbuf:rx@1');
    assert.equal(direction, i % 2 ? '0x00000002' : '0x00000001');
  }
  assert.match(run(['capinfos', out]), /Capture comment:\s+netcap read -r .* -e "tcp or udp"/);
});

void test('an interface described after the first packets (a later IDB) reaches the pcapng output', async () => {
  const ngIn = path.join(tmp.dir, 'late-idb.pcapng');
  const w = new PcapngWriter(fs.createWriteStream(ngIn), { interfaces: [{ linktype: 1, snaplen: 262144, name: 'early' }] });
  const sample = packets.filter((p) => p.data.length >= 14).slice(0, 200);
  for (const p of sample.slice(0, 100)) await w.writePacket(p);
  w.addInterface({ linktype: 1, snaplen: 262144, name: 'late' });
  for (const p of sample.slice(100)) await w.writePacket({ ...p, ifIndex: 1 });
  await w.close();
  const out = path.join(tmp.dir, 'late-idb-out.pcapng');
  const r = netcap(['read', '-r', ngIn, '-w', out]);
  assert.equal(r.status, 0, r.stderr);
  const names = run(['tshark', '-r', out, '-T', 'fields', '-e', 'frame.interface_name']).trim().split('\n');
  assert.deepEqual(names, [...Array<string>(100).fill('early'), ...Array<string>(100).fill('late')]);
});

void test('bad input: exit status 2 and a message saying what was wrong', () => {
  const text = path.join(tmp.dir, 'notes.txt');
  fs.writeFileSync(text, 'not a capture\n');
  const cases: [string[], RegExp][] = [
    [['read', '-r', text, '-e', 'tcp'], /not a capture file/],
    [['read', '-r', path.join(tmp.dir, 'missing.pcap')], /no such file/],
    [['read', '-r', input, '-e', 'tcp port'], /bad filter expression "tcp port"/],
    [['read', '-r', input, '-e', 'tcp', 'udp'], /two filters: -e "tcp" and "udp"/],
    [['read', '-r', input, '-t', '-nn -w /tmp/x'], /not allowed in -t/],
    [['read', '-r', input, '-c', '0'], /-c 0: not a whole number/],
    [['read', '-r', input, '--format', 'pcapng'], /--format applies to the file written with -w/],
    // tcpdump refuses a filter libpcap proves can match nothing, and so does netcap.
    [['read', '-r', input, '-e', 'ip and not ip', '-w', path.join(tmp.dir, 'none.pcap')], /bad filter expression "ip and not ip": expression rejects all packets/],
    // tcpdump -r compiles on a savefile handle, where libpcap refuses inbound on Ethernet.
    [['read', '-r', input, '-e', 'inbound'], /inbound\/outbound not supported on Ethernet when reading savefiles/],
  ];
  for (const [args, message] of cases) {
    const r = netcap(args);
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  }
});
