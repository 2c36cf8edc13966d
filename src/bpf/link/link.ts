// An attachment owned by the caller (cilium/ebpf's link.Link): whatever
// keeps a program hooked (a BPF link fd, a perf event fd, a tc filter) is
// released by one idempotent close(), in reverse order of creation.
import { native } from '../../native';
import type { Closer } from '../registry';
import { track, untrack } from '../registry';

export class Link {
  #parts: Closer[];

  constructor(
    /** What kind of hook: "uprobe", "tracepoint", "xdp", ... */
    readonly kind: string,
    /** Where it hooks, for messages: "/usr/bin/app:0x1234", "net:netif_receive_skb". */
    readonly target: string,
    /** Resources in creation order; closed newest first. */
    parts: Closer[],
    /** The BPF link fd, when the hook is a BPF link (bpftool link list shows it). */
    readonly linkFd?: number,
  ) {
    this.#parts = parts;
    track(this);
  }

  get closed(): boolean {
    return this.#parts.length === 0;
  }

  /** The kernel's id of the BPF link, when there is one. */
  linkId(): number | undefined {
    return this.linkFd === undefined || this.closed ? undefined : native().bpf.linkInfo(this.linkFd).id;
  }

  /** Idempotent: detaches the program. Keeps closing when one part fails, then throws the first error. */
  close(): void {
    const parts = this.#parts;
    if (parts.length === 0) return;
    this.#parts = [];
    untrack(this);
    let first: unknown;
    for (const part of parts.reverse()) {
      try {
        part.close();
      } catch (e) {
        first ??= e;
      }
    }
    if (first !== undefined) throw first;
  }
}

/** Closes what was made so far when building a link fails halfway. */
export function closeQuietly(parts: Closer[]): void {
  for (const part of [...parts].reverse()) {
    try {
      part.close();
    } catch {
      // The original error matters more than a failed cleanup.
    }
  }
}
