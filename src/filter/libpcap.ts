// libpcap, our reference: tcpdump expressions -> classic BPF via
// pcap_compile on a dead handle (a live capture's meaning), a savefile
// handle (what tcpdump -r compiles on) or a live handle on a device (a live
// capture's meaning with the Linux socket filter's metadata), and libpcap's
// own bpf_filter() to run a program on a packet (the verdict every other
// engine must reproduce).
import { DEFAULT_SNAPLEN } from '../limits';
import { UserError, closeNames } from '../errors';
import { isNativeError, native } from '../native';
import { BPF_K, BPF_RET, decodeCbpf, encodeCbpf, type CbpfInsn } from './cbpf';

export interface CbpfProgram {
  expression: string;
  /** DLT_* value the program was compiled for (1 = EN10MB, 12 = RAW on Linux). */
  linktype: number;
  snaplen: number;
  insns: CbpfInsn[];
  /** The instructions as libpcap produced them (host order), for bpf_filter(). */
  code: Buffer;
  /**
   * libpcap's optimizer proved that no packet can match ("expression rejects
   * all packets"): `insns` is then `ret #0`. tcpdump refuses such a filter;
   * a capture point compiled for several link types refuses it only when it
   * rejects all on every one (see rejectsAllMessage).
   */
  rejectsAll?: true;
}

export interface CompileOptions {
  /** A DLT name ("EN10MB", "RAW", case-insensitive) or number. Default EN10MB; a live handle has its own. */
  linktype?: string | number;
  /** The match length a `ret` gives (tcpdump's -s). Default 262144. */
  snaplen?: number;
  optimize?: boolean;
  /**
   * The libpcap handle the expression is compiled on. 'dead' (the default):
   * pcap_open_dead, the meaning for a live capture. 'savefile': a savefile of
   * this link type and snap length, as `tcpdump -r` compiles; libpcap then
   * refuses inbound/outbound and ifindex on most link types and matches the
   * BSD address families of IPv6 on DLT_NULL. `{ live: device }`: an
   * activated capture handle for that device (opened and closed here, never
   * capturing). On Linux a live handle's code reads the socket filter's
   * metadata (SKF_AD_* loads: the packet type for inbound/outbound, the VLAN
   * tag the kernel took out of the packet for `vlan`, the ifindex), which
   * only a context that has that metadata can run (src/filter/compiler.ts
   * `ancillary`); its link type and snap length are the device's.
   */
  handle?: 'dead' | 'savefile' | { live: string };
  /**
   * pcap_compile's netmask, which `ip broadcast` needs, as a number in host
   * order (0xffffff00 for a /24): what gencode compares the loaded address
   * with. Default unknown, and `ip broadcast` is refused with libpcap's
   * message. tcpdump -r passes 0.
   */
  netmask?: number;
}

/** pcap_compile's message when the optimizer proves no packet can match (gencode.c / optimize.c). */
const REJECTS_ALL = /expression rejects all packets/;
/** libpcap's refusal of a filter that can match nothing, as tcpdump prints it. */
export const REJECTS_ALL_MESSAGE = 'expression rejects all packets';
const COMMON_LINKTYPES = ['EN10MB', 'RAW', 'LINUX_SLL', 'LINUX_SLL2', 'NULL', 'LOOP', 'IEEE802_11', 'IPV4', 'IPV6'];

/** A DLT value from a name such as "en10mb" or "RAW" (or a number). */
export function linktypeValue(linktype: string | number): number {
  if (typeof linktype === 'number') {
    if (!Number.isInteger(linktype) || linktype < 0) throw new UserError(`bad link type ${linktype}`, 'give a DLT name such as EN10MB or RAW');
    return linktype;
  }
  if (/^\d+$/.test(linktype)) return Number(linktype);
  const v = native().pcap.linktype(linktype.toUpperCase());
  if (v < 0) {
    const near = closeNames(linktype.toUpperCase(), COMMON_LINKTYPES);
    throw new UserError(
      `unknown link type "${linktype}"`,
      near.length ? `did you mean ${near.join(', ')}?` : `use a libpcap DLT name, e.g. ${COMMON_LINKTYPES.slice(0, 3).join(', ')}`,
    );
  }
  return v;
}

export function linktypeName(value: number): string {
  return native().pcap.linktypeName(value) ?? `DLT ${value}`;
}

/** Compiles a tcpdump expression with libpcap. libpcap's refusals become UserErrors carrying its message. */
export function compileCbpf(expression: string, opts: CompileOptions = {}): CbpfProgram {
  let linktype = linktypeValue(opts.linktype ?? 'EN10MB');
  let snaplen = opts.snaplen ?? DEFAULT_SNAPLEN;
  if (!Number.isInteger(snaplen) || snaplen < 1 || snaplen > 0x7fffffff) {
    throw new UserError(`bad snap length ${snaplen}`, 'give a positive number of bytes, e.g. --snaplen 262144');
  }
  const netmask = opts.netmask;
  if (netmask !== undefined && (!Number.isInteger(netmask) || netmask < 0 || netmask > 0xffffffff)) throw new Error(`compileCbpf: bad netmask ${netmask}`);
  let code: Buffer;
  try {
    const handle = opts.handle;
    if (typeof handle === 'object') {
      ({ code, linktype, snaplen } = native().pcap.compileLive(handle.live, snaplen, expression, opts.optimize ?? true, netmask === undefined ? {} : { netmask }));
    } else {
      code = native().pcap.compile(linktype, snaplen, expression, opts.optimize ?? true, { savefile: handle === 'savefile', ...(netmask === undefined ? {} : { netmask }) });
    }
  } catch (e) {
    if (isNativeError(e) && e.code === 'EPCAP' && typeof opts.handle === 'object') {
      throw new UserError(`cannot open a live libpcap handle on ${opts.handle.live} to compile the filter: ${e.message}`, 'the filter of a live capture is compiled on a capture handle; check the device exists and is up', e.stack);
    }
    if (isNativeError(e) && e.code === 'EFILTER' && REJECTS_ALL.test(e.message)) {
      // libpcap's optimizer reports a filter that can never match as an
      // error; the program that keeps nothing stands for it, and the caller
      // decides (a capture point with several link types may still match).
      code = encodeCbpf([{ code: BPF_RET | BPF_K, jt: 0, jf: 0, k: 0 }]);
      return { expression, linktype, snaplen, insns: decodeCbpf(code), code, rejectsAll: true };
    }
    if (isNativeError(e) && e.code === 'EFILTER') {
      throw new UserError(
        `bad filter expression "${expression}": ${e.message}`,
        `check the syntax in \`man 7 pcap-filter\` (link type ${linktypeName(linktype)})`,
      );
    }
    throw e;
  }
  return { expression, linktype, snaplen, insns: decodeCbpf(code), code };
}

/** libpcap's bpf_filter(): the snap length to keep, 0 = no match. `packet.length` is the captured length. */
export function libpcapFilter(prog: CbpfProgram | Buffer | readonly CbpfInsn[], packet: Buffer, wirelen: number): number {
  const code = Buffer.isBuffer(prog) ? prog : 'code' in prog ? prog.code : encodeCbpf(prog);
  return native().pcap.filter(code, packet, wirelen);
}

/** libpcap's bpf_validate(): would the kernel's classic BPF checker accept this program? */
export function libpcapValidate(prog: Buffer | readonly CbpfInsn[]): boolean {
  return native().pcap.validate(Buffer.isBuffer(prog) ? prog : encodeCbpf(prog));
}

export { DEFAULT_SNAPLEN };
