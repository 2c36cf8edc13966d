// The watchdog process (see watchdog.ts): started by `netcap xdp` with its
// plan as the argument and the hook maps and displaced programs as fds 3,
// 4, ...; reads netcap's program ids, one line per generation, each adding
// an id to every watched slot's set and answered with "ready" on stdout;
// then, when netcap ends (end of stdin, or a new parent: netcap died and
// this process was re-parented), puts back every slot that holds one of
// netcap's programs (none after a normal end: netcap did it) and exits.
import { adoptMap } from '../../bpf/map';
import { ProgArraySlots } from '../../bpf/prog-array';
import { actionName } from './actions';
import { restoreSlot } from './slots';
import { WATCHDOG_READY, type WatchdogIds, type WatchdogPlan } from './watchdog';

const PARENT_POLL_MS = 500;

function main(): void {
  const plan = JSON.parse(process.argv[2] ?? '') as WatchdogPlan;
  const parent = process.ppid;
  const hooks = plan.hooks.map((h) => ({ path: h.path, slots: new ProgArraySlots(adoptMap(h.mapFd)), watched: h.slots.map((s) => ({ ...s, ours: new Set<number>() })) }));
  // Signals meant for netcap's terminal or process group are not for us:
  // only netcap's end decides when we act.
  for (const sig of ['SIGINT', 'SIGHUP', 'SIGTERM', 'SIGPIPE'] as const) process.on(sig, () => undefined);
  let finished = false;
  const finish = () => {
    if (finished) return;
    finished = true;
    for (const h of hooks) {
      const done: string[] = [];
      for (const s of h.watched) {
        if (s.ours.size === 0) continue; // netcap never got as far as filling
        try {
          const result = restoreSlot(h.slots, s.key, s.ours, s.previousFd);
          if (result === 'restored' || result === 'emptied') done.push(`${actionName(s.key)} ${result}`);
        } catch (e) {
          process.stderr.write(`netcap watchdog: ${h.path}: the ${actionName(s.key)} slot could not be put back: ${(e as Error).message}\n`);
        }
      }
      if (done.length) process.stderr.write(`netcap watchdog: netcap ended without putting back the slots of ${h.path}: ${done.join(', ')}\n`);
    }
    process.exit(0);
  };
  process.stdout.on('error', () => undefined); // netcap stopped listening: the answers do not matter any more
  let input = '';
  process.stdin.setEncoding('utf8');
  process.stdin.on('data', (chunk: string) => {
    input += chunk;
    let nl: number;
    while ((nl = input.indexOf('\n')) >= 0) {
      const ids = JSON.parse(input.slice(0, nl)) as WatchdogIds;
      input = input.slice(nl + 1);
      hooks.forEach((h, i) =>
        h.watched.forEach((s, j) => {
          const id = ids[i]?.[j];
          if (id !== undefined) s.ours.add(id);
        }),
      );
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
