/* Media relay engine of the native host (relay.h): one thread, epoll over non-blocking UDP sockets,
 * datagrams read with recvmmsg and sent with sendmmsg in batches of BATCH, forwarded in place (the
 * buffer a datagram was read into is the one sent).
 *
 *   legs      a table of cfg.max_legs entries allocated at start; a leg has one socket (RtcpMux) or
 *             two (RTP on port, RTCP on port + 1), its peer, its latched sources, its counters. The
 *             epoll tag of a socket is leg << 1 | rtcp.
 *   commands  main thread -> relay thread: a ring under a mutex (cmd_*), an eventfd in the epoll set
 *             wakes the thread; a full ring makes relay_open / relay_close wait (a condition variable)
 *             until the thread has taken some. Commands are applied in order, between batches.
 *   reports   relay thread -> main thread: a ring under a mutex (rep_*), an eventfd (relay_wake_fd)
 *             made readable on each push; a full ring drops the report and counts it.
 *   idle      every SWEEP_MS the thread walks the open legs (bounded by max_legs) and reports a leg
 *             whose stream (the leg and its partner) has had no packet for its idle time, once per Open.
 *   coalesce  from COALESCE_PPS datagrams a second on, a wake-up that found few sockets ready pauses
 *             COALESCE_US before the next epoll_wait: each wake-up then forwards a batch (CPU per
 *             datagram 6.7-8.7 µs instead of 8-19 at 20,000-80,000 a second, for up to 200 µs of delay).
 *
 * The relay thread never logs (log.c is single-threaded): its failures are reports (a bind) or
 * counters (a send: unsent). Times are CLOCK_MONOTONIC ms, read once per wake-up.
 *
 * Latching (symmetric RTP), the same rule as the Node host's (host/node/relay.ts). Each socket of a leg
 * (RTP; RTCP unless RtcpMux) learns where its party's packets come from, and the partner sends there.
 * Latching the first packet from anywhere lets a stranger who guesses a freshly opened port and sends
 * first take the stream ("RTP bleed"), so a packet's source is compared with the leg's SDP address and
 * port (the RTP port; the RTCP port on the RTCP socket) and is of one of three kinds:
 *   1 exact      the SDP's address and port: latches at once, replacing a latch of kind 2 or 3;
 *   2 same addr  the SDP's address at another port (a NAT that remaps ports): latches when nothing is
 *                latched yet, or replaces a latch of kind 3;
 *   3 other      another address: latches only when nothing is latched yet and the SDP's address cannot
 *                be where the party's packets come from: family not known (0), unspecified, or private
 *                or NAT-side (10/8, 172.16/12, 192.168/16, 100.64/10, 169.254/16, fc00::/7, fe80::/10,
 *                IPv4-mapped IPv6 of those). A phone behind NAT whose SDP shows its own private address
 *                still latches to its NAT's public address; one with a concrete (public, or loopback)
 *                address is only learnt from that address.
 * Any other packet is dropped and counted. A kind-1 latch is strict (no other source replaces it); an
 * Open that changes the leg's peer (a re-INVITE to another address) unlatches both sockets. */
#include "relay.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 32          /* datagrams per recvmmsg / sendmmsg */
/* Wake-up coalescing: once the relay forwards COALESCE_PPS datagrams a second or more (measured over
 * RATE_MS), a wake-up that found few sockets ready (fewer than COALESCE_EVENTS) is followed by a pause of
 * COALESCE_US before the next epoll_wait, so that the next one finds several datagrams a socket and a
 * wake-up is paid for a batch, not for each datagram. Below that rate a pause would find one datagram
 * or none and cost a wake-up of its own. At most COALESCE_US of added delay, far below a jitter buffer. */
#define COALESCE_PPS 10000
#define COALESCE_US 200
#define COALESCE_EVENTS 8
#define RATE_MS 100
#define PKT_MAX 2048      /* the largest datagram forwarded (RTP over Ethernet fits; larger: dropped) */
#define EVENTS 64         /* epoll events per wake-up */
#define SWEEP_MS 250      /* idle sweep period */
#define READS_PER_EVENT 4 /* batches read from one socket per wake-up (fairness between legs) */
#define SOCK_BUF (256 * 1024)
#define TAG_CMD UINT64_MAX /* epoll tag of the command eventfd */
#define RTP_GAP_MAX 3000  /* a sequence jump larger than this is a restart, not loss */

enum { CMD_OPEN = 1, CMD_CLOSE = 2, CMD_STOP = 3 };

typedef struct {
  int op;
  uint32_t leg, partner, call;
  uint16_t port, flags, peer_port, rtcp_port, idle_s, callid_len;
  uint8_t family, local, iface;
  uint8_t addr[16];
  char callid[RELAY_CALLID_MAX];
} command;

typedef struct {
  struct sockaddr_storage ss;
  socklen_t len; /* 0: none */
  uint8_t kind;  /* LATCH_* of the packet that latched it */
} endpoint;

enum { LATCH_EXACT = 1, LATCH_SAME_ADDR = 2, LATCH_OTHER = 3 }; /* the kinds of a source (the comment above) */

typedef struct {
  bool open;
  int fd[2];       /* RTP, RTCP (-1 with RtcpMux) */
  uint16_t port, flags, idle_s;
  uint8_t local, iface; /* the local family and the interface its sockets are bound on */
  uint32_t partner, call;
  uint8_t family;  /* the peer's: 0 = not known */
  uint8_t addr[16];
  uint16_t peer_port, rtcp_port;
  endpoint src[2]; /* latched sources of RTP and RTCP (len 0: not latched) */
  int64_t last_ms; /* last packet accepted on this leg, or its last Open */
  bool idle_reported;
  bool have_seq;
  uint16_t seq;
  uint64_t packets, bytes, gaps, dropped, unsent;
  uint16_t callid_len;
  char callid[RELAY_CALLID_MAX];
} leg_t;

static relay_config cfg;
static leg_t *legs;
static pthread_t thread;
static bool running;
static int epfd = -1, cmd_efd = -1, rep_efd = -1;
static char err_text[160];

static pthread_mutex_t cmd_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cmd_space = PTHREAD_COND_INITIALIZER; /* signalled per command taken */
static pthread_cond_t cmd_applied = PTHREAD_COND_INITIALIZER; /* broadcast per batch of commands applied */
static command *cmd_ring;
static uint32_t cmd_head, cmd_count, cmd_cap;
static uint64_t cmd_pushed, cmd_done; /* commands queued and applied since start (relay_sync) */

static pthread_mutex_t rep_mu = PTHREAD_MUTEX_INITIALIZER;
static relay_report *rep_ring;
static uint32_t rep_head, rep_count, rep_cap;
static _Atomic uint64_t rep_lost;
static _Atomic uint32_t legs_in_use;

/* The relay thread's packet buffers and message headers, allocated by relay_start (a host that runs
 * no relay carries none of it): datagrams are sent from the buffer they were read into. */
typedef struct {
  uint8_t bufs[BATCH][PKT_MAX];
  struct mmsghdr rx[BATCH], tx[2][BATCH];
  struct iovec rx_iov[BATCH], tx_iov[2][BATCH];
  struct sockaddr_storage rx_addr[BATCH], tx_addr[2][BATCH];
} io_t;
static io_t *io;

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

const char *relay_error(void) { return err_text; }

/* ---- reports (relay thread -> main thread) ------------------------------------------------ */

static void report(int kind, const leg_t *l, uint32_t leg) {
  pthread_mutex_lock(&rep_mu);
  if (rep_count == rep_cap) {
    pthread_mutex_unlock(&rep_mu);
    atomic_fetch_add(&rep_lost, 1);
    return;
  }
  relay_report *r = &rep_ring[(rep_head + rep_count) % rep_cap];
  memset(r, 0, offsetof(relay_report, callid));
  r->kind = kind;
  r->leg = leg;
  r->call = l->call;
  r->port = l->port;
  r->flags = l->flags;
  r->packets = l->packets;
  r->bytes = l->bytes;
  r->gaps = l->gaps;
  r->dropped = l->dropped;
  r->unsent = l->unsent;
  r->callid_len = l->callid_len;
  memcpy(r->callid, l->callid, l->callid_len);
  rep_count++;
  pthread_mutex_unlock(&rep_mu);
  uint64_t one = 1;
  ssize_t w = write(rep_efd, &one, sizeof one); /* only fails when the counter would overflow */
  (void)w;
}

int relay_poll_report(relay_report *out) {
  if (!rep_ring) return 0;
  pthread_mutex_lock(&rep_mu);
  if (rep_count == 0) {
    uint64_t v;
    ssize_t r = read(rep_efd, &v, sizeof v); /* nothing left: make the fd unreadable again */
    (void)r;
    pthread_mutex_unlock(&rep_mu);
    return 0;
  }
  *out = rep_ring[rep_head];
  rep_head = (rep_head + 1) % rep_cap;
  rep_count--;
  pthread_mutex_unlock(&rep_mu);
  return 1;
}

int relay_wake_fd(void) { return rep_efd; }
uint64_t relay_reports_lost(void) { return atomic_load(&rep_lost); }
uint32_t relay_legs_in_use(void) { return atomic_load(&legs_in_use); }

/* ---- commands (main thread -> relay thread) ----------------------------------------------- */

static void push_command(const command *c) {
  pthread_mutex_lock(&cmd_mu);
  while (cmd_count == cmd_cap) pthread_cond_wait(&cmd_space, &cmd_mu);
  cmd_ring[(cmd_head + cmd_count) % cmd_cap] = *c;
  cmd_count++;
  cmd_pushed++;
  pthread_mutex_unlock(&cmd_mu);
  uint64_t one = 1;
  ssize_t w = write(cmd_efd, &one, sizeof one);
  (void)w;
}

void relay_open(uint32_t leg, uint32_t partner, uint16_t port, uint16_t flags, int family, int local_family,
                const uint8_t addr[16], uint16_t peer_port, uint16_t rtcp_port, uint16_t idle_s, uint32_t call,
                const char *callid, size_t callid_len) {
  if (!running) return;
  command c;
  memset(&c, 0, offsetof(command, callid));
  c.op = CMD_OPEN;
  c.leg = leg;
  c.partner = partner;
  c.port = port;
  c.flags = flags;
  c.family = (uint8_t)family;
  c.local = (uint8_t)(local_family & 0xff);
  c.iface = (uint8_t)((unsigned)local_family >> 8 < RELAY_IFACES ? (unsigned)local_family >> 8 : 0);
  if (addr) memcpy(c.addr, addr, 16);
  c.peer_port = peer_port;
  c.rtcp_port = rtcp_port;
  c.idle_s = idle_s;
  c.call = call;
  c.callid_len = (uint16_t)(callid_len > RELAY_CALLID_MAX ? RELAY_CALLID_MAX : callid_len);
  if (c.callid_len) memcpy(c.callid, callid, c.callid_len);
  push_command(&c);
}

void relay_close(uint32_t leg) {
  if (!running) return;
  command c;
  memset(&c, 0, sizeof c);
  c.op = CMD_CLOSE;
  c.leg = leg;
  push_command(&c);
}

void relay_sync(void) {
  if (!running) return;
  pthread_mutex_lock(&cmd_mu);
  uint64_t want = cmd_pushed;
  while (cmd_done < want) pthread_cond_wait(&cmd_applied, &cmd_mu);
  pthread_mutex_unlock(&cmd_mu);
}

/* The record of docs/ABI.md "Media relay" (little-endian, as the core's memory). */
enum { R_OP = 0, R_LEG = 4, R_PARTNER = 8, R_PORT = 12, R_FLAGS = 14, R_FAMILY = 16, R_LOCAL = 17, R_PEER_PORT = 18,
       R_RTCP_PORT = 20, R_IDLE = 22, R_ADDR = 24, R_CALL = 40, R_CALLID_LEN = 44, R_IFACE = 46, R_CALLID = 48 };
static uint32_t rd32(const uint8_t *p) { return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24; }
static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }

int relay_apply_record(uint32_t op, const uint8_t *rec) {
  uint32_t leg = rd32(rec + R_LEG);
  if (op == 2) { /* SIP_RELAY_OP_CLOSE */
    relay_close(leg);
    return 0;
  }
  if (op != 1) return -1; /* SIP_RELAY_OP_OPEN */
  uint16_t n = rd16(rec + R_CALLID_LEN);
  if (n > RELAY_CALLID_MAX) n = RELAY_CALLID_MAX;
  relay_open(leg, rd32(rec + R_PARTNER), rd16(rec + R_PORT), rd16(rec + R_FLAGS), rec[R_FAMILY], rec[R_LOCAL] | rec[R_IFACE] << 8, rec + R_ADDR,
             rd16(rec + R_PEER_PORT), rd16(rec + R_RTCP_PORT), rd16(rec + R_IDLE), rd32(rec + R_CALL),
             (const char *)rec + R_CALLID, n);
  return 0;
}

/* ---- legs (relay thread) ------------------------------------------------------------------ */

static void unbind_leg(leg_t *l) {
  for (int i = 0; i < 2; i++)
    if (l->fd[i] >= 0) {
      close(l->fd[i]); /* also leaves the epoll set */
      l->fd[i] = -1;
    }
}

/* One non-blocking UDP socket on the leg's local address (of family `local` on interface `iface`) at
 * `port`, in the epoll set: fd or -1. */
static int bind_one(uint32_t leg, int rtcp, int local, int iface, uint16_t port) {
  const struct sockaddr_storage *b = local == 6 ? &cfg.bind6[iface] : &cfg.bind4[iface];
  int fam = local == 6 ? AF_INET6 : AF_INET;
  if (b->ss_family != fam || port == 0) return -1;
  int fd = socket(fam, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  struct sockaddr_storage a = *b;
  socklen_t len;
  if (fam == AF_INET6) {
    int on = 1;
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on);
    ((struct sockaddr_in6 *)&a)->sin6_port = htons(port);
    len = sizeof(struct sockaddr_in6);
  } else {
    ((struct sockaddr_in *)&a)->sin_port = htons(port);
    len = sizeof(struct sockaddr_in);
  }
  int sz = SOCK_BUF;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
  struct epoll_event ev = {.events = EPOLLIN, .data.u64 = (uint64_t)leg << 1 | (uint64_t)rtcp};
  if (bind(fd, (struct sockaddr *)&a, len) != 0 || epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

static bool same_peer(const leg_t *l, const command *c) {
  return l->family == c->family && l->peer_port == c->peer_port && l->rtcp_port == c->rtcp_port &&
         memcmp(l->addr, c->addr, c->family == 4 ? 4 : 16) == 0;
}

static void apply_open(const command *c, int64_t now) {
  if (c->leg >= cfg.max_legs || c->partner >= cfg.max_legs) return; /* a core bug: nothing to bind */
  leg_t *l = &legs[c->leg];
  bool mux = c->flags & 1; /* SIP_RELAY_FLAG_RTCP_MUX */
  bool was_open = l->open;
  bool rebind = !l->open || l->port != c->port || l->local != c->local || l->iface != c->iface || (l->fd[1] < 0) != mux;
  bool unlatch = !l->open || !same_peer(l, c);
  if (!was_open) {
    memset(l, 0, offsetof(leg_t, callid));
    l->fd[0] = l->fd[1] = -1;
  }
  l->flags = c->flags;
  l->partner = c->partner;
  l->idle_s = c->idle_s;
  l->call = c->call;
  l->callid_len = c->callid_len;
  memcpy(l->callid, c->callid, c->callid_len);
  l->family = c->family;
  memcpy(l->addr, c->addr, 16);
  l->peer_port = c->peer_port;
  l->rtcp_port = c->rtcp_port;
  l->last_ms = now;
  l->idle_reported = false;
  if (unlatch) l->src[0].len = l->src[1].len = 0;
  if (rebind) {
    unbind_leg(l);
    l->port = c->port;
    l->local = c->local;
    l->iface = c->iface;
    l->fd[0] = bind_one(c->leg, 0, c->local, c->iface, c->port);
    if (l->fd[0] >= 0 && !mux) {
      l->fd[1] = c->port < 65535 ? bind_one(c->leg, 1, c->local, c->iface, (uint16_t)(c->port + 1)) : -1;
      if (l->fd[1] < 0) unbind_leg(l);
    }
    if (l->fd[0] < 0) {
      l->open = false;
      if (was_open) atomic_fetch_sub(&legs_in_use, 1);
      report(RELAY_BIND_FAILED, l, c->leg);
      return;
    }
  }
  if (!was_open) atomic_fetch_add(&legs_in_use, 1);
  l->open = true;
}

static void apply_close(uint32_t leg) {
  if (leg >= cfg.max_legs || !legs[leg].open) return;
  leg_t *l = &legs[leg];
  unbind_leg(l);
  l->open = false;
  atomic_fetch_sub(&legs_in_use, 1);
  report(RELAY_CLOSED, l, leg);
}

/* Applies every queued command; false once CMD_STOP was taken. */
static bool drain_commands(int64_t now) {
  uint64_t v;
  ssize_t r = read(cmd_efd, &v, sizeof v);
  (void)r;
  uint64_t applied = 0;
  for (;;) {
    command c;
    pthread_mutex_lock(&cmd_mu);
    if (applied) {
      cmd_done += applied;
      applied = 0;
      pthread_cond_broadcast(&cmd_applied);
    }
    if (cmd_count == 0) {
      pthread_mutex_unlock(&cmd_mu);
      return true;
    }
    c = cmd_ring[cmd_head];
    cmd_head = (cmd_head + 1) % cmd_cap;
    cmd_count--;
    pthread_cond_signal(&cmd_space);
    pthread_mutex_unlock(&cmd_mu);
    if (c.op == CMD_STOP) {
      /* the legs still open end now: their counters go to the main thread like a Close's */
      for (uint32_t i = 0; i < cfg.max_legs; i++) apply_close(i);
      return false;
    }
    if (c.op == CMD_OPEN) apply_open(&c, now);
    else if (c.op == CMD_CLOSE) apply_close(c.leg);
    applied++;
  }
}

/* ---- forwarding (relay thread) ------------------------------------------------------------ */

static bool same_source(const endpoint *e, const struct sockaddr_storage *a, socklen_t len) {
  if (e->len != len || e->ss.ss_family != a->ss_family) return false;
  if (a->ss_family == AF_INET) {
    const struct sockaddr_in *x = (const struct sockaddr_in *)&e->ss, *y = (const struct sockaddr_in *)a;
    return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
  }
  const struct sockaddr_in6 *x = (const struct sockaddr_in6 *)&e->ss, *y = (const struct sockaddr_in6 *)a;
  return x->sin6_port == y->sin6_port && memcmp(&x->sin6_addr, &y->sin6_addr, 16) == 0;
}

/* Address bytes `a` of `family` (4: 4 bytes, 6: 16) with IPv4-mapped IPv6 folded to IPv4: the family, the
 * bytes in *v. */
static int fold_addr(int family, const uint8_t *a, const uint8_t **v) {
  static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (family == 6 && memcmp(a, mapped, 12) == 0) {
    *v = a + 12;
    return 4;
  }
  *v = a;
  return family;
}

/* True when the leg's SDP address cannot be where its party's packets come from (kind 3 may latch):
 * family not known, unspecified, private or NAT-side. Loopback is a concrete address. */
static bool sdp_addr_unreliable(const leg_t *l) {
  if (l->family != 4 && l->family != 6) return true;
  const uint8_t *a;
  if (fold_addr(l->family, l->addr, &a) == 4)
    return (a[0] == 0 && a[1] == 0 && a[2] == 0 && a[3] == 0) || a[0] == 10 || (a[0] == 172 && (a[1] & 0xf0) == 16) ||
           (a[0] == 192 && a[1] == 168) || (a[0] == 100 && (a[1] & 0xc0) == 64) || (a[0] == 169 && a[1] == 254);
  static const uint8_t zero[16];
  return memcmp(a, zero, 16) == 0 || (a[0] & 0xfe) == 0xfc || (a[0] == 0xfe && (a[1] & 0xc0) == 0x80);
}

/* The kind (LATCH_*) of a packet from `from` on socket s (0 RTP, 1 RTCP) of leg l. */
static int latch_kind(const leg_t *l, int s, const struct sockaddr_storage *from) {
  if (l->family != 4 && l->family != 6) return LATCH_OTHER;
  const uint8_t *sdp, *src;
  int sf = fold_addr(l->family, l->addr, &sdp), ff;
  uint16_t port;
  if (from->ss_family == AF_INET) {
    const struct sockaddr_in *a = (const struct sockaddr_in *)from;
    src = (const uint8_t *)&a->sin_addr;
    ff = 4;
    port = ntohs(a->sin_port);
  } else if (from->ss_family == AF_INET6) {
    const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)from;
    ff = fold_addr(6, (const uint8_t *)&a->sin6_addr, &src);
    port = ntohs(a->sin6_port);
  } else {
    return LATCH_OTHER;
  }
  if (ff != sf || memcmp(src, sdp, ff == 4 ? 4 : 16) != 0) return LATCH_OTHER;
  return port == (s == 1 ? l->rtcp_port : l->peer_port) ? LATCH_EXACT : LATCH_SAME_ADDR;
}

/* True when a packet of `kind` may latch socket latch `e` of leg l (set it, or replace its source). */
static bool may_latch(const leg_t *l, const endpoint *e, int kind) {
  if (kind == LATCH_EXACT) return e->len == 0 || e->kind != LATCH_EXACT;
  if (kind == LATCH_SAME_ADDR) return e->len == 0 || e->kind == LATCH_OTHER;
  return e->len == 0 && sdp_addr_unreliable(l);
}

/* The peer's address from the record at `port` into *out: false when the family is not known. */
static bool peer_addr(const leg_t *p, uint16_t port, struct sockaddr_storage *out, socklen_t *len) {
  if (p->family == 4) {
    struct sockaddr_in *a = (struct sockaddr_in *)out;
    memset(a, 0, sizeof *a);
    a->sin_family = AF_INET;
    memcpy(&a->sin_addr, p->addr, 4);
    a->sin_port = htons(port);
    *len = sizeof *a;
    return true;
  }
  if (p->family == 6) {
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)out;
    memset(a, 0, sizeof *a);
    a->sin6_family = AF_INET6;
    memcpy(&a->sin6_addr, p->addr, 16);
    a->sin6_port = htons(port);
    *len = sizeof *a;
    return true;
  }
  return false;
}

/* Where leg p sends RTP (rtcp 0) or RTCP (1): the latched source of that socket; else the peer of the
 * record; an RTCP socket not latched yet whose RTP source latched elsewhere than the record's peer
 * (a NAT) sends to that source's address at its port + 1. False when not known, or of another family
 * than the socket. */
static bool destination(const leg_t *p, int rtcp, struct sockaddr_storage *out, socklen_t *len) {
  bool mux = p->fd[1] < 0;
  int s = mux ? 0 : rtcp;
  if (p->src[s].len) {
    *out = p->src[s].ss;
    *len = p->src[s].len;
  } else if (s == 1 && p->src[0].len) {
    struct sockaddr_storage sdp;
    socklen_t sl;
    if (peer_addr(p, p->peer_port, &sdp, &sl) && same_source(&p->src[0], &sdp, sl)) {
      peer_addr(p, p->rtcp_port, out, len);
    } else {
      *out = p->src[0].ss;
      *len = p->src[0].len;
      if (out->ss_family == AF_INET) {
        struct sockaddr_in *a = (struct sockaddr_in *)out;
        a->sin_port = htons((uint16_t)(ntohs(a->sin_port) + 1));
      } else {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)out;
        a->sin6_port = htons((uint16_t)(ntohs(a->sin6_port) + 1));
      }
    }
  } else if (!peer_addr(p, s == 1 ? p->rtcp_port : p->peer_port, out, len)) {
    return false;
  }
  return out->ss_family == (p->local == 6 ? AF_INET6 : AF_INET);
}

static bool is_rtcp_mux(const uint8_t *b, unsigned n) { return n >= 2 && b[1] >= 192 && b[1] <= 223; }

static void count_rtp(leg_t *l, const uint8_t *b, unsigned n) {
  if (n < 12 || (b[0] >> 6) != 2) return;
  uint16_t seq = (uint16_t)(b[2] << 8 | b[3]);
  if (l->have_seq) {
    uint16_t d = (uint16_t)(seq - l->seq);
    if (d == 0 || d >= 0x8000) return; /* duplicate or late: the highest seen stays */
    if (d <= RTP_GAP_MAX) l->gaps += d - 1u;
  }
  l->have_seq = true;
  l->seq = seq;
}

static void flush_tx(leg_t *p, int s, unsigned n, leg_t *from) {
  unsigned done = 0;
  for (int tries = 0; done < n && tries < 4; tries++) {
    int r = sendmmsg(p->fd[s], io->tx[s] + done, n - done, MSG_DONTWAIT);
    if (r < 0) {
      if (errno == EINTR) continue;
      done++; /* skip the datagram that failed (EAGAIN: the socket buffer is full; a bad address) */
      from->unsent++;
      continue;
    }
    done += (unsigned)r;
  }
  if (done < n) from->unsent += n - done;
}

static uint64_t forwarded; /* datagrams read by the relay thread (its rate decides coalescing) */

/* Reads and forwards what waits on socket `s` (0 RTP, 1 RTCP) of leg `li`. */
static void forward(uint32_t li, int s, int64_t now) {
  leg_t *l = &legs[li];
  for (int round = 0; round < READS_PER_EVENT && l->open && l->fd[s] >= 0; round++) {
    for (unsigned i = 0; i < BATCH; i++) {
      io->rx[i].msg_hdr.msg_namelen = sizeof io->rx_addr[i];
      io->rx[i].msg_hdr.msg_flags = 0;
    }
    int n = recvmmsg(l->fd[s], io->rx, BATCH, MSG_DONTWAIT, NULL);
    if (n <= 0) return;
    forwarded += (uint64_t)n;
    leg_t *p = l->partner < cfg.max_legs ? &legs[l->partner] : NULL;
    if (p && !p->open) p = NULL;
    unsigned nt[2] = {0, 0};
    struct sockaddr_storage dst[2];
    socklen_t dlen[2];
    bool have[2] = {false, false}, known[2] = {false, false};
    for (int i = 0; i < n; i++) {
      const struct sockaddr_storage *from = &io->rx_addr[i];
      socklen_t flen = io->rx[i].msg_hdr.msg_namelen;
      unsigned len = io->rx[i].msg_len;
      if (io->rx[i].msg_hdr.msg_flags & MSG_TRUNC) {
        l->dropped++;
        continue;
      }
      endpoint *latch = &l->src[s];
      if (latch->len == 0 || !same_source(latch, from, flen)) { /* not from the latched source: latch? */
        int k = latch_kind(l, s, from);
        if (!may_latch(l, latch, k)) {
          l->dropped++;
          continue;
        }
        memcpy(&latch->ss, from, flen);
        latch->len = flen;
        latch->kind = (uint8_t)k;
      }
      const uint8_t *b = io->bufs[i];
      /* RTCP on the RTP port is RTCP (RFC 5761 §4: payload types 64..95 are never RTP's), on a muxed leg
       * and on one whose party muxes though its answer did not agree (browsers always do) */
      int kind = s == 1 ? 1 : is_rtcp_mux(b, len) ? 1 : 0;
      l->packets++;
      l->bytes += len;
      l->last_ms = now;
      if (kind == 0) count_rtp(l, b, len);
      if (!p) {
        l->unsent++;
        continue;
      }
      int out = p->fd[1] >= 0 ? kind : 0; /* the partner's socket */
      if (!known[kind]) {
        known[kind] = true;
        have[kind] = destination(p, kind, &dst[kind], &dlen[kind]);
      }
      if (!have[kind]) {
        l->unsent++;
        continue;
      }
      unsigned k = nt[out]++;
      io->tx_iov[out][k].iov_base = io->bufs[i];
      io->tx_iov[out][k].iov_len = len;
      memcpy(&io->tx_addr[out][k], &dst[kind], dlen[kind]);
      io->tx[out][k].msg_hdr.msg_namelen = dlen[kind];
    }
    for (int o = 0; o < 2; o++)
      if (nt[o]) flush_tx(p, o, nt[o], l);
    if (n < BATCH) return;
  }
}

static void sweep_idle(int64_t now) {
  for (uint32_t i = 0; i < cfg.max_legs; i++) {
    leg_t *l = &legs[i];
    if (!l->open || l->idle_s == 0 || l->idle_reported) continue;
    int64_t last = l->last_ms;
    if (l->partner < cfg.max_legs && legs[l->partner].open && legs[l->partner].last_ms > last)
      last = legs[l->partner].last_ms;
    if (now - last >= (int64_t)l->idle_s * 1000) {
      l->idle_reported = true;
      report(RELAY_IDLE, l, i);
    }
  }
}

static void *relay_main(void *arg) {
  (void)arg;
  struct epoll_event ev[EVENTS];
  int64_t now = now_ms(), next_sweep = now + SWEEP_MS, rate_at = now;
  uint64_t rate_mark = 0;
  bool coalesce = false;
  for (;;) {
    int wait = next_sweep > now ? (int)(next_sweep - now) : 0;
    int n = epoll_wait(epfd, ev, EVENTS, wait);
    if (n < 0 && errno != EINTR) break; /* cannot happen with a valid epfd */
    now = now_ms();
    /* the main thread's records first: one queued before the SIP message that made a party send (the
     * host posts them before its transmits) is applied before that party's packets are forwarded */
    for (int i = 0; i < n; i++)
      if (ev[i].data.u64 == TAG_CMD && !drain_commands(now)) return NULL;
    for (int i = 0; i < n; i++) {
      uint64_t tag = ev[i].data.u64;
      if (tag == TAG_CMD) continue;
      uint32_t li = (uint32_t)(tag >> 1);
      if (li < cfg.max_legs) forward(li, (int)(tag & 1), now);
    }
    if (now >= next_sweep) {
      sweep_idle(now);
      next_sweep = now + SWEEP_MS;
    }
    if (now - rate_at >= RATE_MS) {
      coalesce = (forwarded - rate_mark) * 1000 >= (uint64_t)COALESCE_PPS * (uint64_t)(now - rate_at);
      rate_mark = forwarded;
      rate_at = now;
    }
    if (coalesce && n > 0 && n < COALESCE_EVENTS) {
      struct timespec ts = {0, COALESCE_US * 1000L};
      nanosleep(&ts, NULL);
    }
  }
  return NULL;
}

/* ---- start and stop (main thread) --------------------------------------------------------- */

static int fail(const char *what) {
  snprintf(err_text, sizeof err_text, "relay: %s: %s", what, strerror(errno));
  relay_stop();
  return -1;
}

int relay_start(const relay_config *c) {
  if (running) {
    snprintf(err_text, sizeof err_text, "relay: already started");
    return -1;
  }
  if (c->max_legs == 0 || c->max_legs > (1u << 24)) {
    snprintf(err_text, sizeof err_text, "relay: max_legs %u out of 1..16777216", c->max_legs);
    return -1;
  }
  cfg = *c;
  cmd_cap = rep_cap = cfg.queue ? cfg.queue : 2 * cfg.max_legs + 64;
  cmd_head = cmd_count = rep_head = rep_count = 0;
  cmd_pushed = cmd_done = 0;
  atomic_store(&rep_lost, 0);
  atomic_store(&legs_in_use, 0);
  legs = calloc(cfg.max_legs, sizeof *legs);
  cmd_ring = calloc(cmd_cap, sizeof *cmd_ring);
  rep_ring = calloc(rep_cap, sizeof *rep_ring);
  io = calloc(1, sizeof *io);
  if (!legs || !cmd_ring || !rep_ring || !io) return fail("out of memory");
  for (uint32_t i = 0; i < cfg.max_legs; i++) legs[i].fd[0] = legs[i].fd[1] = -1;
  for (unsigned i = 0; i < BATCH; i++) {
    io->rx_iov[i] = (struct iovec){.iov_base = io->bufs[i], .iov_len = PKT_MAX};
    io->rx[i].msg_hdr = (struct msghdr){.msg_name = &io->rx_addr[i], .msg_namelen = sizeof io->rx_addr[i], .msg_iov = &io->rx_iov[i], .msg_iovlen = 1};
    for (int o = 0; o < 2; o++)
      io->tx[o][i].msg_hdr = (struct msghdr){.msg_name = &io->tx_addr[o][i], .msg_iov = &io->tx_iov[o][i], .msg_iovlen = 1};
  }
  epfd = epoll_create1(EPOLL_CLOEXEC);
  if (epfd < 0) return fail("epoll_create1");
  cmd_efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  rep_efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (cmd_efd < 0 || rep_efd < 0) return fail("eventfd");
  struct epoll_event ev = {.events = EPOLLIN, .data.u64 = TAG_CMD};
  if (epoll_ctl(epfd, EPOLL_CTL_ADD, cmd_efd, &ev) != 0) return fail("epoll_ctl");
  /* the thread takes no signal: they stay the main loop's (a handler run on this thread would not
   * interrupt the main thread's poll) */
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  int e = pthread_create(&thread, NULL, relay_main, NULL);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (e != 0) {
    errno = e;
    return fail("pthread_create");
  }
  running = true;
  return 0;
}

void relay_quiesce(void) {
  if (!running) return;
  command c;
  memset(&c, 0, sizeof c);
  c.op = CMD_STOP;
  push_command(&c);
  pthread_join(thread, NULL);
  running = false;
}

void relay_stop(void) {
  relay_quiesce();
  if (legs)
    for (uint32_t i = 0; i < cfg.max_legs; i++) unbind_leg(&legs[i]);
  free(legs);
  free(cmd_ring);
  free(rep_ring);
  free(io);
  legs = NULL;
  cmd_ring = NULL;
  rep_ring = NULL;
  io = NULL;
  if (epfd >= 0) close(epfd);
  if (cmd_efd >= 0) close(cmd_efd);
  if (rep_efd >= 0) close(rep_efd);
  epfd = cmd_efd = rep_efd = -1;
}
