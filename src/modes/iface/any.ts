// `-i any`: every interface of the namespace, including the ones that appear
// while capturing. A NETLINK_ROUTE socket says when links change
// (src/bpf/netns.ts watchLinks); each change lists the interfaces again and
// tells the capture which appeared (it gives each its points and programs,
// or says why it cannot) and which went (the kernel removed their hooks
// with the device; their points stay, with their counters).
import { watchLinks } from '../../bpf/netns';
import { listInterfaceInfo, type InterfaceInfo, type NetnsRef } from '../../kernel/interfaces';

export interface InterfaceChanges {
  /** Whether the capture already knows this interface (captures on it, or skipped it). */
  knows(ifindex: number): boolean;
  appeared(iface: InterfaceInfo): void;
  went(ifindex: number): void;
  /** Something to tell the user (the listing failed). */
  note(message: string): void;
}

export class AnyInterfaces {
  #watch?: { close(): void };
  #closed = false;
  /** The ifindexes present at the last listing. */
  #present: Set<number>;

  /** `listed`: the interfaces as the capture listed them when it was prepared. */
  constructor(
    private readonly netns: NetnsRef,
    listed: readonly InterfaceInfo[],
    private readonly changes: InterfaceChanges,
  ) {
    this.#present = new Set(listed.map((i) => i.ifindex));
  }

  /** Watches for changes, then looks once for what changed since the capture listed the interfaces. */
  start(): void {
    this.#watch = watchLinks(this.netns.label === 'current' ? undefined : this.netns.path, () => this.refresh());
    this.refresh();
  }

  /** Lists the interfaces again and tells what appeared and what went. */
  refresh(): void {
    if (this.#closed) return;
    let now: InterfaceInfo[];
    try {
      now = listInterfaceInfo(this.netns);
    } catch (e) {
      this.changes.note(`cannot list the interfaces of ${this.netns.label} (${(e as Error).message}); new interfaces are not captured until the next change`);
      return;
    }
    const present = new Set(now.map((i) => i.ifindex));
    for (const ifindex of this.#present) if (!present.has(ifindex)) this.changes.went(ifindex);
    this.#present = present;
    for (const iface of now) if (!this.changes.knows(iface.ifindex)) this.changes.appeared(iface);
  }

  /** Stops watching. Idempotent. */
  close(): void {
    this.#closed = true;
    this.#watch?.close();
  }
}
