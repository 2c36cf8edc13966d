// Drop reasons by name, from the kernel's own enum skb_drop_reason in BTF
// (include/net/dropreason-core.h): values change between releases, so
// nothing here is a table. The names are printed as the kfree_skb
// tracepoint prints them: without the SKB_DROP_REASON_ prefix.
import { loadKernelBtf } from '../btf/kernel';
import type { Btf } from '../btf/btf';

const PREFIX = 'SKB_DROP_REASON_';

export class DropReasons {
  private constructor(private readonly byValue: Map<number, string>) {}

  static from(btf: Btf): DropReasons {
    const byValue = new Map<number, string>();
    for (const [name, value] of btf.enumValues('skb_drop_reason')) {
      // SKB_NOT_DROPPED_YET (0) and SKB_CONSUMED (1) carry no prefix.
      const short = name.startsWith(PREFIX) ? name.slice(PREFIX.length) : name.replace(/^SKB_/, '');
      if (!byValue.has(Number(value))) byValue.set(Number(value), short);
    }
    return new DropReasons(byValue);
  }

  /** "OTHERHOST" for SKB_DROP_REASON_OTHERHOST's value; "reason N" for values this kernel doesn't name (subsystem reasons). */
  name(value: number): string {
    return this.byValue.get(value) ?? `reason ${value}`;
  }

  /** The value of a name, with or without the SKB_DROP_REASON_ prefix. */
  value(name: string): number | undefined {
    const short = name.toUpperCase().replace(PREFIX, '');
    for (const [v, n] of this.byValue) if (n === short) return v;
    return undefined;
  }

  names(): string[] {
    return [...this.byValue.values()];
  }
}

let shared: DropReasons | undefined;

/** The running kernel's drop reasons, read once. */
export function kernelDropReasons(): DropReasons {
  shared ??= DropReasons.from(loadKernelBtf());
  return shared;
}
