// Readers against files written by live captures of real traffic: tcpdump
// (libpcap's pcap writer) and dumpcap (Wireshark's pcapng writer, with its
// own IDB options and Interface Statistics Blocks), on loopback, while this
// test sends UDP datagrams to 127.0.0.1 on a random port.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import * as dgram from 'node:dgram';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readCaptureFile } from '../../src/output/read-capture';
import { tcpdumpDump, tempDir, epochText } from './reference-tools';

const tmp = tempDir('live');
const children: ChildProcess[] = [];
after(() => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  tmp.remove();
});

const COUNT = 20;

/** Starts a capture tool, waits until it says it listens, sends COUNT datagrams, waits for it to exit. */
async function captureLoopback(argv: string[], ready: RegExp, port: number): Promise<Buffer[]> {
  const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
  children.push(child);
  let stderr = '';
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${argv[0]} did not start: ${stderr}`)), 20_000);
    child.stderr!.on('data', (c: Buffer) => {
      stderr += c.toString();
      if (ready.test(stderr)) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  const payloads: Buffer[] = [];
  const socket = dgram.createSocket('udp4');
  try {
    // Keep sending (bounded) until the tool has its COUNT packets and exits.
    for (let i = 0; i < COUNT * 20 && child.exitCode === null; i++) {
      const payload = Buffer.from(`netcap live test ${i} ${'x'.repeat(i % 50)}`);
      payloads.push(payload);
      await new Promise<void>((resolve, reject) => socket.send(payload, port, '127.0.0.1', (e) => (e ? reject(e) : resolve())));
      await new Promise((r) => setTimeout(r, 20));
    }
  } finally {
    socket.close();
  }
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  const code = await exited;
  clearTimeout(timer);
  assert.equal(code, 0, `${argv.join(' ')}: ${stderr}`);
  return payloads;
}

function randomPort(): number {
  return 20000 + Math.floor(Math.random() * 20000);
}

void test('readPcap reads what tcpdump -w captured on loopback', async () => {
  const port = randomPort();
  const file = path.join(tmp.dir, 'tcpdump.pcap');
  const payloads = await captureLoopback(['tcpdump', '-i', 'lo', '-U', '-c', String(COUNT), '-w', file, `udp dst port ${port}`], /listening on/, port);
  const capture = await readCaptureFile(file);
  assert.equal(capture.format, 'pcap');
  assert.equal(capture.interfaces[0].linktype, 1);
  assert.equal(capture.packets.length, COUNT);
  const dumped = tcpdumpDump(file, false);
  const first = payloads.findIndex((x) => x.equals(capture.packets[0].data.subarray(42)));
  assert.ok(first >= 0, 'the first captured payload is one we sent');
  capture.packets.forEach((p, i) => {
    // Ethernet (14) + IPv4 (20) + UDP (8), then the payload we sent.
    assert.ok(p.data.subarray(42).equals(payloads[first + i]), `packet ${i} payload`);
    assert.equal(p.wirelen, 42 + payloads[first + i].length);
    assert.ok(p.data.equals(dumped[i].bytes));
    assert.equal(epochText(p.tsNs, false), dumped[i].time);
  });
});

void test('readPcapng reads what dumpcap captured on loopback: interface, statistics, packets', async () => {
  const port = randomPort();
  const file = path.join(tmp.dir, 'dumpcap.pcapng');
  const payloads = await captureLoopback(['dumpcap', '-i', 'lo', '-c', String(COUNT), '-f', `udp dst port ${port}`, '-w', file], /Capturing on/, port);
  const capture = await readCaptureFile(file);
  assert.equal(capture.format, 'pcapng');
  assert.equal(capture.interfaces[0].name, 'lo');
  assert.equal(capture.interfaces[0].filter, `udp dst port ${port}`);
  assert.equal(capture.packets.length, COUNT);
  const dumped = tcpdumpDump(file, true);
  // dumpcap may say "Capturing on" a moment before its socket sees traffic:
  // the capture holds COUNT consecutive datagrams, not necessarily the first.
  const first = payloads.findIndex((x) => x.equals(capture.packets[0].data.subarray(42)));
  assert.ok(first >= 0, 'the first captured payload is one we sent');
  capture.packets.forEach((p, i) => {
    assert.ok(p.data.subarray(42).equals(payloads[first + i]), `packet ${i} payload`);
    assert.ok(p.data.equals(dumped[i].bytes));
    assert.equal(epochText(p.tsNs, true), dumped[i].time);
  });
  // dumpcap ends with an ISB for the interface: received and dropped counters.
  assert.ok(capture.statistics.length >= 1, 'an Interface Statistics Block');
  const stats = capture.statistics[capture.statistics.length - 1].stats;
  assert.equal(typeof stats.received, 'bigint');
  assert.ok((stats.received ?? 0n) >= BigInt(COUNT));
  assert.ok(fs.statSync(file).size > 0);
});
