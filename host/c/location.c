/* The registrar's bindings and the shared location service (Redis): see location.h. The reference is
 * host/node/location.ts; this is the same protocol in C, driven by the host's poll loop. */
#include "location.h"

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "numbers.h"

/* ---- the core's bindings ---------------------------------------------------------------------- */

static loc_core core_fns;
static uint32_t loc_cap;

void loc_init(const loc_core *c) {
  core_fns = *c;
  int32_t cap = core_fns.buf() ? core_fns.op(SIP_LOC_OP_CAPACITY, 0) : 0;
  loc_cap = cap > 0 ? (uint32_t)cap : 0;
}

bool loc_available(void) { return core_fns.op && loc_cap > 0; }

static int32_t loc_write(const void *bytes, size_t n) {
  if (n == 0 || n > loc_cap) return -1;
  memcpy(core_fns.buf(), bytes, n);
  return (int32_t)n;
}

int loc_next(int from) { return loc_available() ? core_fns.op(SIP_LOC_OP_NEXT, (uint32_t)from) : -1; }

int loc_sibling(int index) { return core_fns.op(SIP_LOC_OP_SIBLING, (uint32_t)index); }

int loc_first(const uint8_t *key, size_t n) {
  int32_t len = loc_write(key, n);
  return len <= 0 ? -1 : core_fns.op(SIP_LOC_OP_FIRST, (uint32_t)len);
}

/* A line's fields (parseLine): false when it is not one; b->line owned (freed by the caller on true). */
static bool parse_line(int index, const char *text, size_t n, loc_binding *b) {
  memset(b, 0, sizeof *b);
  b->index = index;
  b->line = malloc(n + 1);
  if (!b->line) return false;
  memcpy(b->line, text, n);
  b->line[n] = 0;
  char *f[7];
  char *p = b->line;
  for (int i = 0; i < 7; i++) {
    f[i] = p;
    if (i == 6) break;
    char *sp = strchr(p, ' ');
    if (!sp) {
      free(b->line);
      b->line = NULL;
      return false;
    }
    *sp = 0;
    p = sp + 1;
  }
  if (strcmp(f[4], "local") != 0 && strcmp(f[4], "shared") != 0) {
    free(b->line);
    b->line = NULL;
    return false;
  }
  b->aor = f[0], b->contact = f[1], b->origin = f[4], b->source = f[5], b->path = f[6];
  b->expires = strtod(f[2], NULL);
  b->q = strtod(f[3], NULL);
  return true;
}

bool loc_read(int index, loc_binding *out) {
  int32_t n = core_fns.op(SIP_LOC_OP_READ, (uint32_t)index);
  if (n <= 0) return false;
  return parse_line(index, (const char *)core_fns.buf(), (size_t)n, out);
}

void loc_binding_free(loc_binding *b) {
  free(b->line);
  b->line = NULL;
}

static int32_t loc_put(const char *line, size_t n) {
  int32_t len = loc_write(line, n);
  return len <= 0 ? -1 : core_fns.op(SIP_LOC_OP_PUT, (uint32_t)len);
}

int loc_remove(const char *aor, const char *contact) {
  strbuf b = {0};
  sb_puts(&b, aor);
  if (contact) sb_putc(&b, ' '), sb_puts(&b, contact);
  int32_t len = loc_write(b.p, b.len);
  free(b.p);
  return len <= 0 ? -1 : core_fns.op(SIP_LOC_OP_REMOVE, (uint32_t)len);
}

void loc_escape_aor(strbuf *b, const uint8_t *key, size_t n) {
  for (size_t i = 0; i < n; i++) {
    uint8_t c = key[i];
    if (c <= 0x20 || c >= 0x7f || c == 0x25) {
      char x[4];
      snprintf(x, sizeof x, "%%%02X", c);
      sb_puts(b, x);
    } else sb_putc(b, (char)c);
  }
}

static size_t unescape_aor(const char *s, uint8_t *out) {
  size_t n = 0;
  for (size_t i = 0; s[i]; i++) {
    unsigned v;
    if (s[i] == '%' && s[i + 1] && s[i + 2] && strchr("0123456789abcdefABCDEF", s[i + 1]) && strchr("0123456789abcdefABCDEF", s[i + 2]) &&
        sscanf(s + i + 1, "%2x", &v) == 1) {
      out[n++] = (uint8_t)v;
      i += 2;
    } else out[n++] = (uint8_t)s[i];
  }
  return n;
}

/* lineOf: the fields joined by spaces, with origin/source/path replaced when given. */
static void line_of(strbuf *b, const loc_binding *x, const char *origin, const char *source, const char *path) {
  sb_puts(b, x->aor), sb_putc(b, ' '), sb_puts(b, x->contact), sb_putc(b, ' ');
  sb_json_number(b, x->expires), sb_putc(b, ' ');
  sb_json_number(b, x->q), sb_putc(b, ' ');
  sb_puts(b, origin ? origin : x->origin), sb_putc(b, ' ');
  sb_puts(b, source ? source : x->source), sb_putc(b, ' ');
  sb_puts(b, path ? path : x->path);
}

/* ---- Redis (RESP2) ----------------------------------------------------------------------------- */

/* A reply, flattened in pre-order: arrays carry their element count. */
enum { R_SIMPLE, R_ERROR, R_INT, R_BULK, R_NIL, R_ARRAY };
typedef struct {
  int type;
  const char *s; /* R_SIMPLE, R_ERROR, R_BULK: bytes in the input buffer */
  size_t len;
  long long num; /* R_INT; R_ARRAY: elements */
} ritem;

#define RITEMS_MAX (1 << 20)

typedef struct {
  int fd;
  bool connecting;
  char *in;
  size_t inlen, incap;
  char *out;
  size_t ooff, olen, ocap;
  ritem *items;
  size_t nitems, capitems;
} rconn;

static bool parse_ll(const char *s, size_t n, long long *out) {
  if (n == 0 || n > 20) return false;
  size_t i = 0;
  bool neg = false;
  if (s[0] == '-') neg = true, i = 1;
  if (i == n) return false;
  long long v = 0;
  for (; i < n; i++) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  *out = neg ? -v : v;
  return true;
}

static bool push_item(rconn *c, ritem it) {
  if (c->nitems == c->capitems) {
    if (c->capitems >= RITEMS_MAX) return false;
    size_t cap = c->capitems ? c->capitems * 2 : 64;
    ritem *p = realloc(c->items, cap * sizeof *p);
    if (!p) return false;
    c->items = p, c->capitems = cap;
  }
  c->items[c->nitems++] = it;
  return true;
}

/* One reply at in[*at..]: 1 complete (items appended, *at past it), 0 incomplete, -1 malformed. */
static int parse_reply(rconn *c, size_t *at, int depth) {
  const char *b = c->in;
  size_t n = c->inlen, p = *at;
  if (p >= n) return 0;
  const char *eol = memmem(b + p, n - p, "\r\n", 2);
  if (!eol) return 0;
  char t = b[p];
  const char *head = b + p + 1;
  size_t hlen = (size_t)(eol - head);
  size_t next = (size_t)(eol - b) + 2;
  long long v;
  switch (t) {
    case '+':
    case '-':
      if (!push_item(c, (ritem){t == '+' ? R_SIMPLE : R_ERROR, head, hlen, 0})) return -1;
      *at = next;
      return 1;
    case ':':
      if (!parse_ll(head, hlen, &v) || !push_item(c, (ritem){R_INT, NULL, 0, v})) return -1;
      *at = next;
      return 1;
    case '$':
      if (!parse_ll(head, hlen, &v) || v < -1 || v > (long long)LOC_IN_MAX) return -1;
      if (v < 0) {
        if (!push_item(c, (ritem){R_NIL, NULL, 0, 0})) return -1;
        *at = next;
        return 1;
      }
      if (n < next + (size_t)v + 2) return 0;
      if (b[next + v] != '\r' || b[next + v + 1] != '\n') return -1;
      if (!push_item(c, (ritem){R_BULK, b + next, (size_t)v, 0})) return -1;
      *at = next + (size_t)v + 2;
      return 1;
    case '*': {
      if (!parse_ll(head, hlen, &v) || v < -1 || v > RITEMS_MAX || depth >= 3) return -1;
      if (v < 0) {
        if (!push_item(c, (ritem){R_NIL, NULL, 0, 0})) return -1;
        *at = next;
        return 1;
      }
      if (!push_item(c, (ritem){R_ARRAY, NULL, 0, v})) return -1;
      size_t q = next;
      for (long long i = 0; i < v; i++) {
        int r = parse_reply(c, &q, depth + 1);
        if (r <= 0) return r;
      }
      *at = q;
      return 1;
    }
  }
  return -1;
}

static void rc_close(rconn *c) {
  if (c->fd >= 0) close(c->fd);
  c->fd = -1;
  c->connecting = false;
  free(c->in), free(c->out), free(c->items);
  c->in = c->out = NULL;
  c->items = NULL;
  c->inlen = c->incap = c->ooff = c->olen = c->ocap = c->nitems = c->capitems = 0;
}

static bool rc_queue(rconn *c, const char *s, size_t n) {
  if (c->olen + n > LOC_OUT_MAX) return false;
  if (c->olen + n > c->ocap) {
    size_t cap = c->ocap ? c->ocap : 4096;
    while (cap < c->olen + n) cap *= 2;
    char *p = realloc(c->out, cap);
    if (!p) return false;
    c->out = p, c->ocap = cap;
  }
  memcpy(c->out + c->olen, s, n);
  c->olen += n;
  return true;
}

/* Sends what the socket takes now: false on a socket error. */
static bool rc_flush(rconn *c) {
  while (c->ooff < c->olen) {
    ssize_t w = send(c->fd, c->out + c->ooff, c->olen - c->ooff, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (w < 0) {
      if (errno == EINTR) continue;
      return errno == EAGAIN || errno == EWOULDBLOCK;
    }
    c->ooff += (size_t)w;
  }
  c->ooff = c->olen = 0;
  return true;
}

/* ---- the shared location service --------------------------------------------------------------- */

enum { ST_OFF, ST_WAIT, ST_CONNECTING, ST_SYNCING, ST_UP };
/* what a command's reply is for */
enum { W_IGNORE, W_SCAN, W_GET, W_PTTL, W_AUTH };

typedef struct {
  int what;
} waiter;

static struct {
  int state;
  char addr[64];
  int family, port;
  char redis[96];
  char instance[96];
  char channel[160], key_prefix[160];
  char user[128], password[256]; /* location.username, location.password: AUTH (password "": none) */
  rconn cmd, sub;
  double retry_at, connect_deadline;
  bool first, outage_logged;
  /* replies awaited on cmd, in order */
  int *waiting;
  size_t wq_head, wq_n, wq_cap;
  /* a resync's SCAN batch: its keys (owned) and their GET and PTTL replies (owned values) */
  char **keys;
  char **values;
  long long *ttls;
  bool *have;
  size_t nkeys, got;
  char cursor[32];
  /* keys of others' bindings seen in this resync ("AOR CONTACT") */
  char **seen;
  size_t nseen, capseen;
  double stats[LOC_STATS];
} L = {.state = ST_OFF, .cmd = {.fd = -1}, .sub = {.fd = -1}};

const char *const LOC_STAT_NAMES[LOC_STATS] = {"locationPublished", "locationReceived", "locationLoaded", "locationRefused", "locationResyncs"};
enum { S_PUBLISHED, S_RECEIVED, S_LOADED, S_REFUSED, S_RESYNCS };

static double mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

bool location_on(void) { return L.state != ST_OFF; }
bool location_connected(void) { return L.state == ST_UP; }
const char *location_instance(void) { return L.instance; }
void location_stats(double out[LOC_STATS]) { memcpy(out, L.stats, sizeof L.stats); }

static void batch_clear(void) {
  for (size_t i = 0; i < L.nkeys; i++) free(L.keys[i]), free(L.values[i]);
  free(L.keys), free(L.values), free(L.ttls), free(L.have);
  L.keys = L.values = NULL;
  L.ttls = NULL;
  L.have = NULL;
  L.nkeys = L.got = 0;
}

static void seen_clear(void) {
  for (size_t i = 0; i < L.nseen; i++) free(L.seen[i]);
  free(L.seen);
  L.seen = NULL;
  L.nseen = L.capseen = 0;
}

static void lost(const char *why) {
  if (L.state == ST_OFF) return;
  rc_close(&L.cmd);
  rc_close(&L.sub);
  L.wq_head = L.wq_n = 0;
  batch_clear();
  seen_clear();
  if ((L.state == ST_UP || !L.outage_logged) && log_on(LOG_WARN)) {
    log_begin(LOG_WARN, "location service unreachable; serving the bindings we have, retrying");
    log_str("redis", L.redis);
    log_str("error", why);
    log_end();
  }
  L.outage_logged = true;
  L.state = ST_WAIT;
  L.retry_at = mono_ms() + 1000;
}

/* A command (its arguments as bytes) queued on c; `what` names its reply on the command connection. */
static bool command(rconn *c, int what, int argc, const char *const *argv, const size_t *lens) {
  char h[48];
  int n = snprintf(h, sizeof h, "*%d\r\n", argc);
  bool ok = rc_queue(c, h, (size_t)n);
  for (int i = 0; ok && i < argc; i++) {
    n = snprintf(h, sizeof h, "$%zu\r\n", lens[i]);
    ok = rc_queue(c, h, (size_t)n) && rc_queue(c, argv[i], lens[i]) && rc_queue(c, "\r\n", 2);
  }
  if (ok && c == &L.cmd) {
    if (L.wq_n == L.wq_cap) {
      size_t cap = L.wq_cap ? L.wq_cap * 2 : 64;
      int *p = malloc(cap * sizeof *p);
      if (!p) ok = false;
      else {
        for (size_t i = 0; i < L.wq_n; i++) p[i] = L.waiting[(L.wq_head + i) % (L.wq_cap ? L.wq_cap : 1)];
        free(L.waiting);
        L.waiting = p, L.wq_cap = cap, L.wq_head = 0;
      }
    }
    if (ok) L.waiting[(L.wq_head + L.wq_n++) % L.wq_cap] = what;
  }
  if (ok && c->fd >= 0 && !c->connecting) ok = rc_flush(c);
  return ok;
}

static bool command_s(rconn *c, int what, int argc, const char *const *argv) {
  size_t lens[8];
  for (int i = 0; i < argc; i++) lens[i] = strlen(argv[i]);
  return command(c, what, argc, argv, lens);
}

static void key_of(strbuf *b, const char *aor, const char *contact) {
  sb_puts(b, L.key_prefix), sb_puts(b, aor), sb_putc(b, ' '), sb_puts(b, contact);
}

static void publish_put(const loc_binding *x) {
  if (L.cmd.fd < 0) return;
  strbuf v = {0}, k = {0}, m = {0};
  char idx[16], px[32];
  snprintf(idx, sizeof idx, "%d", x->index);
  sb_puts(&v, L.instance), sb_putc(&v, ' '), sb_puts(&v, idx), sb_putc(&v, ' ');
  line_of(&v, x, NULL, NULL, NULL);
  sb_putc(&v, 0);
  key_of(&k, x->aor, x->contact);
  sb_putc(&k, 0);
  snprintf(px, sizeof px, "%.0f", (x->expires < 1 ? 1 : x->expires) * 1000);
  sb_puts(&m, "put "), sb_puts(&m, v.p);
  sb_putc(&m, 0);
  const char *set[] = {"SET", k.p, v.p, "PX", px};
  const char *pub[] = {"PUBLISH", L.channel, m.p};
  bool ok = command_s(&L.cmd, W_IGNORE, 5, set) && command_s(&L.cmd, W_IGNORE, 3, pub);
  free(v.p), free(k.p), free(m.p);
  L.stats[S_PUBLISHED]++;
  if (!ok) lost("connection closed");
}

/* A binding put into the core (loaded, restored or received); refused ones logged and counted. */
static void put_line(const char *line, size_t n, bool received) {
  int32_t r = loc_put(line, n);
  if (r < 0) {
    L.stats[S_REFUSED]++;
    if (log_on(LOG_WARN)) {
      log_begin(LOG_WARN, "location binding refused by the core");
      log_strn("line", line, n);
      log_str("result", r == -2 ? "no room" : "malformed");
      log_end();
    }
    return;
  }
  L.stats[received ? S_RECEIVED : S_LOADED]++;
}

/* What another instance's binding becomes here: shared, through that instance's route token. */
static void put_shared(const char *instance, int index, const loc_binding *b, bool received) {
  char path[160];
  snprintf(path, sizeof path, "<sip:rb%08x@%s;lr>", (unsigned)index, instance);
  strbuf s = {0};
  line_of(&s, b, "shared", "-", path);
  put_line(s.p, s.len, received);
  free(s.p);
}

/* "INSTANCE INDEX LINE" (value of a key, or the rest of a put message): false when it is not one. */
static bool parse_value(const char *v, size_t n, char *instance, size_t icap, loc_binding *b) {
  const char *sp1 = memchr(v, ' ', n);
  if (!sp1 || sp1 == v || (size_t)(sp1 - v) >= icap) return false;
  const char *rest = sp1 + 1;
  const char *sp2 = memchr(rest, ' ', n - (size_t)(rest - v));
  if (!sp2 || sp2 == rest) return false;
  long idx = 0;
  for (const char *p = rest; p < sp2; p++) {
    if (*p < '0' || *p > '9' || idx > 100000000) return false;
    idx = idx * 10 + (*p - '0');
  }
  memcpy(instance, v, (size_t)(sp1 - v));
  instance[sp1 - v] = 0;
  return parse_line((int)idx, sp2 + 1, n - (size_t)(sp2 + 1 - v), b);
}

static bool holds_local(const loc_binding *b) {
  uint8_t key[4096];
  if (strlen(b->aor) >= sizeof key) return false;
  size_t n = unescape_aor(b->aor, key);
  for (int i = loc_first(key, n); i >= 0; i = loc_sibling(i)) {
    loc_binding x;
    if (!loc_read(i, &x)) continue;
    bool same = strcmp(x.origin, "local") == 0 && strcmp(x.contact, b->contact) == 0;
    loc_binding_free(&x);
    if (same) return true;
  }
  return false;
}

static void seen_add(const char *aor, const char *contact) {
  if (L.nseen == L.capseen) {
    size_t cap = L.capseen ? L.capseen * 2 : 64;
    char **p = realloc(L.seen, cap * sizeof *p);
    if (!p) return;
    L.seen = p, L.capseen = cap;
  }
  size_t n = strlen(aor) + 1 + strlen(contact) + 1;
  char *s = malloc(n);
  if (!s) return;
  snprintf(s, n, "%s %s", aor, contact);
  L.seen[L.nseen++] = s;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void send_scan(void) {
  char match[200];
  snprintf(match, sizeof match, "%s*", L.key_prefix);
  const char *a[] = {"SCAN", L.cursor, "MATCH", match, "COUNT", "500"};
  if (!command_s(&L.cmd, W_SCAN, 6, a)) lost("connection closed");
}

/* The end of a resync: shared bindings whose key is gone removed, ours published, connected. */
static void resync_done(void) {
  if (L.nseen) qsort(L.seen, L.nseen, sizeof *L.seen, cmp_str);
  /* first the indexes to remove (a removal changes the table under a walk) */
  strbuf gone = {0};
  for (int i = loc_next(0); i >= 0; i = loc_next(i + 1)) {
    loc_binding x;
    if (!loc_read(i, &x)) continue;
    if (strcmp(x.origin, "shared") == 0) {
      size_t n = strlen(x.aor) + 1 + strlen(x.contact) + 1;
      char *k = malloc(n);
      if (k) {
        snprintf(k, n, "%s %s", x.aor, x.contact);
        if (!L.nseen || !bsearch(&k, L.seen, L.nseen, sizeof *L.seen, cmp_str)) sb_puts(&gone, k), sb_putc(&gone, '\n');
        free(k);
      }
    }
    loc_binding_free(&x);
  }
  for (char *p = gone.p, *e; p && p < gone.p + gone.len; p = e + 1) {
    e = memchr(p, '\n', (size_t)(gone.p + gone.len - p));
    *e = 0;
    char *sp = strchr(p, ' ');
    *sp = 0;
    loc_remove(p, sp + 1);
  }
  free(gone.p);
  seen_clear();
  L.first = false;
  L.state = ST_UP;
  L.outage_logged = false;
  for (int i = loc_next(0); i >= 0 && L.state == ST_UP; i = loc_next(i + 1)) {
    loc_binding x;
    if (!loc_read(i, &x)) continue;
    if (strcmp(x.origin, "local") == 0) publish_put(&x);
    loc_binding_free(&x);
  }
  if (L.state != ST_UP) return;
  int count = 0; /* as the Node host counts them: the bindings that read back (not expired) */
  for (int i = loc_next(0); i >= 0; i = loc_next(i + 1)) {
    loc_binding x;
    if (loc_read(i, &x)) count++, loc_binding_free(&x);
  }
  if (log_on(LOG_INFO)) {
    log_begin(LOG_INFO, "location service connected");
    log_str("redis", L.redis);
    log_str("instance", L.instance);
    log_num("bindings", count);
    log_end();
  }
}

/* Every GET and PTTL of a SCAN batch answered: the keys applied, then the next SCAN or the end. */
static void batch_done(void) {
  for (size_t i = 0; i < L.nkeys && L.state == ST_SYNCING; i++) {
    if (!L.values[i] || L.ttls[i] <= 0) continue;
    char inst[128];
    loc_binding b;
    if (!parse_value(L.values[i], strlen(L.values[i]), inst, sizeof inst, &b)) continue;
    b.expires = ceil((double)L.ttls[i] / 1000.0);
    if (strcmp(inst, L.instance) == 0) {
      if (L.first) {
        strbuf s = {0};
        line_of(&s, &b, "local", NULL, NULL);
        put_line(s.p, s.len, false);
        free(s.p);
      } else if (!holds_local(&b)) {
        const char *a[] = {"DEL", L.keys[i]};
        if (!command_s(&L.cmd, W_IGNORE, 2, a)) lost("connection closed");
      }
    } else {
      seen_add(b.aor, b.contact);
      put_shared(inst, b.index, &b, false);
    }
    loc_binding_free(&b);
  }
  if (L.state != ST_SYNCING) return;
  batch_clear();
  if (strcmp(L.cursor, "0") != 0) send_scan();
  else resync_done();
}

static char *dup_item(const ritem *it) {
  char *s = malloc(it->len + 1);
  if (s) memcpy(s, it->s, it->len), s[it->len] = 0;
  return s;
}

/* One reply on the command connection. */
static void on_cmd_reply(const ritem *r) {
  if (L.wq_n == 0) return;
  int what = L.waiting[L.wq_head];
  L.wq_head = (L.wq_head + 1) % L.wq_cap;
  L.wq_n--;
  if (what == W_IGNORE) return;
  if (r->type == R_ERROR) {
    char why[200];
    snprintf(why, sizeof why, "%.*s", (int)(r->len > 190 ? 190 : r->len), r->s);
    lost(why);
    return;
  }
  if (what == W_AUTH) return;
  if (what == W_SCAN) {
    if (r->type != R_ARRAY || r->num != 2 || r[1].type != R_BULK || r[1].len >= sizeof L.cursor || r[2].type != R_ARRAY) {
      lost("unexpected SCAN reply");
      return;
    }
    memcpy(L.cursor, r[1].s, r[1].len);
    L.cursor[r[1].len] = 0;
    size_t n = (size_t)r[2].num;
    L.keys = calloc(n ? n : 1, sizeof *L.keys);
    L.values = calloc(n ? n : 1, sizeof *L.values);
    L.ttls = calloc(n ? n : 1, sizeof *L.ttls);
    L.have = calloc(n ? n * 2 : 1, sizeof *L.have);
    if (!L.keys || !L.values || !L.ttls || !L.have) {
      lost("out of memory");
      return;
    }
    L.nkeys = n;
    L.got = 0;
    for (size_t i = 0; i < n; i++) {
      const ritem *k = &r[3 + i];
      if (k->type != R_BULK) {
        lost("unexpected SCAN reply");
        return;
      }
      L.keys[i] = dup_item(k);
      if (!L.keys[i]) {
        lost("out of memory");
        return;
      }
    }
    for (size_t i = 0; i < n; i++) {
      const char *g[] = {"GET", L.keys[i]}, *t[] = {"PTTL", L.keys[i]};
      if (!command_s(&L.cmd, W_GET, 2, g) || !command_s(&L.cmd, W_PTTL, 2, t)) {
        lost("connection closed");
        return;
      }
    }
    if (n == 0) batch_done();
    return;
  }
  /* GET and PTTL replies come in the order asked: key got/2 */
  size_t i = L.got / 2;
  if (i >= L.nkeys) return;
  if (what == W_GET) L.values[i] = r->type == R_BULK ? dup_item(r) : NULL;
  else L.ttls[i] = r->type == R_INT ? r->num : -1;
  if (++L.got == 2 * L.nkeys) batch_done();
}

/* One push on the subscription: "message" on our channel, a put or a del of another instance. */
static void on_message(const ritem *r) {
  if (r->type == R_ERROR) { /* a refused AUTH (or SUBSCRIBE): Redis's reason, never the password */
    char why[200];
    snprintf(why, sizeof why, "%.*s", (int)(r->len > 190 ? 190 : r->len), r->s);
    lost(why);
    return;
  }
  if (r->type != R_ARRAY || r->num < 3 || r[1].type != R_BULK || r[2].type != R_BULK || r[3].type != R_BULK) return;
  if (r[1].len != 7 || memcmp(r[1].s, "message", 7) != 0) return;
  if (r[2].len != strlen(L.channel) || memcmp(r[2].s, L.channel, r[2].len) != 0) return;
  const char *t = r[3].s;
  size_t n = r[3].len;
  if (n > 4 && memcmp(t, "put ", 4) == 0) {
    char inst[128];
    loc_binding b;
    if (!parse_value(t + 4, n - 4, inst, sizeof inst, &b)) return;
    if (strcmp(inst, L.instance) != 0) {
      /* during a resync a put counts as seen: its key may have been set after our SCAN went past it
       * (the subscription is another connection), and the binding is live */
      if (L.state == ST_SYNCING) seen_add(b.aor, b.contact);
      put_shared(inst, b.index, &b, true);
    }
    loc_binding_free(&b);
    return;
  }
  if (n > 4 && memcmp(t, "del ", 4) == 0) {
    /* del INSTANCE AOR CONTACT: exactly three fields without spaces */
    char *s = malloc(n - 3);
    if (!s) return;
    memcpy(s, t + 4, n - 4);
    s[n - 4] = 0;
    char *f[3];
    char *p = s;
    bool ok = true;
    for (int i = 0; i < 3 && ok; i++) {
      f[i] = p;
      char *sp = strchr(p, ' ');
      if (i < 2) {
        if (!sp || sp == p) ok = false;
        else *sp = 0, p = sp + 1;
      } else if (sp || !*p || strpbrk(p, "\r\n\t")) ok = false;
    }
    if (ok && strcmp(f[0], L.instance) != 0) {
      /* only a shared copy goes: a phone that registered here since keeps its local binding */
      uint8_t key[4096];
      if (strlen(f[1]) < sizeof key) {
        size_t kn = unescape_aor(f[1], key);
        bool shared = false;
        for (int i = loc_first(key, kn); i >= 0; i = loc_sibling(i)) {
          loc_binding x;
          if (!loc_read(i, &x)) continue;
          bool same = strcmp(x.contact, f[2]) == 0;
          if (same) shared = strcmp(x.origin, "shared") == 0;
          loc_binding_free(&x);
          if (same) break;
        }
        if (shared) loc_remove(f[1], f[2]);
      }
      L.stats[S_RECEIVED]++;
    }
    free(s);
  }
}

/* Reads what c has; replies handed on; false when the connection is gone or broken (why set). */
static bool rc_read(rconn *c, bool is_sub, const char **why) {
  for (;;) {
    if (c->incap - c->inlen < 65536) {
      size_t cap = c->incap ? c->incap * 2 : 65536;
      if (cap > LOC_IN_MAX + 65536) cap = LOC_IN_MAX + 65536;
      if (cap - c->inlen < 4096) {
        *why = "reply too large";
        return false;
      }
      char *p = realloc(c->in, cap);
      if (!p) {
        *why = "out of memory";
        return false;
      }
      c->in = p, c->incap = cap;
    }
    ssize_t n = recv(c->fd, c->in + c->inlen, c->incap - c->inlen, MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      *why = "connection closed";
      return false;
    }
    if (n == 0) {
      *why = "connection closed";
      return false;
    }
    c->inlen += (size_t)n;
    if (c->inlen > LOC_IN_MAX) {
      *why = "reply too large";
      return false;
    }
  }
  size_t at = 0;
  for (;;) {
    c->nitems = 0;
    size_t p = at;
    int r = parse_reply(c, &p, 0);
    if (r < 0) {
      *why = "malformed reply";
      return false;
    }
    if (r == 0) break;
    at = p;
    /* the handlers may close c (lost): then stop here */
    if (is_sub) on_message(c->items);
    else on_cmd_reply(c->items);
    if (c->fd < 0) return true;
  }
  if (at > 0) {
    memmove(c->in, c->in + at, c->inlen - at);
    c->inlen -= at;
  }
  return true;
}

static int rc_connect(rconn *c) {
  rc_close(c);
  struct sockaddr_storage ss;
  memset(&ss, 0, sizeof ss);
  socklen_t sl;
  if (L.family == 6) {
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
    a->sin6_family = AF_INET6;
    a->sin6_port = htons((uint16_t)L.port);
    inet_pton(AF_INET6, L.addr, &a->sin6_addr);
    sl = sizeof *a;
  } else {
    struct sockaddr_in *a = (struct sockaddr_in *)&ss;
    a->sin_family = AF_INET;
    a->sin_port = htons((uint16_t)L.port);
    inet_pton(AF_INET, L.addr, &a->sin_addr);
    sl = sizeof *a;
  }
  int fd = socket(L.family == 6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return errno;
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  c->fd = fd;
  if (connect(fd, (struct sockaddr *)&ss, sl) != 0) {
    if (errno != EINPROGRESS) {
      int e = errno;
      rc_close(c);
      return e;
    }
    c->connecting = true;
  }
  return 0;
}

static const char *err_name(int e) {
#ifdef __GLIBC__
  const char *n = strerrorname_np(e);
  if (n) return n;
#endif
  return strerror(e);
}

static void connect_failed(int e) {
  char why[160];
  snprintf(why, sizeof why, "connect %s %s", err_name(e), L.redis);
  lost(why);
}

static void attempt(void) {
  L.wq_head = L.wq_n = 0;
  int e = rc_connect(&L.cmd);
  if (!e) e = rc_connect(&L.sub);
  if (e) {
    connect_failed(e);
    return;
  }
  L.state = ST_CONNECTING;
  L.connect_deadline = mono_ms() + 2000;
  if (!L.cmd.connecting && !L.sub.connecting) {
    /* connected at once (loopback): go on */
    L.state = ST_CONNECTING;
  }
}

/* Both sockets connected: subscribe first (nothing published during the reload is missed), then SCAN. */
static void connected_both(void) {
  L.state = ST_SYNCING;
  L.stats[S_RESYNCS]++;
  if (L.password[0]) {
    /* both connections authenticate before anything else (the replies keep their order) */
    const char *au[] = {"AUTH", L.user, L.password}, *ap[] = {"AUTH", L.password};
    bool u = L.user[0] != 0;
    if (!command_s(&L.cmd, W_AUTH, u ? 3 : 2, u ? au : ap) || !command_s(&L.sub, W_IGNORE, u ? 3 : 2, u ? au : ap)) {
      lost("connection closed");
      return;
    }
  }
  const char *a[] = {"SUBSCRIBE", L.channel};
  if (!command_s(&L.sub, W_IGNORE, 2, a)) {
    lost("connection closed");
    return;
  }
  seen_clear();
  batch_clear();
  strcpy(L.cursor, "0");
  send_scan();
}

void location_start(const char *redis_addr, int family, int port, const char *instance, const char *prefix, const char *user,
                    const char *password) {
  snprintf(L.user, sizeof L.user, "%s", user ? user : "");
  snprintf(L.password, sizeof L.password, "%s", password ? password : "");
  snprintf(L.addr, sizeof L.addr, "%s", redis_addr);
  L.family = family;
  L.port = port;
  snprintf(L.redis, sizeof L.redis, "%s:%d", redis_addr, port); /* as the Node host logs it */
  snprintf(L.instance, sizeof L.instance, "%s", instance);
  snprintf(L.channel, sizeof L.channel, "%s:loc", prefix);
  snprintf(L.key_prefix, sizeof L.key_prefix, "%s:loc:", prefix);
  L.first = true;
  L.state = ST_WAIT;
  attempt();
  if (L.state == ST_CONNECTING && !L.cmd.connecting && !L.sub.connecting) connected_both();
  /* as the Node host's start: the first attempt runs to its end (connected and reloaded, or failed;
   * bounded by the connect deadline and LOC_FIRST_MS) before the host's loop starts */
  double until = mono_ms() + LOC_FIRST_MS;
  while ((L.state == ST_CONNECTING || L.state == ST_SYNCING) && mono_ms() < until) {
    struct pollfd fds[LOC_MAX_FDS];
    int n = location_pollfds(fds, LOC_MAX_FDS);
    int t = location_timeout((int)(until - mono_ms()) + 1);
    int r = poll(fds, (nfds_t)n, t);
    if (r < 0 && errno != EINTR) break;
    location_process(fds, r > 0 ? n : 0);
  }
}

void location_stop(void) {
  if (L.state == ST_OFF) return;
  rc_close(&L.cmd);
  rc_close(&L.sub);
  batch_clear();
  seen_clear();
  L.state = ST_OFF;
}

void location_event(int kind, const uint8_t *aor, size_t aor_len, const uint8_t *contact, size_t contact_len) {
  if (L.state != ST_UP) return; /* the resync at reconnection publishes (or deletes) them */
  if (kind == SIP_EVENT_REG_ADD || kind == SIP_EVENT_REG_REFRESH) {
    for (int i = loc_first(aor, aor_len); i >= 0 && L.state == ST_UP; i = loc_sibling(i)) {
      loc_binding x;
      if (!loc_read(i, &x)) continue;
      if (strcmp(x.origin, "local") == 0) publish_put(&x);
      loc_binding_free(&x);
    }
    return;
  }
  strbuf e = {0}, k = {0}, m = {0};
  loc_escape_aor(&e, aor, aor_len);
  sb_putc(&e, 0);
  sb_puts(&k, L.key_prefix), sb_puts(&k, e.p), sb_putc(&k, ' '), sb_putn(&k, (const char *)contact, contact_len);
  sb_puts(&m, "del "), sb_puts(&m, L.instance), sb_putc(&m, ' '), sb_puts(&m, e.p), sb_putc(&m, ' '), sb_putn(&m, (const char *)contact, contact_len);
  const char *da[] = {"DEL", k.p}, *pa[] = {"PUBLISH", L.channel, m.p};
  size_t dl[] = {3, k.len}, pl[] = {7, strlen(L.channel), m.len};
  bool ok = command(&L.cmd, W_IGNORE, 2, da, dl) && command(&L.cmd, W_IGNORE, 3, pa, pl);
  free(e.p), free(k.p), free(m.p);
  L.stats[S_PUBLISHED]++;
  if (!ok) lost("connection closed");
}

int location_pollfds(struct pollfd *out, int max) {
  int n = 0;
  rconn *cs[2] = {&L.cmd, &L.sub};
  for (int i = 0; i < 2 && n < max; i++) {
    rconn *c = cs[i];
    if (c->fd < 0) continue;
    short ev = c->connecting ? POLLOUT : (short)(POLLIN | (c->ooff < c->olen ? POLLOUT : 0));
    out[n++] = (struct pollfd){.fd = c->fd, .events = ev};
  }
  return n;
}

int location_timeout(int timeout) {
  double at = L.state == ST_WAIT ? L.retry_at : L.state == ST_CONNECTING ? L.connect_deadline : -1;
  if (at < 0) return timeout;
  double d = at - mono_ms();
  int t = d <= 0 ? 0 : (int)d + 1;
  return timeout < 0 || t < timeout ? t : timeout;
}

void location_process(const struct pollfd *fds, int n) {
  for (int k = 0; k < n && L.state != ST_OFF && L.state != ST_WAIT; k++) {
    short rev = fds[k].revents;
    if (!rev) continue;
    rconn *c = fds[k].fd == L.cmd.fd ? &L.cmd : fds[k].fd == L.sub.fd ? &L.sub : NULL;
    if (!c) continue;
    if (c->connecting) {
      int err = 0;
      socklen_t el = sizeof err;
      if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el) != 0) err = errno;
      if (err) {
        connect_failed(err);
        return;
      }
      if (!(rev & POLLOUT)) continue;
      c->connecting = false;
      if (!rc_flush(c)) {
        lost("connection closed");
        return;
      }
      if (L.state == ST_CONNECTING && !L.cmd.connecting && !L.sub.connecting) connected_both();
      continue;
    }
    if (rev & POLLOUT) {
      if (!rc_flush(c)) {
        lost("connection closed");
        return;
      }
    }
    if (rev & (POLLIN | POLLERR | POLLHUP)) {
      const char *why = NULL;
      if (!rc_read(c, c == &L.sub, &why)) {
        lost(why);
        return;
      }
    }
  }
  double now = mono_ms();
  if (L.state == ST_CONNECTING && now >= L.connect_deadline) lost("connect timed out");
  else if (L.state == ST_WAIT && now >= L.retry_at) {
    attempt();
    if (L.state == ST_CONNECTING && !L.cmd.connecting && !L.sub.connecting) connected_both();
  }
}
