// Every kernel object this process holds (program, map, link, perf event,
// ring reader) registers here while open, so one call can release them all
// on an exit path. The capture session installs the signal handlers and
// calls closeAll(); this module only keeps the list. Nothing is pinned, so
// even SIGKILL leaves nothing attached: the kernel drops the objects with
// the last fd. closeAll() matters for the paths where the process lives on
// (an error inside a long-running service, a test's after() hook).

/** Anything with an idempotent close(). */
export interface Closer {
  close(): void;
}

/** Objects one owner opened, closed together newest first (a mode's maps and programs). */
export class Owned implements Closer {
  private readonly list: Closer[] = [];

  /** Takes `x` into the list; returns it. */
  own<T extends Closer>(x: T): T {
    this.list.push(x);
    return x;
  }

  /** Takes `x` into the list to be closed after everything else (a safety net for what the rest puts back); returns it. */
  addFirst<T extends Closer>(x: T): T {
    this.list.unshift(x);
    return x;
  }

  /** Closes everything, newest first, going on past a failure; idempotent. */
  close(): void {
    for (const c of this.list.splice(0).reverse()) {
      try {
        c.close();
      } catch {
        // the rest still need closing; the first error was the caller's to see
      }
    }
  }
}

const open = new Set<Closer>();

/** Remembers an open object until it is closed (or closeAll runs). */
export function track<T extends Closer>(object: T): T {
  open.add(object);
  return object;
}

/** Forgets an object: its close() calls this. */
export function untrack(object: Closer): void {
  open.delete(object);
}

/** How many objects are open now (for tests and --verbose). */
export function openCount(): number {
  return open.size;
}

/**
 * Closes every open object, newest first (links before the programs and
 * maps they use, like a session's own reverse-order teardown). Keeps going
 * when one close fails; returns the errors.
 */
export function closeAll(): Error[] {
  const errors: Error[] = [];
  for (const object of [...open].reverse()) {
    try {
      object.close();
    } catch (e) {
      errors.push(e as Error);
    }
    open.delete(object);
  }
  return errors;
}
