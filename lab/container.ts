// A minimal container root for a DPDK application, as users run them: a
// directory holding only the application's binary, the shared libraries
// `ldd` says it needs, and the DPDK driver plugins it loads (with theirs),
// at the paths they have on the host. lab/container-run.c runs it there as
// a runtime does (inside the lab's network namespace): its own mount and PID
// namespaces, pivot_root into the directory, a fresh /proc and /sys, the
// program as pid 1. The host sees it by another pid than it sees itself,
// the kernel shows its files by their container paths (/usr/bin/...), and
// they exist only under the container's root (/proc/PID/root/...).
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { buildTool } from './tools';

export interface ContainerRoot {
  dir: string;
  /** The application's path inside the root. */
  binary: string;
  /** Deletes the root. Idempotent, never throws. */
  remove(): void;
}

/** Absolute paths of the libraries `ldd` resolves for an ELF file, and its dynamic loader. */
function sharedLibraries(file: string): string[] {
  const out = execFileSync('ldd', [file], { stdio: ['ignore', 'pipe', 'pipe'] }).toString();
  const libs: string[] = [];
  for (const line of out.split('\n')) {
    const m = /=>\s+(\/\S+)/.exec(line) ?? /^\s+(\/\S+)\s+\(/.exec(line);
    if (m) libs.push(m[1]);
  }
  return libs;
}

/**
 * Copies host file `file` to the same path under `root`, with every symbolic
 * link on the way (/lib -> usr/lib, a plugin's soname -> its file) made again
 * as a link: the dynamic linker and EAL must see one file where the host has
 * one, or a library loaded by two names runs twice (two vdev buses, one
 * without its drivers).
 */
function copyIn(root: string, file: string): void {
  const parts = file.split('/').filter(Boolean);
  let host = '/';
  for (let i = 0; i < parts.length; i++) {
    host = path.join(host, parts[i]);
    const inRoot = path.join(root, host);
    const st = fs.lstatSync(host);
    if (st.isSymbolicLink()) {
      const link = fs.readlinkSync(host);
      if (!fs.existsSync(inRoot) && !isLink(inRoot)) {
        fs.mkdirSync(path.dirname(inRoot), { recursive: true });
        fs.symlinkSync(link, inRoot);
      }
      copyIn(root, path.join(path.resolve(path.dirname(host), link), ...parts.slice(i + 1)));
      return;
    }
    if (i < parts.length - 1) fs.mkdirSync(inRoot, { recursive: true });
    else if (!fs.existsSync(inRoot)) fs.copyFileSync(host, inRoot);
  }
}

function isLink(p: string): boolean {
  try {
    return fs.lstatSync(p).isSymbolicLink();
  } catch {
    return false;
  }
}

/**
 * Builds a root for `binary` (copied to /usr/bin/<name> inside) with the DPDK
 * driver plugins `plugins` (paths of the host's plugin directory, which EAL
 * scans at start-up).
 */
export function makeContainerRoot(binary: string, plugins: string[]): ContainerRoot {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nc-container-'));
  const inside = `/usr/bin/${path.basename(binary)}`;
  const remove = (): void => fs.rmSync(dir, { recursive: true, force: true });
  try {
    fs.mkdirSync(path.join(dir, 'usr', 'bin'), { recursive: true });
    fs.copyFileSync(binary, path.join(dir, inside));
    fs.chmodSync(path.join(dir, inside), 0o755);
    for (const lib of sharedLibraries(binary)) copyIn(dir, lib);
    for (const plugin of plugins) {
      copyIn(dir, plugin);
      for (const lib of sharedLibraries(plugin)) copyIn(dir, lib);
    }
    for (const d of ['proc', 'sys', 'tmp', 'var/run', 'dev']) fs.mkdirSync(path.join(dir, d), { recursive: true });
  } catch (e) {
    remove();
    throw e;
  }
  return { dir, binary: inside, remove };
}

/** The container launcher (lab/container-run.c). */
export function containerRunPath(): string {
  return buildTool('container-run');
}

/** The host pid of the program container-run started, from its "container-run: pid N" line. */
export function containedPid(output: string): number | undefined {
  const m = /^container-run: pid (\d+)$/m.exec(output);
  return m ? Number(m[1]) : undefined;
}
