/* Test driver of the native media relay engine (host/c/relay.c), run by tests/hosts/relay-c.test.mjs:
 * `driver SCENARIO FAMILY` (FAMILY 4 or 6: 127.0.0.1 or ::1) starts the relay, plays one scenario with
 * real UDP sockets on loopback standing for the parties, and prints "ok SCENARIO" and exits 0, or
 * prints "FAIL: ..." and exits 1 at the first check that does not hold. Every wait is bounded. */
#include "relay.h"
#include "numbers.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int fam = 4;
static const char *scenario = "";
static uint16_t base; /* the relay's first port of this run (legs at base, base + 2, ...) */

static void fail(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  printf("FAIL: %s (IPv%d): ", scenario, fam);
  vprintf(fmt, ap);
  printf("\n");
  va_end(ap);
  fflush(stdout);
  relay_stop();
  exit(1);
}

#define CHECK(cond, ...) \
  do {                   \
    if (!(cond)) fail(__VA_ARGS__); \
  } while (0)

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* An address of this run's family from its 16 record bytes (IPv4 in the first 4) at `port`. */
static socklen_t make_addr_at(struct sockaddr_storage *ss, const uint8_t addr[16], uint16_t port) {
  memset(ss, 0, sizeof *ss);
  if (fam == 6) {
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
    a->sin6_family = AF_INET6;
    memcpy(&a->sin6_addr, addr, 16);
    a->sin6_port = htons(port);
    return sizeof *a;
  }
  struct sockaddr_in *a = (struct sockaddr_in *)ss;
  a->sin_family = AF_INET;
  memcpy(&a->sin_addr, addr, 4);
  a->sin_port = htons(port);
  return sizeof *a;
}

/* The IPv6 address of the relay and the parties: ::1, or 2001:db8::1 for "nat" (its namespace has it on lo:
 * a packet from ::1 does not reach another address). */
static struct in6_addr loop6;

static socklen_t make_addr(struct sockaddr_storage *ss, uint16_t port) {
  memset(ss, 0, sizeof *ss);
  if (fam == 6) {
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
    a->sin6_family = AF_INET6;
    a->sin6_addr = loop6;
    a->sin6_port = htons(port);
    return sizeof *a;
  }
  struct sockaddr_in *a = (struct sockaddr_in *)ss;
  a->sin_family = AF_INET;
  a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a->sin_port = htons(port);
  return sizeof *a;
}

static uint16_t port_of(const struct sockaddr_storage *ss) {
  return ntohs(ss->ss_family == AF_INET6 ? ((const struct sockaddr_in6 *)ss)->sin6_port
                                         : ((const struct sockaddr_in *)ss)->sin_port);
}

/* A party's socket at address `addr` (16 record bytes; NULL: loopback) and `port` (0: any); its port in
 * *bound. */
static int party_at(const uint8_t *addr, uint16_t port, uint16_t *bound) {
  int fd = socket(fam == 6 ? AF_INET6 : AF_INET, SOCK_DGRAM, 0);
  CHECK(fd >= 0, "socket: %s", strerror(errno));
  struct sockaddr_storage ss;
  socklen_t len = addr ? make_addr_at(&ss, addr, port) : make_addr(&ss, port);
  CHECK(bind(fd, (struct sockaddr *)&ss, len) == 0, "bind party port %u: %s", port, strerror(errno));
  len = sizeof ss;
  getsockname(fd, (struct sockaddr *)&ss, &len);
  if (bound) *bound = port_of(&ss);
  return fd;
}

/* A party's socket on loopback at `port` (0: any); its port in *bound. */
static int party(uint16_t port, uint16_t *bound) { return party_at(NULL, port, bound); }

/* True when `n` consecutive ports from p can be bound now. */
static bool ports_free(uint16_t p, int n) {
  int fds[8];
  int k = 0;
  bool ok = true;
  for (; k < n && ok; k++) {
    fds[k] = socket(fam == 6 ? AF_INET6 : AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_storage ss;
    socklen_t len = make_addr(&ss, (uint16_t)(p + k));
    if (bind(fds[k], (struct sockaddr *)&ss, len) != 0) ok = false;
  }
  for (int i = 0; i < k; i++) close(fds[i]);
  return ok;
}

static void send_to(int fd, uint16_t port, const void *buf, size_t n) {
  struct sockaddr_storage ss;
  socklen_t len = make_addr(&ss, port);
  CHECK(sendto(fd, buf, n, 0, (struct sockaddr *)&ss, len) == (ssize_t)n, "sendto %u: %s", port, strerror(errno));
}

/* Waits up to ms for a datagram on fd: its length (and the sender's port), or -1. */
static int recv_wait(int fd, int ms, uint8_t *buf, size_t cap, uint16_t *from) {
  struct pollfd p = {.fd = fd, .events = POLLIN};
  if (poll(&p, 1, ms) != 1) return -1;
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  ssize_t n = recvfrom(fd, buf, cap, 0, (struct sockaddr *)&ss, &len);
  if (n < 0) return -1;
  if (from) *from = port_of(&ss);
  return (int)n;
}

/* An RTP packet: 12-byte header (V=2, PT 0), payload of `n` bytes holding `mark`. */
static size_t rtp(uint8_t *b, uint16_t seq, uint8_t mark, size_t n) {
  memset(b, 0, 12 + n);
  b[0] = 0x80;
  b[1] = 0;
  b[2] = (uint8_t)(seq >> 8);
  b[3] = (uint8_t)seq;
  b[11] = 0x42; /* SSRC */
  memset(b + 12, mark, n);
  return 12 + n;
}

/* An RTCP receiver report (PT 201), 8 bytes, its SSRC's last byte `mark`. */
static size_t rtcp(uint8_t *b, uint8_t mark) {
  memset(b, 0, 8);
  b[0] = 0x80;
  b[1] = 201;
  b[3] = 1;
  b[7] = mark;
  return 8;
}

/* Expects a datagram on fd within 3 s, from relay port `from`, starting like `want` (it comes within
 * milliseconds; the margin is for a machine busy with other work: CI48 saw one not in 1 s). */
static void expect(int fd, uint16_t from, const uint8_t *want, size_t n, const char *what) {
  uint8_t buf[2048];
  uint16_t src = 0;
  int got = recv_wait(fd, 3000, buf, sizeof buf, &src);
  CHECK(got >= 0, "%s: nothing arrived within 3 s", what);
  CHECK(got == (int)n && memcmp(buf, want, n) == 0, "%s: a different datagram arrived (%d bytes, want %zu)", what, got, n);
  CHECK(src == from, "%s: came from port %u, want the relay's %u", what, src, from);
}

/* Expects no datagram on fd for ms. */
static void expect_none(int fd, int ms, const char *what) {
  uint8_t buf[2048];
  int got = recv_wait(fd, ms, buf, sizeof buf, NULL);
  CHECK(got < 0, "%s: a datagram of %d bytes arrived", what, got);
}

static relay_report reports[64];
static int nreports;

/* Waits up to ms for a report of kind on leg (reports are kept as they come). */
static relay_report *wait_report(int kind, uint32_t leg, int ms) {
  int64_t until = now_ms() + ms;
  for (;;) {
    for (int i = 0; i < nreports; i++)
      if (reports[i].kind == kind && reports[i].leg == leg) return &reports[i];
    int64_t left = until - now_ms();
    if (left <= 0) return NULL;
    struct pollfd p = {.fd = relay_wake_fd(), .events = POLLIN};
    poll(&p, 1, (int)left);
    relay_report r;
    while (nreports < 64 && relay_poll_report(&r)) reports[nreports++] = r;
  }
}

static uint8_t loop_addr[16];

static void open_leg(uint32_t leg, uint32_t partner, uint16_t port, uint16_t flags, uint16_t peer, uint16_t rtcp_port,
                     uint16_t idle) {
  relay_open(leg, partner, port, flags, peer ? fam : 0, fam, loop_addr, peer, rtcp_port, idle, 7, "call-7@test", 11);
  relay_sync();
}

/* Opens leg with its peer at `addr` (16 record bytes) of family `family` (0: not known). */
static void open_leg_at(uint32_t leg, uint32_t partner, uint16_t port, int family, const uint8_t *addr, uint16_t peer,
                        uint16_t rtcp_port) {
  relay_open(leg, partner, port, 0, family, fam, addr, peer, rtcp_port, 0, 7, "call-7@test", 11);
  relay_sync();
}

/* The 16 record bytes of an address in text of this run's family (IPv4 in the first 4 bytes). */
static const uint8_t *addr_of(const char *text) {
  static uint8_t b[8][16];
  static int next;
  uint8_t *a = b[next++ % 8];
  memset(a, 0, 16);
  CHECK(inet_pton(fam == 6 ? AF_INET6 : AF_INET, text, a) == 1, "bad address %s", text);
  return a;
}

/* Closes leg and checks its Closed report's packets and dropped. */
static void close_and_count(uint32_t leg, uint64_t packets, uint64_t dropped) {
  relay_close(leg);
  relay_report *r = wait_report(RELAY_CLOSED, leg, 1000);
  CHECK(r, "no Closed report for leg %u", leg);
  CHECK(r->packets == packets && r->dropped == dropped, "leg %u packets %llu dropped %llu, want %llu and %llu", leg,
        (unsigned long long)r->packets, (unsigned long long)r->dropped, (unsigned long long)packets,
        (unsigned long long)dropped);
}

/* ---- scenarios ---------------------------------------------------------------------------- */

/* RTP and RTCP both ways between two parties that send from where their SDP says. */
static void s_forward(void) {
  uint16_t ar, ac, br, bc;
  int a_rtp = party(0, &ar), a_rtcp = party(0, &ac), b_rtp = party(0, &br), b_rtcp = party(0, &bc);
  open_leg(0, 1, base, 0, ar, ac, 0);
  open_leg(1, 0, (uint16_t)(base + 2), 0, br, bc, 0);
  uint8_t p[256];
  for (int i = 0; i < 3; i++) {
    size_t n = rtp(p, (uint16_t)(100 + i), 0xA0, 160);
    send_to(a_rtp, base, p, n);
    expect(b_rtp, (uint16_t)(base + 2), p, n, "RTP A->B");
    n = rtp(p, (uint16_t)(500 + i), 0xB0, 160);
    send_to(b_rtp, (uint16_t)(base + 2), p, n);
    expect(a_rtp, base, p, n, "RTP B->A");
  }
  size_t n = rtcp(p, 1);
  send_to(a_rtcp, (uint16_t)(base + 1), p, n);
  expect(b_rtcp, (uint16_t)(base + 3), p, n, "RTCP A->B");
  expect_none(b_rtp, 100, "RTCP A->B must not reach B's RTP socket");
  n = rtcp(p, 2);
  send_to(b_rtcp, (uint16_t)(base + 3), p, n);
  expect(a_rtcp, (uint16_t)(base + 1), p, n, "RTCP B->A");
  CHECK(relay_legs_in_use() == 2, "legs in use %u, want 2", relay_legs_in_use());
}

/* The core's record (docs/ABI.md layout, little-endian) through relay_apply_record: the same forwarding,
 * the Call-ID and flags in the Closed report, an unknown op refused. */
static void s_record(void) {
  uint16_t ar, ac, br, bc;
  int a = party(0, &ar), b = party(0, &br);
  party(0, &ac);
  party(0, &bc);
  uint8_t rec[48 + 16];
  const struct { uint32_t leg, partner; uint16_t port, peer, rtcp; } L[2] = {{0, 1, base, ar, ac}, {1, 0, (uint16_t)(base + 2), br, bc}};
  for (int k = 0; k < 2; k++) {
    memset(rec, 0, sizeof rec);
    rec[0] = 1; /* Open */
    rec[4] = (uint8_t)L[k].leg;
    rec[8] = (uint8_t)L[k].partner;
    rec[12] = (uint8_t)L[k].port, rec[13] = (uint8_t)(L[k].port >> 8);
    rec[14] = SIP_RELAY_FLAG_VIDEO;
    rec[16] = (uint8_t)fam, rec[17] = (uint8_t)fam;
    rec[18] = (uint8_t)L[k].peer, rec[19] = (uint8_t)(L[k].peer >> 8);
    rec[20] = (uint8_t)L[k].rtcp, rec[21] = (uint8_t)(L[k].rtcp >> 8);
    rec[22] = 30; /* idle */
    memcpy(rec + 24, loop_addr, 16);
    rec[40] = 0x34, rec[41] = 0x12; /* call 0x1234 */
    rec[44] = 16;
    memcpy(rec + 48, "abcdef0123456789", 16);
    CHECK(relay_apply_record(SIP_RELAY_OP_OPEN, rec) == 0, "relay_apply_record(Open) refused");
  }
  CHECK(relay_apply_record(9, rec) == -1, "an unknown op was accepted");
  relay_sync();
  uint8_t p[256];
  size_t n = rtp(p, 5, 0xA1, 160);
  send_to(a, base, p, n);
  expect(b, (uint16_t)(base + 2), p, n, "A->B opened by a record");
  n = rtp(p, 6, 0xB1, 160);
  send_to(b, (uint16_t)(base + 2), p, n);
  expect(a, base, p, n, "B->A opened by a record");
  memset(rec, 0, sizeof rec);
  rec[0] = 2;
  rec[4] = 1;
  CHECK(relay_apply_record(SIP_RELAY_OP_CLOSE, rec) == 0, "relay_apply_record(Close) refused");
  relay_report *r = wait_report(RELAY_CLOSED, 1, 1000);
  CHECK(r, "no Closed report for leg 1");
  CHECK(r->call == 0x1234 && r->flags == SIP_RELAY_FLAG_VIDEO && r->port == base + 2 && r->packets == 1,
        "leg 1's report: call %x flags %u port %u packets %llu", r->call, r->flags, r->port, (unsigned long long)r->packets);
  CHECK(r->callid_len == 16 && memcmp(r->callid, "abcdef0123456789", 16) == 0, "leg 1's Call-ID");
}

/* RtcpMux on both legs: one port each, RTCP told from RTP by its type; then A muxed and B not. */
static void s_mux(void) {
  uint16_t ar, br, bc;
  int a = party(0, &ar), b = party(0, &br), b_rtcp = party(0, &bc);
  open_leg(0, 1, base, SIP_RELAY_FLAG_RTCP_MUX, ar, ar, 0);
  open_leg(1, 0, (uint16_t)(base + 2), SIP_RELAY_FLAG_RTCP_MUX, br, br, 0);
  uint8_t p[256];
  size_t n = rtp(p, 1, 0xA1, 160);
  send_to(a, base, p, n);
  expect(b, (uint16_t)(base + 2), p, n, "muxed RTP A->B");
  n = rtcp(p, 3);
  send_to(a, base, p, n);
  expect(b, (uint16_t)(base + 2), p, n, "muxed RTCP A->B");
  n = rtcp(p, 4);
  send_to(b, (uint16_t)(base + 2), p, n);
  expect(a, base, p, n, "muxed RTCP B->A");
  CHECK(ports_free((uint16_t)(base + 1), 1), "RtcpMux bound port + 1");
  /* B without mux: A's muxed RTCP leaves from B's RTCP port to B's RTCP address */
  open_leg(1, 0, (uint16_t)(base + 2), 0, br, bc, 0);
  n = rtcp(p, 5);
  send_to(a, base, p, n);
  expect(b_rtcp, (uint16_t)(base + 3), p, n, "muxed RTCP A->B (B without mux)");
  n = rtp(p, 2, 0xA2, 160);
  send_to(a, base, p, n);
  expect(b, (uint16_t)(base + 2), p, n, "muxed RTP A->B (B without mux)");
}

/* A behind NAT: its SDP names one port, it sends from another (the SDP's address: it latches); the reply
 * goes to its source. A third party sending to A's relay port afterwards is dropped (from the same
 * address but not the SDP's port, it cannot replace a latch of the SDP's address). */
static void s_latch(void) {
  uint16_t asdp, anat, br, bc, ac, tp;
  int a_sdp = party(0, &asdp), a_nat = party(0, &anat), b = party(0, &br);
  party(0, &ac);
  party(0, &bc);
  int third = party(0, &tp);
  open_leg(0, 1, base, 0, asdp, ac, 0);
  open_leg(1, 0, (uint16_t)(base + 2), 0, br, bc, 0);
  uint8_t p[256];
  size_t n = rtp(p, 1, 0xB1, 160);
  send_to(b, (uint16_t)(base + 2), p, n); /* before A latched: to A's SDP port */
  expect(a_sdp, base, p, n, "B->A before latching (to A's SDP port)");
  n = rtp(p, 10, 0xA1, 160);
  send_to(a_nat, base, p, n);
  expect(b, (uint16_t)(base + 2), p, n, "A (NAT) -> B");
  n = rtp(p, 2, 0xB2, 160);
  send_to(b, (uint16_t)(base + 2), p, n);
  expect(a_nat, base, p, n, "B->A after latching (to A's source)");
  expect_none(a_sdp, 100, "B->A after latching must not go to A's SDP port");
  n = rtp(p, 900, 0xEE, 160);
  send_to(third, base, p, n);
  expect_none(b, 300, "a third party's packet after latching");
  n = rtp(p, 11, 0xA2, 160);
  send_to(a_nat, base, p, n);
  expect(b, (uint16_t)(base + 2), p, n, "A (NAT) -> B after the third party");
  /* the same peer again (a re-Open for an idle time change) keeps the latch */
  open_leg(0, 1, base, 0, asdp, ac, 0);
  send_to(third, base, p, n);
  expect_none(b, 200, "a third party's packet after a re-Open with the same peer");
  relay_close(0);
  relay_report *r = wait_report(RELAY_CLOSED, 0, 1000);
  CHECK(r, "no Closed report for leg 0");
  CHECK(r->dropped == 2, "leg 0 dropped %llu, want 2", (unsigned long long)r->dropped);
  CHECK(r->packets == 2, "leg 0 packets %llu, want 2", (unsigned long long)r->packets);
}

/* (a) A stranger who sends first, from another address than the SDP's concrete one, is dropped (RTP
 * bleed): the real party then latches, and B's packets reach it. IPv4: the stranger at 127.0.0.7, A's SDP
 * 127.0.0.1. IPv6 has one loopback address: A's SDP first names 2001:db8::7 (concrete, not ::1), the
 * stranger at ::1 is dropped, then a re-Open names A at ::1 and A latches. */
static void s_stranger(void) {
  uint16_t asdp, ac, br, bc, sp;
  int a = party(0, &asdp), b = party(0, &br);
  party(0, &ac);
  party(0, &bc);
  int stranger = fam == 4 ? party_at(addr_of("127.0.0.7"), 0, &sp) : party(0, &sp);
  if (fam == 6) open_leg_at(0, 1, base, 6, addr_of("2001:db8::7"), asdp, ac);
  else open_leg(0, 1, base, 0, asdp, ac, 0);
  open_leg(1, 0, (uint16_t)(base + 2), 0, br, bc, 0);
  uint8_t p[256];
  size_t n = rtp(p, 900, 0xEE, 160);
  send_to(stranger, base, p, n);
  expect_none(b, 300, "a stranger's first packet (before the party sent)");
  if (fam == 6) open_leg(0, 1, base, 0, asdp, ac, 0);
  n = rtp(p, 1, 0xA1, 160);
  send_to(a, base, p, n);
  expect(b, (uint16_t)(base + 2), p, n, "A -> B after the stranger was dropped");
  n = rtp(p, 1, 0xB1, 160);
  send_to(b, (uint16_t)(base + 2), p, n);
  expect(a, base, p, n, "B -> A (its SDP address) after the stranger was dropped");
  expect_none(stranger, 100, "B -> the stranger");
  n = rtp(p, 901, 0xEE, 160);
  send_to(stranger, base, p, n);
  expect_none(b, 300, "the stranger's packet after A latched");
  close_and_count(0, 1, 2);
  close_and_count(1, 1, 0);
}

/* (b) A party whose SDP address cannot be where its packets come from (family not known, unspecified,
 * private or link-local: a phone behind NAT writes its own address) latches to the first source, on
 * loopback; a second source is then dropped. An SDP address just outside those ranges is concrete: a
 * packet from loopback is dropped. Each case a re-Open of leg 0 with a new peer (unlatched). */
static void s_private(void) {
  static const char *v4open[] = {"192.168.1.10", "10.1.2.3", "172.16.0.1", "172.31.255.254", "100.64.0.1",
                                 "100.127.255.254", "169.254.1.1", "0.0.0.0", NULL};
  static const char *v4shut[] = {"172.32.0.1", "100.128.0.1", "11.0.0.1", "192.169.0.1", "8.8.8.8", NULL};
  static const char *v6open[] = {"fd00::10", "fc00::1", "fe80::1", "febf::1", "::", "::ffff:192.168.1.10",
                                 "::ffff:100.64.0.1", NULL};
  static const char *v6shut[] = {"2001:db8::10", "fec0::1", "fe00::1", "::ffff:8.8.8.8", "::ffff:172.32.0.1", NULL};
  const char **open_ = fam == 6 ? v6open : v4open, **shut = fam == 6 ? v6shut : v4shut;
  uint16_t br, bc;
  int b = party(0, &br);
  party(0, &bc);
  open_leg(1, 0, (uint16_t)(base + 2), 0, br, bc, 0);
  uint8_t p[256];
  uint64_t packets = 0, dropped = 0;
  for (int k = -1; open_[k < 0 ? 0 : k]; k++) {
    /* k == -1: the family not known (an offer not answered), the rest: each address */
    uint16_t ap, sp;
    int a = party(0, &ap), second = party(0, &sp);
    if (k < 0) open_leg(0, 1, base, 0, 0, 0, 0);
    else open_leg_at(0, 1, base, fam, addr_of(open_[k]), 5004, 5005);
    size_t n = rtp(p, (uint16_t)(10 + k), 0xA1, 160);
    send_to(a, base, p, n);
    expect(b, (uint16_t)(base + 2), p, n, k < 0 ? "A (SDP not known) -> B" : open_[k]);
    packets++;
    n = rtp(p, (uint16_t)(20 + k), 0xB1, 160);
    send_to(b, (uint16_t)(base + 2), p, n);
    expect(a, base, p, n, k < 0 ? "B -> A's source (SDP not known)" : "B -> A's latched source");
    n = rtp(p, (uint16_t)(30 + k), 0xEE, 160);
    send_to(second, base, p, n);
    expect_none(b, 150, "a second source after A latched to its first");
    dropped++;
    close(a);
    close(second);
  }
  for (int k = 0; shut[k]; k++) {
    uint16_t sp;
    int stranger = party(0, &sp);
    open_leg_at(0, 1, base, fam, addr_of(shut[k]), 5004, 5005);
    size_t n = rtp(p, (uint16_t)(40 + k), 0xEE, 160);
    send_to(stranger, base, p, n);
    expect_none(b, 150, shut[k]);
    dropped++;
    close(stranger);
  }
  close_and_count(0, packets, dropped);
}

/* (c) A latch to the SDP's address at another port (a NAT that remaps ports) is replaced by a packet from
 * the SDP's exact port, RTP and RTCP each; the replaced source is then dropped. */
static void s_replace(void) {
  uint16_t asdp, ac, anat, acnat, br, bc;
  int a = party(0, &asdp), a_rtcp = party(0, &ac), a_nat = party(0, &anat), a_rtcp_nat = party(0, &acnat);
  int b = party(0, &br), b_rtcp = party(0, &bc);
  open_leg(0, 1, base, 0, asdp, ac, 0);
  open_leg(1, 0, (uint16_t)(base + 2), 0, br, bc, 0);
  uint8_t p[256];
  size_t n = rtp(p, 1, 0xA1, 160);
  send_to(a_nat, base, p, n);
  expect(b, (uint16_t)(base + 2), p, n, "A (same address, other port) -> B");
  n = rtp(p, 1, 0xB1, 160);
  send_to(b, (uint16_t)(base + 2), p, n);
  expect(a_nat, base, p, n, "B -> A's other port (latched)");
  n = rtcp(p, 1);
  send_to(a_rtcp_nat, (uint16_t)(base + 1), p, n);
  expect(b_rtcp, (uint16_t)(base + 3), p, n, "A's RTCP (other port) -> B");
  n = rtp(p, 2, 0xA2, 160);
  send_to(a, base, p, n);
  expect(b, (uint16_t)(base + 2), p, n, "A (the SDP's port) -> B: replaces the latch");
  n = rtp(p, 2, 0xB2, 160);
  send_to(b, (uint16_t)(base + 2), p, n);
  expect(a, base, p, n, "B -> A's SDP port after the replacement");
  expect_none(a_nat, 100, "B -> A's old source after the replacement");
  n = rtcp(p, 2);
  send_to(a_rtcp, (uint16_t)(base + 1), p, n);
  expect(b_rtcp, (uint16_t)(base + 3), p, n, "A's RTCP (the SDP's RTCP port) -> B: replaces the latch");
  n = rtcp(p, 3);
  send_to(b_rtcp, (uint16_t)(base + 3), p, n);
  expect(a_rtcp, (uint16_t)(base + 1), p, n, "B's RTCP -> A's SDP RTCP port");
  expect_none(a_rtcp_nat, 100, "B's RTCP -> A's old RTCP source");
  n = rtp(p, 3, 0xA3, 160);
  send_to(a_nat, base, p, n);
  n = rtcp(p, 4);
  send_to(a_rtcp_nat, (uint16_t)(base + 1), p, n);
  expect_none(b, 200, "A's old RTP source after the replacement");
  expect_none(b_rtcp, 100, "A's old RTCP source after the replacement");
  close_and_count(0, 4, 2);
}

/* (d) A latch to the SDP's exact port is strict: the same address at another port is dropped. */
static void s_strict(void) {
  uint16_t asdp, ac, anat, br, bc;
  int a = party(0, &asdp), a_nat = party(0, &anat), b = party(0, &br);
  party(0, &ac);
  party(0, &bc);
  open_leg(0, 1, base, 0, asdp, ac, 0);
  open_leg(1, 0, (uint16_t)(base + 2), 0, br, bc, 0);
  uint8_t p[256];
  size_t n = rtp(p, 1, 0xA1, 160);
  send_to(a, base, p, n);
  expect(b, (uint16_t)(base + 2), p, n, "A (the SDP's port) -> B");
  n = rtp(p, 2, 0xA2, 160);
  send_to(a_nat, base, p, n);
  expect_none(b, 300, "the SDP's address at another port after an exact latch");
  n = rtp(p, 1, 0xB1, 160);
  send_to(b, (uint16_t)(base + 2), p, n);
  expect(a, base, p, n, "B -> A's SDP port (still latched)");
  expect_none(a_nat, 100, "B -> the other port");
  n = rtp(p, 3, 0xA3, 160);
  send_to(a, base, p, n);
  expect(b, (uint16_t)(base + 2), p, n, "A (the SDP's port) -> B again");
  close_and_count(0, 2, 1);
}

/* A phone behind NAT, each kind in turn, run in a network namespace of its own where lo also has the
 * phone's private address P (192.168.1.10 or fd00::10; tests/hosts/relay-c.test.mjs sets it up): the
 * phone's SDP names P, its NAT's public address is the relay's and B's (127.0.0.1, or 2001:db8::1). A packet from the NAT (another address)
 * latches (P is private), one from P at another port replaces it, the NAT is then dropped, one from P's
 * SDP port replaces that, and both others are dropped. */
static void s_nat(void) {
  const uint8_t *P = addr_of(fam == 6 ? "fd00::10" : "192.168.1.10");
  uint16_t psdp, pc, pother, np, br, bc;
  int p_sdp = party_at(P, 0, &psdp), p_other = party_at(P, 0, &pother), nat = party(0, &np), b = party(0, &br);
  party_at(P, 0, &pc);
  party(0, &bc);
  open_leg_at(0, 1, base, fam, P, psdp, pc);
  open_leg(1, 0, (uint16_t)(base + 2), 0, br, bc, 0);
  uint8_t p[256];
  size_t n = rtp(p, 1, 0xA1, 160);
  send_to(nat, base, p, n);
  expect(b, (uint16_t)(base + 2), p, n, "the NAT (another address, SDP private) -> B: latches");
  n = rtp(p, 1, 0xB1, 160);
  send_to(b, (uint16_t)(base + 2), p, n);
  expect(nat, base, p, n, "B -> the NAT");
  n = rtp(p, 2, 0xA2, 160);
  send_to(p_other, base, p, n);
  expect(b, (uint16_t)(base + 2), p, n, "P at another port -> B: replaces the NAT's latch");
  n = rtp(p, 2, 0xB2, 160);
  send_to(b, (uint16_t)(base + 2), p, n);
  expect(p_other, base, p, n, "B -> P at the other port");
  expect_none(nat, 100, "B -> the NAT after the replacement");
  n = rtp(p, 3, 0xEE, 160);
  send_to(nat, base, p, n);
  expect_none(b, 200, "the NAT after P at another port latched");
  n = rtp(p, 4, 0xA4, 160);
  send_to(p_sdp, base, p, n);
  expect(b, (uint16_t)(base + 2), p, n, "P at its SDP port -> B: replaces the latch");
  n = rtp(p, 3, 0xB3, 160);
  send_to(b, (uint16_t)(base + 2), p, n);
  expect(p_sdp, base, p, n, "B -> P's SDP port");
  expect_none(p_other, 100, "B -> P's other port after the exact latch");
  n = rtp(p, 5, 0xEE, 160);
  send_to(p_other, base, p, n);
  send_to(nat, base, p, n);
  expect_none(b, 200, "P's other port and the NAT after the exact latch");
  close_and_count(0, 3, 3);
}

/* A re-Open with a new peer unlatches: the next source latches, the old one is dropped. */
static void s_relatch(void) {
  uint16_t a1p, a2p, br, bc, ac;
  int a1 = party(0, &a1p), a2 = party(0, &a2p), a_rtcp = party(0, &ac), b = party(0, &br), b_rtcp = party(0, &bc);
  (void)a_rtcp;
  (void)b_rtcp;
  open_leg(0, 1, base, 0, a1p, ac, 0);
  open_leg(1, 0, (uint16_t)(base + 2), 0, br, bc, 0);
  uint8_t p[256];
  size_t n = rtp(p, 1, 0xA1, 160);
  send_to(a1, base, p, n);
  expect(b, (uint16_t)(base + 2), p, n, "A1 -> B");
  open_leg(0, 1, base, 0, a2p, ac, 0); /* A moved (a re-INVITE with a new c=/m=) */
  n = rtp(p, 2, 0xB1, 160);
  send_to(b, (uint16_t)(base + 2), p, n);
  expect(a2, base, p, n, "B -> A's new peer before it latched");
  n = rtp(p, 3, 0xA2, 160);
  send_to(a2, base, p, n);
  expect(b, (uint16_t)(base + 2), p, n, "A2 -> B (relatched)");
  n = rtp(p, 4, 0xA3, 160);
  send_to(a1, base, p, n);
  expect_none(b, 300, "the old source after relatching");
  n = rtp(p, 3, 0xB2, 160);
  send_to(b, (uint16_t)(base + 2), p, n);
  expect(a2, base, p, n, "B -> A2 after relatching");
  expect_none(a1, 100, "B -> the old source after relatching");
}

/* Idle 1 s: no report while packets flow, both legs reported once after a second of silence. */
static void s_idle(void) {
  uint16_t ar, ac, br, bc;
  int a = party(0, &ar), a_rtcp = party(0, &ac), b = party(0, &br), b_rtcp = party(0, &bc);
  (void)a_rtcp;
  (void)b_rtcp;
  open_leg(0, 1, base, 0, ar, ac, 1);
  open_leg(1, 0, (uint16_t)(base + 2), 0, br, bc, 1);
  uint8_t p[256];
  /* 1.5 s of one packet every 100 ms from A only: the stream is active, neither leg is idle */
  for (int i = 0; i < 15; i++) {
    size_t n = rtp(p, (uint16_t)i, 0xA1, 160);
    send_to(a, base, p, n);
    expect(b, (uint16_t)(base + 2), p, n, "A->B while active");
    usleep(100 * 1000);
  }
  CHECK(!wait_report(RELAY_IDLE, 0, 0) && !wait_report(RELAY_IDLE, 1, 0), "Idle reported while packets flowed");
  int64_t last = now_ms();
  relay_report *r0 = wait_report(RELAY_IDLE, 0, 3000);
  int64_t at = now_ms() - last;
  CHECK(r0, "no Idle report for leg 0 within 3 s of silence");
  CHECK(at >= 950 && at <= 1600, "Idle for leg 0 after %lld ms of silence, want about 1000", (long long)at);
  CHECK(wait_report(RELAY_IDLE, 1, 500), "no Idle report for leg 1");
  CHECK(r0->call == 7 && r0->callid_len == 11 && memcmp(r0->callid, "call-7@test", 11) == 0, "Idle report's call");
  nreports = 0;
  CHECK(!wait_report(RELAY_IDLE, 0, 1300), "Idle reported twice for one Open");
  /* a new Open restarts the idle time */
  open_leg(0, 1, base, 0, ar, ac, 1);
  CHECK(wait_report(RELAY_IDLE, 0, 2000), "no Idle report after a new Open");
  CHECK(!wait_report(RELAY_IDLE, 1, 0), "leg 1 reported again without an Open");
}

/* Counters at Close (seq 1..10 less 4, 5 and 8: 7 packets, 3 gaps), and nothing forwarded after. */
static void s_close(void) {
  uint16_t ar, ac, br, bc;
  int a = party(0, &ar), a_rtcp = party(0, &ac), b = party(0, &br), b_rtcp = party(0, &bc);
  (void)b_rtcp;
  open_leg(0, 1, base, SIP_RELAY_FLAG_VIDEO, ar, ac, 0);
  open_leg(1, 0, (uint16_t)(base + 2), 0, br, bc, 0);
  uint8_t p[256];
  static const uint16_t seqs[] = {1, 2, 3, 6, 7, 9, 10};
  for (size_t i = 0; i < sizeof seqs / sizeof seqs[0]; i++) {
    size_t n = rtp(p, seqs[i], 0xA1, 160);
    send_to(a, base, p, n);
    expect(b, (uint16_t)(base + 2), p, n, "A->B");
  }
  size_t n = rtcp(p, 9);
  send_to(a_rtcp, (uint16_t)(base + 1), p, n);
  uint8_t buf[256];
  CHECK(recv_wait(b_rtcp, 1000, buf, sizeof buf, NULL) == (int)n, "RTCP A->B");
  /* a wrapping stream on leg 1: 65534, 65535, 1 (0 skipped) = 1 gap */
  static const uint16_t wrap[] = {65534, 65535, 1};
  for (size_t i = 0; i < 3; i++) {
    n = rtp(p, wrap[i], 0xB1, 100);
    send_to(b, (uint16_t)(base + 2), p, n);
    expect(a, base, p, n, "B->A");
  }
  relay_close(0);
  relay_report *r = wait_report(RELAY_CLOSED, 0, 1000);
  CHECK(r, "no Closed report for leg 0");
  CHECK(r->packets == 8, "leg 0 packets %llu, want 8 (7 RTP + 1 RTCP)", (unsigned long long)r->packets);
  CHECK(r->bytes == 7 * 172 + 8, "leg 0 bytes %llu, want %d", (unsigned long long)r->bytes, 7 * 172 + 8);
  CHECK(r->gaps == 3, "leg 0 gaps %llu, want 3", (unsigned long long)r->gaps);
  CHECK(r->dropped == 0 && r->unsent == 0, "leg 0 dropped %llu unsent %llu, want 0", (unsigned long long)r->dropped,
        (unsigned long long)r->unsent);
  CHECK(r->flags == SIP_RELAY_FLAG_VIDEO && r->port == base && r->call == 7, "leg 0's flags, port, call");
  CHECK(r->callid_len == 11 && memcmp(r->callid, "call-7@test", 11) == 0, "leg 0's Call-ID");
  CHECK(ports_free(base, 2), "leg 0's ports still bound after Close");
  /* B's packets now have nowhere to go; A's relay port is closed */
  n = rtp(p, 2, 0xB2, 100);
  send_to(b, (uint16_t)(base + 2), p, n);
  expect_none(a, 300, "B->A after leg 0 closed");
  relay_close(1);
  r = wait_report(RELAY_CLOSED, 1, 1000);
  CHECK(r, "no Closed report for leg 1");
  CHECK(r->packets == 4 && r->gaps == 1 && r->unsent == 1, "leg 1 packets %llu gaps %llu unsent %llu, want 4 1 1",
        (unsigned long long)r->packets, (unsigned long long)r->gaps, (unsigned long long)r->unsent);
  CHECK(r->bytes == 4 * 112, "leg 1 bytes %llu, want %d", (unsigned long long)r->bytes, 4 * 112);
  CHECK(relay_legs_in_use() == 0, "legs in use %u after closing both", relay_legs_in_use());
  relay_close(1); /* closing a closed leg: no report */
  usleep(200 * 1000);
  relay_report more;
  while (nreports < 64 && relay_poll_report(&more)) reports[nreports++] = more;
  int extra = 0;
  for (int i = 0; i < nreports; i++) extra += reports[i].leg == 1;
  CHECK(extra == 1, "%d Closed reports for leg 1, want 1", extra);
}

/* A port held by someone else: BindFailed, on the RTP port and on the RTCP port (port + 1). */
static void s_bindfail(void) {
  int holder = party((uint16_t)(base + 2), NULL);
  (void)holder;
  uint16_t ar;
  party(0, &ar);
  open_leg(3, 4, (uint16_t)(base + 2), 0, ar, ar, 0);
  relay_report *r = wait_report(RELAY_BIND_FAILED, 3, 1000);
  CHECK(r, "no BindFailed report for a taken RTP port");
  CHECK(r->call == 7, "BindFailed report's call %u", r->call);
  open_leg(5, 4, (uint16_t)(base + 1), 0, ar, ar, 0); /* RTP free, RTCP (base + 2) taken */
  CHECK(wait_report(RELAY_BIND_FAILED, 5, 1000), "no BindFailed report for a taken RTCP port");
  CHECK(ports_free((uint16_t)(base + 1), 1), "the RTP port stayed bound after its RTCP port failed");
  CHECK(relay_legs_in_use() == 0, "legs in use %u after failed binds", relay_legs_in_use());
  open_leg(6, 4, (uint16_t)(base + 4), 0, ar, ar, 0); /* a free pair still binds */
  CHECK(!wait_report(RELAY_BIND_FAILED, 6, 300), "BindFailed for free ports");
  CHECK(relay_legs_in_use() == 1, "legs in use %u, want 1", relay_legs_in_use());
}

/* Queues of 2 (cfg.queue): ten Opens and ten Closes from this thread wait for room and all apply; the
 * report queue, not drained meanwhile, keeps its first 2 Closed reports and counts 8 lost. */
static void s_queue(void) {
  uint16_t ar;
  party(0, &ar);
  for (uint32_t i = 0; i < 10; i++) open_leg(i, i ^ 1u, 0, SIP_RELAY_FLAG_RTCP_MUX, ar, ar, 0);
  /* port 0 is refused: ten BindFailed reports, 2 kept */
  CHECK(relay_legs_in_use() == 0, "legs in use %u after refused ports", relay_legs_in_use());
  relay_report r;
  int kept = 0;
  while (relay_poll_report(&r)) kept += r.kind == RELAY_BIND_FAILED;
  CHECK(kept == 2 && relay_reports_lost() == 8, "kept %d BindFailed reports and lost %llu, want 2 and 8", kept,
        (unsigned long long)relay_reports_lost());
  for (uint32_t i = 0; i < 10; i++) {
    relay_open(i, i ^ 1u, (uint16_t)(base + (i % 6)), SIP_RELAY_FLAG_RTCP_MUX, fam, fam, loop_addr, ar, ar, 0, i, "q", 1);
    if (i % 6 == 5 || i == 9) {
      relay_sync();
      for (uint32_t k = i - i % 6; k <= i; k++) relay_close(k);
    }
  }
  relay_sync();
  kept = 0;
  while (relay_poll_report(&r)) kept += r.kind == RELAY_CLOSED;
  CHECK(kept == 2 && relay_reports_lost() == 16, "kept %d Closed reports and lost %llu in all, want 2 and 16", kept,
        (unsigned long long)relay_reports_lost());
  CHECK(relay_legs_in_use() == 0, "legs in use %u after closing all", relay_legs_in_use());
  CHECK(ports_free(base, 6), "ports still bound after closing all");
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: driver forward|mux|latch|relatch|idle|close|bindfail|queue|record|stranger|private|replace|strict|nat 4|6\n");
    return 2;
  }
  scenario = argv[1];
  fam = atoi(argv[2]) == 6 ? 6 : 4;
  loop6 = in6addr_loopback;
  if (fam == 6 && strcmp(scenario, "nat") == 0) inet_pton(AF_INET6, "2001:db8::1", &loop6);
  if (fam == 6) memcpy(loop_addr, &loop6, 16);
  else memcpy(loop_addr, (uint8_t[]){127, 0, 0, 1}, 4);
  /* six free ports in 20000..31999, from a start that differs between concurrent runs */
  srand((unsigned)getpid() ^ (unsigned)now_ms());
  for (int tries = 0; tries < 200 && !base; tries++) {
    uint16_t p = (uint16_t)(20000 + 2 * (rand() % 5990));
    if (ports_free(p, 6)) base = p;
  }
  CHECK(base, "no six free ports found");
  relay_config cfg;
  memset(&cfg, 0, sizeof cfg);
  make_addr(fam == 6 ? &cfg.bind6[0] : &cfg.bind4[0], 0);
  cfg.max_legs = strcmp(scenario, "queue") == 0 ? 10 : 8;
  cfg.queue = strcmp(scenario, "queue") == 0 ? 2 : 0;
  CHECK(relay_start(&cfg) == 0, "relay_start: %s", relay_error());
  CHECK(relay_wake_fd() >= 0, "no wake fd");
  static const struct {
    const char *name;
    void (*run)(void);
  } S[] = {{"forward", s_forward}, {"mux", s_mux}, {"latch", s_latch}, {"relatch", s_relatch},
           {"idle", s_idle}, {"close", s_close}, {"bindfail", s_bindfail}, {"queue", s_queue},
           {"record", s_record}, {"stranger", s_stranger}, {"private", s_private}, {"replace", s_replace},
           {"strict", s_strict}, {"nat", s_nat}};
  for (size_t i = 0; i < sizeof S / sizeof S[0]; i++)
    if (strcmp(S[i].name, scenario) == 0) {
      S[i].run();
      CHECK(strcmp(scenario, "queue") == 0 || relay_reports_lost() == 0, "%llu reports lost",
            (unsigned long long)relay_reports_lost());
      relay_stop();
      printf("ok %s IPv%d\n", scenario, fam);
      return 0;
    }
  fprintf(stderr, "unknown scenario %s\n", scenario);
  return 2;
}
