// The disassembler must print exactly what the kernel's verifier log prints
// for the same instructions: we load a program that touches every
// instruction form and fails on purpose at its end, so the kernel's log
// (kernel/bpf/disasm.c) holds its own listing to compare with.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as e from '../../src/ebpf';
import { R0, R1, R2, R3, R4, R6, R9, R10 } from '../../src/ebpf';
import { loadProgram, VerifierError } from '../../src/bpf/program';
import { ProgType } from '../../src/bpf/constants';
import { closeAll } from '../../src/bpf/registry';

after(() => closeAll());

function skbLen(): e.Insn {
  return e.LoadMem(R1, R6, 0, 4);
}

// The verifier stops at the first error, so the path to the failure must be
// walked last. Which side of a jump it walks first depends on the kernel
// version: `failFirst` puts the failure on the taken side or on the
// fall-through, and the test accepts the variant whose log lists everything.
function everyForm(failOnTaken: boolean): e.Insn[] {
  return [
  e.Mov.reg(R6, R1),
  skbLen(),
  ...(failOnTaken ? [e.JEq.imm(R1, 0x12345, 'fail')] : [e.JNE.imm(R1, 0x12345, 'start'), e.Ja('fail')]),
  e.Label('start'), e.Mov.imm(R1, 5),
  e.Add.imm32(R1, 3),
  e.Sub.imm(R1, 2),
  e.Mul.imm(R1, 3),
  e.Div.imm(R1, 2),
  e.Mod.imm(R1, 7),
  e.Or.imm(R1, 0x10),
  e.And.imm(R1, 0xff),
  e.LSh.imm(R1, 2),
  e.RSh.imm(R1, 1),
  e.ArSh.imm(R1, 1),
  e.Xor.imm32(R1, 3),
  e.Mov.reg(R2, R1),
  e.Add.reg(R2, R1),
  e.Sub.reg32(R2, R1),
  e.Neg32(R2),
  e.Neg(R2),
  e.Mov.imm(R2, -1),
  e.ToBE(R1, 16),
  e.ToBE(R1, 32),
  e.ToLE(R1, 64),
  e.LoadImm64(R3, 0x1122334455667788n),
  e.StoreMem(R10, -8, R3, 8),
  e.StoreImm(R10, -16, 7, 4),
  e.LoadMem(R4, R10, -16, 4),
  e.StoreMem(R10, -17, R4, 1),
  e.LoadMem(R4, R10, -8, 2),
  // Each compare gets a fresh unknown value (skb->len, offset 0 of
  // __sk_buff) so the verifier can't prove a branch and skip its fall-through.
  // Both sides of each jump lead to the next instruction.
  skbLen(),
  e.JGT.imm(R1, 4, 'j1'),
  e.Label('j1'), skbLen(),
  e.JEq.reg32(R1, R2, 'j2'),
  e.Label('j2'), skbLen(),
  e.JSLT.imm(R1, -3, 'j3'),
  e.Label('j3'), skbLen(),
  e.JSet.imm(R1, 0x80, 'j4'),
  e.Label('j4'), skbLen(),
  e.JNE.reg(R1, R4, 'j5'),
  e.Label('j5'), skbLen(),
  e.JLE.imm32(R1, 9, 'j6'),
  e.Label('j6'), e.Call(e.Helper.ktime_get_ns),
  e.Ja('done'),
  e.Label('done'), e.Mov.imm(R0, 0),
  e.Exit(),
  // r9 was never written: the verifier stops here ("R9 !read_ok").
  e.Label('fail'),
  e.LoadMem(R0, R9, 0, 1),
  // Never reached, so never printed: excluded from the comparison.
  e.Exit(),
  ];
}

void test('known encodings print in verifier syntax', () => {
  assert.equal(e.formatInsn(e.LoadMem(R0, R4, 0, 1)), 'r0 = *(u8 *)(r4 +0)');
  assert.equal(e.formatInsn(e.link([e.JGT.imm(R1, 4, 'x'), e.Mov.imm(R0, 0), e.Mov.imm(R0, 0), e.Label('x'), e.Exit()]).insns[0], true), 'if r1 > 0x4 goto pc+2');
  assert.equal(e.formatInsn(e.ToBE(R1, 16)), 'r1 = be16 r1');
  assert.equal(e.formatInsn(e.Call(e.Helper.ringbuf_reserve)), 'call bpf_ringbuf_reserve#131');
  assert.equal(e.formatInsn(e.Exit()), 'exit');
  assert.equal(e.formatInsn(e.StoreMem(R10, -8, R1, 4)), '*(u32 *)(r10 -8) = r1');
  assert.equal(e.formatInsn(e.LoadMapPtr(R1, 5)), 'r1 = map[fd:5]');
  assert.equal(e.formatInsn(e.JEq.imm(R1, 0, 'out')), 'if r1 == 0x0 goto <out>');
});

void test('our listing matches the kernel verifier log line for line', (t) => {
  const missing: string[] = [];
  for (const failOnTaken of [true, false]) {
    const insns = everyForm(failOnTaken);
    let log = '';
    try {
      // Log level 2: every path walked is printed, not only the failing one.
      const p = loadProgram({ type: ProgType.SOCKET_FILTER, insns, name: 'nc_disasm', logLevel: 2 });
      p.close();
      assert.fail('the kernel accepted a program that reads an uninitialised register');
    } catch (err) {
      if (!(err instanceof VerifierError)) throw err;
      log = err.log;
      assert.match(err.message, /R9 !read_ok/);
    }
    const logLines = log.split('\n');
    const ours = e.disassemble(e.link(insns), { metadata: false }).trimEnd().split('\n').slice(0, -1);
    // The verifier appends register state after the instruction ("   ; R1_w=5").
    const absent = ours.filter((line) => !logLines.some((l) => l === line || (l.startsWith(line) && /^\s/.test(l.slice(line.length)))));
    if (absent.length === 0) {
      t.diagnostic(`${ours.length} instructions match the kernel's own listing (failure on the ${failOnTaken ? 'taken' : 'fall-through'} side)`);
      return;
    }
    missing.push(`variant ${failOnTaken ? 'taken' : 'fall-through'}: the verifier log has no line ${JSON.stringify(absent[0])}\n--- log ---\n${log}`);
  }
  assert.fail(missing.join('\n'));
});
