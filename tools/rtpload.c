/* RTP load generator of the media benchmark (tools/bench-media.mjs): N calls, each two streams (A->B
 * and B->A) of G.711 at 20 ms ptime through a relay, received on the other side.
 *
 *   rtpload PORTS_FILE SECONDS [--pid PID] [--family 4|6] [--warmup MS]
 *
 * PORTS_FILE has one call a line, "aLocal aRelay bLocal bRelay": party A has a socket on loopback at
 * aLocal and sends to the relay's aRelay; B has bLocal and sends to bRelay; what A sends must arrive at
 * B (from bRelay) and the other way round. Each datagram is 172 bytes: a 12-byte RTP header (V=2, PT 0
 * PCMU, sequence number +1 and timestamp +160 a packet, an SSRC a stream) and 160 payload bytes that
 * begin with the send time (CLOCK_MONOTONIC ns), a phase byte and the stream's number. The streams' send
 * times are spread evenly over the 20 ms. Packets sent during the warm-up (default 500 ms) are not
 * counted; after SECONDS of measured sending the receivers drain for 300 ms.
 *
 * Prints one JSON line: calls, streams, sent, received, lost (sent - received, measured packets),
 * misrouted (arrived at the wrong party), p50_us / p99_us / max_us (one-way latency through the relay:
 * receive time - send time), and with --pid the CPU time (utime + stime of /proc/PID/stat, every
 * thread) that process used during the measured seconds: cpu_us and cpu_us_per_pkt (per packet
 * received); loader_cpu_pct, this process's own CPU over the measured seconds in % of one core (near
 * 100: the generator, not the relay, is the limit). Exit 1 on a setup error (message on stderr). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define PTIME_NS 20000000LL
#define PKT 172
#define PAYLOAD 160
#define HIST_US 200000 /* latency histogram: 1 µs buckets up to 200 ms (beyond: the last bucket) */
#define BATCH 16
#define DRAIN_NS 300000000LL
#define EARLY_NS 100000LL /* a send due within 100 µs goes now (the streams' send times are spread) */
#define MAX_CALLS 20000

typedef struct {
  int fd;        /* the sending party's socket (connected to its relay port) */
  uint16_t seq;
  uint32_t ts, ssrc;
  uint64_t sent, received;
} stream;

static stream *streams; /* 2i: A->B of call i (A's socket), 2i+1: B->A */
static int nstreams;
static uint32_t hist[HIST_US + 1];
static uint64_t misrouted;

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int die(const char *what) {
  fprintf(stderr, "rtpload: %s: %s\n", what, strerror(errno));
  exit(1);
}

static socklen_t addr(int fam, uint16_t port, struct sockaddr_storage *ss) {
  memset(ss, 0, sizeof *ss);
  if (fam == 6) {
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
    a->sin6_family = AF_INET6;
    a->sin6_addr = in6addr_loopback;
    a->sin6_port = htons(port);
    return sizeof *a;
  }
  struct sockaddr_in *a = (struct sockaddr_in *)ss;
  a->sin_family = AF_INET;
  a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a->sin_port = htons(port);
  return sizeof *a;
}

/* A party's socket: bound at `local`, connected to the relay's `relay` port. */
static int party(int fam, uint16_t local, uint16_t relay) {
  int fd = socket(fam == 6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
  if (fd < 0) die("socket");
  int sz = 1 << 20;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
  struct sockaddr_storage ss;
  socklen_t len = addr(fam, local, &ss);
  if (bind(fd, (struct sockaddr *)&ss, len) != 0) {
    fprintf(stderr, "rtpload: bind port %u: %s\n", local, strerror(errno));
    exit(1);
  }
  len = addr(fam, relay, &ss);
  if (connect(fd, (struct sockaddr *)&ss, len) != 0) die("connect");
  return fd;
}

/* utime + stime of a process in µs, -1 when it cannot be read. */
static int64_t cpu_us(int pid) {
  char path[64], buf[1024];
  snprintf(path, sizeof path, "/proc/%d/stat", pid);
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = 0;
  char *p = strrchr(buf, ')'); /* the command name may hold spaces */
  if (!p) return -1;
  unsigned long long ut = 0, st = 0;
  /* after ")": state(3) ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime(14) stime(15) */
  if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2) return -1;
  return (int64_t)((ut + st) * 1000000ULL / (unsigned long long)sysconf(_SC_CLK_TCK));
}

/* This process's CPU time (user + system) in µs. */
static int64_t self_us(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (int64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000 + ru.ru_utime.tv_usec + ru.ru_stime.tv_usec;
}

static void send_one(int s, int64_t t, bool measured) {
  stream *st = &streams[s];
  uint8_t b[PKT];
  memset(b, 0xD5, sizeof b); /* PCMU silence */
  b[0] = 0x80;
  b[1] = 0;
  b[2] = (uint8_t)(st->seq >> 8);
  b[3] = (uint8_t)st->seq;
  uint32_t ts = htonl(st->ts), ssrc = htonl(st->ssrc);
  memcpy(b + 4, &ts, 4);
  memcpy(b + 8, &ssrc, 4);
  memcpy(b + 12, &t, 8);
  b[20] = measured;
  uint32_t id = (uint32_t)s;
  memcpy(b + 21, &id, 4);
  ssize_t r = send(st->fd, b, sizeof b, 0); /* a datagram the kernel refused counts as lost */
  (void)r;
  st->seq++;
  st->ts += PAYLOAD;
  if (measured) st->sent++;
}

/* Reads what waits on the socket of stream `self` (the receiving party's own sending stream). */
static void receive(int self) {
  static uint8_t bufs[BATCH][2048];
  static struct mmsghdr m[BATCH];
  static struct iovec iov[BATCH];
  for (int i = 0; i < BATCH; i++) {
    iov[i] = (struct iovec){.iov_base = bufs[i], .iov_len = sizeof bufs[i]};
    m[i].msg_hdr = (struct msghdr){.msg_iov = &iov[i], .msg_iovlen = 1};
  }
  for (int round = 0; round < 8; round++) {
    int n = recvmmsg(streams[self].fd, m, BATCH, MSG_DONTWAIT, NULL);
    if (n <= 0) return;
    int64_t t = now_ns();
    for (int i = 0; i < n; i++) {
      if (m[i].msg_len != PKT) continue;
      int64_t sent;
      uint32_t id;
      memcpy(&sent, bufs[i] + 12, 8);
      memcpy(&id, bufs[i] + 21, 4);
      if (id >= (uint32_t)nstreams || (id ^ 1u) != (uint32_t)self) {
        misrouted++;
        continue;
      }
      if (!bufs[i][20]) continue; /* warm-up */
      streams[id].received++;
      int64_t us = (t - sent) / 1000;
      hist[us < 0 ? 0 : us > HIST_US ? HIST_US : us]++;
    }
    if (n < BATCH) return;
  }
}

static int64_t percentile(uint64_t total, double q) {
  uint64_t want = (uint64_t)(q * (double)total), acc = 0;
  for (int i = 0; i <= HIST_US; i++) {
    acc += hist[i];
    if (acc > want) return i;
  }
  return HIST_US;
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: rtpload PORTS_FILE SECONDS [--pid PID] [--family 4|6] [--warmup MS]\n");
    return 2;
  }
  double seconds = atof(argv[2]);
  int pid = 0, fam = 4, warmup_ms = 500;
  for (int i = 3; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "--pid")) pid = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--family")) fam = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--warmup")) warmup_ms = atoi(argv[i + 1]);
  }
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  FILE *f = fopen(argv[1], "r");
  if (!f) die(argv[1]);
  streams = calloc(2 * MAX_CALLS, sizeof *streams);
  unsigned al, ar, bl, br;
  int calls = 0;
  srand((unsigned)getpid());
  while (calls < MAX_CALLS && fscanf(f, "%u %u %u %u", &al, &ar, &bl, &br) == 4) {
    streams[2 * calls].fd = party(fam, (uint16_t)al, (uint16_t)ar);
    streams[2 * calls + 1].fd = party(fam, (uint16_t)bl, (uint16_t)br);
    for (int k = 0; k < 2; k++) {
      stream *s = &streams[2 * calls + k];
      s->seq = (uint16_t)rand();
      s->ts = (uint32_t)rand();
      s->ssrc = (uint32_t)rand() ^ (uint32_t)(2 * calls + k);
    }
    calls++;
  }
  fclose(f);
  if (calls == 0) {
    fprintf(stderr, "rtpload: no calls in %s\n", argv[1]);
    return 1;
  }
  nstreams = 2 * calls;
  int ep = epoll_create1(0);
  if (ep < 0) die("epoll_create1");
  for (int s = 0; s < nstreams; s++) {
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)s};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, streams[s].fd, &ev) != 0) die("epoll_ctl");
  }

  int64_t t0 = now_ns();
  int64_t measure_from = t0 + (int64_t)warmup_ms * 1000000LL;
  int64_t end = measure_from + (int64_t)(seconds * 1e9);
  int64_t cpu0 = -1, cpu1 = -1, self0 = -1, self1 = -1;
  uint64_t j = 0; /* the next send: stream j % S of round j / S */
  struct epoll_event evs[256];
  for (;;) {
    int64_t t = now_ns();
    if (self0 < 0 && t >= measure_from) {
      if (pid) cpu0 = cpu_us(pid);
      self0 = self_us();
    }
    if (self1 < 0 && t >= end) {
      if (pid) cpu1 = cpu_us(pid);
      self1 = self_us();
    }
    if (t >= end + DRAIN_NS) break;
    int64_t due = 0;
    while (t < end) {
      uint64_t round = j / (uint64_t)nstreams, s = j % (uint64_t)nstreams;
      due = t0 + (int64_t)round * PTIME_NS + (int64_t)s * PTIME_NS / nstreams;
      if (due > t + EARLY_NS) break;
      send_one((int)s, now_ns(), due >= measure_from && due < end);
      j++;
    }
    /* sleep (reading what arrives) until the next send is due, within EARLY_NS: never spin */
    int64_t wait = (t < end ? due - EARLY_NS : end + DRAIN_NS) - now_ns();
    if (wait > 5000000) wait = 5000000;
    struct timespec to = {0, wait > 0 ? (long)wait : 0};
    int n = epoll_pwait2(ep, evs, 256, &to, NULL);
    for (int i = 0; i < n; i++) receive((int)evs[i].data.u32);
  }
  uint64_t sent = 0, received = 0;
  for (int s = 0; s < nstreams; s++) {
    sent += streams[s].sent;
    received += streams[s].received;
  }
  int64_t cpu = cpu0 >= 0 && cpu1 >= 0 ? cpu1 - cpu0 : -1;
  printf("{\"calls\":%d,\"streams\":%d,\"seconds\":%.1f,\"sent\":%llu,\"received\":%llu,\"lost\":%lld,\"misrouted\":%llu,"
         "\"p50_us\":%lld,\"p99_us\":%lld,\"max_us\":%lld,\"cpu_us\":%lld,\"cpu_us_per_pkt\":%.2f,\"loader_cpu_pct\":%.0f}\n",
         calls, nstreams, seconds, (unsigned long long)sent, (unsigned long long)received,
         (long long)sent - (long long)received, (unsigned long long)misrouted, (long long)percentile(received, 0.50),
         (long long)percentile(received, 0.99), (long long)percentile(received, 0.999999), (long long)cpu,
         cpu >= 0 && received ? (double)cpu / (double)received : -1.0, (double)(self1 - self0) / (seconds * 1e4));
  return 0;
}
