/*
 * netdelay: kernel-level delay, jitter and loss for the benchmark's loopback,
 * for kernels without sch_netem (issue 16). Part of bitspread's benchmark.
 *
 * nftables queues the crawler<->simulated-node TCP packets to an NFQUEUE
 * (bench/netdelay.mjs adds the rule, inside the bench's own `unshare -n`
 * namespace only). For every queued packet this program holds the verdict
 * for the packet's delay and then issues NF_ACCEPT, or NF_DROP for a lost
 * packet. The packet itself never leaves the kernel: we only read its headers.
 *
 * The delay of a packet:
 * - the simulated node's one-way delay, RTT/2: the node is the side of the
 *   packet whose IPv4 address lies in --range (the crawler dials from
 *   127.0.0.1, outside it), so both directions of a connection get the same
 *   node's delay. The node's RTT is drawn once, log-uniform in
 *   [--min-rtt, --max-rtt], from a hash of (seed, address, port): see
 *   node_rtt_us(); src/sim/kernel-rtt.ts computes the same number in JS so
 *   the simulator's truth knows it (`--print-rtt` shows it for a test);
 * - plus jitter, uniform in [0, --jitter] ms, per packet;
 * - never less than the previous packet of the same flow and direction got:
 *   a flow's packets are never reordered (netem without a rate reorders on
 *   jitter; TCP on a real path rarely sees that). Flows are tracked in a
 *   fixed table by hash; two flows sharing a slot only ever wait longer.
 * Loss: each packet is dropped with probability --loss (TCP retransmits it).
 *
 * Held packets sit in a min-heap by due time; ppoll() sleeps until the next
 * is due or the queue socket has packets. SIGTERM/SIGINT: every held packet
 * is accepted at once, and the counters are printed as one JSON line
 * ({"ready":true} is printed first, once the queue is bound). Exit status:
 * 0, 64 bad usage, 70/71 out of memory / netlink or queue errors.
 *
 *   netdelay --queue 7 --range 127.110.0.0-127.119.255.255 --min-rtt 20 --max-rtt 300
 *            [--jitter 5] [--loss 0.001] [--seed 1] [--rt-priority 10]
 *   netdelay --min-rtt 20 --max-rtt 300 [--seed 1] --print-rtt 127.110.0.1:25000 ...
 *
 * Build: gcc -O2 -Wall -o netdelay netdelay.c -lnetfilter_queue -lnfnetlink -lm
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/netfilter.h>
#include <libnetfilter_queue/libnetfilter_queue.h>
#include <math.h>
#include <poll.h>
#include <sched.h>
#include <sys/prctl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifndef SOL_NETLINK
#define SOL_NETLINK 270
#endif
#ifndef NETLINK_NO_ENOBUFS
#define NETLINK_NO_ENOBUFS 5
#endif

#define FLOW_SLOTS (1u << 16)     /* per-flow "last due" table (power of two) */
#define QUEUE_MAXLEN 65536        /* packets the kernel may hold for us */
#define COPY_RANGE 80             /* IPv4 header (<= 60) + TCP ports */
#define RCVBUF_BYTES (16 << 20)
#define LATE_NS 1000000ll         /* a verdict more than 1 ms after due is late */

/* A held packet. `seq` (arrival order) breaks ties in the heap: a flow's later packet clamped to
   the same due time as the one before it must still be released after it. */
struct held { int64_t due; uint64_t seq; uint32_t id; };
static uint64_t next_seq;

/* Heap order: earlier due first, then earlier arrival. */
static int before(const struct held *a, const struct held *b) {
  return a->due < b->due || (a->due == b->due && a->seq < b->seq);
}

static struct {
  double min_rtt_ms, max_rtt_ms, jitter_ms, loss;
  uint64_t seed;
  uint32_t lo, hi; /* node range, host order, inclusive */
  int queue, rt_priority;
} cfg = { 0, 0, 0, 0, 1, 0, 0, -1, 0 };

static struct held *heap;
static size_t heap_len, heap_cap;
static int64_t flow_due[FLOW_SLOTS];
static uint64_t rng_state;
static struct nfq_q_handle *qh;
static volatile sig_atomic_t stopping;
static struct {
  uint64_t packets, delayed, dropped, unmatched, enobufs, late, verdict_errors;
  int64_t max_late_ns;
  size_t max_depth;
} count;

/* splitmix64: the one hash both this program and src/sim/kernel-rtt.ts use. */
static uint64_t splitmix64(uint64_t x) {
  uint64_t z = x + 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

/* The node's round trip in microseconds: log-uniform in [min, max] by hash. */
static int64_t node_rtt_us(uint32_t addr, uint16_t port) {
  uint64_t h = splitmix64(cfg.seed ^ (((uint64_t)addr << 16) | port));
  double u = (double)(h >> 11) * 0x1.0p-53;
  return llround(cfg.min_rtt_ms * 1000.0 * exp(log(cfg.max_rtt_ms / cfg.min_rtt_ms) * u));
}

static double rand01(void) {
  rng_state += 0x9e3779b97f4a7c15ull;
  return (double)(splitmix64(rng_state) >> 11) * 0x1.0p-53;
}

static int64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (int64_t)t.tv_sec * 1000000000ll + t.tv_nsec;
}

static void heap_push(int64_t due, uint32_t id) {
  if (heap_len == heap_cap) {
    heap_cap = heap_cap ? heap_cap * 2 : 4096;
    heap = realloc(heap, heap_cap * sizeof *heap);
    if (!heap) { perror("netdelay: realloc"); exit(70); }
  }
  struct held h = { due, next_seq++, id };
  size_t i = heap_len++;
  while (i > 0) { /* sift up */
    size_t p = (i - 1) / 2;
    if (!before(&h, &heap[p])) break;
    heap[i] = heap[p];
    i = p;
  }
  heap[i] = h;
  if (heap_len > count.max_depth) count.max_depth = heap_len;
}

static struct held heap_pop(void) {
  struct held top = heap[0], last = heap[--heap_len];
  size_t i = 0;
  for (;;) { /* sift down */
    size_t c = 2 * i + 1;
    if (c >= heap_len) break;
    if (c + 1 < heap_len && before(&heap[c + 1], &heap[c])) c++;
    if (!before(&heap[c], &last)) break;
    heap[i] = heap[c];
    i = c;
  }
  if (heap_len > 0) heap[i] = last;
  return top;
}

static void verdict(uint32_t id, int v) {
  if (nfq_set_verdict(qh, id, v, 0, NULL) < 0) count.verdict_errors++;
}

/* One queued packet: find its node, drop it or hold it until due. */
static int on_packet(struct nfq_q_handle *q, struct nfgenmsg *msg, struct nfq_data *nfa, void *data) {
  (void)q; (void)msg; (void)data;
  struct nfqnl_msg_packet_hdr *ph = nfq_get_msg_packet_hdr(nfa);
  if (!ph) return 0;
  uint32_t id = ntohl(ph->packet_id);
  unsigned char *p;
  int len = nfq_get_payload(nfa, &p);
  count.packets++;
  int ihl = len >= 20 ? (p[0] & 0x0f) * 4 : 0;
  if (len < 20 || (p[0] >> 4) != 4 || p[9] != IPPROTO_TCP || len < ihl + 4) {
    count.unmatched++;
    verdict(id, NF_ACCEPT);
    return 0;
  }
  uint32_t src, dst;
  uint16_t sport, dport;
  memcpy(&src, p + 12, 4);
  memcpy(&dst, p + 16, 4);
  memcpy(&sport, p + ihl, 2);
  memcpy(&dport, p + ihl + 2, 2);
  src = ntohl(src); dst = ntohl(dst); sport = ntohs(sport); dport = ntohs(dport);
  int64_t rtt_us;
  if (src >= cfg.lo && src <= cfg.hi) rtt_us = node_rtt_us(src, sport);
  else if (dst >= cfg.lo && dst <= cfg.hi) rtt_us = node_rtt_us(dst, dport);
  else {
    count.unmatched++;
    verdict(id, NF_ACCEPT);
    return 0;
  }
  if (cfg.loss > 0 && rand01() < cfg.loss) {
    count.dropped++;
    verdict(id, NF_DROP);
    return 0;
  }
  int64_t due = now_ns() + rtt_us * 500 + (int64_t)(rand01() * cfg.jitter_ms * 1e6);
  /* No reordering within a flow and direction (the hash covers the 4-tuple in order). */
  uint32_t slot = (uint32_t)splitmix64(((uint64_t)src << 32 | dst) ^ ((uint64_t)sport << 16 | dport) << 7) & (FLOW_SLOTS - 1);
  if (due < flow_due[slot]) due = flow_due[slot];
  flow_due[slot] = due;
  count.delayed++;
  heap_push(due, id);
  return 0;
}

/* Accepts every held packet due by `now` (everything when `all`). */
static void release(int64_t now, int all) {
  while (heap_len > 0 && (all || heap[0].due <= now)) {
    struct held h = heap_pop();
    int64_t late = now - h.due;
    if (late > LATE_NS) count.late++;
    if (late > count.max_late_ns) count.max_late_ns = late;
    verdict(h.id, NF_ACCEPT);
  }
}

/* The kernel's own counters for our queue: packets it dropped because we were full or slow. */
static void kernel_counters(unsigned long *queue_dropped, unsigned long *user_dropped) {
  *queue_dropped = *user_dropped = 0;
  FILE *f = fopen("/proc/net/netfilter/nfnetlink_queue", "r");
  if (!f) return;
  unsigned long qn, portid, total, mode, range, qd, ud, seq;
  while (fscanf(f, "%lu %lu %lu %lu %lu %lu %lu %lu %*[^\n]", &qn, &portid, &total, &mode, &range, &qd, &ud, &seq) >= 7) {
    if ((int)qn == cfg.queue) { *queue_dropped = qd; *user_dropped = ud; }
  }
  fclose(f);
}

static void on_signal(int sig) { (void)sig; stopping = 1; }

/* Reads every message waiting on the queue socket: each packet gets its due time. -1 on error. */
static int drain(struct nfq_handle *h, int fd) {
  static char buf[1 << 18];
  for (;;) {
    ssize_t r = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (r < 0) {
      if (errno == ENOBUFS) { count.enobufs++; continue; }
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return 0;
      perror("netdelay: recv");
      return -1;
    }
    nfq_handle_packet(h, buf, (int)r);
  }
}

static int parse_range(const char *s) {
  char a[32], b[32];
  struct in_addr x, y;
  if (sscanf(s, "%31[0-9.]-%31[0-9.]", a, b) != 2 || !inet_aton(a, &x) || !inet_aton(b, &y)) return -1;
  cfg.lo = ntohl(x.s_addr);
  cfg.hi = ntohl(y.s_addr);
  return cfg.lo <= cfg.hi ? 0 : -1;
}

static void usage(const char *why) {
  fprintf(stderr, "netdelay: %s\nusage: netdelay --queue N --range A.B.C.D-E.F.G.H --min-rtt MS --max-rtt MS [--jitter MS] [--loss P] [--seed S] [--rt-priority N]\n"
                  "       netdelay --min-rtt MS --max-rtt MS [--seed S] --print-rtt ADDR:PORT...\n", why);
  exit(64);
}

/* --check-order (for the test): pushes packets with few distinct due times (ties are what a
   flow's clamped packets make) and checks they come out by due time, then arrival order. */
static int check_order(void) {
  uint64_t r = 1, checked = 0;
  for (int round = 0; round < 2000; round++) {
    heap_len = 0;
    uint32_t n = 1 + (uint32_t)(splitmix64(r++) % 300);
    for (uint32_t i = 0; i < n; i++) heap_push((int64_t)(splitmix64(r++) % 8), i);
    struct held prev = heap_pop();
    for (uint32_t i = 1; i < n; i++, checked++) {
      struct held h = heap_pop();
      if (h.due < prev.due || (h.due == prev.due && h.id < prev.id)) { printf("out of order: %u after %u\n", h.id, prev.id); return 1; }
      prev = h;
    }
  }
  printf("ok %llu\n", (unsigned long long)checked);
  return 0;
}

int main(int argc, char **argv) {
  if (argc == 2 && !strcmp(argv[1], "--check-order")) return check_order();
  int print_from = 0;
  for (int i = 1; i < argc; i++) {
    const char *o = argv[i];
    if (!strcmp(o, "--print-rtt")) { print_from = i + 1; break; }
    if (i + 1 >= argc) usage("missing value");
    const char *v = argv[++i];
    char *end;
    if (!strcmp(o, "--queue")) cfg.queue = (int)strtol(v, &end, 10);
    else if (!strcmp(o, "--range")) { if (parse_range(v)) usage("bad --range"); continue; }
    else if (!strcmp(o, "--min-rtt")) cfg.min_rtt_ms = strtod(v, &end);
    else if (!strcmp(o, "--max-rtt")) cfg.max_rtt_ms = strtod(v, &end);
    else if (!strcmp(o, "--jitter")) cfg.jitter_ms = strtod(v, &end);
    else if (!strcmp(o, "--loss")) cfg.loss = strtod(v, &end);
    else if (!strcmp(o, "--rt-priority")) cfg.rt_priority = (int)strtol(v, &end, 10);
    else if (!strcmp(o, "--seed")) cfg.seed = strtoull(v, &end, 10);
    else usage("unknown option");
    if (*end) usage("bad number");
  }
  if (!(cfg.min_rtt_ms > 0 && cfg.max_rtt_ms >= cfg.min_rtt_ms)) usage("need 0 < --min-rtt <= --max-rtt");
  if (!(cfg.jitter_ms >= 0) || !(cfg.loss >= 0 && cfg.loss < 1)) usage("need --jitter >= 0 and 0 <= --loss < 1");
  if (print_from) { /* the JS twin's test: one "addr:port rtt_us" line each */
    for (int i = print_from; i < argc; i++) {
      char a[32];
      unsigned port;
      struct in_addr x;
      if (sscanf(argv[i], "%31[0-9.]:%u", a, &port) != 2 || !inet_aton(a, &x) || port > 65535) usage("bad ADDR:PORT");
      printf("%s %lld\n", argv[i], (long long)node_rtt_us(ntohl(x.s_addr), (uint16_t)port));
    }
    return 0;
  }
  if (cfg.queue < 0 || cfg.queue > 65535 || cfg.hi == 0) usage("need --queue and --range");
  rng_state = cfg.seed * 0x2545f4914f6cdd1dull;

  struct nfq_handle *h = nfq_open();
  if (!h) { perror("netdelay: nfq_open"); return 71; }
  qh = nfq_create_queue(h, (uint16_t)cfg.queue, on_packet, NULL);
  if (!qh) { perror("netdelay: nfq_create_queue (is another program bound to this queue? are we root?)"); return 71; }
  if (nfq_set_mode(qh, NFQNL_COPY_PACKET, COPY_RANGE) < 0) { perror("netdelay: nfq_set_mode"); return 71; }
  if (nfq_set_queue_maxlen(qh, QUEUE_MAXLEN) < 0) { perror("netdelay: nfq_set_queue_maxlen"); return 71; }
  /* GSO packets stay whole (we read only headers); no fail-open: if we fall behind, the kernel drops and counts. */
  nfq_set_queue_flags(qh, NFQA_CFG_F_GSO, NFQA_CFG_F_GSO);
  int fd = nfq_fd(h), one = 1;
  nfnl_rcvbufsiz(nfq_nfnlh(h), RCVBUF_BYTES);
  setsockopt(fd, SOL_NETLINK, NETLINK_NO_ENOBUFS, &one, sizeof one);

  sigset_t block, wait_mask;
  sigemptyset(&block);
  sigaddset(&block, SIGTERM);
  sigaddset(&block, SIGINT);
  sigprocmask(SIG_BLOCK, &block, &wait_mask); /* signals arrive only inside ppoll */
  sigdelset(&wait_mask, SIGTERM);
  sigdelset(&wait_mask, SIGINT);
  struct sigaction sa = { .sa_handler = on_signal };
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  /* Never outlive the benchmark that started us (we would keep its namespace alive). */
  prctl(PR_SET_PDEATHSIG, SIGTERM);
  if (getppid() == 1) stopping = 1;

  /* A delayer that is scheduled late delays late: on a busy machine, ask for
   * SCHED_FIFO (it sleeps in ppoll between packets, so it cannot hog a core). */
  if (cfg.rt_priority > 0) {
    struct sched_param sp = { .sched_priority = cfg.rt_priority };
    if (sched_setscheduler(0, SCHED_FIFO, &sp) < 0) perror("netdelay: sched_setscheduler (carrying on without)");
  }
  printf("{\"ready\":true}\n");
  fflush(stdout);
  while (!stopping) {
    int64_t now = now_ns();
    release(now, 0);
    struct timespec ts, *tsp = NULL;
    if (heap_len > 0) {
      int64_t wait = heap[0].due - now;
      if (wait < 0) wait = 0;
      ts.tv_sec = wait / 1000000000ll;
      ts.tv_nsec = wait % 1000000000ll;
      tsp = &ts;
    }
    struct pollfd pfd = { .fd = fd, .events = POLLIN };
    int n = ppoll(&pfd, 1, tsp, &wait_mask);
    if (n < 0 && errno != EINTR) { perror("netdelay: ppoll"); return 71; }
    if (n <= 0) continue;
    if (drain(h, fd) < 0) return 71;
  }
  /* Stopping: what is still unread gets its verdict too, then everything held is accepted at once. */
  if (drain(h, fd) < 0) return 71;
  release(now_ns(), 1);
  unsigned long qd, ud;
  kernel_counters(&qd, &ud);
  printf("{\"packets\":%llu,\"delayed\":%llu,\"dropped\":%llu,\"unmatched\":%llu,\"maxQueueDepth\":%zu,"
         "\"lateVerdicts\":%llu,\"maxLateMs\":%.3f,\"enobufs\":%llu,\"verdictErrors\":%llu,\"kernelQueueDropped\":%lu,\"kernelUserDropped\":%lu}\n",
         (unsigned long long)count.packets, (unsigned long long)count.delayed, (unsigned long long)count.dropped,
         (unsigned long long)count.unmatched, count.max_depth, (unsigned long long)count.late, count.max_late_ns / 1e6,
         (unsigned long long)count.enobufs, (unsigned long long)count.verdict_errors, qd, ud);
  fflush(stdout);
  nfq_destroy_queue(qh);
  nfq_close(h);
  return 0;
}
