// Hugepages for DPDK multi-process (dpdk-dumpcap runs as a secondary process
// and must map the primary's memory, which only works when that memory is
// hugetlbfs files: a --no-huge primary has anonymous memory the secondary
// cannot open, and EAL then fails with "Cannot get hugepage information").
//
// We reserve extra 2 MiB pages on top of whatever the machine already had,
// mount a private hugetlbfs, and undo both afterwards: the pages we added are
// given back and the mount goes away, even on failure.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { onAbort } from './last-resort';

const NR_HUGEPAGES = '/proc/sys/vm/nr_hugepages';

export interface Hugepages {
  /** The private hugetlbfs mount: pass as EAL's --huge-dir. */
  readonly dir: string;
  /** Pages actually added (the kernel may give fewer than asked when memory is fragmented). */
  readonly pagesAdded: number;
  /** Removes leftover page files, unmounts, restores nr_hugepages. Idempotent, never throws. */
  release(): void;
}

function readPages(): number {
  return Number(fs.readFileSync(NR_HUGEPAGES, 'utf8').trim());
}

/** Reserves `pages` more 2 MiB hugepages and mounts a private hugetlbfs for them. */
export function reserveHugepages(pages: number): Hugepages {
  const before = readPages();
  fs.writeFileSync(NR_HUGEPAGES, String(before + pages));
  const pagesAdded = readPages() - before;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nc-bench-huge-'));
  // Also given back when the run is interrupted.
  const unregister = onAbort(() => release());
  let mounted = false;
  let released = false;
  const release = (): void => {
    if (released) return;
    released = true;
    unregister();
    try {
      // DPDK's legacy memory mode leaves its page files behind on exit.
      for (const f of fs.readdirSync(dir)) fs.rmSync(path.join(dir, f), { force: true });
    } catch {
      // keep going: unmounting also frees them
    }
    if (mounted) {
      try {
        execFileSync('umount', [dir], { stdio: 'ignore' });
      } catch {
        // a process may still hold it: lazy unmount so it goes when they exit
        try {
          execFileSync('umount', ['-l', dir], { stdio: 'ignore' });
        } catch {
          // nothing more we can do
        }
      }
    }
    fs.rmSync(dir, { recursive: true, force: true });
    try {
      // Take back what we added, not the count we found: another reservation
      // made meanwhile (a parallel test) keeps its pages.
      fs.writeFileSync(NR_HUGEPAGES, String(Math.max(0, readPages() - pagesAdded)));
    } catch {
      // pages in use by a straggler: the kernel frees them as surplus later
    }
  };
  try {
    if (pagesAdded < pages / 2) throw new Error(`asked the kernel for ${pages} hugepages, got ${pagesAdded}: not enough free contiguous memory`);
    execFileSync('mount', ['-t', 'hugetlbfs', '-o', 'pagesize=2M', 'nodev', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
    mounted = true;
  } catch (e) {
    release();
    throw e;
  }
  return { dir, pagesAdded, release };
}
