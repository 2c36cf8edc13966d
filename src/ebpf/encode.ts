// The kernel's struct bpf_insn (include/uapi/linux/bpf.h), 8 bytes per slot,
// little-endian on the hosts we support (x86-64, arm64):
//   u8 code; u8 dst_reg:4, src_reg:4; s16 off; s32 imm;
// The 64-bit immediate load is a second slot with code 0 and the upper half in imm.
import { Insn } from './instruction';
import { LinkedProgram } from './link';
import type { Register } from './registers';

export function encode(prog: LinkedProgram): Buffer {
  const buf = Buffer.alloc(prog.slots * 8);
  prog.insns.forEach((insn, i) => {
    if (insn.isLabel) return;
    const at = prog.slotOf[i] * 8;
    buf.writeUInt8(insn.opcode, at);
    buf.writeUInt8((insn.dst & 0x0f) | ((insn.src & 0x0f) << 4), at + 1);
    buf.writeInt16LE(insn.off, at + 2);
    if (insn.isLoadImm64()) {
      const v = insn.imm64 ?? BigInt(insn.imm >>> 0);
      buf.writeInt32LE(Number(BigInt.asIntN(32, v)), at + 4);
      buf.writeInt32LE(Number(BigInt.asIntN(32, v >> 32n)), at + 12);
    } else {
      buf.writeInt32LE(insn.imm, at + 4);
    }
  });
  return buf;
}

/** The inverse of encode(): instructions with raw offsets (no labels). */
export function decode(buf: Buffer): Insn[] {
  if (buf.length % 8 !== 0) throw new RangeError(`eBPF code is ${buf.length} bytes, not a multiple of 8`);
  const out: Insn[] = [];
  for (let at = 0; at < buf.length; at += 8) {
    const regs = buf.readUInt8(at + 1);
    const fields = {
      opcode: buf.readUInt8(at),
      dst: (regs & 0x0f) as Register,
      src: (regs >> 4) as Register,
      off: buf.readInt16LE(at + 2),
      imm: buf.readInt32LE(at + 4),
    };
    const insn = new Insn(fields);
    if (insn.isLoadImm64()) {
      if (at + 16 > buf.length) throw new RangeError('64-bit immediate load cut short at the end of the code');
      const hi = BigInt(buf.readUInt32LE(at + 12));
      out.push(new Insn({ ...fields, imm64: (hi << 32n) | BigInt(buf.readUInt32LE(at + 4)) }));
      at += 8;
    } else {
      out.push(insn);
    }
  }
  return out;
}
