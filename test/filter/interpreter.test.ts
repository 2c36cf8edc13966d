// The cBPF interpreter, and the same programs compiled to JavaScript
// functions (src/filter/cbpf-js.ts, what netcap read runs), against libpcap's
// own bpf_filter (through the addon): every corpus expression over every
// generated packet, then edge cases and random programs that libpcap's
// bpf_validate accepts. The reference is libpcap, not us.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { native } from '../../src/native';
import { interpret, type CbpfInstruction } from '../../src/filter/interpreter';
import { compileCbpfToJs } from '../../src/filter/cbpf-js';
import { expressions, refused, rejectsAll } from './corpus';
import { generatePackets, Random } from './packets';

const EN10MB = 1;
const SNAPLEN = 262144;

function decode(program: Buffer): CbpfInstruction[] {
  const out: CbpfInstruction[] = [];
  for (let i = 0; i < program.length; i += 8) {
    out.push({ code: program.readUInt16LE(i), jt: program[i + 2], jf: program[i + 3], k: program.readUInt32LE(i + 4) });
  }
  return out;
}

function encode(insns: readonly CbpfInstruction[]): Buffer {
  const b = Buffer.alloc(insns.length * 8);
  insns.forEach((x, i) => {
    b.writeUInt16LE(x.code, i * 8);
    b[i * 8 + 2] = x.jt;
    b[i * 8 + 3] = x.jf;
    b.writeUInt32LE(x.k >>> 0, i * 8 + 4);
  });
  return b;
}

const packets = generatePackets(3000, 0x5eed);

/**
 * The program compiled to JavaScript, run over `data` placed inside a bigger
 * buffer (as netcap read runs it, on a packet among others), or undefined.
 */
function compiled(insns: readonly CbpfInstruction[]): ((data: Buffer, wirelen: number) => number) | undefined {
  const fn = compileCbpfToJs(insns);
  if (!fn) return undefined;
  return (data, wirelen) => {
    const around = Buffer.alloc(data.length + 16, 0xa5);
    data.copy(around, 7);
    return fn(around, 7, data.length, wirelen);
  };
}

/** Runs the engines over every packet; returns how many packets the filter kept (to prove the test is not vacuous). */
function compareOnAll(expression: string, program: Buffer): number {
  const insns = decode(program);
  const js = compiled(insns);
  assert.ok(js, `"${expression}" compiles to JavaScript`);
  let kept = 0;
  for (const p of packets) {
    const want = native().pcap.filter(program, p.data, p.wirelen);
    const got = interpret(insns, p.data, p.wirelen);
    if (got !== want) assert.fail(`"${expression}" on ${p.name} (caplen ${p.data.length}, wirelen ${p.wirelen}): interpreter ${got}, libpcap ${want}\n${p.data.toString('hex')}`);
    const fromJs = js(p.data, p.wirelen);
    if (fromJs !== want) assert.fail(`"${expression}" on ${p.name} (caplen ${p.data.length}, wirelen ${p.wirelen}): compiled ${fromJs}, libpcap ${want}\n${p.data.toString('hex')}`);
    if (want !== 0) kept++;
  }
  return kept;
}

void test('generated packets are deterministic and varied', () => {
  const again = generatePackets(3000, 0x5eed);
  assert.equal(again.length, packets.length);
  for (let i = 0; i < packets.length; i++) assert.ok(again[i].data.equals(packets[i].data), packets[i].name);
  assert.ok(packets.some((p) => p.data.length < 14), 'runts');
  assert.ok(packets.some((p) => p.data.length < p.wirelen), 'truncated captures');
  for (const kind of ['vlan', 'qinq', 'mpls', 'frag-first', 'frag-middle', 'frag-last', '+ext0', '+ext43', '+ext44', 'arp', 'rarp', 'icmp6', 'pppoes', 'llc', '+opt']) {
    assert.ok(packets.some((p) => p.name.includes(kind)), `some packet is ${kind}`);
  }
});

void test('every corpus expression: interpreter verdict === libpcap bpf_filter verdict on every packet', () => {
  let matchedSome = 0;
  for (const expression of expressions) {
    const program = native().pcap.compile(EN10MB, SNAPLEN, expression, true);
    if (compareOnAll(expression, program) > 0) matchedSome++;
  }
  // The packets must exercise the corpus: most filters keep at least one.
  assert.ok(matchedSome > expressions.length * 0.8, `only ${matchedSome} of ${expressions.length} expressions matched any packet`);
});

void test('unoptimized programs (longer, with ja, st/ld M[]) agree too, including the reject-all expressions', () => {
  for (const expression of [...expressions.slice(0, 120), ...rejectsAll]) {
    const program = native().pcap.compile(EN10MB, SNAPLEN, expression, false);
    const kept = compareOnAll(expression, program);
    if (rejectsAll.includes(expression)) assert.equal(kept, 0, `${expression} should keep nothing`);
  }
});

void test('protochain (a backward ja) runs like libpcap', () => {
  for (const expression of refused) {
    const program = native().pcap.compile(EN10MB, SNAPLEN, expression, true);
    const insns = decode(program);
    assert.ok(insns.some((i) => i.code === 0x05 && i.k >= 0x80000000), `${expression} has a backward ja`);
    compareOnAll(expression, program);
  }
});

void test('edge cases of the semantics, checked against libpcap', () => {
  const pkt = Buffer.from([0x45, 0x00, 0x00, 0x54, 0xff, 0xff, 0x80, 0x00, 0x01, 0x02]);
  const cases: { name: string; insns: CbpfInstruction[] }[] = [];
  const ldImm = (k: number) => ({ code: 0x00, jt: 0, jf: 0, k });
  const ldxImm = (k: number) => ({ code: 0x01, jt: 0, jf: 0, k });
  const retA = { code: 0x16, jt: 0, jf: 0, k: 0 };
  for (const [name, op] of [['lsh', 0x60], ['rsh', 0x70], ['div', 0x30], ['mod', 0x90], ['mul', 0x20], ['sub', 0x10], ['add', 0x00], ['xor', 0xa0]] as const) {
    for (const x of [0, 1, 31, 32, 33, 63, 0xffffffff]) {
      cases.push({ name: `${name} x=${x}`, insns: [ldImm(0x80000001), ldxImm(x), { code: 0x04 | op | 0x08, jt: 0, jf: 0, k: 0 }, retA] });
      if (x !== 0 || (op !== 0x30 && op !== 0x90)) cases.push({ name: `${name} k=${x}`, insns: [ldImm(0x80000001), { code: 0x04 | op, jt: 0, jf: 0, k: x }, retA] });
    }
  }
  cases.push({ name: 'neg', insns: [ldImm(5), { code: 0x84, jt: 0, jf: 0, k: 0 }, retA] });
  for (const [size, code] of [['w', 0x20], ['h', 0x28], ['b', 0x30]] as const) {
    for (const k of [0, 6, 7, 8, 9, 10, 11, 0xffffffff, 0xfffffffe]) cases.push({ name: `ld${size} abs ${k}`, insns: [{ code, jt: 0, jf: 0, k }, retA] });
    for (const [x, k] of [[0, 8], [8, 0], [6, 2], [7, 2], [0xffffffff, 1], [1, 0xffffffff], [0xfffffffc, 4]]) {
      cases.push({ name: `ld${size} ind x=${x} k=${k}`, insns: [ldxImm(x), { code: code + 0x20, jt: 0, jf: 0, k }, retA] });
    }
  }
  for (const k of [0, 9, 10, 0xffffffff]) cases.push({ name: `ldx msh ${k}`, insns: [{ code: 0xb1, jt: 0, jf: 0, k }, { code: 0x87, jt: 0, jf: 0, k: 0 }, retA] });
  cases.push({ name: 'len', insns: [{ code: 0x80, jt: 0, jf: 0, k: 0 }, retA] });
  cases.push({ name: 'ldx len', insns: [{ code: 0x81, jt: 0, jf: 0, k: 0 }, { code: 0x87, jt: 0, jf: 0, k: 0 }, retA] });
  cases.push({ name: 'stx then ld M', insns: [ldxImm(9), { code: 0x03, jt: 0, jf: 0, k: 3 }, { code: 0x60, jt: 0, jf: 0, k: 3 }, retA] });
  cases.push({ name: 'jgt unsigned', insns: [ldImm(0x80000000), { code: 0x25, jt: 0, jf: 1, k: 1 }, { code: 0x06, jt: 0, jf: 0, k: 11 }, { code: 0x06, jt: 0, jf: 0, k: 22 }] });
  cases.push({ name: 'jset x', insns: [ldImm(6), ldxImm(4), { code: 0x4d, jt: 0, jf: 1, k: 0 }, { code: 0x06, jt: 0, jf: 0, k: 11 }, { code: 0x06, jt: 0, jf: 0, k: 22 }] });
  cases.push({ name: 'ret k >= 2^31', insns: [{ code: 0x06, jt: 0, jf: 0, k: 0xffffffff }] });
  for (const c of cases) {
    const program = encode(c.insns);
    // Every case is a program libpcap accepts (a constant divisor of 0, which
    // bpf_validate refuses and bpf_filter would trap on, is not generated).
    assert.ok(native().pcap.validate(program), `${c.name} validates`);
    const js = compiled(c.insns);
    assert.ok(js, `${c.name} compiles to JavaScript`);
    for (const wirelen of [pkt.length, 1514]) {
      const want = native().pcap.filter(program, pkt, wirelen);
      assert.equal(interpret(c.insns, pkt, wirelen), want, `${c.name} wirelen ${wirelen}`);
      assert.equal(js(pkt, wirelen), want, `${c.name} wirelen ${wirelen}, compiled`);
    }
  }
});

/**
 * A random program bpf_validate accepts: forward jumps, valid M[] slots, ends
 * with ret. libpcap 1.10.3's bpf_filter leaves M[] uninitialised (stack
 * garbage: measured, a `ld M[k]` first thing returns varying values), and the
 * kernel's cBPF checker refuses such reads, so every program starts by
 * storing a random value in each of the 16 slots.
 */
function randomProgram(rng: Random): CbpfInstruction[] {
  const insns: CbpfInstruction[] = [];
  for (let slot = 0; slot < 16; slot++) {
    insns.push({ code: 0x00, jt: 0, jf: 0, k: rng.chance(0.5) ? rng.below(64) : rng.u32() });
    insns.push({ code: 0x02, jt: 0, jf: 0, k: slot });
  }
  insns.push({ code: 0x00, jt: 0, jf: 0, k: 0 });
  const length = insns.length + 2 + rng.below(30);
  const loads = [0x20, 0x28, 0x30, 0x40, 0x48, 0x50, 0x00, 0x01, 0x80, 0x81, 0x60, 0x61, 0xb1];
  const alu = [0x00, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0x90, 0xa0];
  const jumps = [0x10, 0x20, 0x30, 0x40];
  const smallK = () => (rng.chance(0.7) ? rng.below(80) : rng.chance(0.5) ? rng.below(40) : rng.u32());
  for (let i = insns.length; i < length - 1; i++) {
    const remaining = length - 1 - i; // instructions after this one
    const kind = rng.below(10);
    if (kind < 3) {
      const code = rng.pick(loads);
      const k = code === 0x60 || code === 0x61 ? rng.below(16) : smallK();
      insns.push({ code, jt: 0, jf: 0, k });
    } else if (kind < 5) {
      const op = rng.pick(alu);
      const byX = rng.chance(0.5);
      let k = op === 0x60 || op === 0x70 ? rng.below(40) : smallK();
      if ((op === 0x30 || op === 0x90) && k === 0) k = 1 + rng.below(9);
      insns.push({ code: 0x04 | op | (byX ? 0x08 : 0), jt: 0, jf: 0, k });
    } else if (kind === 5) {
      insns.push({ code: rng.pick([0x84, 0x07, 0x87]), jt: 0, jf: 0, k: 0 });
    } else if (kind === 6) {
      insns.push({ code: rng.pick([0x02, 0x03]), jt: 0, jf: 0, k: rng.below(16) });
    } else if (kind < 9) {
      insns.push({ code: 0x05 | rng.pick(jumps) | (rng.chance(0.4) ? 0x08 : 0), jt: rng.below(Math.min(remaining, 256)), jf: rng.below(Math.min(remaining, 256)), k: smallK() });
    } else if (kind === 9 && remaining > 1) {
      insns.push({ code: rng.chance(0.5) ? 0x05 : 0x06, jt: 0, jf: 0, k: rng.below(remaining) });
    } else {
      insns.push({ code: 0x16, jt: 0, jf: 0, k: 0 });
    }
  }
  insns.push(rng.chance(0.5) ? { code: 0x16, jt: 0, jf: 0, k: 0 } : { code: 0x06, jt: 0, jf: 0, k: rng.u32() });
  return insns;
}

void test('random programs that bpf_validate accepts: interpreter === compiled === libpcap', () => {
  const rng = new Random(0xc0ffee);
  const sample = packets.filter((_, i) => i % 15 === 0);
  let validated = 0;
  let nonZero = 0;
  for (let n = 0; n < 4000; n++) {
    const insns = randomProgram(rng);
    const program = encode(insns);
    if (!native().pcap.validate(program)) continue;
    validated++;
    const js = compiled(insns);
    if (!js) assert.fail(`program ${program.toString('hex')} does not compile to JavaScript`);
    for (const p of sample) {
      const want = native().pcap.filter(program, p.data, p.wirelen);
      const got = interpret(insns, p.data, p.wirelen);
      if (got !== want) assert.fail(`program ${program.toString('hex')} on ${p.name}: interpreter ${got}, libpcap ${want}`);
      const fromJs = js(p.data, p.wirelen);
      if (fromJs !== want) assert.fail(`program ${program.toString('hex')} on ${p.name}: compiled ${fromJs}, libpcap ${want}`);
      if (want !== 0) nonZero++;
    }
  }
  assert.ok(validated > 2000, `only ${validated} random programs validated`);
  assert.ok(nonZero > 1000, 'random programs should keep some packets');
});

void test('programs the interpreter refuses are not compiled (the engine interprets them and raises the interpreter\'s error)', () => {
  assert.equal(compileCbpfToJs([{ code: 0xff, jt: 0, jf: 0, k: 0 }]), undefined, 'unknown opcode');
  assert.equal(compileCbpfToJs([{ code: 0x60, jt: 0, jf: 0, k: 16 }, { code: 0x16, jt: 0, jf: 0, k: 0 }]), undefined, 'M[16]');
  const pastTheEnd = compileCbpfToJs([{ code: 0x00, jt: 0, jf: 0, k: 1 }]);
  assert.ok(pastTheEnd);
  assert.throws(() => pastTheEnd(Buffer.alloc(4), 0, 4, 4), /ran past the end of the program/);
  assert.throws(() => interpret([{ code: 0x00, jt: 0, jf: 0, k: 1 }], Buffer.alloc(4), 4), /ran past the end of the program/);
});
