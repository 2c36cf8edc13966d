// The watchdog process (see watchdog.ts): started by `netcap xdp` with its
// plan as the argument and the hook maps and displaced programs as fds 3,
// 4, ...; says "ready" on stdout, then waits for netcap to end: end of
// stdin, or a new parent (netcap died and this process was re-parented).
// Then it puts back every slot that still holds one of netcap's programs
// (none after a normal end: netcap did it) and exits.
import { adoptMap } from '../../bpf/map';
import { ProgArraySlots } from '../../bpf/prog-array';
import { restoreSlot } from './slots';
import { WATCHDOG_READY, type WatchdogPlan } from './watchdog';

const PARENT_POLL_MS = 500;

function main(): void {
  const plan = JSON.parse(process.argv[2] ?? '') as WatchdogPlan;
  const parent = process.ppid;
  const hooks = plan.hooks.map((h) => ({ path: h.path, slots: new ProgArraySlots(adoptMap(h.mapFd)), watched: h.slots }));
  // Signals meant for netcap's terminal or process group are not for us:
  // only netcap's end decides when we act.
  for (const sig of ['SIGINT', 'SIGHUP', 'SIGTERM', 'SIGPIPE'] as const) process.on(sig, () => undefined);
  let finished = false;
  const finish = () => {
    if (finished) return;
    finished = true;
    for (const h of hooks) {
      for (const s of h.watched) {
        try {
          const result = restoreSlot(h.slots, s.key, s.oursId, s.previousFd);
          if (result === 'restored' || result === 'emptied') process.stderr.write(`netcap watchdog: ${h.path}: slot ${s.key} ${result} (netcap ended without doing it)\n`);
        } catch (e) {
          process.stderr.write(`netcap watchdog: ${h.path}: slot ${s.key} could not be put back: ${(e as Error).message}\n`);
        }
      }
    }
    process.exit(0);
  };
  process.stdin.on('data', () => undefined); // nothing is sent: only the end counts
  process.stdin.on('end', finish);
  process.stdin.on('error', finish);
  setInterval(() => {
    if (process.ppid !== parent) finish();
  }, PARENT_POLL_MS);
  process.stdout.write(`${WATCHDOG_READY}\n`);
}

main();
