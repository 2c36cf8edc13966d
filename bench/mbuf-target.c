// The traced program of bench/mbuf.ts: a tight loop calling out-of-line
// functions that take an rte_mbuf-shaped struct (DPDK 22.11's layout for the
// fields netcap reads), one packet per call or a burst of 32 per call.
// Prints the mean CPU ns per call of every round (at least 100 ms of
// calls), one line per round, until killed.
//
//   mbuf-target single|burst match|nomatch
//
// match: a TCP frame to port 80; nomatch: a UDP frame to port 53.
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct fake_mbuf {
  void *buf_addr;           /* 0 */
  uint64_t buf_iova;        /* 8 */
  uint16_t data_off;        /* 16 */
  uint16_t refcnt;          /* 18 */
  uint16_t nb_segs;         /* 20 */
  uint16_t port;            /* 22 */
  uint64_t ol_flags;        /* 24 */
  uint32_t packet_type;     /* 32 */
  uint32_t pkt_len;         /* 36 */
  uint16_t data_len;        /* 40 */
  uint16_t vlan_tci;        /* 42 */
  uint32_t hash;            /* 44 */
  uint32_t fdir_hi;         /* 48 */
  uint16_t vlan_tci_outer;  /* 52 */
  uint16_t buf_len;         /* 54 */
  void *pool;               /* 56 */
  struct fake_mbuf *next;   /* 64 */
  uint8_t rest[56];
};
_Static_assert(offsetof(struct fake_mbuf, data_off) == 16, "data_off");
_Static_assert(offsetof(struct fake_mbuf, pkt_len) == 36, "pkt_len");
_Static_assert(offsetof(struct fake_mbuf, data_len) == 40, "data_len");
_Static_assert(offsetof(struct fake_mbuf, next) == 64, "next");

#define BURST 32
volatile uint64_t sink;

__attribute__((noinline)) void bench_one(struct fake_mbuf *m) { sink += m->pkt_len; }

__attribute__((noinline)) void bench_burst(struct fake_mbuf **pkts, uint16_t n) {
  for (uint16_t i = 0; i < n; i++) sink += pkts[i]->data_len;
}

static const uint8_t tcp80[] = {
    0x02, 0, 0, 0, 0x0b, 0x01, 0x02, 0, 0, 0, 0x0a, 0x01, 0x08, 0x00,             /* ethernet */
    0x45, 0, 0, 40, 0, 1, 0x40, 0, 64, 6, 0, 0, 192, 0, 2, 1, 192, 0, 2, 2,      /* ipv4, tcp */
    0x9c, 0x40, 0, 80, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff, 0, 0, 0, 0 /* tcp syn to 80 */
};
static const uint8_t udp53[] = {
    0x02, 0, 0, 0, 0x0b, 0x01, 0x02, 0, 0, 0, 0x0a, 0x01, 0x08, 0x00,
    0x45, 0, 0, 28, 0, 1, 0x40, 0, 64, 17, 0, 0, 192, 0, 2, 1, 192, 0, 2, 2,
    0x9c, 0x40, 0, 53, 0, 8, 0, 0
};

static double clock_ns(clockid_t clock) {
  struct timespec ts;
  clock_gettime(clock, &ts);
  return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/* Wall time paces the rounds; the figure is this thread's CPU time (user +
   kernel, so the uprobe's trap and the BPF program count), which leaves out
   the time other busy processes on a shared machine hold the CPU. */
static double now_ns(void) { return clock_ns(CLOCK_MONOTONIC); }
static double cpu_ns(void) { return clock_ns(CLOCK_THREAD_CPUTIME_ID); }

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: mbuf-target single|burst match|nomatch [calls-per-round]\n");
    return 2;
  }
  int burst = strcmp(argv[1], "burst") == 0;
  int match = strcmp(argv[2], "match") == 0;
  long calls = argc > 3 ? atol(argv[3]) : (burst ? 100 : 1000);
  static uint8_t bufs[BURST][2048];
  static struct fake_mbuf mbufs[BURST];
  struct fake_mbuf *pkts[BURST];
  const uint8_t *frame = match ? tcp80 : udp53;
  size_t len = match ? sizeof tcp80 : sizeof udp53;
  for (int i = 0; i < BURST; i++) {
    memset(bufs[i], 0, sizeof bufs[i]);
    memcpy(bufs[i] + 128, frame, len);
    mbufs[i].buf_addr = bufs[i];
    mbufs[i].data_off = 128;
    mbufs[i].nb_segs = 1;
    mbufs[i].pkt_len = (uint32_t)len;
    mbufs[i].data_len = (uint16_t)len;
    mbufs[i].next = NULL;
    pkts[i] = &mbufs[i];
  }
  printf("ready\n");
  fflush(stdout);
  // Rounds of at least 100 ms, in chunks of `calls`: long enough that a
  // tool's attach finishes within the round or two the bench skips.
  for (;;) {
    double t0 = now_ns(), c0 = cpu_ns();
    long done = 0;
    do {
      for (long c = 0; c < calls; c++) {
        if (burst) bench_burst(pkts, BURST);
        else bench_one(pkts[c & (BURST - 1)]);
      }
      done += calls;
    } while (now_ns() - t0 < 100e6);
    printf("%.2f\n", (cpu_ns() - c0) / done);
    fflush(stdout);
  }
}
