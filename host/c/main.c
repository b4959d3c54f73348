/* sipling, native host: the AssemblyScript core translated to C by wasm2c (build/<board>/sip.c,
 * linked in) around a poll() event loop. host/node/host.ts is the reference; docs/ABI.md the contract.
 *
 *   datagram      -> recvmsg straight into RX, peer record -> sip_handle_datagram(now, len)
 *   stream bytes  -> per-connection pending bytes into RX, peer (with conn) -> sip_handle_stream;
 *                    drop what was consumed, repeat while bytes remain (0 = need more, < 0 = close)
 *   closed conn   -> sip_handle_conn_closed(now, conn)            (queued; see after())
 *   timer         -> sip_handle_timeout(now) once the core's one deadline has passed
 *   after each    -> drain sip_poll_transmit (send), sip_poll_timeout (the poll timeout),
 *                    drain sip_poll_event (log), then report queued connection closes
 *
 * Time: CLOCK_MONOTONIC in ms as a double. Single-threaded; nothing is allocated per datagram (TCP
 * connections own a pending buffer and a write queue; a message held for a name lookup is copied).
 * Host names the core asks to send to (family 0) go to resolve.c: c-ares, whose sockets and timeouts
 * join this loop's poll(), bounded and cached (resolve.h); the loop never blocks on DNS. Only a listen
 * address given as a name is resolved with getaddrinfo, at start-up, before serving. The metrics
 * endpoint and the management API (metrics.h, manage.h) and the shared location service's two Redis
 * sockets (location.h; its first connection tried at start-up, later ones from the loop) join the same
 * poll() likewise.
 *
 * Traps: one unwind target is set in main() before the first core call (wasm_rt_impl_try). A trap
 * anywhere in the core long-jumps there, is logged as an error naming the core call, and the process
 * exits 1: a trap must never happen, so it is never swallowed. One target instead of one per call
 * keeps sigsetjmp (a sigprocmask system call) off the per-packet path. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <limits.h>
#include <math.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "sip.h"
#include "wasm-rt-impl.h"

#include "config.h"
#include "log.h"
#include "location.h"
#include "manage.h"
#include "metrics.h"
#include "numbers.h"
#include "overload.h"
#include "relay.h"
#include "resolve.h"
#include "tls.h"
#include "usage.h"

#ifndef SIPLING_BOARD
#define SIPLING_BOARD "server"
#endif

#define UDP_RCVBUF (4 * 1024 * 1024)
#define UDP_SNDBUF (4 * 1024 * 1024)
#define TCP_MAX_BACKLOG SIP_LIMIT_TCP_BACKLOG_BYTES /* bytes queued for one connection before it is closed */
#define TCP_MAX_CONNS SIP_LIMIT_TCP_CONNECTIONS      /* connections at once; beyond, the quietest is closed */
#define TCP_PARTIAL_MS (SIP_LIMIT_TCP_PARTIAL_SECONDS * 1000.0) /* part of a message held this long: closed */
#define TCP_LISTEN_BACKLOG 511
#define MAX_TRANSMITS_PER_CALL 1000000 /* guards the drain loop against a core that never says 0 */
#define UDP_BATCH 64                   /* datagrams per socket per loop turn (fairness) */
#define ACCEPT_BATCH 64
#define TLS_HANDSHAKE_MS 10000.0      /* a TLS handshake not done after this long: closed (as Node's handshakeTimeout) */
#define TCP_READS 16                   /* reads per connection per loop turn */
#define HASH_SIZE 4096                 /* buckets of the connection tables (power of two) */

/* Peer record (docs/ABI.md): +0 u32 conn | +4 u8 transport | +5 u8 family | +6 u16 port |
 * +8 u8[16] addr | +24 u32 flags | +28 u32 reserved. Event record: +0 u32 kind | +4 i32 code |
 * +8 f64 time | +16 u32 value | +20 u32 lost | +24 Peer | +56 u16 len1..len4 | +64 texts. */
enum { P_CONN = 0, P_TRANSPORT = 4, P_FAMILY = 5, P_PORT = 6, P_ADDR = 8, P_FLAGS = 24, P_SEL = 28, PEER_SIZE = 32 };
enum { E_KIND = 0, E_CODE = 4, E_TIME = 8, E_VALUE = 16, E_LOST = 20, E_PEER = 24, E_LENS = 56, E_TEXT = 64 };
/* Every ABI number, event name, level and label and stat name: numbers.h, generated from
 * host/shared/abi.json. */

/* ---- the core ---------------------------------------------------------------------------- */

static Z_sip_instance_t core;
static wasm_rt_memory_t *mem;
static u32 rx_ptr, rx_cap, peer_ptr, tx_ptr, tx_meta_ptr, tx_name_ptr, event_ptr, cfg_ptr, cfg_cap;
static const char *core_call = "none"; /* the core function running, for the trap report */
static double deadline = -1;          /* the core's one timer (ms), -1 = none */

/* Names the call for the trap report, then makes it. */
#define CALL(name, expr) (core_call = (name), (expr))

static inline uint8_t *M(u32 off) { return mem->data + off; }
static inline uint32_t rd32(const uint8_t *p) { return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24; }
static inline uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static inline void wr32(uint8_t *p, uint32_t v) { p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8), p[2] = (uint8_t)(v >> 16), p[3] = (uint8_t)(v >> 24); }
static inline void wr16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8); }
static inline double rdf64(const uint8_t *p) {
  uint64_t u = 0;
  for (int i = 7; i >= 0; i--) u = u << 8 | p[i];
  double d;
  memcpy(&d, &u, sizeof d);
  return d;
}

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static const char *errname(int e) {
#ifdef __GLIBC__
  const char *n = strerrorname_np(e);
  if (n) return n;
#endif
  return strerror(e);
}

/* ---- addresses --------------------------------------------------------------------------- */

/* sockaddr -> family (4/6; IPv4-mapped IPv6 reported as 4) + 16 address bytes + port; 0 if neither. */
static int from_sockaddr(const struct sockaddr_storage *ss, uint8_t addr[16], uint16_t *port) {
  memset(addr, 0, 16);
  if (ss->ss_family == AF_INET) {
    const struct sockaddr_in *s = (const struct sockaddr_in *)ss;
    memcpy(addr, &s->sin_addr, 4);
    *port = ntohs(s->sin_port);
    return 4;
  }
  if (ss->ss_family == AF_INET6) {
    const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)ss;
    *port = ntohs(s->sin6_port);
    if (IN6_IS_ADDR_V4MAPPED(&s->sin6_addr)) {
      memcpy(addr, s->sin6_addr.s6_addr + 12, 4);
      return 4;
    }
    memcpy(addr, &s->sin6_addr, 16);
    return 6;
  }
  return 0;
}

/* family/addr/port -> sockaddr for a socket of family sock_fam (IPv4 on IPv6 becomes ::ffff:a.b.c.d).
 * Returns the length, 0 when it cannot be expressed (IPv6 on an IPv4 socket). */
static socklen_t to_sockaddr(int sock_fam, int fam, const uint8_t *addr, uint16_t port, struct sockaddr_storage *ss) {
  memset(ss, 0, sizeof *ss);
  if (sock_fam == 4) {
    if (fam != 4) return 0;
    struct sockaddr_in *s = (struct sockaddr_in *)ss;
    s->sin_family = AF_INET;
    s->sin_port = htons(port);
    memcpy(&s->sin_addr, addr, 4);
    return sizeof *s;
  }
  struct sockaddr_in6 *s = (struct sockaddr_in6 *)ss;
  s->sin6_family = AF_INET6;
  s->sin6_port = htons(port);
  if (fam == 4) {
    s->sin6_addr.s6_addr[10] = 0xff;
    s->sin6_addr.s6_addr[11] = 0xff;
    memcpy(s->sin6_addr.s6_addr + 12, addr, 4);
  } else {
    memcpy(&s->sin6_addr, addr, 16);
  }
  return sizeof *s;
}

/* "udp:1.2.3.4:5060" / "tcp:[::1]:5060" into out (>= 64 bytes). */
static const char *peer_text(char *out, size_t cap, const char *proto, int fam, const uint8_t *addr, unsigned port) {
  char a[INET6_ADDRSTRLEN] = "?";
  inet_ntop(fam == 6 ? AF_INET6 : AF_INET, addr, a, sizeof a);
  snprintf(out, cap, fam == 6 ? "%s:[%s]:%u" : "%s:%s:%u", proto, a, port);
  return out;
}

/* ---- transports and connections ---------------------------------------------------------- */

typedef struct {
  int id, proto, family, port, fd;
  char bind_host[INET6_ADDRSTRLEN];
  char advertised[INET6_ADDRSTRLEN + 8];
  const char *spec;
} transport;

typedef struct conn conn;
struct conn {
  uint32_t id;
  int fd;
  transport *t;
  int family;
  uint8_t addr[16];
  uint16_t port;
  bool outgoing, connecting, closed;
  SSL *ssl;         /* a TLS connection's session (tls.h), NULL on TCP */
  bool handshaking; /* TLS: the handshake is not done (writes queue meanwhile) */
  bool read_wants_write; /* TLS: a read waits for the socket to take bytes (a key update's answer) */
  uint8_t *pend; /* unconsumed stream bytes (capacity rx_cap) */
  size_t plen;
  double active;        /* last bytes in or out (ms): the quietest is closed when the table is full */
  double partial_since; /* when pend last held part of a message that then made no progress */
  uint8_t *out;  /* write queue: bytes out[ooff..olen) */
  size_t ooff, olen, ocap;
  int pi;        /* index in pfds */
  uint8_t peer[PEER_SIZE];
  char text[80]; /* "tcp:1.2.3.4:5060" */
  conn *next_id, *next_key;
};

enum { K_WAKE, K_UDP, K_LISTEN, K_CONN, K_RELAY };

static transport transports[256]; /* by id (1..255); fd 0 never used: fd < 0 means absent */
static int n_transports;
static struct pollfd *pfds;
static void **owners;
static int *kinds;
static int npfds, cappfds;
static conn *by_id[HASH_SIZE], *by_key[HASH_SIZE];
static conn **dead;
static int ndead, capdead;
static uint32_t *closed_q; /* connection ids to report with sip_handle_conn_closed */
static size_t closed_head, closed_n, closed_cap;
static uint32_t next_conn;
static int nconns;                                  /* open connections (at most TCP_MAX_CONNS) */
static double tcp_evicted, tcp_partial_closed, tcp_backlog_closed; /* host counters of the stats line */
static double next_sweep = -1;
static bool trace_on;
static int wake_pipe[2] = {-1, -1};
static volatile sig_atomic_t got_signal;

static void *xrealloc(void *p, size_t n) {
  void *q = realloc(p, n ? n : 1);
  if (!q) {
    log_begin(LOG_ERROR, "out of memory");
    log_end();
    log_flush();
    exit(1);
  }
  return q;
}

/* Room for at least `want` entries in pfds, owners and kinds. */
static void reserve_pfds(int want) {
  if (want <= cappfds) return;
  while (cappfds < want) cappfds = cappfds ? cappfds * 2 : 64;
  pfds = xrealloc(pfds, (size_t)cappfds * sizeof *pfds);
  owners = xrealloc(owners, (size_t)cappfds * sizeof *owners);
  kinds = xrealloc(kinds, (size_t)cappfds * sizeof *kinds);
}

static int add_pfd(int fd, short events, int kind, void *owner) {
  reserve_pfds(npfds + 1);
  pfds[npfds] = (struct pollfd){.fd = fd, .events = events, .revents = 0};
  owners[npfds] = owner;
  kinds[npfds] = kind;
  return npfds++;
}

static unsigned key_hash(int fam, const uint8_t *addr, uint16_t port) {
  uint32_t h = 2166136261u ^ (uint32_t)fam;
  for (int i = 0; i < (fam == 6 ? 16 : 4); i++) h = (h ^ addr[i]) * 16777619u;
  h = (h ^ port) * 16777619u;
  return h & (HASH_SIZE - 1);
}

static conn *find_id(uint32_t id) {
  for (conn *c = by_id[id & (HASH_SIZE - 1)]; c; c = c->next_id)
    if (c->id == id) return c;
  return NULL;
}

/* A connection to reuse: a TCP and a TLS connection to the same address are different ones. */
static conn *find_key(int proto, int fam, const uint8_t *addr, uint16_t port) {
  for (conn *c = by_key[key_hash(fam, addr, port)]; c; c = c->next_key)
    if (c->t->proto == proto && c->family == fam && c->port == port && memcmp(c->addr, addr, fam == 6 ? 16 : 4) == 0) return c;
  return NULL;
}

static void unlink_conn(conn *c) {
  conn **pp = &by_id[c->id & (HASH_SIZE - 1)];
  while (*pp && *pp != c) pp = &(*pp)->next_id;
  if (*pp) *pp = c->next_id;
  pp = &by_key[key_hash(c->family, c->addr, c->port)];
  while (*pp && *pp != c) pp = &(*pp)->next_key;
  if (*pp) *pp = c->next_key;
}

static void queue_closed(uint32_t id) {
  if (closed_n == closed_cap) {
    size_t cap = closed_cap ? closed_cap * 2 : 64;
    uint32_t *q = xrealloc(NULL, cap * sizeof *q);
    for (size_t i = 0; i < closed_n; i++) q[i] = closed_q[(closed_head + i) % closed_cap];
    free(closed_q);
    closed_q = q;
    closed_head = 0;
    closed_cap = cap;
  }
  closed_q[(closed_head + closed_n++) % closed_cap] = id;
}

/* Closes the socket now; the core hears of it from after() (never from inside a drain), and the
 * record is freed by reap() at the end of the loop turn, so pointers held by callers stay valid. */
static void close_conn(conn *c) {
  if (c->closed) return;
  c->closed = true;
  nconns--;
  if (c->ssl) tls_free(c->ssl);
  c->ssl = NULL;
  close(c->fd);
  pfds[c->pi].fd = -1;
  unlink_conn(c);
  queue_closed(c->id);
  if (ndead == capdead) {
    capdead = capdead ? capdead * 2 : 16;
    dead = xrealloc(dead, (size_t)capdead * sizeof *dead);
  }
  dead[ndead++] = c;
  if (log_on(LOG_DEBUG)) {
    log_begin(LOG_DEBUG, c->t->proto == SIP_PROTO_TLS ? "tls closed" : "tcp closed");
    log_num("conn", c->id);
    log_str("peer", c->text);
    log_end();
  }
}

/** A read or write on a connection failed with `err`: log it (debug) and close the connection. */
static void conn_failed(conn *c, int err) {
  if (log_on(LOG_DEBUG)) {
    log_begin(LOG_DEBUG, "tcp connection error");
    log_num("conn", c->id);
    log_str("peer", c->text);
    log_str("error", errname(err));
    log_end();
  }
  close_conn(c);
}

/* A TLS connection failed with `reason`: during the handshake a warning (a refused certificate, either
 * way, or a peer that is no TLS client), later as conn_failed; the connection is closed. */
static void tls_failed(conn *c, const char *reason) {
  bool hs = c->handshaking;
  if (hs || log_on(LOG_DEBUG)) {
    log_begin(hs ? LOG_WARN : LOG_DEBUG, hs ? "tls handshake failed" : "tls connection error");
    log_num("conn", c->id);
    log_str("peer", c->text);
    log_str("reason", reason);
    log_end();
  }
  close_conn(c);
}

/* Frees closed connections and compacts pfds (the last entry moves into the hole). */
static void reap(void) {
  for (int i = 0; i < ndead; i++) {
    conn *c = dead[i];
    int pi = c->pi, last = npfds - 1;
    if (pi != last) {
      pfds[pi] = pfds[last];
      owners[pi] = owners[last];
      kinds[pi] = kinds[last];
      if (kinds[pi] == K_CONN) ((conn *)owners[pi])->pi = pi;
    }
    npfds--;
    free(c->pend);
    free(c->out);
    free(c);
  }
  ndead = 0;
}

/* The table is full (SIP_LIMIT_TCP_CONNECTIONS): the connection quiet for longest makes room. */
static void evict_quietest(void) {
  conn *q = NULL;
  for (int i = 0; i < npfds; i++) {
    if (kinds[i] != K_CONN) continue;
    conn *c = owners[i];
    if (!c->closed && (!q || c->active < q->active)) q = c;
  }
  if (!q) return;
  tcp_evicted++;
  if (log_on(LOG_DEBUG)) {
    log_begin(LOG_DEBUG, "tcp connections full; closing the quietest");
    log_num("conn", q->id);
    log_str("peer", q->text);
    log_end();
  }
  close_conn(q);
}

/* Closes connections that have held part of a message for SIP_LIMIT_TCP_PARTIAL_SECONDS, and TLS
 * connections whose handshake is not done after TLS_HANDSHAKE_MS (once a second). */
static void sweep(double now) {
  if (next_sweep >= 0 && now < next_sweep) return;
  next_sweep = now + 1000.0;
  for (int i = 0; i < npfds; i++) {
    if (kinds[i] != K_CONN) continue;
    conn *c = owners[i];
    if (!c->closed && c->plen > 0 && now - c->partial_since > TCP_PARTIAL_MS) {
      tcp_partial_closed++;
      if (log_on(LOG_DEBUG)) {
        log_begin(LOG_DEBUG, "tcp message incomplete too long; closing");
        log_num("conn", c->id);
        log_num("bytes", (double)c->plen);
        log_str("peer", c->text);
        log_end();
      }
      close_conn(c);
    } else if (!c->closed && c->handshaking && now - c->active > TLS_HANDSHAKE_MS) {
      tls_failed(c, "handshake not done in time"); /* a peer that connected and said nothing */
    }
  }
}

static conn *make_conn(transport *t, int fd, int fam, const uint8_t *addr, uint16_t port, bool outgoing, bool connecting, const char *name) {
  SSL *ssl = NULL;
  if (t->proto == SIP_PROTO_TLS) {
    char ip[INET6_ADDRSTRLEN] = "", err[256];
    inet_ntop(fam == 6 ? AF_INET6 : AF_INET, addr, ip, sizeof ip);
    ssl = tls_new(fd, !outgoing, ip, name, err, sizeof err);
    if (!ssl) {
      char text[96];
      log_begin(LOG_WARN, "cannot start a tls session");
      log_str("peer", peer_text(text, sizeof text, "tls", fam, addr, port));
      log_str("reason", err);
      log_end();
      return NULL;
    }
  }
  if (nconns >= TCP_MAX_CONNS) evict_quietest();
  conn *c = calloc(1, sizeof *c);
  if (!c) {
    if (ssl) tls_free(ssl);
    return NULL;
  }
  c->ssl = ssl;
  c->handshaking = ssl != NULL;
  nconns++;
  c->active = now_ms();
  do {
    next_conn++;
  } while (next_conn == 0 || find_id(next_conn)); /* u32 wrap: skip 0 and ids still open */
  c->id = next_conn;
  c->fd = fd;
  c->t = t;
  c->family = fam;
  memcpy(c->addr, addr, 16);
  c->port = port;
  c->outgoing = outgoing;
  c->connecting = connecting;
  wr32(c->peer + P_CONN, c->id);
  c->peer[P_TRANSPORT] = (uint8_t)t->id;
  c->peer[P_FAMILY] = (uint8_t)fam;
  wr16(c->peer + P_PORT, port);
  memcpy(c->peer + P_ADDR, addr, 16);
  peer_text(c->text, sizeof c->text, t->proto == SIP_PROTO_TLS ? "tls" : "tcp", fam, addr, port);
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  c->pi = add_pfd(fd, (short)(POLLIN | (connecting ? POLLOUT : 0)), K_CONN, c);
  unsigned h = c->id & (HASH_SIZE - 1);
  c->next_id = by_id[h];
  by_id[h] = c;
  h = key_hash(fam, addr, port);
  c->next_key = by_key[h];
  by_key[h] = c;
  return c;
}

/* ---- logging helpers --------------------------------------------------------------------- */

static void trace_line(const char *dir, const char *peer, uint32_t conn_id, const uint8_t *text, size_t n) {
  log_begin(LOG_DEBUG, "sip");
  log_str("dir", dir);
  log_str("peer", peer);
  if (conn_id) log_num("conn", conn_id);
  log_strn("sip", (const char *)text, n);
  log_end();
}

static const char *proto_name(int proto) { return proto == SIP_PROTO_UDP ? "udp" : proto == SIP_PROTO_TLS ? "tls" : "tcp"; }

static bool usage_on; /* "usageLog" is open */
static double event_counts[SIP_EVENT_LIMIT]; /* events drained, by kind (sipling_events_total) */
static double started_ms;                    /* the process's start (sipling_uptime_seconds) */

/* Wall-clock ms minus the monotonic clock, fixed at start: maps the core's `now` to Unix time. */
static double wall_offset;

/* One event: logged by its abi.json level with its field names, and written to the usage file. */
static void event(uint32_t kind) {
  const sip_event_info *info = kind < SIP_EVENT_LIMIT ? &SIP_EVENTS[kind] : NULL;
  if (info) event_counts[kind]++;
  int level = info ? info->level : LOG_WARN;
  bool logging = log_on(level);
  const uint8_t *e = M(event_ptr);
  if (kind == SIP_EVENT_TRUNK_STATE || kind == SIP_EVENT_TRUNK_REG) manage_event(kind, e, wall_offset + now_ms());
  if (location_on() && kind >= SIP_EVENT_REG_ADD && kind <= SIP_EVENT_REG_EXPIRE && (int32_t)rd32(e + E_CODE) != 1) {
    /* a binding of ours added or refreshed is published with its AOR's others, one removed or expired
     * deleted; code 1 is a shared binding's (another instance's business). The fields are copied: the
     * service reads bindings through the core, which may reuse the event record */
    uint16_t al = rd16(e + E_LENS), cl = rd16(e + E_LENS + 2);
    uint8_t *copy = malloc((size_t)al + cl + 1);
    if (copy) {
      memcpy(copy, e + E_TEXT, (size_t)al + cl);
      location_event((int)kind, copy, al, copy + al, cl);
      free(copy);
    }
    e = M(event_ptr);
  }
  if (!logging && !usage_on) return;
  const uint8_t *pe = e + E_PEER;
  int fam = pe[P_FAMILY], tid = pe[P_TRANSPORT];
  char source[96];
  bool has_source = fam == 4 || fam == 6;
  if (has_source) {
    char proto[16];
    if (tid > 0 && tid <= n_transports && transports[tid].fd >= 0) snprintf(proto, sizeof proto, "%s", proto_name(transports[tid].proto));
    else snprintf(proto, sizeof proto, "transport%d", tid);
    peer_text(source, sizeof source, proto, fam, pe + P_ADDR, rd16(pe + P_PORT));
  }
  if (usage_on) usage_event(kind, e, has_source ? source : NULL, wall_offset + rdf64(e + E_TIME), now_ms());
  if (!logging) return;
  char other[32];
  const char *name = info ? info->name : (snprintf(other, sizeof other, "event-%u", kind), other);
  log_begin(level, name);
  log_str("event", name);
  log_num("code", (int32_t)rd32(e + E_CODE));
  if (has_source) log_str("source", source);
  uint32_t conn_id = rd32(pe + P_CONN);
  if (conn_id) log_num("conn", conn_id);
  static const char *const GENERIC[] = {"text1", "text2", "text3", "text4"};
  const char *const *labels = info ? info->texts : GENERIC;
  const uint8_t *at = e + E_TEXT;
  for (int i = 0; i < 4; i++) {
    uint16_t len = rd16(e + E_LENS + 2 * i);
    if (len) log_strn(labels[i], (const char *)at, len);
    at += len;
  }
  uint32_t value = rd32(e + E_VALUE);
  if (info && info->value_field) log_num(info->value_field, value);
  else if (value) log_num("value", value);
  uint32_t lost = rd32(e + E_LOST);
  if (lost) log_num("lost", lost);
  log_num("coreTime", rdf64(e + E_TIME));
  log_end();
}

/* ---- output ------------------------------------------------------------------------------ */

static void on_readable(conn *c);
static void on_writable(conn *c);

/* Drives a TLS connection's handshake; once done, writes what queued meanwhile and reads what came. */
static void tls_step(conn *c) {
  short want = POLLIN;
  char err[256];
  int r = tls_handshake(c->ssl, &want, err, sizeof err);
  if (r < 0) {
    tls_failed(c, err);
    return;
  }
  if (r == 0) {
    pfds[c->pi].events = want;
    return;
  }
  c->handshaking = false;
  c->active = now_ms();
  if (log_on(LOG_DEBUG)) {
    log_begin(LOG_DEBUG, "tls handshake done");
    log_num("conn", c->id);
    log_str("peer", c->text);
    log_end();
  }
  pfds[c->pi].events = (short)(POLLIN | (c->ooff < c->olen ? POLLOUT : 0));
  if (c->ooff < c->olen) on_writable(c);
  if (!c->closed) on_readable(c);
}

/* Sends on a connection (TLS through its session): bytes taken (0: would block), or -1: it failed
 * and the connection is closed. */
static ssize_t conn_send(conn *c, const uint8_t *buf, size_t n) {
  if (c->ssl) {
    short want = 0;
    char err[256];
    ssize_t r = tls_write(c->ssl, buf, n, &want, err, sizeof err);
    if (r >= 0) return r;
    if (r == -1) return 0;
    tls_failed(c, err);
    return -1;
  }
  ssize_t r = send(c->fd, buf, n, MSG_NOSIGNAL | MSG_DONTWAIT);
  if (r >= 0) return r;
  if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return 0;
  conn_failed(c, errno);
  return -1;
}

static void conn_write(conn *c, const uint8_t *buf, size_t n) {
  size_t w = 0;
  if (!c->connecting && !c->handshaking && c->olen == c->ooff) {
    ssize_t r = conn_send(c, buf, n);
    if (r < 0) return;
    if ((size_t)r == n) return;
    w = (size_t)r;
  }
  size_t rest = n - w;
  if (c->ooff > 0 && c->ooff == c->olen) c->ooff = c->olen = 0;
  if (c->olen + rest > c->ocap) {
    if (c->ooff > 0) { /* compact first */
      memmove(c->out, c->out + c->ooff, c->olen - c->ooff);
      c->olen -= c->ooff;
      c->ooff = 0;
    }
    if (c->olen + rest > c->ocap) {
      size_t cap = c->ocap ? c->ocap : 4096;
      while (cap < c->olen + rest) cap *= 2;
      c->out = xrealloc(c->out, cap);
      c->ocap = cap;
    }
  }
  memcpy(c->out + c->olen, buf + w, rest);
  c->olen += rest;
  pfds[c->pi].events |= POLLOUT;
  c->active = now_ms();
  if (c->olen - c->ooff > TCP_MAX_BACKLOG) {
    tcp_backlog_closed++;
    log_begin(LOG_WARN, "tcp peer not reading; closing");
    log_num("conn", c->id);
    log_num("queued", (double)(c->olen - c->ooff));
    log_end();
    close_conn(c);
  }
}

/* Opens a non-blocking connection; writes queue until it is established. */
static conn *tcp_connect(transport *t, int fam, const uint8_t *addr, uint16_t port, const char *name) {
  struct sockaddr_storage ss;
  socklen_t sl = to_sockaddr(fam, fam, addr, port, &ss);
  int fd = socket(fam == 6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    log_begin(LOG_WARN, "cannot open a tcp socket");
    log_str("error", errname(errno));
    log_end();
    return NULL;
  }
  bool connecting = false;
  if (connect(fd, (struct sockaddr *)&ss, sl) != 0) {
    if (errno != EINPROGRESS && errno != EINTR) {
      char text[96];
      if (log_on(LOG_DEBUG)) {
        log_begin(LOG_DEBUG, "tcp connect failed");
        log_str("peer", peer_text(text, sizeof text, "tcp", fam, addr, port));
        log_str("error", errname(errno));
        log_end();
      }
      close(fd);
      return NULL;
    }
    connecting = true;
  }
  conn *c = make_conn(t, fd, fam, addr, port, true, connecting, name);
  if (!c) close(fd);
  else if (c->ssl && !connecting) {
    tls_step(c); /* connected at once: the client hello goes now */
    if (c->closed) return NULL;
  }
  return c;
}

static void send_to(transport *t, uint32_t conn_id, int fam, const uint8_t *addr, uint16_t port, const char *name, const uint8_t *buf, size_t n) {
  if (trace_on) {
    char text[96];
    trace_line("out", peer_text(text, sizeof text, proto_name(t->proto), fam, addr, port), conn_id, buf, n);
  }
  if (t->proto == SIP_PROTO_UDP) {
    struct sockaddr_storage ss;
    socklen_t sl = to_sockaddr(t->family, fam, addr, port, &ss);
    if (sl == 0) {
      char text[96];
      log_begin(LOG_WARN, "IPv6 destination on an IPv4 UDP transport; dropped");
      log_num("transport", t->id);
      log_str("peer", peer_text(text, sizeof text, "udp", fam, addr, port));
      log_end();
      return;
    }
    while (sendto(t->fd, buf, n, MSG_NOSIGNAL | MSG_DONTWAIT, (struct sockaddr *)&ss, sl) < 0) {
      if (errno == EINTR) continue;
      if (log_on(LOG_DEBUG)) { /* full socket buffer (EAGAIN) or an unreachable peer: UDP may drop */
        char text[96];
        log_begin(LOG_DEBUG, "udp send failed; dropped");
        log_str("peer", peer_text(text, sizeof text, "udp", fam, addr, port));
        log_str("error", errname(errno));
        log_end();
      }
      break;
    }
    return;
  }
  conn *c;
  if (conn_id != 0) {
    c = find_id(conn_id);
    if (!c || c->closed) {
      if (log_on(LOG_DEBUG)) {
        log_begin(LOG_DEBUG, "transmit on a closed connection; dropped");
        log_num("conn", conn_id);
        log_num("bytes", (double)n);
        log_end();
      }
      queue_closed(conn_id);
      return;
    }
  } else {
    c = find_key(t->proto, fam, addr, port);
    if (!c || c->closed) c = tcp_connect(t, fam, addr, port, name);
    if (!c) return;
  }
  conn_write(c, buf, n);
}

/* resolve.c's sender: a message whose name has an address now. */
static void send_resolved(void *t, uint32_t conn_id, int fam, const uint8_t addr[16], uint16_t port, const char *name, const uint8_t *buf, size_t n) {
  send_to((transport *)t, conn_id, fam, addr, port, name, buf, n);
}

static void transmit(u32 n) {
  const uint8_t *m = M(tx_meta_ptr);
  uint32_t conn_id = rd32(m + P_CONN);
  int tid = m[P_TRANSPORT], fam = m[P_FAMILY];
  uint16_t port = rd16(m + P_PORT);
  transport *t = tid >= 1 && tid <= n_transports ? &transports[tid] : NULL;
  if (!t) {
    log_begin(LOG_WARN, "transmit on an unknown transport; dropped");
    log_num("transport", tid);
    log_num("bytes", n);
    log_end();
    return;
  }
  if (fam == 0) { /* a name: sent now (cached), after its lookup, or dropped (resolve.h); port 0: RFC 3263 */
    uint32_t len = rd32(m + P_FLAGS);
    resolve_send(t, t->family, t->proto, rd32(m + P_SEL), conn_id, (const char *)M(tx_name_ptr), len, port, M(tx_ptr), n);
    return;
  }
  if (fam != 4 && fam != 6) {
    log_begin(LOG_WARN, "transmit with a bad address family; dropped");
    log_num("family", fam);
    log_num("bytes", n);
    log_end();
    return;
  }
  uint8_t addr[16];
  memcpy(addr, m + P_ADDR, 16);
  send_to(t, conn_id, fam, addr, port, NULL, M(tx_ptr), n);
}

static void after(double now);
static bool relay_on;  /* the media relay's thread runs ("mediaRelay.addresses" and a core with the relay) */
static u32 relay_ptr;

/* The relay thread's reports: an idle stream or a port not bound goes to the core (which ends the call);
 * a closed leg's counters to the usage log. */
static void relay_usage(const relay_report *r) {
  if (usage_on)
    usage_relay(r->callid, r->callid_len, r->leg, r->port, (r->flags & SIP_RELAY_FLAG_VIDEO) != 0, r->packets, r->bytes, r->gaps,
                r->dropped, wall_offset + now_ms(), now_ms());
}
static void on_relay(void) {
  relay_report r;
  while (relay_poll_report(&r)) {
    if (r.kind == RELAY_CLOSED) {
      relay_usage(&r);
      continue;
    }
    if (r.kind == RELAY_IDLE || r.kind == RELAY_BIND_FAILED) {
      log_begin(r.kind == RELAY_IDLE ? LOG_INFO : LOG_WARN, r.kind == RELAY_IDLE ? "relay idle" : "relay port not bound");
      log_num("leg", r.leg);
      log_num("port", r.port);
      log_end();
      double now = now_ms();
      CALL("sip_relay_report", Z_sipZ_sip_relay_report(&core, now, r.leg, (u32)r.kind));
      after(now);
    }
  }
}

/* Starts the relay thread when the configuration names relay addresses: legs bound there, as many as the
 * core's relay has (stat relayLegCapacity). A core without the relay with addresses configured cannot
 * have got here (its sip_cfg_add(RelayAddress) refused the configuration). */
static void start_relay(const config *cfg) {
  const cfg_value *v = &cfg->v[SK_MEDIA_RELAY_ADDRESSES];
  if (!v->set || v->n == 0) return;
  relay_config rc;
  memset(&rc, 0, sizeof rc);
  /* each entry "[NAME/]BIND[!ADVERTISED]": its interface's (the core's number) bind address of its family */
  for (size_t i = 0; i < v->n; i++) {
    relay_addr r;
    if (parse_relay_address(v->list[i], &r) != NULL) continue;
    int f = relay_iface_of(cfg, r.name);
    if (f < 0 || f >= RELAY_IFACES) continue;
    struct sockaddr_in *a4 = (struct sockaddr_in *)&rc.bind4[f];
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&rc.bind6[f];
    if (r.family == 4 && a4->sin_family == 0 && inet_pton(AF_INET, r.bind, &a4->sin_addr) == 1) a4->sin_family = AF_INET;
    else if (r.family == 6 && a6->sin6_family == 0 && inet_pton(AF_INET6, r.bind, &a6->sin6_addr) == 1) a6->sin6_family = AF_INET6;
  }
  double cap = CALL("sip_stat", Z_sipZ_sip_stat(&core, SIP_STAT_RELAY_LEG_CAPACITY));
  rc.max_legs = cap > 0 ? (uint32_t)cap : 1;
  if (relay_start(&rc) != 0) {
    log_begin(LOG_ERROR, "cannot start the media relay");
    log_str("error", relay_error());
    log_end();
    log_flush();
    exit(1);
  }
  relay_ptr = CALL("sip_relay_ptr", Z_sipZ_sip_relay_ptr(&core));
  add_pfd(relay_wake_fd(), POLLIN, K_RELAY, NULL);
  relay_on = true;
}

static bool name_transport; /* the core holds the proxy's requests to names for their transport */
static unsigned supported_protos; /* 1 << p for each protocol p we listen on (UDP, TCP, TLS) */
static bool asking; /* inside ask_transports: an answer is given to the core, the caller drains */

/* resolve.c's answer for request id held for its transport: given to the core; outside ask_transports
 * (DNS answered later), its branch goes out now. */
static void request_transport(uint32_t id, int proto) {
  double now = now_ms();
  CALL("sip_resolved", Z_sipZ_sip_resolved(&core, now, id, (u32)proto));
  if (!asking) after(now);
}

/* The requests the core holds until we choose their transport (docs/ABI.md "Transport by DNS"): each
 * name's choice by RFC 3263 §4.1 among the transports we listen on (resolve_transport_ask: NAPTR, else
 * SRV; kept dnsTransportTtl), given with sip_resolved now when known, else once DNS answers; a name that
 * cannot be asked now gets 0: UDP. True when some were answered now (their branches to drain). */
static bool ask_transports(double now) {
  bool answered = false;
  asking = true;
  u32 id;
  while ((id = CALL("sip_poll_resolve", Z_sipZ_sip_poll_resolve(&core, now))) != 0) {
    const uint8_t *m = M(tx_meta_ptr);
    uint32_t len = rd32(m + P_FLAGS);
    const char *name = (const char *)M(tx_name_ptr);
    int known = resolve_transport_cached(name, len);
    if (known < 0 && !resolve_transport_ask(id, name, len, supported_protos, request_transport)) known = 0;
    if (known >= 0) CALL("sip_resolved", Z_sipZ_sip_resolved(&core, now, id, (u32)known));
    answered = true; /* now, or possibly inside resolve_transport_ask (answers kept dnsMinTtl): drain either way */
  }
  asking = false;
  return answered;
}

/* Drains transmits, takes the next deadline, drains events, then reports queued conn closes. */
static void after(double now) {
  for (;;) {
    if (relay_on) {
      /* the media relay's changes, to its thread (relay.h), before the messages that announce them go
       * out: a party that answers a 200 OK with RTP at once finds its leg's partner already knowing
       * where to send (the thread applies its queued records before the packets of the same wake-up) */
      u32 op;
      bool applied = false;
      while ((op = CALL("sip_poll_relay", Z_sipZ_sip_poll_relay(&core))) != 0) {
        relay_apply_record(op, M(relay_ptr));
        applied = true;
      }
      /* and bound: the thread has applied them (new legs' sockets bound) before the SDP naming their
       * ports leaves, so that a party's first packets find them (they were lost under load before) */
      if (applied) relay_sync();
    }
    u32 n;
    unsigned guard = 0;
    while ((n = CALL("sip_poll_transmit", Z_sipZ_sip_poll_transmit(&core, now))) > 0) {
      transmit(n);
      if (++guard == MAX_TRANSMITS_PER_CALL) {
        log_begin(LOG_ERROR, "core keeps returning transmits; drain loop cut");
        log_num("count", guard);
        log_end();
        break;
      }
    }
    if (name_transport && ask_transports(now)) continue; /* branches that go out now */
    deadline = CALL("sip_poll_timeout", Z_sipZ_sip_poll_timeout(&core));
    u32 k;
    while ((k = CALL("sip_poll_event", Z_sipZ_sip_poll_event(&core))) != 0) event(k);
    if (closed_n == 0) return;
    uint32_t id = closed_q[closed_head];
    closed_head = (closed_head + 1) % closed_cap;
    closed_n--;
    CALL("sip_handle_conn_closed", Z_sipZ_sip_handle_conn_closed(&core, now, id));
  }
}

/* ---- input ------------------------------------------------------------------------------- */

static void on_udp(transport *t) {
  for (int i = 0; i < UDP_BATCH; i++) {
    struct sockaddr_storage ss;
    struct iovec iov = {.iov_base = M(rx_ptr), .iov_len = rx_cap};
    union { char buf[CMSG_SPACE(sizeof(struct timespec)) + CMSG_SPACE(sizeof(uint32_t))]; struct cmsghdr align; } ctl;
    struct msghdr mh = {.msg_name = &ss, .msg_namelen = sizeof ss, .msg_iov = &iov, .msg_iovlen = 1,
                        .msg_control = ctl.buf, .msg_controllen = sizeof ctl.buf};
    ssize_t n = recvmsg(t->fd, &mh, MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) {
        log_begin(LOG_WARN, "udp socket error");
        log_num("transport", t->id);
        log_str("error", errname(errno));
        log_end();
      }
      return;
    }
    if (ov_enabled()) ov_note(t->fd, &mh);
    uint8_t *p = M(peer_ptr);
    uint16_t port;
    int fam = from_sockaddr(&ss, p + P_ADDR, &port);
    if (fam == 0) continue;
    if (mh.msg_flags & MSG_TRUNC) {
      if (log_on(LOG_DEBUG)) {
        char text[96];
        log_begin(LOG_DEBUG, "datagram too large; dropped");
        log_str("peer", peer_text(text, sizeof text, "udp", fam, p + P_ADDR, port));
        log_end();
      }
      continue;
    }
    wr32(p + P_CONN, 0);
    p[P_TRANSPORT] = (uint8_t)t->id;
    p[P_FAMILY] = (uint8_t)fam;
    wr16(p + P_PORT, port);
    wr32(p + P_FLAGS, 0);
    wr32(p + P_FLAGS + 4, 0);
    if (trace_on) {
      char text[96];
      trace_line("in", peer_text(text, sizeof text, "udp", fam, p + P_ADDR, port), 0, M(rx_ptr), (size_t)n);
    }
    double now = now_ms();
    resolve_source(fam, p + P_ADDR); /* the lookups this datagram starts count against its source */
    int32_t r = (int32_t)CALL("sip_handle_datagram", Z_sipZ_sip_handle_datagram(&core, now, (u32)n));
    if (r < 0 && log_on(LOG_DEBUG)) {
      char text[96];
      log_begin(LOG_DEBUG, "datagram refused");
      log_num("code", r);
      log_str("peer", peer_text(text, sizeof text, "udp", fam, M(peer_ptr) + P_ADDR, port));
      log_end();
    }
    after(now);
    resolve_source(0, NULL);
  }
}

static void on_accept(transport *t) {
  for (int i = 0; i < ACCEPT_BATCH; i++) {
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    int fd = accept4(t->fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) {
        log_begin(LOG_ERROR, "tcp server error");
        log_num("transport", t->id);
        log_str("error", errname(errno));
        log_end();
      }
      return;
    }
    uint8_t addr[16];
    uint16_t port;
    int fam = from_sockaddr(&ss, addr, &port);
    conn *c = fam ? make_conn(t, fd, fam, addr, port, false, false, NULL) : NULL;
    if (!c) {
      close(fd);
      continue;
    }
    if (log_on(LOG_DEBUG)) {
      log_begin(LOG_DEBUG, t->proto == SIP_PROTO_TLS ? "tls accepted" : "tcp accepted");
      log_num("conn", c->id);
      log_str("peer", c->text);
      log_num("transport", t->id);
      log_end();
    }
  }
}

/* Feeds the pending bytes to the core per the ABI: RX = pending; consume, repeat. */
static void feed(conn *c) {
  while (c->plen > 0 && !c->closed) {
    memcpy(M(rx_ptr), c->pend, c->plen);
    memcpy(M(peer_ptr), c->peer, PEER_SIZE);
    double now = now_ms();
    resolve_source(c->family, c->addr);
    int32_t r = (int32_t)CALL("sip_handle_stream", Z_sipZ_sip_handle_stream(&core, now, (u32)c->plen));
    if (r > 0 && trace_on) trace_line("in", c->text, c->id, c->pend, (size_t)r < c->plen ? (size_t)r : c->plen);
    after(now);
    resolve_source(0, NULL);
    if (c->closed) return;
    if (r < 0) {
      log_begin(LOG_WARN, "tcp stream refused; closing");
      log_num("conn", c->id);
      log_num("code", r);
      log_str("peer", c->text);
      log_end();
      close_conn(c);
      return;
    }
    if (r == 0) {
      if (c->plen >= rx_cap) {
        log_begin(LOG_WARN, "tcp message exceeds the RX buffer; closing");
        log_num("conn", c->id);
        log_num("bytes", (double)c->plen);
        log_str("peer", c->text);
        log_end();
        close_conn(c);
      }
      return;
    }
    size_t used = (size_t)r < c->plen ? (size_t)r : c->plen;
    memmove(c->pend, c->pend + used, c->plen - used);
    c->plen -= used;
  }
}

static void on_readable(conn *c) {
  if (c->handshaking) {
    if (!c->connecting) tls_step(c);
    return;
  }
  for (int i = 0; i < TCP_READS && !c->closed; i++) {
    if (!c->pend) c->pend = xrealloc(NULL, rx_cap);
    ssize_t n;
    if (c->ssl) {
      short want = 0;
      char err[256];
      n = tls_read(c->ssl, c->pend + c->plen, rx_cap - c->plen, &want, err, sizeof err);
      if (n == -1) { /* a record not complete yet, or a write the session needs first (on_writable reads again) */
        if (want == POLLOUT) {
          c->read_wants_write = true;
          pfds[c->pi].events |= POLLOUT;
        }
        return;
      }
      if (n == -2) {
        tls_failed(c, err);
        return;
      }
    } else {
      n = recv(c->fd, c->pend + c->plen, rx_cap - c->plen, MSG_DONTWAIT);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return;
        conn_failed(c, errno);
        return;
      }
    }
    if (n == 0) {
      close_conn(c);
      return;
    }
    size_t before = c->plen;
    c->plen += (size_t)n;
    c->active = now_ms();
    feed(c);
    /* the clock of SIP_LIMIT_TCP_PARTIAL_SECONDS restarts when part of a message starts or one is consumed */
    if (!c->closed && c->plen > 0 && (before == 0 || c->plen < before + (size_t)n)) c->partial_since = c->active;
  }
}

static void on_writable(conn *c) {
  if (c->connecting) {
    int err = 0;
    socklen_t sl = sizeof err;
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &sl) != 0) err = errno;
    if (err == EINPROGRESS) return;
    if (err) {
      conn_failed(c, err);
      return;
    }
    c->connecting = false;
    if (log_on(LOG_DEBUG)) {
      log_begin(LOG_DEBUG, "tcp connected");
      log_num("conn", c->id);
      log_str("peer", c->text);
      log_end();
    }
  }
  if (c->handshaking) { /* TLS: the handshake first; the queue is written once it is done */
    tls_step(c);
    return;
  }
  while (c->ooff < c->olen) {
    ssize_t w = conn_send(c, c->out + c->ooff, c->olen - c->ooff);
    if (w <= 0) return; /* failed (closed) or would block: POLLOUT stays */
    c->ooff += (size_t)w;
  }
  c->ooff = c->olen = 0;
  pfds[c->pi].events = POLLIN;
  if (c->read_wants_write) {
    c->read_wants_write = false;
    on_readable(c);
  }
}

/* ---- start-up ---------------------------------------------------------------------------- */

static void start_error(const char *spec, const char *what) {
  char msg[512];
  snprintf(msg, sizeof msg, "cannot listen on %s: %s", spec, what);
  log_begin(LOG_ERROR, msg);
  log_end();
  log_flush();
  exit(1);
}

/* An interface address of the family (a non-internal one if any) for a wildcard listener. */
static void pick_interface(int fam, char *out, size_t cap) {
  snprintf(out, cap, "%s", fam == 6 ? "::1" : "127.0.0.1");
  struct ifaddrs *list = NULL;
  if (getifaddrs(&list) != 0) return;
  for (struct ifaddrs *a = list; a; a = a->ifa_next) {
    if (!a->ifa_addr || a->ifa_addr->sa_family != (fam == 6 ? AF_INET6 : AF_INET)) continue;
    const void *p;
    if (fam == 6) {
      const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)a->ifa_addr;
      if (s->sin6_scope_id || IN6_IS_ADDR_LINKLOCAL(&s->sin6_addr)) continue;
      p = &s->sin6_addr;
    } else {
      p = &((const struct sockaddr_in *)a->ifa_addr)->sin_addr;
    }
    char text[INET6_ADDRSTRLEN];
    inet_ntop(fam == 6 ? AF_INET6 : AF_INET, p, text, sizeof text);
    snprintf(out, cap, "%s", text); /* a loopback one is only a fallback */
    if (!(a->ifa_flags & IFF_LOOPBACK)) break;
  }
  freeifaddrs(list);
}

static void bind_all(const config *cfg) {
  for (size_t i = 0; i < cfg->n_listens; i++) {
    const listen_spec *l = &cfg->listens[i];
    transport *t = &transports[++n_transports];
    t->id = n_transports;
    t->proto = l->proto;
    t->spec = l->spec;
    t->port = l->port;
    uint8_t addr[16] = {0};
    int fam = l->family;
    if (fam == 0) {
      struct addrinfo hints = {0}, *res = NULL;
      hints.ai_socktype = l->proto == SIP_PROTO_UDP ? SOCK_DGRAM : SOCK_STREAM;
      int r = getaddrinfo(l->host, NULL, &hints, &res);
      if (r != 0 || !res) {
        char what[300];
        snprintf(what, sizeof what, "cannot resolve %s (%s)", l->host, gai_strerror(r));
        start_error(l->spec, what);
      }
      uint16_t p;
      fam = from_sockaddr((struct sockaddr_storage *)res->ai_addr, addr, &p);
      freeaddrinfo(res);
    } else {
      inet_pton(fam == 6 ? AF_INET6 : AF_INET, l->host, addr);
    }
    t->family = fam;
    inet_ntop(fam == 6 ? AF_INET6 : AF_INET, addr, t->bind_host, sizeof t->bind_host);
    int type = l->proto == SIP_PROTO_UDP ? SOCK_DGRAM : SOCK_STREAM;
    int fd = socket(fam == 6 ? AF_INET6 : AF_INET, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) start_error(l->spec, errname(errno));
    int one = 1;
    if (l->proto == SIP_PROTO_UDP) {
      int rb = UDP_RCVBUF, sb = UDP_SNDBUF; /* capped by net.core.[rw]mem_max: keep what we get */
      setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rb, sizeof rb);
      setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sb, sizeof sb);
      if (cfg_bool(cfg, SK_OVERLOAD_CONTROL)) {
        setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one);
        setsockopt(fd, SOL_SOCKET, SO_RXQ_OVFL, &one, sizeof one);
      }
    } else {
      setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    }
    struct sockaddr_storage ss;
    socklen_t sl = to_sockaddr(fam, fam, addr, (uint16_t)l->port, &ss);
    if (bind(fd, (struct sockaddr *)&ss, sl) != 0) start_error(l->spec, errname(errno));
    if (l->proto != SIP_PROTO_UDP && listen(fd, TCP_LISTEN_BACKLOG) != 0) start_error(l->spec, errname(errno));
    sl = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0) {
      uint8_t a2[16];
      uint16_t p;
      from_sockaddr(&ss, a2, &p);
      t->port = p;
    }
    t->fd = fd;
    add_pfd(fd, POLLIN, l->proto == SIP_PROTO_UDP ? K_UDP : K_LISTEN, t);
    char host[INET6_ADDRSTRLEN];
    if (strcmp(t->bind_host, "0.0.0.0") == 0 || strcmp(t->bind_host, "::") == 0) pick_interface(fam, host, sizeof host);
    else snprintf(host, sizeof host, "%s", t->bind_host);
    snprintf(t->advertised, sizeof t->advertised, fam == 6 ? "[%s]:%d" : "%s:%d", host, t->port);
    if (log_on(LOG_INFO)) {
      char text[96];
      log_begin(LOG_INFO, "listening");
      log_str("listen", peer_text(text, sizeof text, proto_name(t->proto), fam, addr, (unsigned)t->port));
      log_num("transport", t->id);
      log_str("advertised", t->advertised);
      log_end();
    }
  }
}

/* ---- trunks found by DNS --------------------------------------------------------------------
 * A trunk side whose address is a name (config.c side_name): the core sends to the name (RFC 3263
 * without a port) and resolve.c locates the provider at each send; what the core cannot know is where
 * the provider's calls come from. So each name is resolved at start and every TRUNK_WATCH_MS, for each
 * family of a listen address of the trunk's transport, and every answer's addresses (each SRV target's)
 * go to the core ("addrs SIDE ADDRESS...", the family's list replaced): calls from them are the trunk's.
 * The resolver's cache keeps an answer for its TTL; a failed lookup leaves the addresses the core has.
 * (host/node/host.ts watchTrunks is the same.) */
#define TRUNK_WATCH_MS 30000.0
#define MAX_TRUNK_WATCH 8 /* 4 sides x 2 families */
typedef struct {
  int side, family, proto;
  unsigned port;
  bool chosen; /* its transport is ours to choose: asked after the transport (trunk_transport) */
  char name[64];
  char given[200]; /* the addresses last given to the core */
} trunk_watch;
static trunk_watch watches[MAX_TRUNK_WATCH];
static int n_watches;
static double next_watch = -1;
/* The trunks whose transport we choose (side_auto_transport): RFC 3263 §4.1 asked each round first
 * (resolve_transport), the answer given to the core ("transport SIDE PROTO") when new or changed (the
 * side's registrations wait for the first), then its watches' addresses resolved for that transport. */
typedef struct {
  int side, given; /* the protocol given to the core, 0 none yet */
  char name[64];
} trunk_auto;
static trunk_auto autos[MAX_TRUNK_WATCH];
static int n_autos;
static int32_t core_add(int kind, const uint8_t *bytes, size_t len);
static void after(double now);

/* resolve.c's watcher: trunk w's name resolved to addrs (of family fam). */
static void trunk_resolved(void *cookie, int fam, const uint8_t (*addrs)[16], int n) {
  trunk_watch *w = cookie;
  char list[200] = "", text[240];
  size_t at = 0;
  for (int i = 0; i < n && i < 4; i++) {
    char a[INET6_ADDRSTRLEN];
    inet_ntop(fam == 6 ? AF_INET6 : AF_INET, addrs[i], a, sizeof a);
    at += (size_t)snprintf(list + at, sizeof list - at, "%s%s", i ? " " : "", a);
  }
  if (n == 0 || strcmp(list, w->given) == 0) return;
  int len = snprintf(text, sizeof text, "addrs %d %s", w->side, list);
  int32_t r = core_add(SIP_CFG_KIND_SIDE, (const uint8_t *)text, (size_t)len);
  if (r != SIP_CFG_OK) {
    log_begin(LOG_WARN, "trunk addresses refused by the core");
    log_num("side", w->side);
    log_str("name", w->name);
    log_str("addresses", list);
    log_num("result", r);
    log_end();
    return;
  }
  snprintf(w->given, sizeof w->given, "%s", list);
  if (log_on(LOG_INFO)) {
    log_begin(LOG_INFO, "trunk resolved");
    log_num("side", w->side);
    log_str("name", w->name);
    log_str("addresses", list);
    log_end();
  }
}

static bool listening(int proto, int fam) {
  for (int id = 1; id <= n_transports; id++)
    if (transports[id].proto == proto && transports[id].family == fam) return true;
  return false;
}

/* The trunks of the configuration whose address is a name, for each family of their transport (of any
 * transport we listen on for one whose transport we choose). */
static void trunk_watch_init(const config *cfg) {
  const cfg_value *sv = &cfg->v[SK_SIDES];
  for (int p = SIP_PROTO_UDP; p <= SIP_PROTO_TLS; p++)
    for (int fam = 4; fam <= 6; fam += 2)
      if (listening(p, fam)) supported_protos |= 1u << p;
  for (size_t i = 0; sv->set && i < sv->n; i++) {
    const cfg_side *sd = &sv->sides[i];
    unsigned port;
    size_t n = sd->address ? side_name(sd->address, &port) : 0;
    if (n == 0 || n >= sizeof watches[0].name) continue;
    bool chosen = side_auto_transport(sd);
    int proto = !sd->transport || strcmp(sd->transport, "udp") == 0 ? SIP_PROTO_UDP : strcmp(sd->transport, "tls") == 0 ? SIP_PROTO_TLS : SIP_PROTO_TCP;
    if (chosen && n_autos < MAX_TRUNK_WATCH) {
      trunk_auto *a = &autos[n_autos++];
      *a = (trunk_auto){.side = (int)i};
      memcpy(a->name, sd->address, n);
      a->name[n] = 0;
    }
    for (int fam = 4; fam <= 6; fam += 2) {
      bool has = listening(proto, fam) || (chosen && (listening(SIP_PROTO_TCP, fam) || listening(SIP_PROTO_TLS, fam)));
      if (!has || n_watches >= MAX_TRUNK_WATCH) continue;
      trunk_watch *w = &watches[n_watches++];
      *w = (trunk_watch){.side = (int)i, .family = fam, .proto = proto, .port = port, .chosen = chosen};
      memcpy(w->name, sd->address, n);
      w->name[n] = 0;
    }
  }
  resolve_watch(trunk_resolved);
}

/* Watch w's addresses asked for its transport (answered from the cache while its TTL runs). */
static void trunk_watch_ask(trunk_watch *w) {
  if (!listening(w->proto, w->family)) return;
  resolve_send(w, w->family, w->port ? 0 : w->proto, RESOLVE_ALL, 0, w->name, strlen(w->name), (uint16_t)w->port, (const uint8_t *)"", 0);
}

/* resolve_transport's answer for trunk a: UDP when DNS names none. */
static void trunk_transport(void *cookie, int proto) {
  trunk_auto *a = cookie;
  if (proto < SIP_PROTO_UDP || proto > SIP_PROTO_TLS) proto = SIP_PROTO_UDP;
  const char *word = proto == SIP_PROTO_TCP ? "tcp" : proto == SIP_PROTO_TLS ? "tls" : "udp";
  if (proto != a->given) {
    char text[40];
    int len = snprintf(text, sizeof text, "transport %d %s", a->side, word);
    int32_t r = core_add(SIP_CFG_KIND_SIDE, (const uint8_t *)text, (size_t)len);
    if (r != SIP_CFG_OK) {
      log_begin(LOG_WARN, "trunk transport refused by the core");
      log_num("side", a->side);
      log_str("name", a->name);
      log_str("transport", word);
      log_num("result", r);
      log_end();
      return;
    }
    a->given = proto;
    if (log_on(LOG_INFO)) {
      log_begin(LOG_INFO, "trunk transport");
      log_num("side", a->side);
      log_str("name", a->name);
      log_str("transport", word);
      log_end();
    }
    after(now_ms()); /* the registrations that waited for it go now */
  }
  resolve_source(0, NULL);
  for (int i = 0; i < n_watches; i++) {
    if (watches[i].side != a->side) continue;
    watches[i].proto = proto;
    trunk_watch_ask(&watches[i]);
  }
}

/* One round: each name asked (answered from the cache while its TTL runs); a trunk whose transport we
 * choose asks for that first, its addresses after. */
static void trunk_watch_round(double now) {
  if (n_watches == 0 && n_autos == 0) return;
  resolve_source(0, NULL);
  for (int i = 0; i < n_watches; i++)
    if (!watches[i].chosen) trunk_watch_ask(&watches[i]);
  for (int k = 0; k < n_autos; k++) resolve_transport(&autos[k], autos[k].name, supported_protos, trunk_transport);
  next_watch = now + TRUNK_WATCH_MS;
}

static void core_error(const char *msg) {
  log_begin(LOG_ERROR, msg);
  log_end();
  log_flush();
  exit(1);
}

/* The two core calls of config_apply: the schema walker names the key of any refusal. */
static int32_t core_set(int key, double value) {
  return (int32_t)CALL("sip_cfg_set", Z_sipZ_sip_cfg_set(&core, (u32)key, value));
}

static int32_t core_add(int kind, const uint8_t *bytes, size_t len) {
  if (len > cfg_cap) return CFG_TOO_LONG;
  memcpy(M(cfg_ptr), bytes, len);
  int32_t r = (int32_t)CALL("sip_cfg_add", Z_sipZ_sip_cfg_add(&core, (u32)kind, (u32)len));
  if (SIP_CFG_KIND_IS_SECRET(kind)) memset(M(cfg_ptr), 0, cfg_cap); /* the core wipes it too */
  return r;
}

static u32 put_cfg(const char *text) {
  size_t n = strlen(text);
  if (n > cfg_cap) n = cfg_cap;
  memcpy(M(cfg_ptr), text, n);
  return (u32)n;
}

static void seed(uint32_t out[2]) {
  int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
  if (fd < 0 || read(fd, out, 8) != 8) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    out[0] = (uint32_t)ts.tv_nsec ^ (uint32_t)getpid() << 16;
    out[1] = (uint32_t)ts.tv_sec;
  }
  if (fd >= 0) close(fd);
}

static void start_core(const config *cfg) {
  now_ms();
  mem = Z_sipZ_memory(&core);
  /* the capacities of the configuration are the tables' sizes where the core lays them out at start
   * (server, b2bua: docs/ABI.md "Layout"), the site defaults where it gives none; a value above the
   * board's is refused by its key when the configuration is applied */
  u32 layout = CALL("sip_layout_ptr", Z_sipZ_sip_layout_ptr(&core));
  static const int caps[SIP_LAYOUT_COUNT] = {
      [SIP_LAYOUT_TRANSACTIONS] = SK_CAPACITY_TRANSACTIONS, [SIP_LAYOUT_REGISTRATIONS] = SK_CAPACITY_REGISTRATIONS,
      [SIP_LAYOUT_MESSAGE_BLOCKS] = SK_CAPACITY_MESSAGE_BLOCKS, [SIP_LAYOUT_DIALOGS] = SK_CAPACITY_DIALOGS,
      [SIP_LAYOUT_RELAY_LEGS] = SK_CAPACITY_RELAY_LEGS};
  /* where the configuration gives none: the site defaults (limits.site*) */
  static const uint32_t site[SIP_LAYOUT_COUNT] = {
      [SIP_LAYOUT_TRANSACTIONS] = SIP_LIMIT_SITE_TRANSACTIONS, [SIP_LAYOUT_REGISTRATIONS] = SIP_LIMIT_SITE_REGISTRATIONS,
      [SIP_LAYOUT_MESSAGE_BLOCKS] = SIP_LIMIT_SITE_MESSAGE_BLOCKS, [SIP_LAYOUT_DIALOGS] = SIP_LIMIT_SITE_DIALOGS,
      [SIP_LAYOUT_RELAY_LEGS] = SIP_LIMIT_SITE_RELAY_LEGS};
  for (int i = 0; layout != 0 && i < SIP_LAYOUT_COUNT; i++) {
    const cfg_value *cv = &cfg->v[caps[i]];
    uint32_t v = !cv->set ? site[i] : cv->num > 0 && cv->num <= 0xffffffff ? (uint32_t)cv->num : 0;
    memcpy(M(layout + 4 * (u32)i), &v, 4);
  }
  CALL("_initialize", Z_sipZ__initialize(&core));
  if (cfg_bool(cfg, SK_PREFAULT)) {
    /* every page of the core's memory written (each byte unchanged) so the OS commits it now: RSS is
       flat from start-up instead of climbing to the fixed budget as the core first uses its tables */
    volatile uint8_t *p = mem->data;
    for (uint64_t i = 0; i < mem->size; i += 4096) p[i] = p[i];
  }
  rx_ptr = Z_sipZ_sip_rx_ptr(&core);
  rx_cap = Z_sipZ_sip_rx_cap(&core);
  peer_ptr = Z_sipZ_sip_peer_ptr(&core);
  tx_ptr = Z_sipZ_sip_tx_ptr(&core);
  tx_meta_ptr = Z_sipZ_sip_tx_meta_ptr(&core);
  tx_name_ptr = Z_sipZ_sip_tx_name_ptr(&core);
  event_ptr = Z_sipZ_sip_event_ptr(&core);
  cfg_ptr = Z_sipZ_sip_cfg_ptr(&core);
  cfg_cap = Z_sipZ_sip_cfg_cap(&core);
  uint32_t s[2];
  seed(s);
  double now = now_ms();
  int32_t r = (int32_t)CALL("sip_init", Z_sipZ_sip_init(&core, s[0], s[1], now));
  if (r < 0) {
    char msg[64];
    snprintf(msg, sizeof msg, "sip_init failed (%d)", r);
    core_error(msg);
  }
  config_apply(cfg, core_set, core_add, SIPLING_BOARD);
  ov_start(cfg_bool(cfg, SK_OVERLOAD_CONTROL));
  for (int id = 1; id <= n_transports; id++) {
    transport *t = &transports[id];
    u32 len = put_cfg(t->advertised);
    r = (int32_t)CALL("sip_transport_add", Z_sipZ_sip_transport_add(&core, (u32)id, (u32)t->proto, len));
    if (r < 0) {
      char msg[160];
      snprintf(msg, sizeof msg, "sip_transport_add(%d, %s, \"%s\") failed (%d)", id, proto_name(t->proto), t->advertised, r);
      core_error(msg);
    }
  }
  /* RFC 3263 §4.1 for the proxy's requests to names (docs/ABI.md "Transport by DNS"): a core that holds
   * such a request for it (server, b2bua) asks us; the others send it over UDP */
  name_transport = (int32_t)CALL("sip_cfg_set", Z_sipZ_sip_cfg_set(&core, SIP_CFG_KEY_NAME_TRANSPORT, (double)true)) == SIP_CFG_OK;
  if (log_on(LOG_INFO)) {
    const cfg_value *dv = &cfg->v[SK_DOMAINS];
    strbuf d = {0};
    sb_putc(&d, '[');
    for (size_t i = 0; i < dv->n; i++) {
      if (i) sb_putc(&d, ',');
      sb_json_string(&d, dv->list[i], strlen(dv->list[i]));
    }
    sb_puts(&d, "]");
    sb_putc(&d, '\0');
    size_t users = cfg->v[SK_USERS].set ? cfg->v[SK_USERS].n : 0;
    strbuf a = {0};
    if (users) {
      char t[32];
      sb_puts(&a, "{\"realm\":");
      sb_json_string(&a, cfg_str(cfg, SK_REALM), strlen(cfg_str(cfg, SK_REALM)));
      snprintf(t, sizeof t, ",\"users\":%zu}", users);
      sb_puts(&a, t);
    } else sb_puts(&a, "false");
    sb_putc(&a, '\0');
    char hex[17];
    snprintf(hex, sizeof hex, "%08x%08x", __builtin_bswap32(s[0]), __builtin_bswap32(s[1]));
    log_begin(LOG_INFO, "core ready");
    log_num("rxCap", rx_cap);
    log_num("cfgCap", cfg_cap);
    log_raw("domains", d.p);
    log_str("seed", hex);
    if (cfg_str(cfg, SK_OUTBOUND_PROXY)) log_str("outboundProxy", cfg_str(cfg, SK_OUTBOUND_PROXY));
    log_raw("auth", a.p);
    log_raw("transportByDns", name_transport ? "true" : "false");
    log_num("memory", (double)mem->size);
    if (layout) {
      char lo[16 * SIP_LAYOUT_COUNT + 2] = "[";
      for (int i = 0; i < SIP_LAYOUT_COUNT; i++)
        snprintf(lo + strlen(lo), sizeof lo - strlen(lo), "%s%u", i ? "," : "", rd32(M(layout + 4 * (u32)i)));
      strcat(lo, "]");
      log_raw("laidOut", lo);
    }
    if (usage_on) log_str("usageLog", cfg_str(cfg, SK_USAGE_LOG));
    log_end();
    free(d.p);
    free(a.p);
  }
  after(now);
}

/* ---- signals, stop ----------------------------------------------------------------------- */

static void on_signal(int sig) {
  got_signal = sig;
  int saved = errno;
  char b = (char)sig;
  (void)!write(wake_pipe[1], &b, 1);
  errno = saved;
}

/* The fields of the stats line, in its order: the core's stats (an older core answers -1 for an id it
 * does not know: left out), the resolver's, the host's own. At most STATS_MAX. */
#define STATS_MAX (SIP_STAT_COUNT + RESOLVE_STAT_COUNT + 16)
static int collect_stats(metrics_field *out) {
  int n = 0;
  for (int i = 0; i < SIP_STAT_COUNT; i++) {
    double v = CALL("sip_stat", Z_sipZ_sip_stat(&core, (u32)i));
    if (v >= 0) out[n++] = (metrics_field){SIP_STAT_NAMES[i], v};
  }
  double rs[RESOLVE_STAT_COUNT];
  resolve_stats(rs);
  for (int i = 0; i < RESOLVE_STAT_COUNT; i++) out[n++] = (metrics_field){RESOLVE_STAT_NAMES[i], rs[i]};
  out[n++] = (metrics_field){"tcpConnections", nconns};
  out[n++] = (metrics_field){"tcpEvicted", tcp_evicted};
  out[n++] = (metrics_field){"tcpPartialClosed", tcp_partial_closed};
  out[n++] = (metrics_field){"tcpBacklogClosed", tcp_backlog_closed};
  out[n++] = (metrics_field){"logDropped", (double)log_dropped()};
  out[n++] = (metrics_field){"usageDropped", (double)usage_dropped()};
  if (location_on()) {
    double ls[LOC_STATS];
    location_stats(ls);
    out[n++] = (metrics_field){"locationConnected", location_connected() ? 1 : 0};
    for (int i = 0; i < LOC_STATS; i++) out[n++] = (metrics_field){LOC_STAT_NAMES[i], ls[i]};
  }
  if (relay_on) {
    out[n++] = (metrics_field){"relayLegsOpen", relay_legs_in_use()};
    out[n++] = (metrics_field){"relayReportsLost", (double)relay_reports_lost()};
  }
  return n;
}

/* The core's counters as one "stats" line (with `signal` when a signal asked for it), as the Node host
 * logs it: at stop, and on SIGUSR2 while running. */
static void log_stats(const char *signal_name) {
  if (!log_on(LOG_INFO)) return;
  metrics_field f[STATS_MAX];
  int n = collect_stats(f);
  log_begin(LOG_INFO, "stats");
  if (signal_name) log_str("signal", signal_name);
  for (int i = 0; i < n; i++) log_num(f[i].name, f[i].value);
  log_end();
}

static double core_hist(int series, int slot) {
  return CALL("sip_hist", Z_sipZ_sip_hist(&core, (u32)series, (u32)slot));
}

/* The body of a /metrics answer (metrics.h): the stats line's fields, the events by kind, build and
 * uptime, the core's response-time histograms. */
static void render_metrics(strbuf *b) {
  metrics_field f[STATS_MAX];
  int n = collect_stats(f);
  metrics_exposition(b, f, n, event_counts, SIP_EVENT_LIMIT, "native", SIPLING_BOARD, (now_ms() - started_ms) / 1000.0, core_hist);
}

static void stop(int sig) {
  if (log_on(LOG_INFO)) {
    log_begin(LOG_INFO, "stopping");
    log_str("signal", sig == SIGINT ? "SIGINT" : "SIGTERM");
    log_end();
  }
  for (int i = 0; i < npfds; i++) {
    if (kinds[i] == K_CONN) close_conn(owners[i]);
  }
  for (int id = 1; id <= n_transports; id++) close(transports[id].fd);
  metrics_stop();
  location_stop();
  log_stats(NULL);
  resolve_shutdown(); /* messages still held for a lookup are dropped */
  if (relay_on) {
    /* legs still open end with the process: their usage records, as at a BYE */
    relay_quiesce();
    relay_report r;
    while (relay_poll_report(&r))
      if (r.kind == RELAY_CLOSED) relay_usage(&r);
    relay_stop();
  }
  usage_close();
  log_msg(LOG_INFO, "stopped");
  log_flush_exit(1000);
  exit(0);
}

/* How long a stop waits for the answers to our de-registrations (sip_shutdown), and when it ends. */
#define DEREGISTER_GRACE_MS 2000
static double stop_at = -1;
static int stop_sig;

static void run(void) {
  for (;;) {
    log_flush();
    int timeout = -1;
    if (deadline >= 0) {
      double d = ceil(deadline - now_ms());
      timeout = d <= 0 ? 0 : d >= (double)INT_MAX ? INT_MAX : (int)d;
    }
    timeout = ov_poll_timeout(timeout); /* while shedding, wake to lower the share when idle */
    if (stop_at >= 0) {
      /* stopping: wake often enough to see the de-registrations answered, and at the grace's end */
      double d = ceil(stop_at - now_ms());
      int st = d <= 0 ? 0 : d > 20 ? 20 : (int)d;
      if (timeout < 0 || st < timeout) timeout = st;
    }
    if (log_pending() && (timeout < 0 || timeout > 20)) timeout = 20; /* stdout was full: retry soon */
    if (nconns > 0 && (timeout < 0 || timeout > 1000)) timeout = 1000; /* the partial-message sweep */
    double flush_at = usage_deadline();
    if (flush_at >= 0) {
      double d = ceil(flush_at - now_ms());
      int ft = d <= 0 ? 0 : d >= (double)INT_MAX ? INT_MAX : (int)d;
      if (timeout < 0 || ft < timeout) timeout = ft;
    }
    /* c-ares's sockets ride after ours for this poll only (handlers may add pfds: their revents are
     * copied out first), and its next timeout bounds the wait */
    reserve_pfds(npfds + RESOLVE_MAX_FDS + METRICS_MAX_FDS + LOC_MAX_FDS);
    int nres = resolve_pollfds(pfds + npfds, RESOLVE_MAX_FDS);
    timeout = resolve_timeout(timeout);
    /* the metrics endpoint's sockets likewise (metrics.h), its clients' deadlines bounding the wait */
    int nmet = metrics_pollfds(pfds + npfds + nres, METRICS_MAX_FDS);
    timeout = metrics_timeout(timeout);
    /* and the location service's (location.h), its retry and connect deadlines bounding the wait */
    int nloc = location_pollfds(pfds + npfds + nres + nmet, LOC_MAX_FDS);
    timeout = location_timeout(timeout);
    if (next_watch >= 0) {
      double d = ceil(next_watch - now_ms());
      int wt = d <= 0 ? 0 : d >= (double)INT_MAX ? INT_MAX : (int)d;
      if (timeout < 0 || wt < timeout) timeout = wt;
    }
    int n = poll(pfds, (nfds_t)(npfds + nres + nmet + nloc), timeout);
    struct pollfd res_fds[RESOLVE_MAX_FDS], met_fds[METRICS_MAX_FDS], loc_fds[LOC_MAX_FDS];
    memcpy(res_fds, pfds + npfds, (size_t)nres * sizeof *res_fds);
    memcpy(met_fds, pfds + npfds + nres, (size_t)nmet * sizeof *met_fds);
    memcpy(loc_fds, pfds + npfds + nres + nmet, (size_t)nloc * sizeof *loc_fds);
    if (n < 0 && errno != EINTR) {
      log_begin(LOG_ERROR, "poll failed");
      log_str("error", errname(errno));
      log_end();
      log_flush();
      exit(1);
    }
    if (got_signal == SIGUSR2) {
      got_signal = 0;
      log_stats("SIGUSR2");
    } else if (got_signal && stop_at < 0) {
      /* RFC 3261 §10.2.2: our registrations with providers are taken back (Expires: 0) before we go; the
       * loop keeps serving until they are answered or the grace period is over */
      stop_sig = got_signal;
      double t = now_ms();
      stop_at = t + DEREGISTER_GRACE_MS;
      int left = (int)CALL("sip_shutdown", Z_sipZ_sip_shutdown(&core, t));
      after(t);
      if (left > 0 && log_on(LOG_INFO)) {
        log_begin(LOG_INFO, "de-registering");
        log_num("registrations", left);
        log_end();
      }
    }
    if (stop_at >= 0) {
      double t = now_ms();
      if (t >= stop_at || (int)CALL("sip_shutdown", Z_sipZ_sip_shutdown(&core, t)) == 0) stop(stop_sig);
    }
    double now = now_ms();
    if (deadline >= 0 && now >= deadline) {
      CALL("sip_handle_timeout", Z_sipZ_sip_handle_timeout(&core, now));
      after(now);
    }
    if (next_watch >= 0 && now >= next_watch) trunk_watch_round(now);
    int count = n > 0 ? npfds : 0;
    for (int i = 0; i < count; i++) {
      short rev = pfds[i].revents;
      if (!rev || pfds[i].fd < 0) continue;
      pfds[i].revents = 0;
      switch (kinds[i]) {
        case K_WAKE: break; /* got_signal is checked after poll */
        case K_RELAY: on_relay(); break;
        case K_UDP: on_udp(owners[i]); break;
        case K_LISTEN: on_accept(owners[i]); break;
        case K_CONN: {
          conn *c = owners[i];
          if ((rev & (POLLOUT | POLLERR | POLLHUP)) && (c->connecting || c->handshaking || c->read_wants_write || c->ooff < c->olen)) on_writable(c);
          if (!c->closed && (rev & (POLLIN | POLLERR | POLLHUP))) on_readable(c);
          break;
        }
      }
    }
    resolve_process(res_fds, n > 0 ? nres : 0); /* answers send what waited for them */
    metrics_process(met_fds, n > 0 ? nmet : 0);  /* scrapes answered; clients past their deadline closed */
    if (location_on()) location_process(loc_fds, n > 0 ? nloc : 0); /* Redis replies and messages; retries */
    if (closed_n) after(now_ms());
    if (usage_deadline() >= 0 && now_ms() >= usage_deadline()) usage_flush();
    int shed = ov_tick(now_ms());
    if (shed >= 0) CALL("sip_cfg_set", Z_sipZ_sip_cfg_set(&core, SIP_CFG_KEY_SHED, (double)shed));
    if (nconns > 0) sweep(now_ms());
    reap();
  }
}

/* ---- the core's bindings, the shared location service, the management API ---------------- */

static int32_t core_loc(int op, uint32_t arg) {
  double t = now_ms();
  int32_t r = (int32_t)CALL("sip_loc", Z_sipZ_sip_loc(&core, (u32)op, t, arg));
  if (op == SIP_LOC_OP_PUT || op == SIP_LOC_OP_REMOVE) after(t); /* the events a change produced */
  return r;
}

static u32 loc_ptr;
static uint8_t *core_loc_buf(void) { return loc_ptr ? M(loc_ptr) : NULL; }

static double core_stat(int id) { return CALL("sip_stat", Z_sipZ_sip_stat(&core, (u32)id)); }

static void config_fail(const char *key, const char *msg) {
  log_flush();
  fprintf(stderr, "config error: \"%s\": %s\n", key, msg);
  exit(2);
}

/* "location.redis": the shared location service (location.h), joined before "running" is logged (its
 * first connection is attempted; a Redis not there yet is retried every second, serving meanwhile). */
static void start_location(const config *cfg) {
  loc_ptr = CALL("sip_loc_ptr", Z_sipZ_sip_loc_ptr(&core));
  loc_init(&(loc_core){core_loc, core_loc_buf});
  const char *spec = cfg_str(cfg, SK_LOCATION_REDIS);
  if (!spec) return;
  char msg[256];
  if (!loc_available()) {
    snprintf(msg, sizeof msg, "needs a core with the location service (board \"server\" or \"b2bua\"; this is \"%s\")", SIPLING_BOARD);
    config_fail("location.redis", msg);
  }
  const char *instance = cfg_str(cfg, SK_LOCATION_ADDRESS);
  if (!instance) {
    for (int id = 1; id <= n_transports && !instance; id++)
      if (transports[id].fd >= 0 && transports[id].proto == SIP_PROTO_UDP) instance = transports[id].advertised;
  }
  if (!instance) config_fail("location.address", "needed when no udp listen gives the instance's address");
  size_t il = strlen(instance);
  if (il >= 2 && strcmp(instance + il - 2, ":0") == 0) {
    snprintf(msg, sizeof msg, "port 0 is no address for the other instances (%s)", instance);
    config_fail("location.address", msg);
  }
  char addr[64];
  int fam, port;
  parse_ip_port(spec, addr, &fam, &port); /* the schema's check took it */
  const char *prefix = cfg_str(cfg, SK_LOCATION_PREFIX);
  location_start(addr, fam, port, instance, prefix ? prefix : "sipling", cfg_str(cfg, SK_LOCATION_USERNAME), cfg_str(cfg, SK_LOCATION_PASSWORD));
}

static int management_api(const char *method, const char *path, const char *query, strbuf *body) {
  return manage_answer(method, path, query, body);
}

/* "metrics.listen": the Prometheus endpoint (metrics.h), bound before "running" is logged. */
static void start_metrics(const config *cfg) {
  const char *spec = cfg_str(cfg, SK_METRICS_LISTEN);
  if (cfg_bool(cfg, SK_MANAGEMENT)) {
    if (!spec) config_fail("management", "needs metrics.listen (the API is served beside the metrics)");
    manage_init(SIPLING_BOARD, core_stat);
    metrics_set_api(management_api);
  }
  if (!spec) return;
  char bound[96];
  int e = metrics_start(spec, render_metrics, bound, sizeof bound);
  if (e) {
    char msg[256];
    snprintf(msg, sizeof msg, "cannot listen on metrics.listen %s: %s", spec, errname(e));
    core_error(msg);
  }
  if (log_on(LOG_INFO)) {
    char url[128];
    snprintf(url, sizeof url, "http://%s/metrics", bound);
    log_begin(LOG_INFO, "metrics listening");
    log_str("url", url);
    log_end();
  }
}

int main(int argc, char **argv) {
  started_ms = now_ms();
  cli cl;
  config_parse(&cl, argc - 1, argv + 1, SIPLING_BOARD);
  if (cl.help) {
    config_usage();
    return 0;
  }
  if (cl.version) {
    config_version();
    return 0;
  }
  if (cl.print_config) {
    config_print(&cl.cfg);
    return 0;
  }
  const config *cfg = &cl.cfg;
  /* Room for SIP_LIMIT_TCP_CONNECTIONS and the rest: the soft limit of open files raised to the hard
     one, as Node does (a soft limit of 1024 would turn accept into EMFILE below the connection bound). */
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    (void)setrlimit(RLIMIT_NOFILE, &rl);
  }
  /* The secure default, before anything is bound: no users + a non-loopback address = open relay. */
  config_check_secure(cfg);
  log_rank = (int)cfg->v[SK_LOG_LEVEL].num; /* the schema's values are in log rank order */
  trace_on = cfg_bool(cfg, SK_TRACE);
  for (int i = 0; i < 256; i++) transports[i].fd = -1;
  {
    struct timespec rt;
    clock_gettime(CLOCK_REALTIME, &rt);
    wall_offset = (double)rt.tv_sec * 1000.0 + (double)rt.tv_nsec / 1e6 - now_ms();
  }
  const char *usage_file = cfg_str(cfg, SK_USAGE_LOG);
  if (usage_file) {
    if (!usage_open(usage_file)) {
      fprintf(stderr, "config error: \"usageLog\": cannot open \"%s\" for appending (%s)\n", usage_file, errname(errno));
      return 2;
    }
    usage_on = true;
  }

  if (pipe2(wake_pipe, O_NONBLOCK | O_CLOEXEC) != 0) core_error("cannot create the wake pipe");
  add_pfd(wake_pipe[0], POLLIN, K_WAKE, NULL);
  struct sigaction sa = {0};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGUSR2, &sa, NULL); /* log the counters and keep running */
  signal(SIGPIPE, SIG_IGN);

  /* TLS: the certificate, key and CAs read before anything is bound (a bad file is a configuration error) */
  for (size_t i = 0; i < cfg->n_listens; i++) {
    if (cfg->listens[i].proto != SIP_PROTO_TLS) continue;
    const char *key = "tls.certificate";
    char err[768];
    if (!tls_init(cfg, &key, err, sizeof err)) {
      log_flush();
      fprintf(stderr, "config error: \"%s\": %s\n", key, err);
      return 2;
    }
    break;
  }
  bind_all(cfg);
  {
    const cfg_value *dv = &cfg->v[SK_DNS_SERVERS];
    const char *err = resolve_init(dv->set ? dv->list : NULL, dv->set ? dv->n : 0, (int)cfg->v[SK_DNS_TIMEOUT].num, send_resolved);
    if (err) {
      log_begin(LOG_ERROR, "cannot start the resolver");
      log_str("error", err);
      log_end();
      log_flush();
      exit(1);
    }
  }

  wasm_rt_init();
  Z_sip_init_module();
  Z_sip_instantiate(&core);
  /* The one unwind target for every core call (see the file's header). */
  wasm_rt_trap_t trap = (wasm_rt_trap_t)wasm_rt_impl_try();
  if (trap != WASM_RT_TRAP_NONE) {
    log_begin(LOG_ERROR, "core trapped");
    log_str("trap", wasm_rt_strerror(trap));
    log_num("code", trap);
    log_str("call", core_call);
    log_end();
    log_flush();
    usage_close();
    _exit(1);
  }
  start_core(cfg);
  trunk_watch_init(cfg);
  trunk_watch_round(now_ms());
  start_relay(cfg);
  start_metrics(cfg);
  start_location(cfg);
  if (log_on(LOG_INFO)) {
    log_begin(LOG_INFO, "running");
    log_str("core", SIPLING_ENGINE);
    log_str("board", SIPLING_BOARD);
    log_num("pid", getpid());
    log_end();
  }
  run();
  return 0;
}
