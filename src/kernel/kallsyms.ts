// Kernel addresses to names, from /proc/kallsyms (readable with addresses
// by root; others see zeros, kernel/kallsyms.c kallsyms_show_value). Used
// to print the stacks bpf_get_stackid collects, as `ip_rcv+0x52`.
import * as fs from 'node:fs';

export interface KernelSymbol {
  address: bigint;
  name: string;
  /** [module] for symbols of loadable modules. */
  module?: string;
}

export class Kallsyms {
  private constructor(
    /** Sorted by address. */
    private readonly addresses: BigUint64Array,
    private readonly names: string[],
  ) {}

  /** Parses kallsyms text (the format of /proc/kallsyms: "ADDR TYPE NAME [MODULE]"). */
  static parse(text: string): Kallsyms {
    const entries: KernelSymbol[] = [];
    for (const line of text.split('\n')) {
      const parts = line.split(/\s+/);
      if (parts.length < 3) continue;
      const type = parts[1].toLowerCase();
      // Only code: t/T (text), w/W (weak), and not data or absolute symbols.
      if (type !== 't' && type !== 'w') continue;
      const address = BigInt(`0x${parts[0]}`);
      if (address === 0n) continue;
      const module = parts[3]?.replace(/^\[|\]$/g, '');
      entries.push({ address, name: module ? `${parts[2]} [${module}]` : parts[2] });
    }
    entries.sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : 0));
    return new Kallsyms(BigUint64Array.from(entries.map((e) => e.address)), entries.map((e) => e.name));
  }

  /** Reads /proc/kallsyms. */
  static load(file = '/proc/kallsyms'): Kallsyms {
    return Kallsyms.parse(fs.readFileSync(file, 'utf8'));
  }

  get size(): number {
    return this.names.length;
  }

  /** True when the file listed real addresses (not the zeros non-root readers get). */
  get hasAddresses(): boolean {
    return this.names.length > 0;
  }

  /** The symbol containing `address` (the last one at or below it) and the offset into it. */
  lookup(address: bigint): { name: string; offset: bigint } | undefined {
    let lo = 0;
    let hi = this.addresses.length - 1;
    if (hi < 0 || address < this.addresses[0]) return undefined;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.addresses[mid] <= address) lo = mid;
      else hi = mid - 1;
    }
    return { name: this.names[lo], offset: address - this.addresses[lo] };
  }

  /** "ip_rcv+0x52", or the bare hex address when no symbol covers it. */
  symbolize(address: bigint): string {
    const hit = this.lookup(address);
    if (!hit) return `0x${address.toString(16)}`;
    return hit.offset === 0n ? hit.name : `${hit.name}+0x${hit.offset.toString(16)}`;
  }
}

let shared: Kallsyms | undefined;

/** /proc/kallsyms, parsed once per process. */
export function kernelSymbols(): Kallsyms {
  shared ??= Kallsyms.load();
  return shared;
}
