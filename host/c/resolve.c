/* Name resolution of the native host (resolve.h): c-ares, driven from the host's poll() loop, with
 * the bounds and counters of host/shared/resolver.mjs.
 *
 *   cache    SIP_LIMIT_DNS_CACHE entries in a fixed table: a hash index (chains of entry indices)
 *            for lookups by (family, name) and a doubly linked list in use order for LRU eviction;
 *            an expired entry is removed when met. ~300 KB (the name is inline: 254 bytes).
 *   lookups  SIP_LIMIT_DNS_IN_FLIGHT slots, each with its name, the source that started it and up to
 *            SIP_LIMIT_DNS_WAIT_PER_NAME held messages (malloc'd copies, SIP_LIMIT_DNS_WAIT_BYTES in
 *            all). A slot is the `arg` of its c-ares callback and is released by it.
 *
 * c-ares is asked with ares_getaddrinfo for the transport's family only, the hosts file first ("fb"),
 * no search domains (a Request-URI host is a full name; the Node host's resolve4/resolve6 use none
 * either; c-ares 1.18 reads the hosts file at each new lookup: a local, page-cached file, once per
 * lookup started, never per message), tries 2 (c-ares waits dns.timeout, then twice that), no address sorting (sorting connects a
 * socket per address). A callback may run inside ares_getaddrinfo (the hosts file, an immediate error):
 * the slot is filled before the call and not touched after it. */
#include "resolve.h"
#include "config.h"
#include "log.h"
#include "numbers.h"

#include <ares.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#define NAME_BUF 254        /* the longest host name (RFC 1035 2.3.4: 253 without the final dot) + NUL */
#define CACHE_BUCKETS 2048  /* hash buckets of the cache (power of two, 2x the entries) */
#define NONE (-1)

_Static_assert(SIP_LIMIT_DNS_CACHE < 32768 && SIP_LIMIT_DNS_CACHE <= CACHE_BUCKETS, "cache indices are int16_t");

typedef struct {
  char name[NAME_BUF];
  uint8_t want;         /* the family asked for (4/6); 0 = a free entry */
  uint8_t fam;          /* the answer's family (4/6), 0 for a failure */
  uint8_t addr[16];
  double until;         /* ms, monotonic */
  int16_t hnext;        /* next entry in the hash chain */
  int16_t older, newer; /* the use-order list */
} cache_entry;

typedef struct {
  uint8_t *buf;
  size_t n;
  void *t;
  uint32_t conn;
  uint16_t port;
} held_msg;

typedef struct {
  bool used;
  char name[NAME_BUF];
  int want;
  int src_fam; /* the source that started it (0: the core's timers) */
  uint8_t src[16];
  held_msg held[SIP_LIMIT_DNS_WAIT_PER_NAME];
  int nheld;
} lookup;

enum { /* RESOLVE_STAT_NAMES order */
  S_LOOKUPS, S_ANSWERS, S_FAILURES, S_CACHE_HITS, S_NEGATIVE_HITS, S_HELD, S_DROP_INFLIGHT, S_DROP_SOURCE,
  S_DROP_WAITING, S_DROP_FAILED, S_DROP_NAME, S_COUNTERS
};
const char *const RESOLVE_STAT_NAMES[RESOLVE_STAT_COUNT] = {
  "dnsLookups", "dnsAnswers", "dnsFailures", "dnsCacheHits", "dnsNegativeHits", "dnsHeld", "dnsDroppedInFlight",
  "dnsDroppedPerSource", "dnsDroppedWaiting", "dnsDroppedFailed", "dnsDroppedName", "dnsInFlight", "dnsWaiting",
  "dnsWaitingBytes", "dnsCached",
};

static ares_channel channel;
static bool ready;
static resolve_sender sender;
static cache_entry cache[SIP_LIMIT_DNS_CACHE];
static int16_t buckets[CACHE_BUCKETS];
static int16_t oldest = NONE, newest = NONE, free_head = NONE; /* free entries chain through hnext */
static int n_cached;
static lookup lookups[SIP_LIMIT_DNS_IN_FLIGHT];
static int n_lookups, n_held;
static size_t held_bytes;
static int cur_src_fam;
static uint8_t cur_src[16];
static uint64_t counts[S_COUNTERS];

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

/* ---- cache ------------------------------------------------------------------------------------ */

static unsigned name_hash(const char *name, int want) {
  uint32_t h = 2166136261u ^ (uint32_t)want;
  for (const char *p = name; *p; p++) h = (h ^ (uint8_t)*p) * 16777619u;
  return h & (CACHE_BUCKETS - 1);
}

static void cache_init(void) {
  for (int i = 0; i < CACHE_BUCKETS; i++) buckets[i] = NONE;
  free_head = NONE;
  for (int i = SIP_LIMIT_DNS_CACHE - 1; i >= 0; i--) {
    cache[i].want = 0;
    cache[i].hnext = free_head;
    free_head = (int16_t)i;
  }
  oldest = newest = NONE;
  n_cached = 0;
}

static void list_unlink(int i) {
  cache_entry *c = &cache[i];
  if (c->older != NONE) cache[c->older].newer = c->newer;
  else oldest = c->newer;
  if (c->newer != NONE) cache[c->newer].older = c->older;
  else newest = c->older;
}

static void list_push_newest(int i) {
  cache[i].older = newest;
  cache[i].newer = NONE;
  if (newest != NONE) cache[newest].newer = (int16_t)i;
  else oldest = (int16_t)i;
  newest = (int16_t)i;
}

static void cache_remove(int i) {
  cache_entry *c = &cache[i];
  int16_t *pp = &buckets[name_hash(c->name, c->want)];
  while (*pp != NONE && *pp != i) pp = &cache[*pp].hnext;
  if (*pp == i) *pp = c->hnext;
  list_unlink(i);
  c->want = 0;
  c->hnext = free_head;
  free_head = (int16_t)i;
  n_cached--;
}

/* The live entry of (name, want), moved to the newest end; an expired one is removed. */
static cache_entry *cache_get(const char *name, int want, double now) {
  for (int i = buckets[name_hash(name, want)]; i != NONE; i = cache[i].hnext) {
    cache_entry *c = &cache[i];
    if (c->want != want || strcmp(c->name, name) != 0) continue;
    if (c->until <= now) {
      cache_remove(i);
      return NULL;
    }
    list_unlink(i);
    list_push_newest(i);
    return c;
  }
  return NULL;
}

static void cache_put(const char *name, int want, int fam, const uint8_t *addr, double until) {
  for (int i = buckets[name_hash(name, want)]; i != NONE; i = cache[i].hnext) {
    if (cache[i].want == want && strcmp(cache[i].name, name) == 0) {
      cache_remove(i);
      break;
    }
  }
  if (free_head == NONE) cache_remove(oldest); /* full: evict the least recently used */
  int i = free_head;
  cache_entry *c = &cache[i];
  free_head = c->hnext;
  snprintf(c->name, sizeof c->name, "%s", name);
  c->want = (uint8_t)want;
  c->fam = (uint8_t)fam;
  memset(c->addr, 0, 16);
  if (fam) memcpy(c->addr, addr, fam == 6 ? 16 : 4);
  c->until = until;
  unsigned h = name_hash(c->name, want);
  c->hnext = buckets[h];
  buckets[h] = (int16_t)i;
  list_push_newest(i);
  n_cached++;
}

/* ---- start, stop ------------------------------------------------------------------------------ */

const char *resolve_init(const char *const *servers, size_t n, int timeout_ms, resolve_sender send) {
  static char msg[200];
  sender = send;
  cache_init();
  int r = ares_library_init(ARES_LIB_INIT_ALL);
  if (r != ARES_SUCCESS) return ares_strerror(r);
  struct ares_options o;
  memset(&o, 0, sizeof o);
  o.timeout = timeout_ms;
  o.tries = 2;
  o.lookups = (char *)"fb"; /* the hosts file, then DNS */
  o.domains = NULL;
  o.ndomains = 0; /* no search list */
  r = ares_init_options(&channel, &o, ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_LOOKUPS | ARES_OPT_DOMAINS);
  if (r != ARES_SUCCESS) return ares_strerror(r);
  if (n > 0) {
    struct ares_addr_port_node nodes[8];
    if (n > sizeof nodes / sizeof nodes[0]) return "more than 8 DNS servers";
    for (size_t i = 0; i < n; i++) {
      char text[64];
      int fam = 0, port = 0;
      struct ares_addr_port_node *s = &nodes[i];
      memset(s, 0, sizeof *s);
      if (!parse_dns_server(servers[i], text, &fam, &port) ||
          inet_pton(fam == 6 ? AF_INET6 : AF_INET, text, fam == 6 ? (void *)&s->addr.addr6 : (void *)&s->addr.addr4) != 1) {
        snprintf(msg, sizeof msg, "cannot use the DNS server \"%s\"", servers[i]);
        ares_destroy(channel);
        return msg;
      }
      s->family = fam == 6 ? AF_INET6 : AF_INET;
      s->udp_port = s->tcp_port = port;
      s->next = i + 1 < n ? &nodes[i + 1] : NULL;
    }
    r = ares_set_servers_ports(channel, nodes); /* copies the list */
    if (r != ARES_SUCCESS) {
      snprintf(msg, sizeof msg, "cannot use the DNS servers (%s)", ares_strerror(r));
      ares_destroy(channel);
      return msg;
    }
  }
  ready = true;
  return NULL;
}

void resolve_shutdown(void) {
  if (!ready) return;
  ready = false;         /* callbacks with ARES_EDESTRUCTION send nothing */
  ares_destroy(channel); /* runs every pending callback */
  ares_library_cleanup();
}

void resolve_source(int fam, const uint8_t addr[16]) {
  cur_src_fam = fam == 4 || fam == 6 ? fam : 0;
  memset(cur_src, 0, 16);
  if (cur_src_fam) memcpy(cur_src, addr, 16);
}

void resolve_stats(double out[RESOLVE_STAT_COUNT]) {
  for (int i = 0; i < S_COUNTERS; i++) out[i] = (double)counts[i];
  out[S_COUNTERS] = n_lookups;
  out[S_COUNTERS + 1] = n_held;
  out[S_COUNTERS + 2] = (double)held_bytes;
  out[S_COUNTERS + 3] = n_cached;
}

/* ---- lookups ---------------------------------------------------------------------------------- */

static void drop(int counter, const char *name, const char *why) {
  counts[counter]++;
  if (log_on(LOG_DEBUG)) {
    log_begin(LOG_DEBUG, "transmit to a name dropped");
    log_str("name", name);
    log_str("why", why);
    log_end();
  }
}

static bool hold(lookup *l, void *t, uint32_t conn, uint16_t port, const uint8_t *buf, size_t n) {
  if (l->nheld >= SIP_LIMIT_DNS_WAIT_PER_NAME || held_bytes + n > SIP_LIMIT_DNS_WAIT_BYTES) return false;
  uint8_t *copy = malloc(n ? n : 1);
  if (!copy) return false;
  memcpy(copy, buf, n);
  l->held[l->nheld++] = (held_msg){.buf = copy, .n = n, .t = t, .conn = conn, .port = port};
  held_bytes += n;
  n_held++;
  return true;
}

static void release(lookup *l) {
  for (int i = 0; i < l->nheld; i++) {
    held_bytes -= l->held[i].n;
    free(l->held[i].buf);
  }
  n_held -= l->nheld;
  l->nheld = 0;
  l->used = false;
  n_lookups--;
}

static void on_answer(void *arg, int status, int timeouts, struct ares_addrinfo *res) {
  (void)timeouts;
  lookup *l = arg;
  int fam = 0;
  uint8_t addr[16] = {0};
  double ttl = 0;
  if (status == ARES_SUCCESS && res) {
    for (struct ares_addrinfo_node *a = res->nodes; a; a = a->ai_next) {
      if (a->ai_family == AF_INET && l->want == 4) {
        memcpy(addr, &((struct sockaddr_in *)a->ai_addr)->sin_addr, 4);
        fam = 4;
      } else if (a->ai_family == AF_INET6 && l->want == 6) {
        memcpy(addr, &((struct sockaddr_in6 *)a->ai_addr)->sin6_addr, 16);
        fam = 6;
      } else {
        continue;
      }
      ttl = (double)a->ai_ttl * 1000.0;
      break;
    }
  }
  if (res) ares_freeaddrinfo(res);
  if (!ready) { /* shutting down (ARES_EDESTRUCTION): nothing is sent any more */
    release(l);
    return;
  }
  double now = now_ms();
  if (fam) {
    if (ttl < SIP_LIMIT_DNS_MIN_TTL * 1000.0) ttl = SIP_LIMIT_DNS_MIN_TTL * 1000.0;
    if (ttl > SIP_LIMIT_DNS_MAX_TTL * 1000.0) ttl = SIP_LIMIT_DNS_MAX_TTL * 1000.0;
    cache_put(l->name, l->want, fam, addr, now + ttl);
    counts[S_ANSWERS]++;
    for (int i = 0; i < l->nheld; i++) {
      held_msg *m = &l->held[i];
      sender(m->t, m->conn, fam, addr, m->port, m->buf, m->n);
    }
  } else {
    cache_put(l->name, l->want, 0, NULL, now + SIP_LIMIT_DNS_NEGATIVE_TTL * 1000.0);
    counts[S_FAILURES]++;
    counts[S_DROP_FAILED] += (uint64_t)l->nheld;
    if (log_on(LOG_WARN)) {
      log_begin(LOG_WARN, "cannot resolve destination; dropped");
      log_str("name", l->name);
      log_num("family", l->want);
      log_str("error", status == ARES_SUCCESS ? "ENODATA" : ares_strerror(status));
      log_num("messages", l->nheld);
      log_end();
    }
  }
  release(l);
}

/* name (len bytes) -> lower case, without brackets or a final dot, into out (NAME_BUF); false if it
 * cannot be a host name (empty, too long, a NUL). */
static bool normalize(const char *name, size_t len, char out[NAME_BUF]) {
  if (len >= 2 && name[0] == '[' && name[len - 1] == ']') name++, len -= 2;
  else if (len > 0 && name[len - 1] == '.') len--;
  if (len == 0 || len >= NAME_BUF) return false;
  for (size_t i = 0; i < len; i++) {
    char c = name[i];
    if (c == 0) return false;
    out[i] = c >= 'A' && c <= 'Z' ? (char)(c + 32) : c;
  }
  out[len] = 0;
  return true;
}

void resolve_send(void *t, int want, uint32_t conn_id, const char *raw, size_t len, uint16_t port, const uint8_t *buf, size_t n) {
  char name[NAME_BUF];
  if (!normalize(raw, len, name)) {
    char shown[64];
    snprintf(shown, sizeof shown, "%.*s", (int)(len < 63 ? len : 63), raw);
    drop(S_DROP_NAME, shown, "not a host name");
    return;
  }
  uint8_t lit[16] = {0};
  if (inet_pton(AF_INET, name, lit) == 1) {
    sender(t, conn_id, 4, lit, port, buf, n);
    return;
  }
  if (inet_pton(AF_INET6, name, lit) == 1) {
    sender(t, conn_id, 6, lit, port, buf, n);
    return;
  }
  double now = now_ms();
  cache_entry *c = cache_get(name, want, now);
  if (c) {
    if (c->fam == 0) {
      drop(S_NEGATIVE_HITS, name, "failed recently (negative cache)");
      return;
    }
    counts[S_CACHE_HITS]++;
    sender(t, conn_id, c->fam, c->addr, port, buf, n);
    return;
  }
  lookup *slot = NULL;
  int from_source = 0;
  for (int i = 0; i < SIP_LIMIT_DNS_IN_FLIGHT; i++) {
    lookup *l = &lookups[i];
    if (!l->used) {
      if (!slot) slot = l;
      continue;
    }
    if (l->want == want && strcmp(l->name, name) == 0) {
      if (hold(l, t, conn_id, port, buf, n)) counts[S_HELD]++;
      else drop(S_DROP_WAITING, name, "too many messages waiting");
      return;
    }
    if (l->src_fam == cur_src_fam && memcmp(l->src, cur_src, 16) == 0) from_source++;
  }
  if (!ready || !slot) {
    drop(S_DROP_INFLIGHT, name, ready ? "too many lookups in flight" : "no resolver");
    return;
  }
  if (from_source >= SIP_LIMIT_DNS_PER_SOURCE) {
    drop(S_DROP_SOURCE, name, "too many lookups for one source");
    return;
  }
  lookup *l = slot;
  l->nheld = 0;
  if (!hold(l, t, conn_id, port, buf, n)) {
    drop(S_DROP_WAITING, name, "too many messages waiting");
    return;
  }
  l->used = true;
  n_lookups++;
  memcpy(l->name, name, sizeof name);
  l->want = want;
  l->src_fam = cur_src_fam;
  memcpy(l->src, cur_src, 16);
  counts[S_LOOKUPS]++;
  struct ares_addrinfo_hints h;
  memset(&h, 0, sizeof h);
  h.ai_family = want == 6 ? AF_INET6 : AF_INET;
  h.ai_flags = ARES_AI_NOSORT;
  ares_getaddrinfo(channel, l->name, NULL, &h, on_answer, l); /* may call on_answer before it returns */
}

/* ---- the poll loop ---------------------------------------------------------------------------- */

int resolve_pollfds(struct pollfd *out, int max) {
  if (!ready) return 0;
  ares_socket_t socks[ARES_GETSOCK_MAXNUM];
  int bits = ares_getsock(channel, socks, ARES_GETSOCK_MAXNUM);
  int n = 0;
  for (int i = 0; i < ARES_GETSOCK_MAXNUM && n < max; i++) {
    short ev = 0;
    if (ARES_GETSOCK_READABLE(bits, i)) ev |= POLLIN;
    if (ARES_GETSOCK_WRITABLE(bits, i)) ev |= POLLOUT;
    if (!ev) continue;
    out[n++] = (struct pollfd){.fd = socks[i], .events = ev, .revents = 0};
  }
  return n;
}

int resolve_timeout(int timeout) {
  if (!ready || n_lookups == 0) return timeout;
  struct timeval tv, *tvp = ares_timeout(channel, NULL, &tv);
  if (!tvp) return timeout;
  long ms = tvp->tv_sec * 1000 + (tvp->tv_usec + 999) / 1000;
  return timeout < 0 || ms < timeout ? (int)ms : timeout;
}

void resolve_process(const struct pollfd *fds, int n) {
  if (!ready) return;
  for (int i = 0; i < n; i++) {
    if (!fds[i].revents) continue;
    ares_socket_t rd = fds[i].revents & (POLLIN | POLLERR | POLLHUP) ? fds[i].fd : ARES_SOCKET_BAD;
    ares_socket_t wr = fds[i].revents & POLLOUT ? fds[i].fd : ARES_SOCKET_BAD;
    ares_process_fd(channel, rd, wr);
  }
  if (n_lookups > 0) ares_process_fd(channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD); /* timeouts */
}

_Static_assert(S_COUNTERS + 4 == RESOLVE_STAT_COUNT, "RESOLVE_STAT_NAMES: counters, then 4 gauges");
