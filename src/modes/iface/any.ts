// `-i any`: every interface of the namespace, including the ones that appear
// while capturing. A NETLINK_ROUTE socket says when links change
// (src/bpf/netns.ts watchLinks); each change lists the interfaces again,
// puts programs on the new ones and forgets the ones that went (the kernel
// removed their hooks with the device). Interfaces netcap cannot capture on
// (not Ethernet) or whose filter does not compile (`ip broadcast` without
// an IPv4 address) are skipped with a note, once.
import { UserError } from '../../errors';
import { watchLinks } from '../../bpf/netns';
import { listInterfaceInfo, type InterfaceInfo, type NetnsRef } from '../../kernel/interfaces';
import { InterfaceHooks, type HookSettings } from './hooks';
import { unsupportedReason, type Direction } from './points';

export class AnyInterfaces {
  readonly #hooks = new Map<number, InterfaceHooks>();
  /** Interfaces noted as skipped, by ifindex (noted once). */
  readonly #skipped = new Set<number>();
  #watch?: { close(): void };
  #closed = false;
  /** ifindex -> name of every interface seen, for describing packets (kept after one goes: its packets may still be in the ring). */
  readonly names = new Map<number, string>();

  constructor(
    private readonly netns: NetnsRef,
    private readonly directions: Direction[],
    private readonly settings: HookSettings,
    private readonly note: (message: string) => void,
  ) {}

  /** The point a record of `direction` carries: one per direction, whatever the interface. */
  pointOf = (direction: Direction): number => this.directions.indexOf(direction);

  /** Builds and loads the programs of the interfaces there now; failures are the user's to see (thrown). */
  prepare(interfaces: InterfaceInfo[]): void {
    for (const iface of interfaces) this.add(iface, false);
  }

  get interfaces(): InterfaceInfo[] {
    return [...this.#hooks.values()].map((h) => h.iface);
  }

  get hooks(): InterfaceHooks[] {
    return [...this.#hooks.values()];
  }

  /** Watches for changes, then attaches what prepare() loaded and whatever appeared since. */
  start(): void {
    this.#watch = watchLinks(this.netns.label === 'current' ? undefined : this.netns.path, () => this.refresh());
    for (const h of this.#hooks.values()) h.attach();
    this.refresh();
  }

  /** Lists the interfaces again: new ones get programs, gone ones lose theirs. */
  refresh(): void {
    if (this.#closed) return;
    let now: InterfaceInfo[];
    try {
      now = listInterfaceInfo(this.netns);
    } catch (e) {
      this.note(`cannot list the interfaces of ${this.netns.label} (${(e as Error).message}); new interfaces are not captured until the next change`);
      return;
    }
    const present = new Set(now.map((i) => i.ifindex));
    for (const [ifindex, hooks] of this.#hooks) {
      if (present.has(ifindex)) continue;
      hooks.close();
      this.#hooks.delete(ifindex);
    }
    for (const ifindex of this.#skipped) if (!present.has(ifindex)) this.#skipped.delete(ifindex);
    for (const iface of now) {
      this.names.set(iface.ifindex, iface.name);
      if (!this.#hooks.has(iface.ifindex) && !this.#skipped.has(iface.ifindex)) this.add(iface, true);
    }
  }

  private add(iface: InterfaceInfo, attach: boolean): void {
    this.names.set(iface.ifindex, iface.name);
    const reason = unsupportedReason(iface);
    if (reason) {
      this.skip(iface, reason);
      return;
    }
    if (!attach) {
      try {
        this.settings.filters.forInterface(iface);
      } catch (e) {
        if (!(e instanceof UserError)) throw e;
        this.skip(iface, e.message);
        return;
      }
      this.#hooks.set(iface.ifindex, new InterfaceHooks(iface, this.directions, this.pointOf, this.settings));
      return;
    }
    let hooks: InterfaceHooks | undefined;
    try {
      hooks = new InterfaceHooks(iface, this.directions, this.pointOf, this.settings);
      hooks.attach();
      this.#hooks.set(iface.ifindex, hooks);
      this.note(`capturing on ${iface.name} too (ifindex ${iface.ifindex}, appeared)`);
    } catch (e) {
      hooks?.close();
      this.skip(iface, (e as Error).message);
    }
  }

  private skip(iface: InterfaceInfo, reason: string): void {
    this.#skipped.add(iface.ifindex);
    this.note(`not capturing on ${iface.name}: ${reason}`);
  }

  /** Stops watching, detaches and unloads everything. Idempotent. */
  close(): void {
    this.#closed = true;
    this.#watch?.close();
    for (const h of [...this.#hooks.values()].reverse()) h.close();
    this.#hooks.clear();
  }
}
