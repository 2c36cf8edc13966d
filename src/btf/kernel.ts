// The running kernel's BTF: /sys/kernel/btf/vmlinux (raw BTF, no ELF
// wrapper, since CONFIG_DEBUG_INFO_BTF) and module BTF in the same folder
// (split BTF on top of vmlinux). Loaded once per process and cached.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { UserError } from '../errors';
import { native } from '../native';
import { Btf } from './btf';

const BTF_DIR = '/sys/kernel/btf';
let vmlinux: Btf | undefined;
const modules = new Map<string, Btf>();

/** The kernel's BTF, parsed on first use. */
export function loadKernelBtf(): Btf {
  if (!vmlinux) {
    const file = path.join(BTF_DIR, 'vmlinux');
    vmlinux = Btf.parse(kernelBtfBytes(file), file);
  }
  return vmlinux;
}

/**
 * vmlinux's BTF mapped (sysfs reads it a page per read(2): ~1,350 calls,
 * 5-6 ms of every start), or read where the kernel does not map it (before
 * 6.16).
 */
function kernelBtfBytes(file: string): Buffer {
  try {
    return Buffer.from(native().mapFile(file));
  } catch {
    try {
      return fs.readFileSync(file);
    } catch (e) {
      throw new UserError(`cannot read the kernel's BTF at ${file}`, 'netcap needs a kernel built with CONFIG_DEBUG_INFO_BTF=y', String(e));
    }
  }
}

/** Names of kernel modules that carry BTF. */
export function modulesWithBtf(): string[] {
  try {
    return fs.readdirSync(BTF_DIR).filter((n) => n !== 'vmlinux');
  } catch {
    return [];
  }
}

/** A module's split BTF (type ids continue after vmlinux's). */
export function loadModuleBtf(module: string): Btf {
  let btf = modules.get(module);
  if (!btf) {
    if (!/^[\w-]+$/.test(module) || module === 'vmlinux') {
      throw new UserError(`'${module}' is not a kernel module name`, 'use a name from /sys/kernel/btf/');
    }
    const file = path.join(BTF_DIR, module);
    if (!fs.existsSync(file)) {
      throw new UserError(`kernel module '${module}' has no BTF (${file} is missing)`, 'load the module, or check `ls /sys/kernel/btf`');
    }
    btf = Btf.parse(fs.readFileSync(file), file, loadKernelBtf());
    modules.set(module, btf);
  }
  return btf;
}
