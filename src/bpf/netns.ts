// Steps that must run inside another network namespace. The kernel resolves
// the ifindex of a tcx or XDP link, and of a tc filter, in the namespace of
// the calling thread, so attaching to a device of `--netns NS` means entering
// NS for that one call. The addon enters with setns(2) on the calling thread
// only, runs the step, and always comes back before returning (it aborts the
// process if it cannot: going on in the wrong namespace would attach to the
// wrong devices). A link or filter made there stays valid after the return.
import * as fs from 'node:fs';
import { UserError } from '../errors';
import { native } from '../native';
import { OwnedFd } from './fd';

/** An open network namespace file (/var/run/netns/NAME, /proc/PID/ns/net): it stays usable while held, even if its name goes. */
export function openNetns(path: string): OwnedFd {
  let fd: number;
  try {
    fd = fs.openSync(path, 'r');
  } catch (e) {
    throw new UserError(`cannot open network namespace ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, 'give a name from `ip netns list` or a path such as /proc/PID/ns/net', String(e));
  }
  return new OwnedFd(fd, `network namespace ${path}`);
}

/** fn() with this thread in the namespace `netns` holds (or here, when undefined). */
export function runInNetns<T>(netns: OwnedFd | undefined, fn: () => T): T {
  if (netns === undefined) return fn();
  return native().netns.run(netns.value, fn);
}

/** fn() inside the namespace at `path` (or here, when undefined): opened, entered, left and closed. */
export function inNetns<T>(path: string | undefined, fn: () => T): T {
  if (path === undefined) return fn();
  const netns = openNetns(path);
  try {
    return runInNetns(netns, fn);
  } finally {
    netns.close();
  }
}

/**
 * Calls `onChange` soon after links are added, removed or changed in a
 * namespace (the one at `path`, or here): a NETLINK_ROUTE socket subscribed
 * to link notifications, read every `intervalMs` (one non-blocking recv when
 * nothing happened). It is only a socket, so it goes when the process goes,
 * however it ends. close() stops it.
 */
export function watchLinks(path: string | undefined, onChange: () => void, intervalMs = 50): { close(): void } {
  const events = new OwnedFd(inNetns(path, () => native().netns.linkEvents()), `link notifications of ${path ?? 'this namespace'}`);
  const timer = setInterval(() => {
    if (!events.closed && native().netns.linkEventsPending(events.value) > 0) onChange();
  }, intervalMs);
  timer.unref();
  return {
    close: () => {
      clearInterval(timer);
      events.close();
    },
  };
}

/** The devices and IPv4 addresses of the namespace at `path` (or here, when undefined): getifaddrs(3) with this thread inside it. */
export function interfacesIn(path: string | undefined): NamespaceInterfaces {
  return inNetns(path, () => native().netns.interfaces());
}

export type NamespaceInterfaces = ReturnType<ReturnType<typeof native>['netns']['interfaces']>;
