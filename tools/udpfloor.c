/* The floor of the media benchmark (tools/bench-media.mjs): the simplest UDP forwarder that does what a
 * relay must, with the syscalls a relay uses, and nothing else (no latching, no counters, no commands).
 *
 *   udpfloor PORTS_FILE [--family 4|6]
 *
 * For each line "aLocal aRelay bLocal bRelay" of PORTS_FILE (tools/rtpload.c): a socket on aRelay whose
 * datagrams go out of the bRelay socket to bLocal, and the other way round. One thread, epoll, batches
 * of recvmmsg / sendmmsg. Prints "ready" once bound; runs until SIGTERM or SIGINT. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define BATCH 32
#define MAX_CALLS 20000

typedef struct {
  int fd;                    /* bound at the relay port */
  struct sockaddr_storage to; /* where the other side's datagrams go (out of this socket) */
  socklen_t to_len;
} side;

static side *sides; /* 2i: aRelay (sends to aLocal), 2i+1: bRelay (sends to bLocal) */
static volatile sig_atomic_t stop;

static void on_signal(int sig) {
  (void)sig;
  stop = 1;
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

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: udpfloor PORTS_FILE [--family 4|6]\n");
    return 2;
  }
  int fam = argc > 3 && !strcmp(argv[2], "--family") ? atoi(argv[3]) : 4;
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  FILE *f = fopen(argv[1], "r");
  if (!f) {
    fprintf(stderr, "udpfloor: %s: %s\n", argv[1], strerror(errno));
    return 1;
  }
  sides = calloc(2 * MAX_CALLS, sizeof *sides);
  int ep = epoll_create1(0);
  unsigned port[4];
  int calls = 0;
  while (calls < MAX_CALLS && fscanf(f, "%u %u %u %u", &port[0], &port[1], &port[2], &port[3]) == 4) {
    for (int k = 0; k < 2; k++) {
      side *s = &sides[2 * calls + k];
      s->fd = socket(fam == 6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
      int sz = 256 * 1024;
      setsockopt(s->fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
      struct sockaddr_storage ss;
      socklen_t len = addr(fam, (uint16_t)port[2 * k + 1], &ss);
      if (s->fd < 0 || bind(s->fd, (struct sockaddr *)&ss, len) != 0) {
        fprintf(stderr, "udpfloor: bind port %u: %s\n", port[2 * k + 1], strerror(errno));
        return 1;
      }
      s->to_len = addr(fam, (uint16_t)port[2 * k], &s->to);
      struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)(2 * calls + k)};
      epoll_ctl(ep, EPOLL_CTL_ADD, s->fd, &ev);
    }
    calls++;
  }
  fclose(f);
  signal(SIGTERM, on_signal);
  signal(SIGINT, on_signal);
  printf("ready %d calls\n", calls);
  fflush(stdout);

  static uint8_t bufs[BATCH][2048];
  static struct mmsghdr m[BATCH];
  static struct iovec iov[BATCH];
  struct epoll_event evs[64];
  while (!stop) {
    int n = epoll_wait(ep, evs, 64, 200);
    for (int e = 0; e < n; e++) {
      side *in = &sides[evs[e].data.u32], *out = &sides[evs[e].data.u32 ^ 1u];
      for (int i = 0; i < BATCH; i++) {
        iov[i] = (struct iovec){.iov_base = bufs[i], .iov_len = sizeof bufs[i]};
        m[i].msg_hdr = (struct msghdr){.msg_iov = &iov[i], .msg_iovlen = 1};
      }
      int r = recvmmsg(in->fd, m, BATCH, MSG_DONTWAIT, NULL);
      if (r <= 0) continue;
      for (int i = 0; i < r; i++) {
        iov[i].iov_len = m[i].msg_len;
        m[i].msg_hdr.msg_name = &out->to;
        m[i].msg_hdr.msg_namelen = out->to_len;
      }
      sendmmsg(out->fd, m, (unsigned)r, MSG_DONTWAIT);
    }
  }
  return 0;
}
