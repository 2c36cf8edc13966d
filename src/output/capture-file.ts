// The in-memory result of reading a pcap or pcapng file.
import type { CaptureInterface, CaptureStatistics, CapturedPacket } from './packet';

export interface CaptureFile {
  format: 'pcap' | 'pcapng';
  /** pcap only: the file's timestamps are nanoseconds (magic 0xa1b23c4d). */
  nanosecond: boolean;
  /** pcap: one interface from the file header; pcapng: every IDB, numbered across sections. */
  interfaces: CaptureInterface[];
  packets: CapturedPacket[];
  /** pcapng ISBs. */
  statistics: { ifIndex: number; stats: CaptureStatistics }[];
  /** pcapng SHB opt_comment and shb_userappl of each section. */
  sections: { comment?: string; application?: string }[];
  /** Problems the reader stepped over. */
  warnings: string[];
  /**
   * Why reading stopped before the end of the file (a truncated record, a
   * captured length libpcap refuses...): the packets before it were read, as
   * tcpdump reads them before it reports the error and exits non-zero.
   */
  damage?: string;
}

/** Thrown for input that is not a capture file we can read; the message says what was wrong. */
export class CaptureFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CaptureFormatError';
  }
}
