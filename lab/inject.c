// Test-world frame tool: sends Ethernet frames out of an interface, or
// receives what arrives on one, through an AF_PACKET SOCK_RAW socket bound to
// that interface. Run inside a test namespace with `ip netns exec`; built on
// demand by test/world/tools.ts.
//
//   inject send -i IF [-f FILE.pcap | -x] [-c COUNT] [-r REPEAT] [-R PPS] [-d MS]
//       Frames come from a pcap file (-f) or from stdin as one hex frame per
//       line (-x, the default). The list is sent REPEAT times (default 1), or
//       cycled until COUNT frames went out; -R paces at PPS frames per second
//       (clock_nanosleep on absolute deadlines, so pacing does not drift;
//       frames due within 100 us of each other leave together);
//       -d stops after MS milliseconds. Prints "sent N" and "errors N".
//
//   inject recv -i IF [-d MS] [-n MAX] [-x] [-w FILE.pcap]
//       Prints "ready" once the socket is bound (nothing after that line is
//       missed), then collects frames that ARRIVE on IF (frames the host
//       itself sends out are skipped) until MAX frames, MS milliseconds or
//       SIGTERM/SIGINT. -x prints each as "frame HEX", -w writes a pcap file.
//       Prints "received N" last.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define MAX_FRAME 65536
#define PACING_QUANTUM_NS 100000ull

struct frame {
  uint32_t len;
  unsigned char *data;
};

static struct frame *frames;
static size_t nframes, capframes;
static volatile sig_atomic_t stop_requested;

static void die(const char *what) {
  fprintf(stderr, "inject: %s: %s\n", what, strerror(errno));
  exit(1);
}

static void usage(void) {
  fprintf(stderr,
          "usage: inject send -i IF [-f FILE.pcap | -x] [-c COUNT] [-r REPEAT] [-R PPS] [-d MS]\n"
          "       inject recv -i IF [-d MS] [-n MAX] [-x] [-w FILE.pcap]\n");
  exit(2);
}

static void add_frame(const unsigned char *data, uint32_t len) {
  if (nframes == capframes) {
    capframes = capframes ? capframes * 2 : 64;
    frames = realloc(frames, capframes * sizeof *frames);
    if (!frames) die("realloc");
  }
  frames[nframes].data = malloc(len ? len : 1);
  if (!frames[nframes].data) die("malloc");
  memcpy(frames[nframes].data, data, len);
  frames[nframes].len = len;
  nframes++;
}

static uint32_t swap32(uint32_t v, int swapped) { return swapped ? __builtin_bswap32(v) : v; }

// The classic pcap format: a 24-byte file header, then a 16-byte header per
// record (ts_sec, ts_frac, caplen, origlen). Either byte order; micro- or
// nanosecond magic.
static void read_pcap(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) die(path);
  uint32_t hdr[6];
  if (fread(hdr, sizeof hdr, 1, f) != 1) {
    fprintf(stderr, "inject: %s: too short for a pcap file\n", path);
    exit(1);
  }
  int swapped;
  if (hdr[0] == 0xa1b2c3d4 || hdr[0] == 0xa1b23c4d) swapped = 0;
  else if (hdr[0] == 0xd4c3b2a1 || hdr[0] == 0x4d3cb2a1) swapped = 1;
  else {
    fprintf(stderr, "inject: %s: not a pcap file (pcapng is not supported)\n", path);
    exit(1);
  }
  if ((swap32(hdr[5], swapped) & 0x0fffffff) != 1)
    fprintf(stderr, "inject: %s: link type is not Ethernet; sending bytes as they are\n", path);
  static unsigned char buf[MAX_FRAME];
  uint32_t rec[4];
  while (fread(rec, sizeof rec, 1, f) == 1) {
    uint32_t caplen = swap32(rec[2], swapped);
    if (caplen > MAX_FRAME) {
      fprintf(stderr, "inject: %s: record of %u bytes is too large\n", path, caplen);
      exit(1);
    }
    if (fread(buf, 1, caplen, f) != caplen) {
      fprintf(stderr, "inject: %s: truncated record\n", path);
      exit(1);
    }
    add_frame(buf, caplen);
  }
  fclose(f);
}

static int hexval(int c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// One frame per line, hex digits; spaces and colons are ignored, blank lines skipped.
static void read_hex(FILE *in) {
  static unsigned char buf[MAX_FRAME];
  char *line = NULL;
  size_t cap = 0;
  ssize_t n;
  while ((n = getline(&line, &cap, in)) >= 0) {
    uint32_t len = 0;
    int hi = -1;
    for (ssize_t i = 0; i < n; i++) {
      int v = hexval((unsigned char)line[i]);
      if (v < 0) continue;
      if (hi < 0) {
        hi = v;
        continue;
      }
      if (len == MAX_FRAME) {
        fprintf(stderr, "inject: hex frame longer than %d bytes\n", MAX_FRAME);
        exit(1);
      }
      buf[len++] = (unsigned char)(hi << 4 | v);
      hi = -1;
    }
    if (hi >= 0) {
      fprintf(stderr, "inject: odd number of hex digits on a line\n");
      exit(1);
    }
    if (len) add_frame(buf, len);
  }
  free(line);
}

// A raw packet socket that sees (and sends on) one interface only: created
// with protocol 0 so it receives nothing until bind() names the interface.
static int open_bound_socket(const char *ifname, int *ifindex_out) {
  unsigned ifindex = if_nametoindex(ifname);
  if (!ifindex) die(ifname);
  int fd = socket(AF_PACKET, SOCK_RAW, 0);
  if (fd < 0) die("socket(AF_PACKET)");
  struct sockaddr_ll sll = {0};
  sll.sll_family = AF_PACKET;
  sll.sll_protocol = htons(ETH_P_ALL);
  sll.sll_ifindex = (int)ifindex;
  if (bind(fd, (struct sockaddr *)&sll, sizeof sll) < 0) die("bind");
  *ifindex_out = (int)ifindex;
  return fd;
}

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void on_signal(int sig) {
  (void)sig;
  stop_requested = 1;
}

static int do_send(const char *ifname, long count, long repeat, double rate, long duration_ms) {
  if (nframes == 0) {
    fprintf(stderr, "inject: no frames to send\n");
    return 1;
  }
  int ifindex;
  int fd = open_bound_socket(ifname, &ifindex);
  long total = count > 0 ? count : (long)nframes * repeat;
  uint64_t start = now_ns();
  uint64_t deadline = duration_ms > 0 ? start + (uint64_t)duration_ms * 1000000ull : 0;
  double interval = rate > 0 ? 1e9 / rate : 0;
  // The default timer slack lets each wake-up come up to 50 us late, which
  // turns a steady rate into bursts; ask for punctual wake-ups.
  if (interval > 0) prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
  long sent = 0, errors = 0;
  for (long i = 0; i < total && !stop_requested; i++) {
    if (interval > 0) {
      uint64_t due = start + (uint64_t)(interval * (double)i);
      // Sleep only when the frame is due PACING_QUANTUM or more from now:
      // a sleep costs ~20 us of system time in this VM, so at 100k pps one
      // sleep per frame took 2.5x too long. Frames due sooner go out now,
      // in small bursts, and the average rate stays exact.
      if (due >= now_ns() + PACING_QUANTUM_NS) {
        struct timespec ts = {(time_t)(due / 1000000000ull), (long)(due % 1000000000ull)};
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR && !stop_requested) {
        }
      }
    }
    if (deadline && now_ns() >= deadline) break;
    const struct frame *fr = &frames[(size_t)i % nframes];
    ssize_t r;
    // ENOBUFS: the socket's send buffer is full for a moment; wait and retry.
    for (int tries = 0; (r = send(fd, fr->data, fr->len, 0)) < 0 && errno == ENOBUFS && tries < 1000; tries++) usleep(50);
    if (r == (ssize_t)fr->len) sent++;
    else {
      if (errors == 0) fprintf(stderr, "inject: send: %s\n", r < 0 ? strerror(errno) : "short write");
      errors++;
    }
  }
  close(fd);
  printf("sent %ld\nerrors %ld\n", sent, errors);
  return errors ? 1 : 0;
}

static void write_pcap_header(FILE *f) {
  uint32_t hdr[6] = {0xa1b23c4d, 0x00040002u, 0, 0, MAX_FRAME, 1};  // ns timestamps, v2.4, EN10MB
  if (fwrite(hdr, sizeof hdr, 1, f) != 1) die("write pcap");
}

static int do_recv(const char *ifname, long duration_ms, long max, int hex, const char *wpath) {
  int ifindex;
  int fd = open_bound_socket(ifname, &ifindex);
  // Bursts from DPDK or a fast injector must not overflow the default buffer.
  int rcvbuf = 32 << 20;
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf) < 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  FILE *w = NULL;
  if (wpath) {
    w = fopen(wpath, "wb");
    if (!w) die(wpath);
    write_pcap_header(w);
  }
  // Line-buffered: whoever reads our pipe sees each frame as it arrives
  // (fully buffered stdio would hold ~30 frames back).
  setvbuf(stdout, NULL, _IOLBF, 0);
  printf("ready\n");
  static unsigned char buf[MAX_FRAME];
  uint64_t deadline = duration_ms > 0 ? now_ns() + (uint64_t)duration_ms * 1000000ull : 0;
  long received = 0;
  while (!stop_requested && (max <= 0 || received < max)) {
    int timeout = 200;
    if (deadline) {
      uint64_t now = now_ns();
      if (now >= deadline) break;
      uint64_t left = (deadline - now) / 1000000ull + 1;
      if (left < (uint64_t)timeout) timeout = (int)left;
    }
    struct pollfd p = {fd, POLLIN, 0};
    int pr = poll(&p, 1, timeout);
    if (pr < 0 && errno != EINTR) die("poll");
    if (pr <= 0) continue;
    struct sockaddr_ll from;
    socklen_t fromlen = sizeof from;
    ssize_t n = recvfrom(fd, buf, sizeof buf, MSG_TRUNC | MSG_DONTWAIT, (struct sockaddr *)&from, &fromlen);
    if (n < 0) {
      // ENETDOWN: the link was down at bind() or went down since; the error
      // is reported once and the socket receives again when it comes up.
      if (errno == EAGAIN || errno == EINTR || errno == ENETDOWN) continue;
      die("recvfrom");
    }
    // A packet socket also sees the host's own transmissions on the link.
    if (from.sll_pkttype == PACKET_OUTGOING) continue;
    uint32_t caplen = n > (ssize_t)sizeof buf ? (uint32_t)sizeof buf : (uint32_t)n;
    received++;
    if (hex) {
      fputs("frame ", stdout);
      for (uint32_t i = 0; i < caplen; i++) printf("%02x", buf[i]);
      putchar('\n');
    }
    if (w) {
      struct timespec ts;
      clock_gettime(CLOCK_REALTIME, &ts);
      uint32_t rec[4] = {(uint32_t)ts.tv_sec, (uint32_t)ts.tv_nsec, caplen, (uint32_t)n};
      if (fwrite(rec, sizeof rec, 1, w) != 1 || fwrite(buf, 1, caplen, w) != caplen) die("write pcap");
    }
  }
  if (w && fclose(w) != 0) die("close pcap");
  close(fd);
  printf("received %ld\n", received);
  fflush(stdout);
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 2) usage();
  const char *mode = argv[1];
  const char *ifname = NULL, *file = NULL, *wpath = NULL;
  long count = 0, repeat = 1, duration_ms = 0, max = 0;
  double rate = 0;
  int hex = 0, opt;
  optind = 2;
  while ((opt = getopt(argc, argv, "i:f:xc:r:R:d:n:w:")) != -1) {
    switch (opt) {
      case 'i': ifname = optarg; break;
      case 'f': file = optarg; break;
      case 'x': hex = 1; break;
      case 'c': count = strtol(optarg, NULL, 10); break;
      case 'r': repeat = strtol(optarg, NULL, 10); break;
      case 'R': rate = strtod(optarg, NULL); break;
      case 'd': duration_ms = strtol(optarg, NULL, 10); break;
      case 'n': max = strtol(optarg, NULL, 10); break;
      case 'w': wpath = optarg; break;
      default: usage();
    }
  }
  if (!ifname || optind != argc || repeat < 1 || count < 0 || rate < 0 || duration_ms < 0) usage();
  struct sigaction sa = {0};
  sa.sa_handler = on_signal;
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  if (strcmp(mode, "send") == 0) {
    if (file) read_pcap(file);
    else read_hex(stdin);
    return do_send(ifname, count, repeat, rate, duration_ms);
  }
  if (strcmp(mode, "recv") == 0) return do_recv(ifname, duration_ms, max, hex, wpath);
  usage();
}
