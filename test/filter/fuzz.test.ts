// Random classic BPF programs (only ones libpcap's bpf_validate accepts) on
// random packets: libpcap's bpf_filter, the interpreter and both kernel
// models of our translation must agree on every case. The programs use every
// opcode bpf_filter runs, offsets near and far (k >= 2^31 included), shifts
// by 0..40, divisions by X that may be 0, and returns of any u32.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as c from '../../src/filter/cbpf';
import { libpcapFilter, libpcapValidate } from '../../src/filter/libpcap';
import { interpret } from '../../src/filter/interpreter';
import { closeAll } from '../../src/bpf/registry';
import { Random } from './packets';
import { randomProgram } from './random-program';
import { BufferMaps, KernelFilter } from './kernel-verdict';

const PROGRAMS = 2000;
const PACKETS_PER_PROGRAM = 60;
const SEED = 0xf22;

let maps: BufferMaps | undefined;
after(() => {
  maps?.close();
  closeAll();
});

function randomPacket(r: Random): { data: Buffer; wirelen: number } {
  const len = r.chance(0.1) ? r.below(14) : r.below(120);
  const data = Buffer.alloc(len);
  for (let i = 0; i < len; i++) data[i] = r.chance(0.3) ? r.pick([0, 0xff, 0x45, 0x08]) : r.below(256);
  const wirelen = r.chance(0.3) ? len + r.below(2000) : len;
  return { data, wirelen };
}

void test(`${PROGRAMS} random valid programs x ${PACKETS_PER_PROGRAM} packets: libpcap, interpreter and both kernel models agree`, (t) => {
  maps = new BufferMaps();
  const r = new Random(SEED);
  let cases = 0;
  let invalid = 0;
  let matches = 0;
  const failures: string[] = [];
  const started = process.hrtime.bigint();
  for (let n = 0; n < PROGRAMS; n++) {
    const prog = randomProgram(r);
    if (!libpcapValidate(prog)) {
      invalid++;
      continue;
    }
    const kf = new KernelFilter(prog, maps);
    try {
      for (let p = 0; p < PACKETS_PER_PROGRAM; p++) {
        const { data, wirelen } = randomPacket(r);
        const want = libpcapFilter(prog, data, wirelen);
        const interp = interpret(prog, data, wirelen);
        const kernel = kf.run(data, wirelen);
        cases++;
        if (want !== 0) matches++;
        if (interp !== want || (kernel.packet !== undefined && kernel.packet !== want) || (kernel.buffer !== undefined && kernel.buffer !== want)) {
          if (failures.length < 10) {
            failures.push(
              `program ${n}: libpcap ${want}, interpreter ${interp}, kernel packet ${kernel.packet}, buffer ${kernel.buffer}; ` +
                `packet ${data.toString('hex')} wirelen ${wirelen}\n${c.formatCbpf(prog)}`,
            );
          }
        }
      }
    } finally {
      kf.close();
    }
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  t.diagnostic(`${cases} cases (${matches} matches) from ${PROGRAMS - invalid} programs (${invalid} refused by bpf_validate) in ${seconds.toFixed(1)} s`);
  assert.deepEqual(failures, []);
  assert.ok(cases >= 100_000, `at least 100k cases (got ${cases})`);
  assert.ok(matches > cases / 10, 'a fair share of matches');
});
