/* Name resolution of the native host (resolve.h): c-ares, driven from the host's poll() loop, with
 * the bounds and counters of host/shared/resolver.mjs.
 *
 *   cache    SIP_LIMIT_DNS_CACHE entries in a fixed table: a hash index (chains of entry indices)
 *            for lookups by (family, RFC 3263 transport or none, name) and a doubly linked list in
 *            use order for LRU eviction; an expired entry is removed when met. 368 KB (368 bytes an entry: the name inline,
 *            254 bytes, and SIP_LIMIT_DNS_TARGETS targets).
 *   lookups  SIP_LIMIT_DNS_IN_FLIGHT slots, each with its name, the source that started it and up to
 *            SIP_LIMIT_DNS_WAIT_PER_NAME held messages (malloc'd copies, SIP_LIMIT_DNS_WAIT_BYTES in
 *            all), and for RFC 3263 the SRV names and targets it tries (177 KB: 2,832 bytes a slot).
 *            A slot is the `arg` of its c-ares callbacks and is released by the last of them.
 *
 * c-ares is asked with ares_getaddrinfo for the transport's family only, the hosts file first ("fb"),
 * no search domains (a Request-URI host is a full name; the Node host's resolve4/resolve6 use none
 * either; c-ares 1.18 reads the hosts file at each new lookup: a local, page-cached file, once per
 * lookup started, never per message), tries 2 (c-ares waits dns.timeout, then twice that), no address sorting (sorting connects a
 * socket per address). A callback may run inside ares_getaddrinfo (the hosts file, an immediate error):
 * the slot is filled before the call and not touched after it, or kept by a guard count.
 *
 * A name sent with no port (the core's port 0) is located by RFC 3263 §4, as resolver.mjs does it:
 * ares_query NAPTR of the name, the records of the message's transport (SIP+D2U, SIP+D2T, SIPS+D2T,
 * flag "s") by order then preference (§4.1), at most SIP_LIMIT_DNS_TARGETS of them tried in turn for
 * SRV records (without any, _sip._udp / _sip._tcp / _sips._tcp of the name), the first
 * SIP_LIMIT_DNS_TARGETS SRV targets by priority, each one's address by ares_getaddrinfo (in parallel);
 * without SRV records, the name's own address on 5060 (5061 for TLS, §4.2); a name of the hosts file
 * (localhost) goes straight to that last step, asking DNS nothing. The entry is cached for
 * the shortest address TTL (c-ares 1.18's parsers give no TTL for NAPTR or SRV); each message then
 * takes the target of RFC 2782's weighted order that the core's selector picks (srv_pick: seed and
 * index from the peer record's +28, resolver.mjs srvOrder and seeded()). */
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
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#define NAME_BUF 254        /* the longest host name (RFC 1035 2.3.4: 253 without the final dot) + NUL */
#define CACHE_BUCKETS 2048  /* hash buckets of the cache (power of two, 2x the entries) */
#define NONE (-1)
#define TARGETS SIP_LIMIT_DNS_TARGETS
#define T_NAPTR_TYPE 35     /* RFC 3403 */
#define T_SRV_TYPE 33       /* RFC 2782 */
#define C_IN_CLASS 1

_Static_assert(SIP_LIMIT_DNS_CACHE < 32768 && SIP_LIMIT_DNS_CACHE <= CACHE_BUCKETS, "cache indices are int16_t");

typedef struct {
  uint8_t addr[16];
  uint16_t port; /* 0: the message's own (a name sent with its port) */
  uint16_t prio, weight;
} target;

typedef struct {
  char name[NAME_BUF];
  uint8_t want;         /* the family asked for (4/6); 0 = a free entry */
  uint8_t mode;         /* 0: a name with its port (A/AAAA); else the protocol of the RFC 3263 lookup */
  uint8_t fam;          /* the answer's family (4/6), 0 for a failure */
  uint8_t nt;           /* targets */
  target t[TARGETS];
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
  uint32_t sel; /* the peer record's +28: target index k (low byte), seed of the order (the rest) */
} held_msg;

typedef struct lookup lookup;
typedef struct {
  lookup *l;
  int j;
} addr_query; /* the arg of one target's address lookup */

struct lookup {
  bool used;
  char name[NAME_BUF];
  int want;
  int mode;
  int src_fam; /* the source that started it (0: the core's timers) */
  uint8_t src[16];
  held_msg held[SIP_LIMIT_DNS_WAIT_PER_NAME];
  int nheld;
  int outstanding; /* c-ares queries whose callback has not run, plus a guard while starting some */
  int nsrv, srv_i; /* SRV names to try (from NAPTR, else the §4.1 default), the one asked */
  char srv[TARGETS][NAME_BUF];
  int nt; /* targets and their addresses */
  char tname[TARGETS][NAME_BUF];
  target tg[TARGETS];
  bool found[TARGETS];
  double ttl;
  int status; /* the last failure, for the log */
  addr_query aq[TARGETS];
};

/* Protocol numbers of abi.json "protos" (1 UDP, 2 TCP, 3 TLS): NAPTR service, SRV prefix, port. */
static const struct {
  const char *naptr, *srv;
  uint16_t port;
} SERVICES[4] = {{NULL, NULL, 0}, {"SIP+D2U", "_sip._udp.", 5060}, {"SIP+D2T", "_sip._tcp.", 5060}, {"SIPS+D2T", "_sips._tcp.", 5061}};

enum { /* RESOLVE_STAT_NAMES order */
  S_LOOKUPS, S_ANSWERS, S_FAILURES, S_CACHE_HITS, S_NEGATIVE_HITS, S_HELD, S_DROP_INFLIGHT, S_DROP_SOURCE,
  S_DROP_WAITING, S_DROP_FAILED, S_DROP_NAME, S_DROP_NO_TARGET, S_COUNTERS
};
const char *const RESOLVE_STAT_NAMES[RESOLVE_STAT_COUNT] = {
  "dnsLookups", "dnsAnswers", "dnsFailures", "dnsCacheHits", "dnsNegativeHits", "dnsHeld", "dnsDroppedInFlight",
  "dnsDroppedPerSource", "dnsDroppedWaiting", "dnsDroppedFailed", "dnsDroppedName", "dnsDroppedNoTarget", "dnsInFlight", "dnsWaiting",
  "dnsWaitingBytes", "dnsCached",
};

static ares_channel channel;
static bool ready;
static resolve_sender sender;
static resolve_watcher watcher;

void resolve_watch(resolve_watcher w) {
  watcher = w;
}
static cache_entry cache[SIP_LIMIT_DNS_CACHE];
static int16_t buckets[CACHE_BUCKETS];
static int16_t oldest = NONE, newest = NONE, free_head = NONE; /* free entries chain through hnext */
static int n_cached;
static lookup lookups[SIP_LIMIT_DNS_IN_FLIGHT];
static int n_lookups, n_held;
static int n_asking; /* the proxy's transport questions in flight (resolve_transport_ask): lookups too */
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

static unsigned name_hash(const char *name, int want, int mode) {
  uint32_t h = 2166136261u ^ (uint32_t)(want * 8 + mode);
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
  int16_t *pp = &buckets[name_hash(c->name, c->want, c->mode)];
  while (*pp != NONE && *pp != i) pp = &cache[*pp].hnext;
  if (*pp == i) *pp = c->hnext;
  list_unlink(i);
  c->want = 0;
  c->hnext = free_head;
  free_head = (int16_t)i;
  n_cached--;
}

/* The live entry of (name, want, mode), moved to the newest end; an expired one is removed. */
static cache_entry *cache_get(const char *name, int want, int mode, double now) {
  for (int i = buckets[name_hash(name, want, mode)]; i != NONE; i = cache[i].hnext) {
    cache_entry *c = &cache[i];
    if (c->want != want || c->mode != mode || strcmp(c->name, name) != 0) continue;
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

static void cache_put(const char *name, int want, int mode, int fam, const target *t, int nt, double until) {
  for (int i = buckets[name_hash(name, want, mode)]; i != NONE; i = cache[i].hnext) {
    if (cache[i].want == want && cache[i].mode == mode && strcmp(cache[i].name, name) == 0) {
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
  c->mode = (uint8_t)mode;
  c->fam = (uint8_t)fam;
  c->nt = (uint8_t)(fam ? nt : 0);
  if (c->nt) memcpy(c->t, t, (size_t)nt * sizeof *t);
  c->until = until;
  unsigned h = name_hash(c->name, want, mode);
  c->hnext = buckets[h];
  buckets[h] = (int16_t)i;
  list_push_newest(i);
  n_cached++;
}

/* ---- RFC 2782 order --------------------------------------------------------------------------- */

/* The generator of resolver.mjs seeded(): splitmix32 steps from a 24-bit seed. */
static uint32_t next32(uint32_t *x) {
  *x += 0x9e3779b9u;
  uint32_t z = *x;
  z = (z ^ (z >> 16)) * 0x85ebca6bu;
  z = (z ^ (z >> 13)) * 0xc2b2ae35u;
  return z ^ (z >> 16);
}

/* Target k (sel's low byte) of RFC 2782's order of t[0..n), drawn with seed sel >> 8: by priority,
 * within one by weight, the number drawn from 1..total (resolver.mjs srvOrder says why not 0..total);
 * NULL past the last. */
static const target *srv_pick(const target *t, int n, uint32_t sel) {
  int k = (int)(sel & 0xff);
  if (k >= n) return NULL;
  if (n == 1) return &t[0];
  uint32_t x = (sel >> 8) ^ 0x9e3779b9u;
  int left[TARGETS], nl = n;
  for (int i = 0; i < n; i++) left[i] = i;
  for (int i = 1; i < nl; i++) /* by priority (insertion sort: stable, at most TARGETS) */
    for (int j = i; j > 0 && t[left[j - 1]].prio > t[left[j]].prio; j--) {
      int y = left[j];
      left[j] = left[j - 1];
      left[j - 1] = y;
    }
  for (int round = 0;; round++) {
    int m = 0;
    uint32_t total = 0;
    while (m < nl && t[left[m]].prio == t[left[0]].prio) total += t[left[m++]].weight;
    int pick = (int)((uint64_t)next32(&x) * (uint32_t)m >> 32);
    if (total > 0) {
      uint32_t r = 1 + (uint32_t)((uint64_t)next32(&x) * total >> 32), sum = 0;
      for (int i = 0; i < m; i++) {
        sum += t[left[i]].weight;
        if (sum >= r) {
          pick = i;
          break;
        }
      }
    }
    if (round == k) return &t[left[pick]];
    for (int i = pick; i + 1 < nl; i++) left[i] = left[i + 1];
    nl--;
  }
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
  out[S_COUNTERS] = n_lookups + n_asking;
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

static bool hold(lookup *l, void *t, uint32_t conn, uint16_t port, uint32_t sel, const uint8_t *buf, size_t n) {
  if (l->nheld >= SIP_LIMIT_DNS_WAIT_PER_NAME || held_bytes + n > SIP_LIMIT_DNS_WAIT_BYTES) return false;
  uint8_t *copy = malloc(n ? n : 1);
  if (!copy) return false;
  memcpy(copy, buf, n);
  l->held[l->nheld++] = (held_msg){.buf = copy, .n = n, .t = t, .conn = conn, .port = port, .sel = sel};
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

/* Sends a message to the target of an answer that sel picks (port 0 in a target: the message's own). */
static void send_target(void *t, uint32_t conn, int fam, const target *tg, int nt, uint32_t sel, uint16_t port,
                        const uint8_t *buf, size_t n, const char *name) {
  if (sel == RESOLVE_ALL) { /* every target's address, each once */
    uint8_t a[TARGETS][16];
    int k = 0;
    for (int j = 0; j < nt && j < TARGETS; j++) {
      bool seen = false;
      for (int i = 0; i < k; i++) seen = seen || memcmp(a[i], tg[j].addr, 16) == 0;
      if (!seen) memcpy(a[k++], tg[j].addr, 16);
    }
    if (watcher) watcher(t, fam, (const uint8_t (*)[16])a, k);
    return;
  }
  const target *x = srv_pick(tg, nt, sel);
  if (!x) {
    drop(S_DROP_NO_TARGET, name, "no further target");
    return;
  }
  sender(t, conn, fam, x->addr, x->port ? x->port : port, name, buf, n);
}

/* Every query of a lookup has ended: cache the targets that have an address (or the failure), send or
 * drop what waited. */
static void finish(lookup *l) {
  if (!ready) { /* shutting down (ARES_EDESTRUCTION): nothing is sent any more */
    release(l);
    return;
  }
  target tg[TARGETS];
  int nt = 0;
  for (int j = 0; j < l->nt; j++)
    if (l->found[j]) tg[nt++] = l->tg[j];
  double now = now_ms();
  if (nt) {
    double ttl = l->ttl;
    if (ttl < SIP_LIMIT_DNS_MIN_TTL * 1000.0) ttl = SIP_LIMIT_DNS_MIN_TTL * 1000.0;
    if (ttl > SIP_LIMIT_DNS_MAX_TTL * 1000.0) ttl = SIP_LIMIT_DNS_MAX_TTL * 1000.0;
    cache_put(l->name, l->want, l->mode, l->want, tg, nt, now + ttl);
    counts[S_ANSWERS]++;
    for (int i = 0; i < l->nheld; i++) {
      held_msg *m = &l->held[i];
      send_target(m->t, m->conn, l->want, tg, nt, m->sel, m->port, m->buf, m->n, l->name);
    }
  } else {
    cache_put(l->name, l->want, l->mode, 0, NULL, 0, now + SIP_LIMIT_DNS_NEGATIVE_TTL * 1000.0);
    counts[S_FAILURES]++;
    counts[S_DROP_FAILED] += (uint64_t)l->nheld;
    if (log_on(LOG_WARN)) {
      log_begin(LOG_WARN, "cannot resolve destination; dropped");
      log_str("name", l->name);
      log_num("family", l->want);
      log_str("error", l->status == ARES_SUCCESS ? "ENODATA" : ares_strerror(l->status));
      log_num("messages", l->nheld);
      log_end();
    }
  }
  release(l);
}

/* One query of l has ended. */
static void query_done(lookup *l) {
  if (--l->outstanding == 0) finish(l);
}

static void on_addr(void *arg, int status, int timeouts, struct ares_addrinfo *res) {
  (void)timeouts;
  addr_query *q = arg;
  lookup *l = q->l;
  int j = q->j;
  if (status == ARES_SUCCESS && res) {
    for (struct ares_addrinfo_node *a = res->nodes; a; a = a->ai_next) {
      if (a->ai_family == AF_INET && l->want == 4) memcpy(l->tg[j].addr, &((struct sockaddr_in *)a->ai_addr)->sin_addr, 4);
      else if (a->ai_family == AF_INET6 && l->want == 6) memcpy(l->tg[j].addr, &((struct sockaddr_in6 *)a->ai_addr)->sin6_addr, 16);
      else continue;
      double ttl = (double)a->ai_ttl * 1000.0;
      if (ttl < l->ttl) l->ttl = ttl;
      l->found[j] = true;
      break;
    }
  }
  if (!l->found[j]) l->status = status;
  if (res) ares_freeaddrinfo(res);
  query_done(l);
}

/* The address of each of l's targets, in parallel; a guard keeps the slot while they start (a
 * callback may run inside ares_getaddrinfo). */
static void query_addrs(lookup *l) {
  l->outstanding++;
  l->ttl = 1e18;
  for (int j = 0; j < l->nt; j++) {
    memset(l->tg[j].addr, 0, 16);
    l->found[j] = false;
    l->aq[j] = (addr_query){.l = l, .j = j};
    struct ares_addrinfo_hints h;
    memset(&h, 0, sizeof h);
    h.ai_family = l->want == 6 ? AF_INET6 : AF_INET;
    h.ai_flags = ARES_AI_NOSORT;
    l->outstanding++;
    ares_getaddrinfo(channel, l->tname[j], NULL, &h, on_addr, &l->aq[j]);
  }
  query_done(l);
}

/* ---- NAPTR and SRV answers shared for dnsMinTtl (resolver.mjs records) ------------------------------ *
 * The proxy's request to a name asks them to choose its transport (resolve_transport_ask) and then again
 * to locate the server (resolve_send): each question goes to DNS once. c-ares 1.18 gives no TTL for them,
 * so none is kept longer than dnsMinTtl. A fixed ring of answers (failures too); an answer larger than
 * MEMO_BYTES is not kept. A kept answer is given to the callback at once, inside memo_query: every
 * caller already allows a callback to run before ares_query returns. */
#define MEMO_N 64
#define MEMO_BYTES 1024
typedef struct {
  int type, status, alen;
  double until;
  char name[NAME_BUF];
  unsigned char abuf[MEMO_BYTES];
} memo_entry;
static memo_entry memos[MEMO_N];
static int memo_next;

static void memo_put(int type, const char *name, int status, const unsigned char *abuf, int alen) {
  if (!ready || (abuf >= memos[0].abuf && abuf < (const unsigned char *)(memos + MEMO_N))) return; /* dead, or a kept one */
  if (status == ARES_SUCCESS && (alen <= 0 || alen > MEMO_BYTES)) return;
  memo_entry *e = NULL;
  for (int i = 0; i < MEMO_N && !e; i++)
    if (memos[i].until > 0 && memos[i].type == type && strcmp(memos[i].name, name) == 0) e = &memos[i];
  if (!e) {
    e = &memos[memo_next];
    memo_next = (memo_next + 1) % MEMO_N;
  }
  e->type = type;
  e->status = status;
  e->alen = status == ARES_SUCCESS ? alen : 0;
  if (e->alen) memcpy(e->abuf, abuf, (size_t)alen);
  snprintf(e->name, NAME_BUF, "%s", name);
  e->until = now_ms() + SIP_LIMIT_DNS_MIN_TTL * 1000.0;
}

/* ares_query of `type` for `name`, or its answer of the last dnsMinTtl given to cb now. */
static void memo_query(const char *name, int type, ares_callback cb, void *arg) {
  double now = now_ms();
  for (int i = 0; i < MEMO_N; i++) {
    memo_entry *e = &memos[i];
    if (e->until > now && e->type == type && strcmp(e->name, name) == 0) {
      cb(arg, e->status, 0, e->alen ? e->abuf : NULL, e->alen);
      return;
    }
  }
  ares_query(channel, name, C_IN_CLASS, type, cb, arg);
}

static void query_srv(lookup *l);

/* An SRV record that offers the service: a target other than "." (RFC 2782: none offered) and a port. */
static bool srv_offered(const struct ares_srv_reply *r) {
  return r->host && r->host[0] && strcmp(r->host, ".") != 0 && r->port != 0;
}

/* A NAPTR record that leads to SRV names: flag "s", a service, a replacement other than ".". */
static bool naptr_to_srv(const struct ares_naptr_reply *r) {
  return r->flags && strcasecmp((const char *)r->flags, "s") == 0 && r->service && r->replacement && r->replacement[0] &&
         strcmp(r->replacement, ".") != 0;
}

static void on_srv(void *arg, int status, int timeouts, unsigned char *abuf, int alen) {
  (void)timeouts;
  lookup *l = arg;
  struct ares_srv_reply *recs = NULL;
  memo_put(T_SRV_TYPE, l->srv[l->srv_i], status, abuf, alen);
  l->nt = 0;
  if (ready && status == ARES_SUCCESS && ares_parse_srv_reply(abuf, alen, &recs) == ARES_SUCCESS) {
    /* the TARGETS first by priority (a pass per record kept: at most TARGETS passes) */
    for (int kept = 0; kept < TARGETS; kept++) {
      struct ares_srv_reply *best = NULL;
      for (struct ares_srv_reply *r = recs; r; r = r->next) {
        if (!srv_offered(r)) continue; /* (a port of 0: taken already) */
        if (!best || r->priority < best->priority) best = r;
      }
      if (!best) break;
      snprintf(l->tname[l->nt], NAME_BUF, "%s", best->host);
      l->tg[l->nt] = (target){.port = best->port, .prio = best->priority, .weight = best->weight};
      l->nt++;
      best->port = 0; /* taken */
    }
  } else if (status != ARES_SUCCESS) {
    l->status = status;
  }
  if (recs) ares_free_data(recs);
  if (ready) {
    if (l->nt > 0) query_addrs(l);
    else {
      l->srv_i++;
      query_srv(l);
    }
  }
  query_done(l);
}

/* SRV of the next name to try; none left: the name's own address on the default port (§4.2). */
static void query_srv(lookup *l) {
  if (l->srv_i >= l->nsrv) {
    l->nt = 1;
    snprintf(l->tname[0], NAME_BUF, "%s", l->name);
    l->tg[0] = (target){.port = SERVICES[l->mode].port};
    query_addrs(l);
    return;
  }
  l->outstanding++;
  memo_query(l->srv[l->srv_i], T_SRV_TYPE, on_srv, l);
}

static void on_naptr(void *arg, int status, int timeouts, unsigned char *abuf, int alen) {
  (void)timeouts;
  lookup *l = arg;
  struct ares_naptr_reply *recs = NULL;
  memo_put(T_NAPTR_TYPE, l->name, status, abuf, alen);
  l->nsrv = 0;
  l->srv_i = 0;
  if (ready && status == ARES_SUCCESS && ares_parse_naptr_reply(abuf, alen, &recs) == ARES_SUCCESS) {
    /* the records of our service, flag "s", by order then preference; TARGETS at most */
    for (; l->nsrv < TARGETS;) {
      struct ares_naptr_reply *best = NULL;
      for (struct ares_naptr_reply *r = recs; r; r = r->next) {
        if (!naptr_to_srv(r) || strcasecmp((const char *)r->service, SERVICES[l->mode].naptr) != 0) continue;
        if (!best || r->order < best->order || (r->order == best->order && r->preference < best->preference)) best = r;
      }
      if (!best) break;
      char out[NAME_BUF];
      snprintf(out, sizeof out, "%s", best->replacement);
      size_t n = strlen(out);
      if (n > 0 && out[n - 1] == '.') out[n - 1] = 0;
      for (char *c = out; *c; c++)
        if (*c >= 'A' && *c <= 'Z') *c = (char)(*c + 32);
      memcpy(l->srv[l->nsrv++], out, NAME_BUF);
      best->replacement[0] = 0; /* taken */
    }
  }
  if (recs) ares_free_data(recs);
  if (l->nsrv == 0) { /* no NAPTR for our transport: §4.1's SRV name */
    snprintf(l->srv[0], NAME_BUF, "%s%s", SERVICES[l->mode].srv, l->name);
    l->nsrv = strlen(SERVICES[l->mode].srv) + strlen(l->name) < NAME_BUF ? 1 : 0;
  }
  if (ready) query_srv(l);
  query_done(l);
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

/* ---- RFC 3263 §4.1's transport of a name (resolver.mjs transportOf) -------------------------------- */

/* In flight at once: a trunk watch asks one name per side (at most 4), the proxy's requests to names
 * (resolve_transport_ask) the rest, as many as lookups (dnsInFlight). */
#define TRANSPORT_QUERIES (8 + SIP_LIMIT_DNS_IN_FLIGHT)
typedef struct {
  bool used;
  void *t;
  resolve_transport_cb cb;
  resolve_request_cb rcb;                    /* the proxy's requests waiting for it (ids), or NULL */
  uint32_t ids[SIP_LIMIT_DNS_WAIT_PER_NAME];
  int nids;
  int src_fam; /* the source that asked (a lookup in flight of its: dnsPerSource), for rcb's */
  uint8_t src[16];
  char name[NAME_BUF];
  int order[3], n, i; /* the supported protocols, UDP, TCP, TLS; the SRV name asked */
} transport_query;
static transport_query tqs[TRANSPORT_QUERIES];
static int n_tqs; /* in flight: c-ares' timeouts are processed while any is */

/* The proxy's transport choices (resolve_transport_cached), each kept dnsTransportTtl: CHOSEN_N entries
 * (at most dnsCache), a name in the one its hash picks (a later name of the same hash replaces it). */
#define CHOSEN_N 256
_Static_assert(CHOSEN_N <= SIP_LIMIT_DNS_CACHE && (CACHE_BUCKETS % CHOSEN_N) == 0, "CHOSEN_N: within dnsCache, a divisor of the hash range");
typedef struct {
  double until;
  int proto;
  char name[NAME_BUF];
} chosen_entry;
static chosen_entry chosen[CHOSEN_N];

static void tq_done(transport_query *q, int proto) {
  q->used = false;
  n_tqs--;
  if (q->rcb) n_asking--;
  if (!ready) return;
  if (q->rcb) {
    chosen_entry *e = &chosen[name_hash(q->name, 0, 0) % CHOSEN_N];
    e->proto = proto;
    e->until = now_ms() + SIP_LIMIT_DNS_TRANSPORT_TTL * 1000.0;
    memcpy(e->name, q->name, NAME_BUF);
    /* copied out first: a callback may take this slot again */
    uint32_t ids[SIP_LIMIT_DNS_WAIT_PER_NAME];
    int n = q->nids;
    resolve_request_cb rcb = q->rcb;
    memcpy(ids, q->ids, sizeof ids);
    /* the requests' locations count against the source that asked; the current one back after */
    int was_fam = cur_src_fam;
    uint8_t was[16];
    memcpy(was, cur_src, 16);
    resolve_source(q->src_fam, q->src);
    for (int k = 0; k < n; k++) rcb(ids[k], proto);
    resolve_source(was_fam, was);
  }
  if (q->cb) q->cb(q->t, proto);
}

static void tq_srv(transport_query *q);
static void tq_start(transport_query *q, const char *name, unsigned supported);

static void on_tq_srv(void *arg, int status, int timeouts, unsigned char *abuf, int alen) {
  (void)timeouts;
  transport_query *q = arg;
  struct ares_srv_reply *recs = NULL;
  bool offered = false;
  char srv[NAME_BUF];
  if (snprintf(srv, sizeof srv, "%s%s", SERVICES[q->order[q->i]].srv, q->name) < (int)sizeof srv) memo_put(T_SRV_TYPE, srv, status, abuf, alen);
  if (ready && status == ARES_SUCCESS && ares_parse_srv_reply(abuf, alen, &recs) == ARES_SUCCESS)
    for (const struct ares_srv_reply *r = recs; r; r = r->next) offered = offered || srv_offered(r);
  if (recs) ares_free_data(recs);
  if (!ready) {
    tq_done(q, 0);
    return;
  }
  if (offered) tq_done(q, q->order[q->i]);
  else {
    q->i++;
    tq_srv(q);
  }
}

/* §4.1 without NAPTR: the SRV name of each supported transport in turn, the first with records. */
static void tq_srv(transport_query *q) {
  char srv[NAME_BUF];
  while (q->i < q->n && snprintf(srv, sizeof srv, "%s%s", SERVICES[q->order[q->i]].srv, q->name) >= (int)sizeof srv) q->i++;
  if (q->i >= q->n) {
    tq_done(q, 0);
    return;
  }
  memo_query(srv, T_SRV_TYPE, on_tq_srv, q);
}

static void on_tq_naptr(void *arg, int status, int timeouts, unsigned char *abuf, int alen) {
  (void)timeouts;
  transport_query *q = arg;
  struct ares_naptr_reply *recs = NULL;
  int proto = 0;
  memo_put(T_NAPTR_TYPE, q->name, status, abuf, alen);
  if (ready && status == ARES_SUCCESS && ares_parse_naptr_reply(abuf, alen, &recs) == ARES_SUCCESS) {
    const struct ares_naptr_reply *best = NULL;
    for (const struct ares_naptr_reply *r = recs; r; r = r->next) {
      if (!naptr_to_srv(r)) continue;
      int p = 0;
      for (int k = 0; k < q->n; k++)
        if (strcasecmp((const char *)r->service, SERVICES[q->order[k]].naptr) == 0) p = q->order[k];
      if (!p) continue;
      if (!best || r->order < best->order || (r->order == best->order && r->preference < best->preference)) {
        best = r;
        proto = p;
      }
    }
  }
  if (recs) ares_free_data(recs);
  if (!ready) {
    tq_done(q, 0);
    return;
  }
  if (proto) tq_done(q, proto);
  else if (status != ARES_SUCCESS && status != ARES_ENODATA && status != ARES_ENOTFOUND) tq_done(q, 0); /* DNS failing: not 3 more timeouts */
  else tq_srv(q);
}

void resolve_transport(void *t, const char *raw, unsigned supported, resolve_transport_cb cb) {
  char name[NAME_BUF];
  uint8_t lit[16];
  if (!ready || !normalize(raw, strlen(raw), name) || inet_pton(AF_INET, name, lit) == 1 || inet_pton(AF_INET6, name, lit) == 1) {
    cb(t, 0);
    return;
  }
  transport_query *q = NULL;
  for (int i = 0; i < TRANSPORT_QUERIES && !q; i++)
    if (!tqs[i].used) q = &tqs[i];
  if (!q) return; /* every slot waiting on DNS: the next round asks again */
  *q = (transport_query){.used = true, .t = t, .cb = cb};
  tq_start(q, name, supported);
}

/* Query q (taken, its callbacks set) asks for name among `supported`. */
static void tq_start(transport_query *q, const char *name, unsigned supported) {
  n_tqs++;
  memcpy(q->name, name, NAME_BUF);
  for (int p = 1; p <= 3; p++)
    if (supported & (1u << p)) q->order[q->n++] = p;
  if (q->n == 0) {
    tq_done(q, 0);
    return;
  }
  counts[S_LOOKUPS]++;
  memo_query(name, T_NAPTR_TYPE, on_tq_naptr, q);
}

/* The proxy's transport questions in flight asked by the source whose input is being processed. */
static int asking_from_source(void) {
  int n = 0;
  for (int i = 0; i < TRANSPORT_QUERIES; i++)
    if (tqs[i].used && tqs[i].rcb && tqs[i].src_fam == cur_src_fam && memcmp(tqs[i].src, cur_src, 16) == 0) n++;
  return n;
}

/* A name of the hosts file or an IP address: no transport to ask DNS for. */
static bool not_for_dns(const char *name) {
  uint8_t lit[16];
  struct hostent *he = NULL;
  if (inet_pton(AF_INET, name, lit) == 1 || inet_pton(AF_INET6, name, lit) == 1) return true;
  if (ares_gethostbyname_file(channel, name, AF_INET, &he) == ARES_SUCCESS || ares_gethostbyname_file(channel, name, AF_INET6, &he) == ARES_SUCCESS) {
    ares_free_hostent(he);
    return true;
  }
  return false;
}

int resolve_transport_cached(const char *raw, size_t len) {
  char name[NAME_BUF];
  if (!ready || !normalize(raw, len, name)) return -1;
  const chosen_entry *e = &chosen[name_hash(name, 0, 0) % CHOSEN_N];
  if (e->until <= now_ms() || strcmp(e->name, name) != 0) return -1;
  counts[S_CACHE_HITS]++;
  return e->proto;
}

bool resolve_transport_ask(uint32_t id, const char *raw, size_t len, unsigned supported, resolve_request_cb cb) {
  char name[NAME_BUF];
  if (!ready || !normalize(raw, len, name) || (supported & 0xe) == 0 || not_for_dns(name)) return false;
  transport_query *free_q = NULL;
  for (int i = 0; i < TRANSPORT_QUERIES; i++) {
    transport_query *q = &tqs[i];
    if (!q->used) {
      if (!free_q) free_q = q;
      continue;
    }
    if (!q->rcb || strcmp(q->name, name) != 0) continue;
    if (q->nids >= SIP_LIMIT_DNS_WAIT_PER_NAME) return false;
    q->ids[q->nids++] = id;
    return true;
  }
  /* a lookup in flight as resolve_send's: the same bounds */
  int from_source = asking_from_source();
  for (int i = 0; i < SIP_LIMIT_DNS_IN_FLIGHT; i++)
    if (lookups[i].used && lookups[i].src_fam == cur_src_fam && memcmp(lookups[i].src, cur_src, 16) == 0) from_source++;
  if (!free_q || n_lookups + n_asking >= SIP_LIMIT_DNS_IN_FLIGHT || from_source >= SIP_LIMIT_DNS_PER_SOURCE) return false;
  *free_q = (transport_query){.used = true, .rcb = cb, .nids = 1, .src_fam = cur_src_fam};
  memcpy(free_q->src, cur_src, 16);
  free_q->ids[0] = id;
  n_asking++;
  tq_start(free_q, name, supported);
  return true;
}

void resolve_send(void *t, int want, int proto, uint32_t sel, uint32_t conn_id, const char *raw, size_t len, uint16_t port,
                  const uint8_t *buf, size_t n) {
  char name[NAME_BUF];
  int mode = port == 0 && proto >= 1 && proto <= 3 ? proto : 0;
  if (port == 0 && !mode) {
    drop(S_DROP_NAME, "-", "no RFC 3263 service for the transport");
    return;
  }
  if (!normalize(raw, len, name)) {
    char shown[64];
    snprintf(shown, sizeof shown, "%.*s", (int)(len < 63 ? len : 63), raw);
    drop(S_DROP_NAME, shown, "not a host name");
    return;
  }
  uint8_t lit[16] = {0};
  uint16_t lit_port = mode ? SERVICES[mode].port : port;
  int lit_fam = inet_pton(AF_INET, name, lit) == 1 ? 4 : inet_pton(AF_INET6, name, lit) == 1 ? 6 : 0;
  if (lit_fam) {
    if (sel == RESOLVE_ALL) {
      if (watcher) watcher(t, lit_fam, (const uint8_t (*)[16])lit, 1);
    } else if ((sel & 0xff) == 0) sender(t, conn_id, lit_fam, lit, lit_port, NULL, buf, n);
    else drop(S_DROP_NO_TARGET, name, "no further target");
    return;
  }
  double now = now_ms();
  cache_entry *c = cache_get(name, want, mode, now);
  if (c) {
    if (c->fam == 0) {
      drop(S_NEGATIVE_HITS, name, "failed recently (negative cache)");
      return;
    }
    counts[S_CACHE_HITS]++;
    send_target(t, conn_id, c->fam, c->t, c->nt, sel, port, buf, n, name);
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
    if (l->want == want && l->mode == mode && strcmp(l->name, name) == 0) {
      if (hold(l, t, conn_id, port, sel, buf, n)) counts[S_HELD]++;
      else drop(S_DROP_WAITING, name, "too many messages waiting");
      return;
    }
    if (l->src_fam == cur_src_fam && memcmp(l->src, cur_src, 16) == 0) from_source++;
  }
  from_source += asking_from_source();
  if (!ready || !slot || n_lookups + n_asking >= SIP_LIMIT_DNS_IN_FLIGHT) {
    drop(S_DROP_INFLIGHT, name, ready ? "too many lookups in flight" : "no resolver");
    return;
  }
  if (from_source >= SIP_LIMIT_DNS_PER_SOURCE) {
    drop(S_DROP_SOURCE, name, "too many lookups for one source");
    return;
  }
  lookup *l = slot;
  l->nheld = 0;
  if (!hold(l, t, conn_id, port, sel, buf, n)) {
    drop(S_DROP_WAITING, name, "too many messages waiting");
    return;
  }
  l->used = true;
  n_lookups++;
  memcpy(l->name, name, sizeof name);
  l->want = want;
  l->mode = mode;
  l->src_fam = cur_src_fam;
  memcpy(l->src, cur_src, 16);
  l->status = ARES_SUCCESS;
  l->outstanding = 1; /* a guard: a callback may run before ares_* returns */
  counts[S_LOOKUPS]++;
  struct hostent *he = NULL;
  if (mode && ares_gethostbyname_file(channel, l->name, want == 6 ? AF_INET6 : AF_INET, &he) == ARES_SUCCESS) {
    /* a name of the hosts file (localhost) asks DNS for no NAPTR or SRV, as resolver.mjs: its address
     * (getaddrinfo reads the file first) on the default port */
    ares_free_hostent(he);
    l->nsrv = l->srv_i = 0;
    query_srv(l);
  } else if (mode) {
    l->outstanding++;
    memo_query(l->name, T_NAPTR_TYPE, on_naptr, l);
  } else {
    l->nt = 1;
    memcpy(l->tname[0], name, sizeof name);
    l->tg[0] = (target){.port = 0};
    query_addrs(l);
  }
  query_done(l);
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
  if (!ready || (n_lookups == 0 && n_tqs == 0)) return timeout;
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
  if (n_lookups > 0 || n_tqs > 0) ares_process_fd(channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD); /* timeouts */
}

_Static_assert(S_COUNTERS + 4 == RESOLVE_STAT_COUNT, "RESOLVE_STAT_NAMES: counters, then 4 gauges");
