// netcap itself as a measured tool: bin/netcap spawned like any other tool
// (argument arrays, its own World), started when it says its probes are
// attached. The readiness line is the one `netcap mbuf`/`netcap skb` print
// on stderr once capture is live (issue 4: "like tcpdump's listening on").
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import type { Namespace, World } from '../../lab';
import { startTool, type ToolProcess } from './tool-process';

/** What netcap prints on stderr once its probes are attached (kept loose: the wording is the CLI's to choose). */
export const NETCAP_READY = /listening|attached|capturing|tracing/i;

export function netcapBin(repoRoot: string): string {
  return path.join(repoRoot, 'bin', 'netcap');
}

/**
 * Whether `netcap <subcommand>` exists in this build: its --help exits 0.
 * Returns the reason when it does not.
 */
export function netcapSubcommandMissing(repoRoot: string, subcommand: string): string | undefined {
  const r = spawnSync(process.execPath, [netcapBin(repoRoot), subcommand, '--help'], { encoding: 'utf8', timeout: 30_000 });
  if (r.status === 0 && r.stdout.includes(subcommand)) return undefined;
  return `\`netcap ${subcommand}\` is not in this build (${(r.stderr || r.stdout || `status ${r.status}`).trim().split('\n')[0]})`;
}

export interface NetcapRun {
  tool: ToolProcess;
  argv: string[];
  /** ms from spawn to the readiness line. */
  readyMs: number;
}

/** Starts `bin/netcap ...args` and resolves once it is capturing. */
export async function startNetcap(repoRoot: string, args: string[], opts: { world: World; ns?: Namespace; timeoutMs?: number }): Promise<NetcapRun> {
  const argv = [process.execPath, netcapBin(repoRoot), ...args];
  const tool = startTool(argv, { world: opts.world, ...(opts.ns ? { ns: opts.ns } : {}) });
  try {
    const readyMs = await tool.waitFor(NETCAP_READY, opts.timeoutMs ?? 30_000);
    return { tool, argv: ['netcap', ...args], readyMs };
  } catch (e) {
    await tool.stop('SIGKILL');
    throw e;
  }
}

/**
 * What netcap reports as lost when it ends: its summary line "N packets lost
 * in ring" (src/capture/summary.ts), else any "N lost" / "lost: N" counters
 * summed; NaN if it printed none.
 */
export function parseNetcapLost(output: string): number {
  const summary = /^(\d+) packets lost in ring$/m.exec(output);
  if (summary) return Number(summary[1]);
  let total = NaN;
  for (const m of output.matchAll(/(?:(\d+)\s+(?:packets?\s+|records?\s+|samples?\s+)?(?:lost|dropped))|(?:(?:lost|dropped)[:=\s]+(\d+))/gi)) {
    const n = Number(m[1] ?? m[2]);
    total = Number.isNaN(total) ? n : total + n;
  }
  return total;
}
