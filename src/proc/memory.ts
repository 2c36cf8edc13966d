// Reading another process's memory, read-only, through /proc/PID/mem
// (proc(5)): a pread at the virtual address. No ptrace attach, no signal,
// no write: the process does not notice. The kernel allows it to a reader
// that passes ptrace_may_access(PTRACE_MODE_ATTACH_FSCREDS) (root in the
// process's user namespace, or the same user without Yama restrictions);
// an address the process has not mapped reads as EIO.
import * as fs from 'node:fs';
import { UserError } from '../errors';

/** A read of an address the process has not mapped (or that it unmapped meanwhile). */
export class UnmappedRead extends Error {
  constructor(readonly address: bigint, readonly length: number) {
    super(`0x${address.toString(16)} (+${length}) is not mapped in the process`);
    this.name = 'UnmappedRead';
  }
}

export class ProcessMemory {
  #fd: number | undefined;

  private constructor(
    readonly pid: number,
    fd: number,
  ) {
    this.#fd = fd;
  }

  /** Opens /proc/PID/mem read-only; UserError when the process is gone or may not be read. */
  static open(pid: number): ProcessMemory {
    try {
      return new ProcessMemory(pid, fs.openSync(`/proc/${pid}/mem`, 'r'));
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ESRCH') throw new UserError(`no process with pid ${pid}`, 'check the pid (ps -e or pidof); the process may have exited');
      if (code === 'EACCES' || code === 'EPERM') {
        throw new UserError(
          `no permission to read the memory of process ${pid} (/proc/${pid}/mem: ${code})`,
          'run netcap as root in the process\'s user namespace (the kernel checks ptrace access rules, e.g. kernel.yama.ptrace_scope, for reading; nothing is ever written)',
          String(e),
        );
      }
      throw e;
    }
  }

  /** `length` bytes at `address`; UnmappedRead when the range is not mapped. */
  read(address: bigint, length: number): Buffer {
    if (this.#fd === undefined) throw new Error(`memory of process ${this.pid} read after close`);
    const buf = Buffer.alloc(length);
    let done = 0;
    try {
      while (done < length) {
        const n = fs.readSync(this.#fd, buf, done, length - done, address + BigInt(done));
        if (n === 0) break;
        done += n;
      }
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EIO' || code === 'EFAULT') throw new UnmappedRead(address, length);
      if (code === 'ESRCH') throw new UserError(`process ${this.pid} exited`, 'start it again and give its new pid');
      throw e;
    }
    if (done < length) throw new UnmappedRead(address, length);
    return buf;
  }

  u8(address: bigint): number {
    return this.read(address, 1)[0];
  }

  u16(address: bigint): number {
    return this.read(address, 2).readUInt16LE(0);
  }

  u32(address: bigint): number {
    return this.read(address, 4).readUInt32LE(0);
  }

  /** A 64-bit pointer (or u64). */
  u64(address: bigint): bigint {
    return this.read(address, 8).readBigUInt64LE(0);
  }

  /** An unsigned field of 1, 2, 4 or 8 bytes, as a number (8-byte values must fit in 2^53). */
  unsigned(address: bigint, size: number): number {
    const b = this.read(address, size);
    return size === 1 ? b[0] : size === 2 ? b.readUInt16LE(0) : size === 4 ? b.readUInt32LE(0) : Number(b.readBigUInt64LE(0));
  }

  /** A NUL-terminated string of at most `max` bytes at `address` (a char array or a char * target). */
  cString(address: bigint, max: number): string {
    // Read in small pieces: a string near the end of a mapping must not fail because of the bytes after it.
    let out = Buffer.alloc(0);
    for (let at = 0; at < max; at += 64) {
      const piece = this.read(address + BigInt(at), Math.min(64, max - at));
      const end = piece.indexOf(0);
      if (end >= 0) return Buffer.concat([out, piece.subarray(0, end)]).toString('utf8');
      out = Buffer.concat([out, piece]);
    }
    return out.toString('utf8');
  }

  close(): void {
    if (this.#fd === undefined) return;
    fs.closeSync(this.#fd);
    this.#fd = undefined;
  }
}
