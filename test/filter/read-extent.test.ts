// readExtent: a program never looks past the extent it is given. Checked
// against libpcap's own bpf_filter: for every corpus expression and for
// random valid programs, on generated packets, the verdict on the packet cut
// to the extent is the verdict on the whole packet (same wire length).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileCbpf, libpcapFilter, libpcapValidate } from '../../src/filter/libpcap';
import { readExtent } from '../../src/filter/read-extent';
import { expressions } from './corpus';
import { generatePackets, Random } from './packets';
import { randomProgram } from './random-program';
import type { CbpfInsn } from '../../src/filter/cbpf';

const packets = generatePackets(400, 0x17);

function check(what: string, prog: readonly CbpfInsn[]): { bounded: boolean; cut: number } {
  const extent = readExtent(prog);
  if (!Number.isFinite(extent)) return { bounded: false, cut: 0 };
  let cut = 0;
  for (const p of packets) {
    if (p.data.length <= extent) continue;
    cut++;
    const whole = libpcapFilter(prog, p.data, p.wirelen);
    const part = libpcapFilter(prog, p.data.subarray(0, extent), p.wirelen);
    if (whole !== part) assert.fail(`${what}: extent ${extent}, packet of ${p.data.length} bytes: ${whole} whole, ${part} cut`);
  }
  return { bounded: true, cut };
}

void test('every corpus expression: the verdict on the first readExtent bytes is the verdict on the packet', () => {
  let bounded = 0;
  let cuts = 0;
  for (const e of expressions) {
    const r = check(e, compileCbpf(e).insns);
    if (r.bounded) bounded++;
    cuts += r.cut;
  }
  assert.ok(bounded > expressions.length * 0.9, `${bounded} of ${expressions.length} bounded`);
  assert.ok(cuts > 10_000, `${cuts} packets cut`);
  assert.equal(readExtent(compileCbpf('tcp port 80').insns), 14 + 60 + 4, 'tcp port 80: the ports after an IPv4 header of up to 60 bytes');
  assert.equal(readExtent(compileCbpf('ip6 protochain 6').insns), Infinity, 'a backward jump is not bounded');
});

void test('random valid programs: the same', () => {
  const r = new Random(0x1717);
  let tried = 0;
  for (let n = 0; n < 3000; n++) {
    const prog = randomProgram(r);
    if (!libpcapValidate(prog)) continue;
    tried++;
    check(`program ${n}`, prog);
  }
  assert.ok(tried > 1000);
});
