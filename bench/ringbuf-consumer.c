/* The C anchor of the ring buffer benchmark: libbpf's ring_buffer__poll on
 * the ring map inherited as fd 3, touching each record like the JavaScript
 * reader does (reads its sequence number, checks order). Prints "ready",
 * then after `expected` records (or the timeout):
 *   records N first_ns F last_ns L out_of_order K
 * with CLOCK_MONOTONIC times of the first and last record. With a third
 * argument "drain" it waits for a line on stdin (the ring has been filled)
 * and times one ring_buffer__consume of everything instead: first_ns and
 * last_ns are then the start and end of that call. A fourth argument
 * "copy" also copies every record into a 1 MiB staging buffer (what a
 * consumer that hands records on, like RingReader, must do).
 * Built by bench/ringbuf.ts: gcc -O2 ringbuf-consumer.c -lbpf */
#include <bpf/libbpf.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static uint64_t count, expected_seq = 1, out_of_order, first_ns, last_ns;
static int copy_records;
static unsigned char stage[1 << 20];
static size_t stage_used;

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static int on_record(void *ctx, void *data, size_t size) {
  (void)ctx;
  uint64_t seq;
  if (size < sizeof seq) return 0;
  memcpy(&seq, data, sizeof seq);
  if (copy_records && size <= sizeof stage) {
    if (stage_used + size > sizeof stage) stage_used = 0;
    memcpy(stage + stage_used, data, size);
    stage_used += size;
  }
  if (seq != expected_seq) out_of_order++;
  expected_seq = seq + 1;
  if (count++ == 0) first_ns = now_ns();
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s EXPECTED TIMEOUT_MS [drain] (ring map fd 3)\n", argv[0]);
    return 2;
  }
  uint64_t expected = strtoull(argv[1], NULL, 10);
  uint64_t deadline = now_ns() + strtoull(argv[2], NULL, 10) * 1000000ull;
  struct ring_buffer *rb = ring_buffer__new(3, on_record, NULL, NULL);
  if (!rb) {
    perror("ring_buffer__new");
    return 1;
  }
  printf("ready\n");
  fflush(stdout);
  copy_records = argc > 4 && strcmp(argv[4], "copy") == 0;
  if (argc > 3 && strcmp(argv[3], "drain") == 0) {
    char line[16];
    if (!fgets(line, sizeof line, stdin)) return 1;
    uint64_t start = now_ns();
    int n = ring_buffer__consume(rb);
    last_ns = now_ns();
    if (n < 0) fprintf(stderr, "ring_buffer__consume: %d\n", n);
    printf("records %llu first_ns %llu last_ns %llu out_of_order %llu\n", (unsigned long long)count, (unsigned long long)start,
           (unsigned long long)last_ns, (unsigned long long)out_of_order);
    ring_buffer__free(rb);
    return 0;
  }
  while (count < expected && now_ns() < deadline) {
    int n = ring_buffer__poll(rb, 100);
    if (n < 0) {
      fprintf(stderr, "ring_buffer__poll: %d\n", n);
      break;
    }
  }
  last_ns = now_ns();
  printf("records %llu first_ns %llu last_ns %llu out_of_order %llu\n", (unsigned long long)count, (unsigned long long)first_ns,
         (unsigned long long)last_ns, (unsigned long long)out_of_order);
  ring_buffer__free(rb);
  return 0;
}
