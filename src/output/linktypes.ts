/** Ethernet and raw IP (IPv4 or IPv6 from the first byte), the link types netcap's probes produce. */
export const LINKTYPE_ETHERNET = 1;
export const LINKTYPE_RAW = 101;

const ETH_P_IP = 0x0800;
const ETH_P_IPV6 = 0x86dd;
/** Bytes of the Ethernet header a raw-IP packet is written behind where an output holds Ethernet only (outputs.ts behindEthernet). */
export const SYNTHETIC_ETHERNET_BYTES = 14;

/** The EtherType of that header: the packet's own when known (skb->protocol), else from the IP version in its first byte. */
export function syntheticEtherType(etherType: number | undefined, firstByte: number | undefined): number {
  return etherType || ((firstByte ?? 0) >> 4 === 6 ? ETH_P_IPV6 : ETH_P_IP);
}

// Capture files store LINKTYPE_ values; libpcap's compiler wants DLT_
// values. They are equal except for a few historical ones, which libpcap
// translates when it opens a file (pcap-common.c, linktype_to_dlt): most
// importantly LINKTYPE_RAW 101 is DLT_RAW 12 on Linux.
const LINKTYPE_TO_DLT = new Map<number, number>([
  [100, 11], // ATM_RFC1483
  [101, 12], // RAW (raw IPv4/IPv6)
  [102, 15], // SLIP_BSDOS
  [103, 16], // PPP_BSDOS
  [106, 19], // ATM_CLIP
]);

/** The DLT_ value libpcap compiles filters for, given a file's LINKTYPE_ value. */
export function dltForLinktype(linktype: number): number {
  return LINKTYPE_TO_DLT.get(linktype) ?? linktype;
}
