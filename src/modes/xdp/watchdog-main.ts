// The watchdog process (see watchdog.ts): started by `netcap xdp` with its
// plan as the argument and the hook maps and displaced programs as fds 3,
// 4, ...; reads the ids of netcap's programs (one line on stdin), says
// "ready" on stdout, then waits for netcap to end: end of stdin, or a new
// parent (netcap died and this process was re-parented). Then it puts back
// every slot that still holds one of netcap's programs (none after a
// normal end: netcap did it) and exits.
import { adoptMap } from '../../bpf/map';
import { ProgArraySlots } from '../../bpf/prog-array';
import { actionName } from './actions';
import { restoreSlot } from './slots';
import { WATCHDOG_READY, type WatchdogIds, type WatchdogPlan } from './watchdog';

const PARENT_POLL_MS = 500;

function main(): void {
  const plan = JSON.parse(process.argv[2] ?? '') as WatchdogPlan;
  const parent = process.ppid;
  const hooks = plan.hooks.map((h) => ({ path: h.path, slots: new ProgArraySlots(adoptMap(h.mapFd)), watched: h.slots }));
  // Signals meant for netcap's terminal or process group are not for us:
  // only netcap's end decides when we act.
  for (const sig of ['SIGINT', 'SIGHUP', 'SIGTERM', 'SIGPIPE'] as const) process.on(sig, () => undefined);
  let ids: WatchdogIds | undefined;
  let finished = false;
  const finish = () => {
    if (finished) return;
    finished = true;
    hooks.forEach((h, i) => {
      const done: string[] = [];
      h.watched.forEach((s, j) => {
        const oursId = ids?.[i]?.[j];
        if (oursId === undefined) return; // netcap never got as far as filling
        try {
          const result = restoreSlot(h.slots, s.key, oursId, s.previousFd);
          if (result === 'restored' || result === 'emptied') done.push(`${actionName(s.key)} ${result}`);
        } catch (e) {
          process.stderr.write(`netcap watchdog: ${h.path}: the ${actionName(s.key)} slot could not be put back: ${(e as Error).message}\n`);
        }
      });
      if (done.length) process.stderr.write(`netcap watchdog: netcap ended without putting back the slots of ${h.path}: ${done.join(', ')}\n`);
    });
    process.exit(0);
  };
  let input = '';
  process.stdin.setEncoding('utf8');
  process.stdin.on('data', (chunk: string) => {
    input += chunk;
    const nl = input.indexOf('\n');
    if (ids === undefined && nl >= 0) {
      ids = JSON.parse(input.slice(0, nl)) as WatchdogIds;
      process.stdout.write(`${WATCHDOG_READY}\n`);
    }
  });
  process.stdin.on('end', finish);
  process.stdin.on('error', finish);
  setInterval(() => {
    if (process.ppid !== parent) finish();
  }, PARENT_POLL_MS);
}

main();
