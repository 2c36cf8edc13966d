// Loading real programs: one the kernel accepts and runs, one it refuses
// with a summarised reason and the full log attached.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { Exit, LoadMem, Mov, R0, R1, R2 } from '../../src/ebpf';
import { loadProgram, VerifierError } from '../../src/bpf/program';
import { ProgType } from '../../src/bpf/constants';
import { summarizeVerifierLog } from '../../src/bpf/verifier-log';
import { closeAll, openCount } from '../../src/bpf/registry';
import { UserError } from '../../src/errors';

after(() => closeAll());

void test('a tiny XDP program loads, runs via BPF_PROG_TEST_RUN and closes idempotently', () => {
  const before = openCount();
  const p = loadProgram({ type: ProgType.XDP, insns: [Mov.imm(R0, 2), Exit()], name: 'nc_pass' });
  assert.ok(p.fd > 0);
  assert.ok(p.id > 0);
  assert.equal(p.slots, 2);
  const r = p.testRun(Buffer.alloc(64), { repeat: 1 });
  assert.equal(r.retval, 2, 'XDP_PASS');
  p.close();
  p.close();
  assert.ok(p.closed);
  assert.equal(openCount(), before);
  assert.throws(() => p.fd, /closed/);
});

void test('a refused program gives a one-line reason and the full verifier log', () => {
  // struct xdp_md: data at 0, data_end at 4. Reading the packet without
  // comparing against data_end is what the verifier exists to stop.
  const insns = [LoadMem(R2, R1, 0, 4), LoadMem(R0, R2, 14, 1), Exit()];
  assert.throws(
    () => loadProgram({ type: ProgType.XDP, insns, name: 'nc_bad' }),
    (e: unknown) => {
      assert.ok(e instanceof VerifierError);
      assert.ok(e instanceof UserError);
      assert.match(e.message, /invalid access to packet, off=14 size=1/);
      assert.doesNotMatch(e.message, /\n/);
      assert.doesNotMatch(e.message, /processed \d+ insns/);
      assert.ok(e.detail && e.detail.includes('1: (71) r0 = *(u8 *)(r2 +14)'), 'detail holds the full log with the listing');
      assert.equal(e.insnIndex, 1);
      assert.equal(e.code, 'EACCES');
      return true;
    },
  );
});

void test('summaries skip statistics and trace lines', () => {
  const log = [
    '0: R1=ctx() R10=fp0',
    '0: (61) r2 = *(u32 *)(r1 +0)         ; R1=ctx() R2_w=pkt(r=0)',
    '1: (71) r0 = *(u8 *)(r2 +14)',
    'invalid access to packet, off=14 size=1, R2(id=0,off=14,r=0)',
    'R2 offset is outside of the packet',
    'processed 2 insns (limit 1000000) max_states_per_insn 0 total_states 0 peak_states 0 mark_read 0',
    '',
  ].join('\n');
  assert.equal(
    summarizeVerifierLog(log),
    'invalid access to packet, off=14 size=1, R2(id=0,off=14,r=0): R2 offset is outside of the packet',
  );
});

void test('bad program names are refused before the kernel sees them', () => {
  assert.throws(() => loadProgram({ type: ProgType.XDP, insns: [Mov.imm(R0, 2), Exit()], name: 'a name with spaces' }), /at most 15 characters/);
});
