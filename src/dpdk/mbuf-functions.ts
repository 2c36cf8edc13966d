// DPDK's exported functions that take a struct rte_mbuf * or an array of
// them, with their prototypes: how `netcap mbuf --list` finds probe points
// in librte_* libraries without debug information (Debian's are stripped to
// their exported symbols). Read from DPDK 22.11's installed headers
// (/usr/include/dpdk, libdpdk-dev); these functions keep their prototypes
// across releases (they are part of DPDK's stable ABI, or experimental with
// the same signature since they appeared). test/dpdk/mbuf-functions.test.ts
// checks every entry with gcc against the installed headers and against
// the libraries' exported symbols.
//
// The inline fast-path functions (rte_eth_rx_burst, rte_eth_tx_burst,
// rte_pktmbuf_free, rte_ring_*) have no symbol to probe and are not here:
// the PMD's burst functions they call are what a probe can see.
import type { Prototype } from '../elf/dwarf';

export interface LibraryPrototype extends Prototype {
  /** The library's stem, as `-f lib:func` takes it: "librte_mbuf". */
  library: string;
}

const p = (library: string, returns: string, name: string, params: string[]): LibraryPrototype => ({
  library,
  returns,
  name,
  params: params.map((text) => {
    const m = /^(.*?)(\w+)$/.exec(text)!;
    return { type: m[1].trim(), name: m[2] };
  }),
});

export const DPDK_MBUF_FUNCTIONS: readonly LibraryPrototype[] = [
  p('librte_mbuf', 'void', 'rte_pktmbuf_free_bulk', ['struct rte_mbuf ** mbufs', 'unsigned int count']),
  p('librte_mbuf', 'struct rte_mbuf *', 'rte_pktmbuf_clone', ['struct rte_mbuf * md', 'struct rte_mempool * mp']),
  p('librte_mbuf', 'struct rte_mbuf *', 'rte_pktmbuf_copy', ['const struct rte_mbuf * m', 'struct rte_mempool * mp', 'uint32_t offset', 'uint32_t length']),
  p('librte_mbuf', 'void', 'rte_pktmbuf_dump', ['FILE * f', 'const struct rte_mbuf * m', 'unsigned int dump_len']),
  p('librte_mbuf', 'void', 'rte_mbuf_sanity_check', ['const struct rte_mbuf * m', 'int is_header']),
  p('librte_mbuf', 'int', 'rte_mbuf_check', ['const struct rte_mbuf * m', 'int is_header', 'const char ** reason']),
  p('librte_mbuf', 'const void *', '__rte_pktmbuf_read', ['const struct rte_mbuf * m', 'uint32_t off', 'uint32_t len', 'void * buf']),
  p('librte_mbuf', 'int', '__rte_pktmbuf_linearize', ['struct rte_mbuf * mbuf']),
  p('librte_net', 'uint32_t', 'rte_net_get_ptype', ['const struct rte_mbuf * m', 'struct rte_net_hdr_lens * hdr_lens', 'uint32_t layers']),
  p('librte_ethdev', 'void', 'rte_eth_tx_buffer_drop_callback', ['struct rte_mbuf ** pkts', 'uint16_t unsent', 'void * userdata']),
  p('librte_ethdev', 'void', 'rte_eth_tx_buffer_count_callback', ['struct rte_mbuf ** pkts', 'uint16_t unsent', 'void * userdata']),
  p('librte_ethdev', 'uint16_t', 'rte_eth_call_rx_callbacks', ['uint16_t port_id', 'uint16_t queue_id', 'struct rte_mbuf ** rx_pkts', 'uint16_t nb_rx', 'uint16_t nb_pkts', 'void * opaque']),
  p('librte_ethdev', 'uint16_t', 'rte_eth_call_tx_callbacks', ['uint16_t port_id', 'uint16_t queue_id', 'struct rte_mbuf ** tx_pkts', 'uint16_t nb_pkts', 'void * opaque']),
  p('librte_gro', 'uint16_t', 'rte_gro_reassemble_burst', ['struct rte_mbuf ** pkts', 'uint16_t nb_pkts', 'const struct rte_gro_param * param']),
  p('librte_gro', 'uint16_t', 'rte_gro_reassemble', ['struct rte_mbuf ** pkts', 'uint16_t nb_pkts', 'void * ctx']),
  p('librte_gso', 'int', 'rte_gso_segment', ['struct rte_mbuf * pkt', 'const struct rte_gso_ctx * ctx', 'struct rte_mbuf ** pkts_out', 'uint16_t nb_pkts_out']),
  p('librte_ip_frag', 'int32_t', 'rte_ipv4_fragment_packet', ['struct rte_mbuf * pkt_in', 'struct rte_mbuf ** pkts_out', 'uint16_t nb_pkts_out', 'uint16_t mtu_size', 'struct rte_mempool * pool_direct', 'struct rte_mempool * pool_indirect']),
  p('librte_ip_frag', 'int32_t', 'rte_ipv6_fragment_packet', ['struct rte_mbuf * pkt_in', 'struct rte_mbuf ** pkts_out', 'uint16_t nb_pkts_out', 'uint16_t mtu_size', 'struct rte_mempool * pool_direct', 'struct rte_mempool * pool_indirect']),
  p('librte_ip_frag', 'struct rte_mbuf *', 'rte_ipv4_frag_reassemble_packet', ['struct rte_ip_frag_tbl * tbl', 'struct rte_ip_frag_death_row * dr', 'struct rte_mbuf * mb', 'uint64_t tms', 'struct rte_ipv4_hdr * ip_hdr']),
  p('librte_ip_frag', 'struct rte_mbuf *', 'rte_ipv6_frag_reassemble_packet', ['struct rte_ip_frag_tbl * tbl', 'struct rte_ip_frag_death_row * dr', 'struct rte_mbuf * mb', 'uint64_t tms', 'struct rte_ipv6_hdr * ip_hdr', 'struct rte_ipv6_fragment_ext * frag_hdr']),
  p('librte_distributor', 'int', 'rte_distributor_process', ['struct rte_distributor * d', 'struct rte_mbuf ** mbufs', 'unsigned int num_mbufs']),
  p('librte_distributor', 'int', 'rte_distributor_returned_pkts', ['struct rte_distributor * d', 'struct rte_mbuf ** mbufs', 'unsigned int max_mbufs']),
  p('librte_reorder', 'int', 'rte_reorder_insert', ['struct rte_reorder_buffer * b', 'struct rte_mbuf * mbuf']),
  p('librte_reorder', 'unsigned int', 'rte_reorder_drain', ['struct rte_reorder_buffer * b', 'struct rte_mbuf ** mbufs', 'unsigned int max_mbufs']),
  p('librte_sched', 'int', 'rte_sched_port_enqueue', ['struct rte_sched_port * port', 'struct rte_mbuf ** pkts', 'uint32_t n_pkts']),
  p('librte_sched', 'int', 'rte_sched_port_dequeue', ['struct rte_sched_port * port', 'struct rte_mbuf ** pkts', 'uint32_t n_pkts']),
  p('librte_vhost', 'uint16_t', 'rte_vhost_enqueue_burst', ['int vid', 'uint16_t queue_id', 'struct rte_mbuf ** pkts', 'uint16_t count']),
  p('librte_vhost', 'uint16_t', 'rte_vhost_dequeue_burst', ['int vid', 'uint16_t queue_id', 'struct rte_mempool * mbuf_pool', 'struct rte_mbuf ** pkts', 'uint16_t count']),
];
