// Synchronous clean-ups that must happen even when the bench run is
// interrupted. They run from the 'exit' event. Node runs no 'exit' handlers
// when a signal kills the process, so on SIGINT/SIGTERM/SIGHUP we end the
// process with process.exit(128 + signal number) instead: then every 'exit'
// handler runs, ours and the lab's (whose own signal handler, when
// other handlers are registered, leaves the signal to them and cleans up on
// 'exit'). The bench harness owns its process, so exiting here is its call.
import * as os from 'node:os';

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/** Runs `fn` once: on exit (also after a signal), or when the returned function is called (which also unregisters it). */
export function onAbort(fn: () => void): () => void {
  let done = false;
  const onSignal = (sig: NodeJS.Signals): void => {
    process.exit(128 + os.constants.signals[sig]);
  };
  const run = (): void => {
    if (done) return;
    done = true;
    process.off('exit', run);
    for (const sig of SIGNALS) process.off(sig, onSignal);
    try {
      fn();
    } catch {
      // last resort: keep going
    }
  };
  process.once('exit', run);
  for (const sig of SIGNALS) process.once(sig, onSignal);
  return run;
}
