// The filter of an interface capture, with the meaning tcpdump -i gives it:
// libpcap compiles it on a live Linux capture handle, so `inbound`,
// `outbound`, `ifindex` and `vlan` read the packet's metadata (the TC
// program gives them __sk_buff's fields, probes/tc.ts), and every other test
// sees the packet without the VLAN tag the kernel took out of it.
//
// Which handle: libpcap 1.10's Linux code generation depends on the
// handle's link type, its snap length, the netmask passed to pcap_compile,
// and whether the kernel has the socket filter's VLAN extensions
// (pcap-linux.c asks SO_BPF_EXTENSIONS) -- not on which device it is. So
// every filter is compiled on loopback in netcap's own namespace, an
// Ethernet (DLT_EN10MB) handle that is always there and up, whatever the
// capture interface is, wherever it lives and whether it is up (libpcap
// cannot open a device that is down). test/modes/iface checks that this is
// the program tcpdump -d -i IFACE prints for the capture interface itself.
//
// `ip broadcast` uses the capture interface's IPv4 netmask, as pcap-filter(7)
// says ("looks up the subnet mask on the interface on which the capture is
// being done"); an interface without an IPv4 address has none, and libpcap
// refuses the expression with its own message. (tcpdump 4.99 passes a
// netmask of 0 on live captures unless -f is given, and with -f it passes
// pcap_lookupnet's network-order value, which on a little-endian machine
// tests the wrong bytes: see README.)
import { UserError } from '../../errors';
import { compileCbpf, type CbpfProgram } from '../../filter/libpcap';
import type { InterfaceInfo } from '../../kernel/interfaces';

/** The device every live handle is opened on (see above). */
export const COMPILE_DEVICE = 'lo';
/** DLT_EN10MB: the link type the TC program's bytes have on an Ethernet interface. */
const DLT_EN10MB = 1;

/** `ip broadcast` on an interface without an IPv4 address: libpcap's refusal, naming the interface (-i any skips such an interface). */
export class NoNetmaskError extends UserError {}

/** The IPv4 netmask of a prefix length, in host order (24 -> 0xffffff00); undefined without one. */
export function netmaskOf(prefix: number | undefined): number | undefined {
  if (prefix === undefined) return undefined;
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

/** The compiled filter per netmask: one live compile (~30 ms: libpcap sets up and tears down a capture socket) per distinct mask that matters. */
export class IfaceFilters {
  readonly #programs = new Map<number | undefined, CbpfProgram>();
  #netmaskMatters: boolean | undefined;

  constructor(
    readonly expression: string,
    readonly snaplen: number,
  ) {}

  /** The cBPF for packets of `iface`, undefined when there is no expression (every packet). */
  forInterface(iface: InterfaceInfo): CbpfProgram | undefined {
    if (this.expression === '') return undefined;
    const netmask = this.netmaskMatters() ? netmaskOf(iface.ipv4Prefix) : undefined;
    let prog = this.#programs.get(netmask);
    if (!prog) {
      try {
        prog = compileCbpf(this.expression, { handle: { live: COMPILE_DEVICE }, snaplen: this.snaplen, netmask });
      } catch (e) {
        if (e instanceof UserError && /netmask not known/.test(e.message)) {
          throw new NoNetmaskError(`${e.message} (${iface.name} has no IPv4 address)`, e.hint, e.detail);
        }
        throw e;
      }
      if (prog.linktype !== DLT_EN10MB) throw new Error(`the live handle on ${COMPILE_DEVICE} has link type ${prog.linktype}, not EN10MB`);
      this.#programs.set(netmask, prog);
    }
    return prog;
  }

  /**
   * Refuses an expression libpcap refuses, with its message: compiled for
   * each of `interfaces` (their netmasks), or once when there is none yet
   * (-i any before an interface appears; a mask that stands for any, so
   * only the syntax and the link type are checked).
   */
  check(interfaces: readonly InterfaceInfo[]): void {
    if (interfaces.length > 0) {
      for (const i of interfaces) this.forInterface(i);
    } else if (this.expression !== '') {
      compileCbpf(this.expression, { handle: { live: COMPILE_DEVICE }, snaplen: this.snaplen, netmask: 0xffffff00 });
    }
  }

  /**
   * Whether the netmask changes the program (`ip broadcast` is the only
   * test that reads it): two compiles on a dead handle (microseconds) with
   * different masks tell, so an expression without it costs one live
   * compile however many interfaces there are.
   */
  private netmaskMatters(): boolean {
    if (this.#netmaskMatters === undefined) {
      try {
        const a = compileCbpf(this.expression, { snaplen: this.snaplen, netmask: 0xffffff00 });
        const b = compileCbpf(this.expression, { snaplen: this.snaplen, netmask: 0xffff0000 });
        this.#netmaskMatters = !a.code.equals(b.code);
      } catch {
        // The live compile will say what is wrong.
        this.#netmaskMatters = true;
      }
    }
    return this.#netmaskMatters;
  }
}
