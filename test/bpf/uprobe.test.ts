// Uprobes and uretprobes on a tiny C program built here: the probe program
// copies arguments / return values into the ring buffer and the test reads
// them through RingReader, comparing with what the C code computes.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { createMap, type BpfMap } from '../../src/bpf/map';
import { LossCounters } from './programs';
import { RingReader } from '../../src/bpf/ringbuf';
import { loadProgram, type Program } from '../../src/bpf/program';
import { ProgType } from '../../src/bpf/constants';
import { attachUprobe, attachUretprobe } from '../../src/bpf/link/uprobe';
import { possibleCpus } from '../../src/bpf/cpus';
import { closeAll } from '../../src/bpf/registry';
import { skipReason } from '../../src/bpf/features';
import { Helper } from '../../src/ebpf/helpers';
import { UserError } from '../../src/errors';
import { buildUprobeTarget, expectedReturn, type UprobeTarget } from './uprobe-target';
import { cookieField, ctxField, helperField, PT_REGS, recordProgram, u64Fields } from './programs';

let target: UprobeTarget;
let ring: BpfMap;
let loss: LossCounters;
let entryProg: Program;
let returnProg: Program;
const records: bigint[][] = [];
let reader: RingReader;

const skip = skipReason('uprobes') ?? skipReason('ringbuf');

before(() => {
  if (skip) return;
  target = buildUprobeTarget();
  ring = createMap({ type: 'ringbuf', name: 'nc_t_up_ring', keySize: 0, valueSize: 0, maxEntries: 1 << 16 });
  loss = LossCounters.create('nc_t_up_loss');
  // Record: arg1, arg2 (or return value twice), cpu, tgid, cookie.
  const tgid = helperField(Helper.get_current_pid_tgid);
  entryProg = loadProgram({
    type: ProgType.KPROBE,
    name: 'nc_t_up_entry',
    insns: recordProgram(ring.fd, loss.fd, [ctxField(PT_REGS.rdi), ctxField(PT_REGS.rsi), helperField(Helper.get_smp_processor_id), tgid, cookieField]),
  });
  returnProg = loadProgram({
    type: ProgType.KPROBE,
    name: 'nc_t_up_ret',
    insns: recordProgram(ring.fd, loss.fd, [ctxField(PT_REGS.rax), ctxField(PT_REGS.rax), helperField(Helper.get_smp_processor_id), tgid, cookieField]),
  });
  reader = new RingReader(ring, (batch) => {
    for (const r of batch) records.push(u64Fields(r));
  });
});

after(() => {
  closeAll();
  target?.remove();
});

/** Runs the target to completion; returns its pid. */
function runTarget(count: number, cpu?: number): number {
  const argv = cpu === undefined ? [target.binary, String(count)] : ['taskset', '-c', String(cpu), target.binary, String(count)];
  const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', timeout: 10000 });
  assert.equal(r.status, 0, r.stderr);
  return r.pid;
}

function take(): bigint[][] {
  reader.drain();
  return records.splice(0);
}

void test('a uprobe for every process sees each call\'s arguments, on every CPU', (t) => {
  if (skip) return t.skip(skip);
  const link = attachUprobe(entryProg, { path: target.binary, offset: target.offset, cookie: 0xc0ffeen });
  try {
    for (let cpu = 0; cpu < Math.min(possibleCpus(), 2); cpu++) {
      const pid = runTarget(3, cpu);
      const got = take().filter((r) => r[3] >> 32n === BigInt(pid));
      assert.deepEqual(
        got.map((r) => [r[0], r[1]]),
        [0, 1, 2].map((i) => [BigInt(i + 1), BigInt(1000 + i)]),
        `arguments of the calls on CPU ${cpu}`,
      );
      assert.ok(got.every((r) => r[2] === BigInt(cpu)), `ran on CPU ${cpu}`);
      assert.ok(got.every((r) => r[4] === 0xc0ffeen), 'bpf_get_attach_cookie returns the cookie');
    }
  } finally {
    link.close();
  }
  // Detached: calls are no longer seen.
  const pid = runTarget(2);
  assert.equal(take().filter((r) => r[3] >> 32n === BigInt(pid)).length, 0);
  assert.equal(loss.total(), 0n);
});

void test('a uretprobe sees each return value', (t) => {
  if (skip) return t.skip(skip);
  const link = attachUretprobe(returnProg, { path: target.binary, offset: target.offset });
  try {
    const pid = runTarget(4);
    const got = take().filter((r) => r[3] >> 32n === BigInt(pid));
    assert.deepEqual(
      got.map((r) => r[0]),
      [0, 1, 2, 3].map(expectedReturn),
    );
  } finally {
    link.close();
  }
});

void test('a uprobe for one pid ignores other processes running the same binary', async (t) => {
  if (skip) return t.skip(skip);
  const waiting = spawn(target.binary, ['5', 'wait'], { stdio: ['pipe', 'pipe', 'inherit'] });
  try {
    await once(waiting.stdout, 'data');
    const link = attachUprobe(entryProg, { path: target.binary, offset: target.offset, pid: waiting.pid });
    try {
      const otherPid = runTarget(3);
      waiting.stdin.end('go\n');
      await once(waiting, 'exit');
      const got = take();
      assert.equal(got.filter((r) => r[3] >> 32n === BigInt(otherPid)).length, 0, 'no records from the other process');
      assert.deepEqual(
        got.filter((r) => r[3] >> 32n === BigInt(waiting.pid ?? -1)).map((r) => r[0]),
        [1n, 2n, 3n, 4n, 5n],
      );
    } finally {
      link.close();
    }
  } finally {
    waiting.kill('SIGKILL');
  }
});

void test('bpftool lists the uprobe link while attached, and not after close', (t) => {
  if (skip) return t.skip(skip);
  const link = attachUprobe(entryProg, { path: target.binary, offset: target.offset });
  const id = link.linkId();
  const list = () => JSON.parse(spawnSync('bpftool', ['link', 'list', '-j'], { encoding: 'utf8' }).stdout) as { id: number; prog_id: number; type: string }[];
  const listed = list().find((l) => l.id === id);
  assert.ok(listed, 'listed');
  assert.equal(listed.type, 'perf_event');
  assert.equal(listed.prog_id, entryProg.id);
  link.close();
  link.close();
  assert.equal(list().find((l) => l.id === id), undefined);
});

void test('attaching to a missing file or a bad pid is a UserError', (t) => {
  if (skip) return t.skip(skip);
  assert.throws(() => attachUprobe(entryProg, { path: '/nonexistent/netcap-test', offset: 0x1000 }), UserError);
  assert.throws(() => attachUprobe(entryProg, { path: target.binary, offset: target.offset, pid: 0x3ffffff0 }), (e: unknown) => e instanceof UserError && /no process/.test(e.message));
});

void test('a ring too small for the calls counts its losses', (t) => {
  if (skip) return t.skip(skip);
  // One page of ring: 4096 / (8 header + 40 record) = 85 records fit; the
  // reader is closed so nothing is consumed while the target runs.
  const small = createMap({ type: 'ringbuf', name: 'nc_t_up_small', keySize: 0, valueSize: 0, maxEntries: 4096 });
  const smallLoss = LossCounters.create('nc_t_up_sloss');
  const prog = loadProgram({
    type: ProgType.KPROBE,
    name: 'nc_t_up_small',
    insns: recordProgram(small.fd, smallLoss.fd, [ctxField(PT_REGS.rdi), ctxField(PT_REGS.rsi), helperField(Helper.get_smp_processor_id), helperField(Helper.get_current_pid_tgid), cookieField]),
  });
  const link = attachUprobe(prog, { path: target.binary, offset: target.offset });
  const got: Buffer[] = [];
  try {
    runTarget(200);
    const smallReader = new RingReader(small, (b) => got.push(...b));
    smallReader.drain();
    smallReader.close();
  } finally {
    link.close();
    prog.close();
  }
  // Only calls of our own target hit this probe (other processes don't run this binary).
  assert.ok(got.length > 0 && got.length < 200, `${got.length} records delivered`);
  assert.equal(BigInt(got.length) + smallLoss.total(), 200n, 'every call is either delivered or counted as lost');
  small.close();
  smallLoss.close();
});
