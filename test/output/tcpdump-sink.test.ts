// Decoding through tcpdump: the -t flag string becomes argv without a shell,
// flags that would read, write or run something are refused, and what the
// sink prints is what `tcpdump -r FILE` prints for the same packets.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PassThrough } from 'node:stream';
import { UserError } from '../../src/errors';
import { splitShellWords } from '../../src/output/shell-words';
import { TcpdumpSink, tcpdumpFlags } from '../../src/output/tcpdump-sink';
import { PcapWriter } from '../../src/output/pcap-writer';
import type { CapturedPacket } from '../../src/output/packet';
import { generatePackets } from '../filter/packets';
import { run, tempDir } from './reference-tools';

const tmp = tempDir('tcpdump-sink');
after(() => tmp.remove());

void test('shell words: quotes and backslashes, no expansion', () => {
  assert.deepEqual(splitShellWords('-nn -e'), ['-nn', '-e']);
  assert.deepEqual(splitShellWords(`  'a b'  "c \\"d\\" \\x" e\\ f ''`), ['a b', 'c "d" \\x', 'e f', '']);
  assert.deepEqual(splitShellWords('$HOME `id` $(id) *.pcap ~'), ['$HOME', '`id`', '$(id)', '*.pcap', '~']);
  assert.deepEqual(splitShellWords('-nn; rm -rf /'), ['-nn;', 'rm', '-rf', '/']);
  assert.deepEqual(splitShellWords(''), []);
  assert.throws(() => splitShellWords("-nn 'oops"), (e: unknown) => e instanceof UserError && /unterminated ' quote/.test(e.message));
  assert.throws(() => splitShellWords('"oops'), UserError);
});

void test('-t flags: printing flags pass, reading/writing/running flags are refused', () => {
  assert.deepEqual(tcpdumpFlags('-nn -e -XX -vvv -s 0 -T vxlan --nano'), ['-nn', '-e', '-XX', '-vvv', '-s', '0', '-T', 'vxlan', '--nano']);
  // An option's argument is not scanned for letters ("-T w" names a type).
  assert.deepEqual(tcpdumpFlags('-T wb'), ['-T', 'wb']);
  for (const bad of ['-w /tmp/x', '-nnw x', '-r other.pcap', '-z /bin/sh', '-C 1', '-G 5', '-i eth0', '-V list', '-Z root', '--write=x', '--interface=lo']) {
    assert.throws(() => tcpdumpFlags(bad), (e: unknown) => e instanceof UserError && /not allowed in -t/.test(e.message), bad);
  }
});

function samplePackets(): CapturedPacket[] {
  let ts = 1_700_000_000_000_000_000n;
  return generatePackets(300, 31)
    .filter((p) => p.data.length > 0)
    .map((p) => ({ ifIndex: 0, tsNs: (ts += 123_456_789n), data: p.data, wirelen: p.wirelen }));
}

async function sinkOutput(flags: string, packets: CapturedPacket[]): Promise<string> {
  const stdout = new PassThrough();
  let text = '';
  stdout.on('data', (c: Buffer) => (text += c.toString()));
  const sink = new TcpdumpSink({ linktype: 1, snaplen: 262144, flags, stdout, stderr: null });
  for (const p of packets) await sink.writePacket(p);
  await sink.close();
  return text;
}

void test('the sink prints exactly what tcpdump -r prints for the same file', async () => {
  const packets = samplePackets();
  const file = path.join(tmp.dir, 'ref.pcap');
  const w = new PcapWriter(fs.createWriteStream(file), { linktype: 1, snaplen: 262144, nanosecond: true });
  for (const p of packets) await w.writePacket(p);
  await w.close();
  for (const flags of ['-nn -tt', '-nn -e -x --nano -tt', '-nnv -tt']) {
    const want = run(['tcpdump', '-r', file, ...splitShellWords(flags)]);
    assert.ok(want.length > 0);
    assert.equal(await sinkOutput(flags, packets), want, flags);
  }
});

void test('a flag tcpdump rejects surfaces as a UserError with tcpdump\'s message', async () => {
  await assert.rejects(sinkOutput('--no-such-flag', samplePackets().slice(0, 3)), (e: unknown) => e instanceof UserError && /tcpdump/.test(e.message) && /check the flags/.test(e.hint ?? ''));
});
