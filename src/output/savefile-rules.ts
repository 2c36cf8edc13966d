// How libpcap (1.10, savefile.c, sf-pcap.c, sf-pcapng.c) reads the fields
// of a capture file that a writer got wrong or left open, so that
// `netcap read` sees what `tcpdump -r` sees: the snap length it falls back
// to, the link-type bits it keeps, the captured lengths it accepts.
import { CaptureFormatError } from './capture-file';

/** libpcap's MAXIMUM_SNAPLEN (pcap-int.h). */
export const MAXIMUM_SNAPLEN = 262144;

/** max_snaplen_for_dlt (pcap-common.c): D-Bus messages, EBHSCR frames and USBPcap packets can be longer. */
export function maxSnaplenForDlt(dlt: number): number {
  switch (dlt) {
    case 231: // DLT_DBUS
      return 128 * 1024 * 1024;
    case 279: // DLT_EBHSCR
      return 8 * 1024 * 1024;
    case 249: // DLT_USBPCAP
      return 1024 * 1024;
    default:
      return MAXIMUM_SNAPLEN;
  }
}

/**
 * pcap_adjust_snapshot (savefile.c): a snap length of 0 or beyond INT_MAX is
 * bogus and becomes the link type's maximum; others are kept as written.
 */
export function adjustSnaplen(dlt: number, snaplen: number): number {
  return snaplen === 0 || snaplen > 0x7fffffff ? maxSnaplenForDlt(dlt) : snaplen;
}

/**
 * The link-type field of a pcap file header: the low 26 bits are the link
 * type (LT_LINKTYPE in sf-pcap.c), the top 6 the FCS information. Bits 16-25
 * are reserved: libpcap keeps them in the link type, which then names no
 * link type it knows ("unknown data link type 3145728"), so the file is
 * refused here with what is wrong.
 */
export function pcapLinktype(field: number): number {
  const linktype = field & 0x03ffffff;
  if (linktype & 0x03ff0000) {
    throw new CaptureFormatError(`its link-type field 0x${field.toString(16).padStart(8, '0')} has reserved bits set (0x${(linktype & 0x03ff0000).toString(16)}), so it names no link type (libpcap: "unknown data link type ${linktype}")`);
  }
  return linktype;
}
