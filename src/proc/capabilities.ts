// The capabilities this process holds (/proc/self/status CapEff, proc(5)),
// so a capture run without them fails with what to do, not with the EPERM
// of whichever bpf(2) call comes first.
import * as fs from 'node:fs';
import { UserError } from '../errors';

// include/uapi/linux/capability.h
const CAPABILITIES = { CAP_SYS_ADMIN: 21, CAP_PERFMON: 38, CAP_BPF: 39 } as const;
export type Capability = keyof typeof CAPABILITIES;

/** The effective capability set, as a bit mask. */
export function effectiveCapabilities(status = fs.readFileSync('/proc/self/status', 'utf8')): bigint {
  const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(status);
  return m ? BigInt(`0x${m[1]}`) : 0n;
}

/** The capabilities of `wanted` this process lacks (CAP_SYS_ADMIN grants them all: the kernel's bpf_capable(), perfmon_capable()). */
export function missingCapabilities(wanted: readonly Capability[], eff = effectiveCapabilities()): Capability[] {
  const has = (c: Capability) => (eff >> BigInt(CAPABILITIES[c])) & 1n;
  return wanted.filter((c) => !has(c) && !has('CAP_SYS_ADMIN'));
}

/** Throws the one-line answer when loading BPF programs and attaching them cannot work: run as root. */
export function requireCaptureCapabilities(): void {
  const missing = missingCapabilities(['CAP_BPF', 'CAP_PERFMON']);
  if (missing.length === 0) return;
  throw new UserError(
    `run as root: netcap needs CAP_BPF and CAP_PERFMON (this process, user ${process.getuid?.() ?? '?'}, lacks ${missing.join(' and ')})`,
    'e.g. sudo netcap ...; BPF programs, maps and the probes they attach to are the kernel\'s to allow',
  );
}
