// The DPDK installed for building test programs (libdpdk-dev), through
// pkg-config: whether it is there, its flags, its release.
import { execFileSync } from 'node:child_process';
import { parseDpdkVersion } from '../../src/dpdk/mbuf-layout';

const hasDpdk = (() => {
  try {
    execFileSync('pkg-config', ['--exists', 'libdpdk']);
    return true;
  } catch {
    return false;
  }
})();

/** The skip reason of tests that build against DPDK, or false when they can. */
export const noDpdk = !hasDpdk && 'libdpdk-dev is not installed';

/** `pkg-config <what> libdpdk` as words ('--cflags', '--libs'). */
export function pkgConfig(what: string): string[] {
  return execFileSync('pkg-config', [what, 'libdpdk']).toString().trim().split(/\s+/).filter(Boolean);
}

/** The installed release as 'YY.MM' ('' without DPDK). */
export const installedRelease = hasDpdk ? parseDpdkVersion(execFileSync('pkg-config', ['--modversion', 'libdpdk']).toString()) : '';

/** `pkg-config --cflags libdpdk` as words. */
export function dpdkCflags(): string[] {
  return pkgConfig('--cflags');
}
