// Sizes every layer agrees on, in a module with no imports so that the
// command line can name them without loading the capture machinery.

/** The snap length when none is given: tcpdump's (MAXIMUM_SNAPLEN in tcpdump 4.99). */
export const DEFAULT_SNAPLEN = 262144;
/** Largest snap length: one jumbo-frame chain is far below it, and the scratch record (twice this per CPU) stays small. */
export const MAX_SNAPLEN = 262144;
