// The parts of `netcap xdp` that need no kernel: --actions, the names of
// hooks, the xdpcap-shaped counter lines (and the command's live status
// line drawing them), and the hook emitter's checks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { UserError } from '../../src/errors';
import { R1, R2, R6, R7 } from '../../src/ebpf/registers';
import { disassemble } from '../../src/ebpf/disassemble';
import { link } from '../../src/ebpf/link';
import { parseActions } from '../../src/modes/xdp/actions';
import { hookNames } from '../../src/modes/xdp/hook';
import { formatXdpCounts, formatXdpSummary } from '../../src/modes/xdp/status';
import type { PointStats } from '../../src/capture/stats';
import { StatusLine } from '../../cmd/status-line';
import { hookExit, hookExitReg } from '../../probes/xdp-hook';

void test('--actions: names in any order and case, all, repeats; unknown names with a suggestion', () => {
  assert.deepEqual(parseActions('tx,DROP, drop'), [1, 3]);
  assert.equal(parseActions(undefined), undefined);
  assert.equal(parseActions('all'), undefined);
  assert.deepEqual(parseActions('aborted,drop,pass,tx,redirect'), [0, 1, 2, 3, 4]);
  assert.throws(() => parseActions('drop,dorp'), (e: unknown) => e instanceof UserError && /unknown XDP action "dorp" \(did you mean drop\?\)/.test(e.message));
  assert.throws(() => parseActions(','), /names no action/);
});

void test('hook names: the directory of an xdpcap_hook pin, else the file name; full paths when two collide', () => {
  assert.deepEqual(hookNames(['/sys/fs/bpf/lb/xdpcap_hook', '/sys/fs/bpf/fw_hook', '/sys/fs/bpf/edge']), ['lb', 'fw', 'edge']);
  assert.deepEqual(hookNames(['/sys/fs/bpf/a/lb/xdpcap_hook', '/sys/fs/bpf/b/lb/xdpcap_hook']), ['/sys/fs/bpf/a/lb/xdpcap_hook', '/sys/fs/bpf/b/lb/xdpcap_hook']);
});

const counts = (seen: number, matched: number, lost = 0): PointStats => ({ seen: BigInt(seen), matched: BigInt(matched), lost: BigInt(lost), readErrors: 0n, captured: 0n });

void test("counters in xdpcap's shape: received/matched per action, per hook; losses shown; a 4-entry hook's missing redirect", () => {
  const one = [0, 1, 2, 3, 4].map((action) => ({ hookName: 'lb', hookEntries: 5, action }));
  const c = [counts(0, 0), counts(120, 3), counts(9810, 41, 2), counts(0, 0), counts(5, 5)];
  assert.equal(formatXdpCounts(one, c), 'aborted: 0/0  drop: 120/3  pass: 9810/41 (2 lost)  tx: 0/0  redirect: 5/5');
  const two = [
    { hookName: 'lb', hookEntries: 5, action: 1 },
    { hookName: 'fw', hookEntries: 4, action: 1 },
    { hookName: 'fw', hookEntries: 4, action: 3 },
  ];
  assert.equal(formatXdpCounts(two, [counts(1, 1), counts(2, 0), counts(3, 1)]), 'lb: drop: 1/1 | fw: drop: 2/0  tx: 3/1');
  assert.deepEqual(formatXdpSummary(two, [counts(1, 1), counts(2, 0), counts(3, 1)]), [
    'xdp:lb received/matched: drop: 1/1',
    'xdp:fw received/matched: drop: 2/0  tx: 3/1  (no redirect slot: the hook map has 4 entries)',
  ]);
});

void test("the command's status line draws the counters in xdpcap's shape: redrawn in place on a terminal, cut to its width, erased at the end", async () => {
  const tty = Object.assign(new PassThrough(), { isTTY: true, columns: 40 });
  let written = '';
  tty.on('data', (b: Buffer) => (written += b.toString()));
  const points = [1, 2].map((action) => ({ hookName: 'lb', hookEntries: 5, action }));
  const stats = [counts(120, 3), counts(9810, 41)];
  const line = new StatusLine(tty, () => ['xdp:lb drop', 'xdp:lb pass'], () => stats, { intervalMs: 10, captured: () => 44, text: (c) => formatXdpCounts(points, c) }).start();
  await new Promise((r) => setTimeout(r, 35));
  line.stop();
  const ESC = String.fromCharCode(27);
  const frames = written.split(`${ESC}[K`).filter((x) => x !== '');
  assert.ok(frames.length >= 2, written);
  assert.ok(frames.slice(0, -1).every((f) => f === '\r44 captured | drop: 120/3  pass: 9810/4'), `cut to 39 columns, redrawn from the line start: ${JSON.stringify(frames)}`);
  assert.equal(frames[frames.length - 1], '\r', 'erased at the end');
});

void test('hookExit: tail call into the action slot, the action returned when it is empty; registers checked', () => {
  const text = disassemble(link(hookExit(7, 1, R6)));
  assert.match(text, /r1 = r6\n.*r2 = map\[fd:7\]\n.*r3 = 1\n.*call bpf_tail_call#12.*\n.*r0 = 1\n.*exit/);
  assert.match(disassemble(link(hookExitReg(7, R7, R6))), /r3 = r7\n.*call bpf_tail_call#12.*\n.*r0 = r7/);
  assert.throws(() => hookExit(7, 5, R6), /not 0\.\.4/);
  assert.throws(() => hookExit(7, 1, R1), /callee-saved/);
  assert.throws(() => hookExitReg(7, R2, R6), /callee-saved/);
});
