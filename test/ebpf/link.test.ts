// link(): labels become slot offsets, the 64-bit load counts twice, and
// mistakes (unknown, duplicate, too far) fail loudly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Label, Exit, Ja, JEq, LinkError, LoadImm64, Mov, R0, R1, link, encode, decode, Insn } from '../../src/ebpf';

void test('jump offsets count slots after the jump, the 64-bit load as two', () => {
  const prog = link([
    JEq.imm(R1, 0, 'out'),
    LoadImm64(R0, 0x1122334455667788n),
    Mov.imm(R0, 1),
    Label('out'), Exit(),
  ]);
  assert.equal(prog.slots, 5);
  assert.deepEqual(prog.slotOf, [0, 1, 3, 4, 4]);
  assert.equal(prog.insns[0].off, 3);
});

void test('backward jumps get negative offsets', () => {
  const prog = link([Label('top'), Mov.imm(R0, 0), Ja('top')]);
  assert.equal(prog.insns[2].off, -2);
});

void test('unknown label', () => {
  assert.throws(() => link([Ja('nowhere'), Exit()]), (e: Error) => e instanceof LinkError && /unknown label "nowhere"/.test(e.message));
});

void test('duplicate label', () => {
  assert.throws(
    () => link([Label('x'), Mov.imm(R0, 0), Label('x'), Exit()]),
    (e: Error) => e instanceof LinkError && /duplicate label "x" at instructions 0 and 2/.test(e.message),
  );
});

void test('a label takes no slot and names the next instruction; one that ends the program is refused', () => {
  const prog = link([Ja('b'), Label('a'), Label('b'), Mov.imm(R0, 1), Exit()]);
  assert.equal(prog.slots, 3);
  assert.equal(prog.insns[0].off, 0);
  assert.equal(encode(prog).length, 24);
  assert.throws(() => link([Ja('end'), Exit(), Label('end')]), /label "end" ends the program/);
});

void test('offsets beyond int16 are refused', () => {
  const body = Array.from({ length: 0x8000 }, () => Mov.imm(R0, 0));
  assert.throws(() => link([Ja('end'), ...body, Label('end'), Exit()]), /beyond the signed 16-bit/);
  // One fewer fits exactly (offset 0x7fff).
  const ok = link([Ja('end'), ...body.slice(1), Label('end'), Exit()]);
  assert.equal(ok.insns[0].off, 0x7fff);
});

void test('equality ignores comments; a label equals only a label of the same name', () => {
  const a = Mov.imm(R0, 7);
  assert.ok(a.equals(a.withComment('c')));
  assert.ok(!a.equals(Label('s')) && Label('s').equals(Label('s')) && !Label('s').equals(Label('t')));
  assert.ok(!a.equals(Mov.imm(R0, 8)));
  assert.ok(Object.isFrozen(a));
});

void test('encoding matches struct bpf_insn and decodes back', () => {
  const prog = link([Mov.imm(R0, 1), LoadImm64(R1, 0x1122334455667788n), Exit()]);
  const buf = encode(prog);
  assert.equal(
    buf.toString('hex'),
    // b7 = ALU64|MOV|K, dst r0, imm 1; 18 = LD|IMM|DW, dst r1 (low nibble), two slots; 95 = JMP|EXIT
    'b700000001000000' + '1801000088776655' + '0000000044332211' + '9500000000000000',
  );
  const back = decode(buf);
  assert.equal(back.length, 3);
  assert.ok(back.every((insn: Insn, i: number) => insn.equals(prog.insns[i])));
});

void test('immediates outside 32 bits are refused by builders', () => {
  assert.throws(() => Mov.imm(R0, 2 ** 32), /does not fit in 32 bits/);
  assert.equal(Mov.imm(R0, 0xffffffff).imm, -1);
});
