// netcap's DPDK test program: receives bursts from its ports and hands every
// packet to a few out-of-line functions that netcap's tests and demo probe,
// then forwards the packets (port 0 <-> port 1, or back out of a lone port).
//
// Probe points (all external, never inlined, cloned or IPA-optimised, so the
// symbol, its address and its argument registers are what the source says):
//   app_rx_burst(port, pkts, n)   returns the count: a return probe sees the filled array
//   app_process_burst(pkts, n)    burst point       func@1@2
//   app_process_one(m)            one mbuf          func@1
//   app_raw(data, len)            raw bytes         func@1@2 in raw mode
//   app_process_chain(m)          a multi-segment mbuf chain built from frames
//                                 longer than --chain-min (segments of --seg-size bytes)
//
// Usage: netcap-test-app [EAL options] -- [--chain-min N] [--seg-size N] [--burst N] [--idle-us N]
// Prints "netcap-test-app: ready ports=N" once the ports are started, and a
// counters line when it exits on SIGINT/SIGTERM.
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

// noipa (gcc 8+) implies noinline and also forbids cloning (.isra/.constprop)
// and interprocedural assumptions, which would change the calling convention
// a probe relies on.
#define PROBE_POINT __attribute__((noipa, used))

#define MAX_BURST 64
#define RX_RING 1024
#define TX_RING 1024
#define POOL_SIZE 8191

static volatile sig_atomic_t quit;

// Side effects of the probe points: without them gcc could drop the calls.
struct app_counters {
  uint64_t rx, tx, dropped, bursts, bytes_seen, raw_bytes, chains, chain_segs;
};
volatile struct app_counters app_counters;

static struct {
  unsigned chain_min;  // frames longer than this also go through app_process_chain; 0 = never
  unsigned seg_size;
  unsigned burst;
  unsigned idle_us;
} cfg = {100, 64, 32, 20};

static struct rte_mempool *pool;

PROBE_POINT uint16_t app_rx_burst(uint16_t port, struct rte_mbuf **pkts, uint16_t n) {
  uint16_t got = rte_eth_rx_burst(port, 0, pkts, n);
  app_counters.rx += got;
  return got;
}

PROBE_POINT void app_process_burst(struct rte_mbuf **pkts, uint16_t n) {
  app_counters.bursts++;
  for (uint16_t i = 0; i < n; i++) app_counters.bytes_seen += rte_pktmbuf_pkt_len(pkts[i]);
}

PROBE_POINT void app_process_one(struct rte_mbuf *m) {
  // Reading the first byte makes the call observable (and touches the data a probe reads).
  app_counters.bytes_seen += rte_pktmbuf_data_len(m) + *rte_pktmbuf_mtod(m, volatile uint8_t *);
}

PROBE_POINT void app_raw(const char *data, uint32_t len) {
  app_counters.raw_bytes += len + (uint8_t)data[0];
}

PROBE_POINT void app_process_chain(struct rte_mbuf *m) {
  app_counters.chains++;
  for (struct rte_mbuf *s = m; s != NULL; s = s->next) app_counters.chain_segs++;
}

// Copies the packet's bytes into a chain of mbufs holding at most seg_size
// bytes each (nb_segs and pkt_len in the head, data_len in each segment).
static struct rte_mbuf *make_chain(const struct rte_mbuf *src) {
  const uint8_t *data = rte_pktmbuf_mtod(src, const uint8_t *);
  uint32_t len = rte_pktmbuf_data_len(src);
  struct rte_mbuf *head = NULL;
  for (uint32_t off = 0; off < len; off += cfg.seg_size) {
    uint16_t n = (uint16_t)(len - off < cfg.seg_size ? len - off : cfg.seg_size);
    struct rte_mbuf *seg = rte_pktmbuf_alloc(pool);
    char *dst = seg ? rte_pktmbuf_append(seg, n) : NULL;
    if (dst == NULL) {
      if (seg) rte_pktmbuf_free(seg);
      goto fail;
    }
    memcpy(dst, data + off, n);
    if (head == NULL) head = seg;
    else if (rte_pktmbuf_chain(head, seg) != 0) {
      rte_pktmbuf_free(seg);
      goto fail;
    }
  }
  return head;
fail:
  if (head) rte_pktmbuf_free(head);
  return NULL;
}

static void handle_burst(uint16_t port, uint16_t out_port, struct rte_mbuf **pkts, uint16_t n) {
  app_process_burst(pkts, n);
  for (uint16_t i = 0; i < n; i++) {
    struct rte_mbuf *m = pkts[i];
    app_process_one(m);
    app_raw(rte_pktmbuf_mtod(m, const char *), rte_pktmbuf_data_len(m));
    if (cfg.chain_min && rte_pktmbuf_pkt_len(m) > cfg.chain_min && m->nb_segs == 1) {
      struct rte_mbuf *chain = make_chain(m);
      if (chain) {
        app_process_chain(chain);
        rte_pktmbuf_free(chain);
      }
    }
  }
  uint16_t sent = rte_eth_tx_burst(out_port, 0, pkts, n);
  app_counters.tx += sent;
  if (sent < n) {
    app_counters.dropped += n - sent;
    rte_pktmbuf_free_bulk(&pkts[sent], n - sent);
  }
  (void)port;
}

static int port_init(uint16_t port) {
  struct rte_eth_conf conf;
  memset(&conf, 0, sizeof conf);
  uint16_t rxd = RX_RING, txd = TX_RING;
  int rc;
  if ((rc = rte_eth_dev_configure(port, 1, 1, &conf)) != 0) return rc;
  if ((rc = rte_eth_dev_adjust_nb_rx_tx_desc(port, &rxd, &txd)) != 0) return rc;
  int socket = rte_eth_dev_socket_id(port);
  if ((rc = rte_eth_rx_queue_setup(port, 0, rxd, socket < 0 ? 0 : (unsigned)socket, NULL, pool)) != 0) return rc;
  if ((rc = rte_eth_tx_queue_setup(port, 0, txd, socket < 0 ? 0 : (unsigned)socket, NULL)) != 0) return rc;
  if ((rc = rte_eth_dev_start(port)) != 0) return rc;
  // Test frames are addressed to made-up MACs: take them all.
  rte_eth_promiscuous_enable(port);
  return 0;
}

static void on_signal(int sig) {
  (void)sig;
  quit = 1;
}

static void parse_app_args(int argc, char **argv) {
  static const struct option opts[] = {
      {"chain-min", required_argument, NULL, 'c'},
      {"seg-size", required_argument, NULL, 's'},
      {"burst", required_argument, NULL, 'b'},
      {"idle-us", required_argument, NULL, 'i'},
      {NULL, 0, NULL, 0},
  };
  int opt;
  while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    unsigned long v = optarg ? strtoul(optarg, NULL, 10) : 0;
    switch (opt) {
      case 'c': cfg.chain_min = (unsigned)v; break;
      case 's': cfg.seg_size = (unsigned)v; break;
      case 'b': cfg.burst = (unsigned)v; break;
      case 'i': cfg.idle_us = (unsigned)v; break;
      default:
        fprintf(stderr, "usage: netcap-test-app [EAL options] -- [--chain-min N] [--seg-size N] [--burst N] [--idle-us N]\n");
        exit(2);
    }
  }
  if (cfg.seg_size < 1 || cfg.seg_size > 2048 || cfg.burst < 1 || cfg.burst > MAX_BURST) {
    fprintf(stderr, "netcap-test-app: --seg-size must be 1..2048 and --burst 1..%d\n", MAX_BURST);
    exit(2);
  }
}

int main(int argc, char **argv) {
  int used = rte_eal_init(argc, argv);
  if (used < 0) rte_exit(EXIT_FAILURE, "netcap-test-app: EAL init failed\n");
  parse_app_args(argc - used, argv + used);
  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);

  uint16_t nports = rte_eth_dev_count_avail();
  if (nports < 1 || nports > 2) rte_exit(EXIT_FAILURE, "netcap-test-app: needs 1 or 2 ports (--vdev), found %u\n", nports);
  pool = rte_pktmbuf_pool_create("netcap_test_pool", POOL_SIZE, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE, (int)rte_socket_id());
  if (pool == NULL) rte_exit(EXIT_FAILURE, "netcap-test-app: mbuf pool: %s\n", rte_strerror(rte_errno));
  for (uint16_t p = 0; p < nports; p++) {
    int rc = port_init(p);
    if (rc != 0) rte_exit(EXIT_FAILURE, "netcap-test-app: port %u init failed: %s\n", p, rte_strerror(-rc));
  }
  printf("netcap-test-app: ready ports=%u chain-min=%u seg-size=%u burst=%u\n", nports, cfg.chain_min, cfg.seg_size, cfg.burst);
  fflush(stdout);

  struct rte_mbuf *pkts[MAX_BURST];
  while (!quit) {
    unsigned got = 0;
    for (uint16_t p = 0; p < nports; p++) {
      uint16_t n = app_rx_burst(p, pkts, (uint16_t)cfg.burst);
      if (n == 0) continue;
      got += n;
      handle_burst(p, nports == 2 ? (uint16_t)(p ^ 1) : p, pkts, n);
    }
    // Idle back-off: this machine has two cores shared by many tests.
    if (got == 0 && cfg.idle_us) usleep(cfg.idle_us);
  }

  printf("netcap-test-app: rx=%" PRIu64 " tx=%" PRIu64 " dropped=%" PRIu64 " bursts=%" PRIu64 " chains=%" PRIu64 " chain_segs=%" PRIu64 "\n",
         app_counters.rx, app_counters.tx, app_counters.dropped, app_counters.bursts, app_counters.chains, app_counters.chain_segs);
  for (uint16_t p = 0; p < nports; p++) {
    rte_eth_dev_stop(p);
    rte_eth_dev_close(p);
  }
  rte_eal_cleanup();
  return 0;
}
