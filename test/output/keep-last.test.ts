// --write-file-rotate N (the original netcap's flag): only the last N
// packets, written to -w FILE however the capture ends. Live `netcap skb`
// captures of numbered frames sent through a veth in a namespace made here,
// ended by -c, SIGINT, SIGTERM, --duration and an output error; the file,
// read back by tcpdump (and tshark for pcapng), holds exactly the last N
// packets of what was sent (or captured before the error), in order.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { KeepLastWriter } from '../../src/output/keep-last';
import { World, type Namespace } from '../../lab/netns';
import { inject } from '../../lab/inject';
import { runNetcap } from '../capture/netcap-child';
import { RECEIVER_MAC, SENDER_MAC, frameNumber, numberedFrames, numbersByTcpdump, packetsByTcpdump, sleep, waitFor } from '../capture/numbered-frames';
import { run, tempDir } from './reference-tools';

const tmp = tempDir('keeplast');
const world = new World('keeplast');
let ns: Namespace;
const KEEP = 5;

before(() => {
  ns = world.addNamespace();
  ns.addVeth('v0', 'v1', { local: { mac: SENDER_MAC }, peer: { mac: RECEIVER_MAC, address: '192.0.2.2/24' } });
});

after(async () => {
  await world.destroy();
  tmp.remove();
});

function hex(frames: Buffer[]): string[] {
  return frames.map((f) => f.toString('hex'));
}

void test('KeepLastWriter keeps the newest N, oldest first, before and after the ring wraps', async () => {
  const file = path.join(tmp.dir, 'unit.pcap');
  const w = new KeepLastWriter(file, 3, { format: 'pcap', interfaces: [{ linktype: 1, snaplen: 65535 }] });
  const frames = numberedFrames(7, 9);
  const numbers = () => w.kept().map((p) => frameNumber(p.data));
  assert.deepEqual(numbers(), []);
  frames.slice(0, 2).forEach((data, i) => w.add({ ifIndex: 0, tsNs: BigInt(i), data, wirelen: data.length }));
  assert.deepEqual(numbers(), [0, 1]);
  frames.slice(2).forEach((data, i) => w.add({ ifIndex: 0, tsNs: BigInt(i + 2), data, wirelen: data.length }));
  assert.deepEqual(numbers(), [4, 5, 6]);
  await w.close();
  assert.deepEqual(numbersByTcpdump(file), [4, 5, 6]);
});

const common = () => ['skb', '-f', 'tracepoint:net:netif_receive_skb', '-i', 'v1', '--netns', ns.name];

/** Starts netcap with --write-file-rotate, sends `frames`, and waits until it has printed all of them (--print). */
async function captureAll(file: string, port: number, frames: Buffer[], extra: string[] = []) {
  const r = runNetcap([...common(), '-e', `udp port ${port}`, '-w', file, '--write-file-rotate', String(KEEP), '--print', '--no-tcpdump', ...extra], world);
  await r.ready();
  assert.equal(await inject(ns, 'v0', frames), frames.length);
  const printed = () => (r.stdout().toString().match(new RegExp(`\\.${port}\\b`, 'g')) ?? []).length;
  await waitFor(() => printed() >= frames.length, 10_000, `netcap to print ${frames.length} packets (printed ${printed()})`);
  return r;
}

void test('-c 20 --write-file-rotate 5: the file holds packets 15..19 of those sent', async () => {
  const file = path.join(tmp.dir, 'count.pcap');
  const frames = numberedFrames(30, 7401);
  const r = runNetcap([...common(), '-e', 'udp port 7401', '-w', file, '--write-file-rotate', String(KEEP), '-c', '20'], world);
  await r.ready();
  assert.equal(await inject(ns, 'v0', frames), frames.length);
  const exit = await Promise.race([r.exited, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no exit after -c 20: ${r.stderr()}`)), 10_000))]);
  assert.equal(exit.code, 0, r.stderr());
  assert.match(r.stderr(), /20 packets captured/);
  assert.deepEqual(hex(packetsByTcpdump(file)), hex(frames.slice(15, 20)));
});

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  void test(`${signal}: the file holds the last 5 of 30 packets sent`, async () => {
    const file = path.join(tmp.dir, `${signal}.pcap`);
    const frames = numberedFrames(30, 7402);
    const r = await captureAll(file, 7402, frames);
    const exit = await r.stop(signal);
    assert.equal(exit.code, 0, r.stderr());
    assert.match(r.stderr(), /30 packets captured/);
    assert.deepEqual(hex(packetsByTcpdump(file)), hex(frames.slice(-KEEP)));
  });
}

void test('--duration: pcapng with the last 5 packets, their comments and the capture statistics (tshark)', async () => {
  const file = path.join(tmp.dir, 'duration.pcapng');
  const frames = numberedFrames(12, 7403);
  const r = await captureAll(file, 7403, frames, ['--duration', '3']);
  const exit = await r.exited; // --duration ends it
  assert.equal(exit.code, 0, r.stderr());
  // skb points declare an Ethernet and a raw-IP interface, which libpcap (tcpdump) refuses in one
  // file: tshark reads it. The UDP payload starts with the frame's number.
  const fields = run(['tshark', '-r', file, '-T', 'fields', '-e', 'data.data', '-e', 'frame.comment']).trim().split('\n').map((l) => l.split('\t'));
  assert.deepEqual(fields.map(([data]) => parseInt(data.slice(0, 8), 16)), frames.slice(-KEEP).map(frameNumber));
  for (const [, comment] of fields) assert.match(comment, /point=skb:tracepoint:net:netif_receive_skb/);
  // The statistics block counts every packet of the capture, not only the kept ones.
  const isb = run(['tshark', '-X', 'read_format:MIME Files Format', '-r', file, '-T', 'fields', '-e', 'pcapng.options.option.data.interface.accepted_by_filter', '-e', 'pcapng.options.option.data.interface.delivered_to_user']);
  assert.match(isb, /^12\t12$/m);
});

void test('stdout closed under --print (| head) ends the capture, and it still writes the last 5 packets captured before', async () => {
  const file = path.join(tmp.dir, 'error.pcap');
  const first = numberedFrames(20, 7404);
  const r = await captureAll(file, 7404, first);
  // Close the reading end of netcap's stdout: its next decoded line fails with EPIPE.
  r.child.stdout!.destroy();
  // The failure shows on a write after the pipe closed (as tcpdump meets SIGPIPE on its next
  // write): send a few more frames at a time until netcap ends.
  let exited: { code: number | null } | undefined;
  void r.exited.then((e) => (exited = e));
  let sent = first.length;
  for (let round = 0; round < 20 && !exited; round++) {
    await inject(ns, 'v0', numberedFrames(4, 7404, 200, sent));
    sent += 4;
    await sleep(250);
  }
  assert.ok(exited, `netcap went on after its stdout closed: ${r.stderr()}`);
  // A reader that goes away ends the capture as tcpdump ends quietly on SIGPIPE: the documented status 0.
  assert.equal(exited.code, 0, r.stderr());
  assert.match(r.stderr(), /the reader of stdout went away; capture ended/);
  const kept = numbersByTcpdump(file);
  assert.equal(kept.length, KEEP, `kept ${kept.join(',')}`);
  // Consecutive packets, the newest no older than the last one printed before stdout closed.
  kept.forEach((n, i) => i > 0 && assert.equal(n, kept[i - 1] + 1));
  assert.ok(kept[KEEP - 1] >= 19 && kept[KEEP - 1] < sent, `last kept ${kept[KEEP - 1]} of ${sent}`);
});

const badInput: [string, string[], RegExp][] = [
  ['--write-file-rotate without -w', ['--write-file-rotate', '5'], /--write-file-rotate needs -w FILE/],
  ['--write-file-rotate 0', ['-w', 'x.pcap', '--write-file-rotate', '0'], /--write-file-rotate 0: not a whole number/],
  ['--write-file-rotate with -C', ['-w', 'x.pcap', '--write-file-rotate', '5', '-C', '1'], /cannot be combined with -C/],
  ['-W without -C', ['-w', 'x.pcap', '-W', '3'], /-W needs -C or --rotate-seconds/],
  ['-C with -w -', ['-w', '-', '-C', '1'], /needs a file name, not -w -/],
  ['-C -1', ['-w', 'x.pcap', '-C', '-1'], /-C -1: not a positive number/],
];
for (const [what, args, message] of badInput) {
  void test(`bad input: ${what} -> exit 2, a message, nothing attached`, async () => {
    const r = runNetcap([...common(), ...args], world);
    const exit = await r.exited;
    assert.equal(exit.code, 2, r.stderr());
    assert.match(r.stderr(), message);
    assert.doesNotMatch(r.stderr(), /listening on/);
  });
}
