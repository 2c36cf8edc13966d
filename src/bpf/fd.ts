// An owned file descriptor (cilium/ebpf's internal/sys.FD): closed exactly
// once, tracked by the registry while open, and unusable after close so a
// recycled fd number can never be touched by mistake.
import { native } from '../native';
import { track, untrack } from './registry';

export class OwnedFd {
  #fd: number;

  /** Takes ownership of `fd`; `what` names it in errors ("map events"). */
  constructor(
    fd: number,
    readonly what: string,
  ) {
    this.#fd = fd;
    track(this);
  }

  /** The fd number; throws once closed. */
  get value(): number {
    if (this.#fd < 0) throw new Error(`${this.what} is closed`);
    return this.#fd;
  }

  get closed(): boolean {
    return this.#fd < 0;
  }

  /** Gives the fd up without closing it (its new owner, e.g. a BpfMap, tracks it from now on). */
  release(): number {
    const fd = this.value;
    this.#fd = -1;
    untrack(this);
    return fd;
  }

  /** Idempotent. */
  close(): void {
    if (this.#fd < 0) return;
    const fd = this.#fd;
    this.#fd = -1;
    untrack(this);
    native().bpf.close(fd);
  }
}
