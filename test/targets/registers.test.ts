// pt_regs offsets of the argument registers, against gcc compiling
// bpftool's C dump of the kernel's BTF (struct pt_regs as this kernel has it).
import { test, after } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import { argRegOffset, argRegister, retRegOffset, ptRegsOffset, X86_64_PT_REGS, type PtRegsField } from '../../src/targets/registers';
import { UserError } from '../../src/errors';
import { cProgramDir } from '../elf/c-program';

const programs = cProgramDir('regs');
after(() => programs.remove());

void test('argument and return registers match gcc offsetof(struct pt_regs, ...) on this kernel', { skip: (!fs.existsSync('/sys/kernel/btf/vmlinux') || process.arch !== 'x64') && 'needs x86-64 and kernel BTF' }, () => {
  fs.writeFileSync(`${programs.dir}/vmlinux.h`, execFileSync('bpftool', ['btf', 'dump', 'file', '/sys/kernel/btf/vmlinux', 'format', 'c'], { maxBuffer: 1 << 30 }));
  const fields = Object.keys(X86_64_PT_REGS) as PtRegsField[];
  const src = `#include "vmlinux.h"\nint printf(const char *, ...);\nint main(void) {\n${fields.map((f) => `  printf("%lu\\n", (unsigned long)__builtin_offsetof(struct pt_regs, ${f}));`).join('\n')}\n  return 0;\n}\n`;
  const exe = programs.build('regs', src, ['-w']);
  const ref = execFileSync(exe).toString().trim().split('\n').map(Number);
  fields.forEach((f, i) => {
    assert.equal(ptRegsOffset(f), ref[i], `pt_regs.${f}`);
  });
  assert.deepEqual([1, 2, 3, 4, 5, 6].map(argRegister), ['di', 'si', 'dx', 'cx', 'r8', 'r9']);
  assert.deepEqual([1, 2, 3, 4, 5, 6].map(argRegOffset), ['di', 'si', 'dx', 'cx', 'r8', 'r9'].map((f) => ref[fields.indexOf(f as PtRegsField)]));
  assert.equal(retRegOffset(), ref[fields.indexOf('ax')]);
});

void test('arguments past the sixth are refused', () => {
  assert.throws(() => argRegOffset(7), UserError);
  assert.throws(() => argRegOffset(0), UserError);
});
