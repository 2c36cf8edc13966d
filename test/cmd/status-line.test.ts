// The live status line: `netcap skb` runs under a real pseudo-terminal
// (Python's os.forkpty, given an argument list: no shell) while numbered
// frames arrive on a veth in a namespace made here; the terminal sees the
// line redrawn in place about once a second with growing counts, erased
// before the summary. With stderr on a pipe, no control characters at all.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { formatStatusLine } from '../../cmd/status-line';
import { World, type Namespace } from '../../lab/netns';
import { inject } from '../../lab/inject';
import { NETCAP, runNetcap } from '../capture/netcap-child';
import { RECEIVER_MAC, SENDER_MAC, numberedFrames, waitFor } from '../capture/numbered-frames';

const world = new World('status');
/** The escape character that starts "erase to end of line" (ESC [ K). */
const ESC = String.fromCharCode(27);
let ns: Namespace;

before(() => {
  ns = world.addNamespace();
  ns.addVeth('v0', 'v1', { local: { mac: SENDER_MAC }, peer: { mac: RECEIVER_MAC, address: '192.0.2.2/24' } });
});

after(async () => {
  await world.destroy();
});

// Runs argv[1:] on a new pseudo-terminal, copies what it writes there to
// stdout, and exits with its status.
const PTY_RUNNER = `
import os, sys
pid, fd = os.forkpty()
if pid == 0:
    os.execvp(sys.argv[1], sys.argv[1:])
while True:
    try:
        chunk = os.read(fd, 65536)
    except OSError:
        break
    if not chunk:
        break
    sys.stdout.buffer.write(chunk)
    sys.stdout.buffer.flush()
_, status = os.waitpid(pid, 0)
sys.exit(os.waitstatus_to_exitcode(status))
`;

void test('formatStatusLine: per point hits, matched, lost; cut to the terminal width', () => {
  const counts = [
    { seen: 10n, matched: 4n, lost: 1n, readErrors: 0n, captured: 3n },
    { seen: 7n, matched: 7n, lost: 0n, readErrors: 0n, captured: 7n },
  ];
  assert.equal(formatStatusLine(['a', 'b'], counts, 10), '10 captured | a: 10 hits, 4 matched, 1 lost | b: 7 hits, 7 matched, 0 lost');
  assert.equal(formatStatusLine(['a'], counts), 'a: 10 hits, 4 matched, 1 lost');
  assert.equal(formatStatusLine(['a', 'b'], counts, 10, 20), '10 captured | a: 10'); // 19 characters: the last column stays free
});

void test('on a terminal: the line is redrawn each second with growing counts and erased before the summary', async () => {
  const argv = [process.execPath, NETCAP, 'skb', '-f', 'tracepoint:net:netif_receive_skb', '-i', 'v1', '--netns', ns.name, '-e', 'udp port 7601', '-w', '/dev/null', '--duration', '4'];
  const child = spawn('python3', ['-c', PTY_RUNNER, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
  world.track(child);
  let screen = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (s: string) => (screen += s));
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  await waitFor(() => /listening on/.test(screen), 20_000, `netcap to listen on the terminal:\n${screen}`);
  // 100 frames a second for about 3 s: each redraw sees more.
  await inject(ns, 'v0', numberedFrames(300, 7601), { rate: 100 });
  assert.equal(await exited, 0, screen);

  const redraw = new RegExp(`\r(\\d+) captured \\| skb:tracepoint:net:netif_receive_skb: (\\d+) hits, (\\d+) matched, (\\d+) lost[^\r\n]*${ESC}\\[K`, 'g');
  const lines = [...screen.matchAll(redraw)].map((m) => ({ captured: Number(m[1]), hits: Number(m[2]), matched: Number(m[3]), lost: Number(m[4]) }));
  assert.ok(lines.length >= 3 && lines.length <= 5, `${lines.length} redraws in 4 s:\n${JSON.stringify(screen)}`);
  for (let i = 1; i < lines.length; i++) assert.ok(lines[i].matched >= lines[i - 1].matched && lines[i].hits >= lines[i - 1].hits, JSON.stringify(lines));
  assert.ok(lines[lines.length - 1].matched > lines[0].matched, `the counts grow: ${JSON.stringify(lines)}`);
  // Erased ("\r" + erase to end of line) right before the summary, which starts on a clean line.
  const last = screen.lastIndexOf('\x1b[K');
  assert.equal(screen.slice(last - 1, last + 3), '\r\x1b[K');
  assert.match(screen.slice(last + 3), /^\d+ packets captured\r?\n/);
  assert.match(screen, /300 packets captured/);
});

void test('stderr on a pipe: no status line, no control characters', async () => {
  const r = runNetcap(['skb', '-f', 'tracepoint:net:netif_receive_skb', '-i', 'v1', '--netns', ns.name, '-e', 'udp port 7602', '-w', '/dev/null', '--duration', '2.5'], world);
  await r.ready();
  await inject(ns, 'v0', numberedFrames(50, 7602), { rate: 50 });
  const exit = await r.exited;
  assert.equal(exit.code, 0, r.stderr());
  assert.match(r.stderr(), /50 packets captured/);
  assert.ok(!r.stderr().includes('\r') && !r.stderr().includes(ESC), JSON.stringify(r.stderr()));
});
