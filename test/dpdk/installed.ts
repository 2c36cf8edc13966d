// Whether DPDK's development files are installed here (libdpdk-dev), and
// the compiler flags its pkg-config gives, for tests that build against it.
import { execFileSync } from 'node:child_process';

const installed = (() => {
  try {
    execFileSync('pkg-config', ['--exists', 'libdpdk']);
    return true;
  } catch {
    return false;
  }
})();

/** A skip reason when libdpdk-dev is missing, else false. */
export const noDpdk: string | false = !installed && 'libdpdk-dev is not installed';

export function dpdkCflags(): string[] {
  return execFileSync('pkg-config', ['--cflags', 'libdpdk']).toString().trim().split(/\s+/).filter(Boolean);
}
