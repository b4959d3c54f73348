/* Command line and configuration file by walking SCHEMA (see config.h). The checks named by the
 * schema are written once here, for C; host/shared/config.mjs is the reference for every message. */
#include "config.h"
#include "json.h"
#include "log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define HOST_BIT SCH_HOST_NATIVE
#define HOST_NAME "native"
#define MASK "***"
#define REALM_MAX 64    /* bytes (core: REALM_MAX) */
#define USERNAME_MAX 60 /* bytes (core: USER_NAME_MAX) */
#define WIDTH 100       /* --help columns */

/* ---- errors ----------------------------------------------------------------------------- */

static void die2(bool usage, const char *key, const char *fmt, ...) __attribute__((format(printf, 3, 4), noreturn));
static void die2(bool usage, const char *key, const char *fmt, ...) {
  char what[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof what, fmt, ap);
  va_end(ap);
  log_flush();
  fprintf(stderr, "%s: \"%s\": %s\n", usage ? "usage error" : "config error", key, what);
  exit(2);
}

static void die_plain(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die_plain(const char *fmt, ...) {
  char what[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof what, fmt, ap);
  va_end(ap);
  log_flush();
  fprintf(stderr, "config error: %s\n", what);
  exit(2);
}

/* JSON text of a value for "got ..." (JSON.stringify; "nothing" for a missing value). */
static const char *show(const json *v) {
  static strbuf b;
  b.len = 0;
  if (!v) sb_puts(&b, "nothing");
  else json_show(&b, v);
  sb_putc(&b, '\0');
  return b.p;
}

static const char *show_str(const char *s) {
  static strbuf b;
  b.len = 0;
  sb_json_string(&b, s, strlen(s));
  sb_putc(&b, '\0');
  return b.p;
}

static void bad(const char *key, const char *expected, const json *got) __attribute__((noreturn));
static void bad(const char *key, const char *expected, const json *got) {
  die2(false, key, "%s, got %s", expected, show(got));
}

static char *keyf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *keyf(const char *fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  return strdup(buf);
}

/* "one of a|b|c" for word values, "\"403\" or \"drop\"" otherwise. */
static const char *expect_enum(const sch_key *k) {
  static strbuf b;
  b.len = 0;
  bool words = true;
  for (int i = 0; i < k->n_values; i++) {
    char c = k->values[i][0];
    words = words && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'));
  }
  sb_puts(&b, words ? "expected one of " : "expected ");
  for (int i = 0; i < k->n_values; i++) {
    if (i) sb_puts(&b, words ? "|" : i == k->n_values - 1 ? " or " : ", ");
    if (words) sb_puts(&b, k->values[i]);
    else sb_json_string(&b, k->values[i], strlen(k->values[i]));
  }
  sb_putc(&b, '\0');
  return b.p;
}

/* ---- checks (named by the schema) ------------------------------------------------------- */

/* A DNS name: labels of letters, digits, inner hyphens (<= 63 each), <= 253 in all, optional
 * trailing dot. */
static bool is_hostname(const char *h) {
  size_t n = strlen(h);
  if (n == 0 || n > 253) return false;
  if (h[n - 1] == '.') n--;
  if (n == 0) return false;
  size_t label = 0;
  for (size_t i = 0; i <= n; i++) {
    char c = i < n ? h[i] : '.';
    if (c == '.') {
      if (label == 0 || label > 63 || h[i - 1] == '-') return false;
      label = 0;
      continue;
    }
    bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (!alnum && !(c == '-' && label > 0)) return false;
    label++;
  }
  return true;
}

bool parse_listen(const char *spec, listen_spec *out) {
  int proto;
  if (strncmp(spec, "udp:", 4) == 0) proto = SIP_PROTO_UDP;
  else if (strncmp(spec, "tcp:", 4) == 0) proto = SIP_PROTO_TCP;
  else if (strncmp(spec, "tls:", 4) == 0) proto = SIP_PROTO_TLS;
  else return false;
  const char *h = spec + 4;
  const char *colon;
  char host[256];
  bool bracketed = false;
  if (*h == '[') {
    const char *close = strchr(h, ']');
    if (!close || close == h + 1 || close[1] != ':') return false;
    size_t n = (size_t)(close - h - 1);
    if (n >= sizeof host) return false;
    memcpy(host, h + 1, n);
    host[n] = 0;
    colon = close + 1;
    bracketed = true;
  } else {
    colon = strchr(h, ':');
    if (!colon || colon == h) return false;
    size_t n = (size_t)(colon - h);
    if (n >= sizeof host) return false;
    memcpy(host, h, n);
    host[n] = 0;
    if (strpbrk(host, "[]")) return false;
  }
  const char *p = colon + 1;
  size_t digits = strlen(p);
  if (digits < 1 || digits > 5 || strspn(p, "0123456789") != digits) return false;
  long port = strtol(p, NULL, 10);
  if (port > 65535) return false;
  unsigned char tmp[16];
  int fam = 0;
  if (inet_pton(AF_INET, host, tmp) == 1) fam = 4;
  else if (inet_pton(AF_INET6, host, tmp) == 1) fam = 6;
  if (bracketed && fam != 6) return false; /* brackets only around IPv6 */
  if (fam == 0 && !is_hostname(host)) return false;
  if (out) {
    out->proto = proto;
    strcpy(out->host, host);
    out->port = (int)port;
    out->family = fam;
    out->spec = spec;
  }
  return true;
}

static bool is_token_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || (c && strchr("-.!%*_+`'~", c));
}

static bool is_token(const char *s, size_t n) {
  if (n == 0) return false;
  for (size_t i = 0; i < n; i++)
    if (!is_token_char(s[i])) return false;
  return true;
}

static bool is_cidr(const char *s) {
  const char *slash = strchr(s, '/');
  size_t n = slash ? (size_t)(slash - s) : strlen(s);
  char addr[64];
  if (n == 0 || n >= sizeof addr) return false;
  memcpy(addr, s, n);
  addr[n] = 0;
  if (strchr(addr, '%')) return false;
  unsigned char buf[16];
  int fam;
  if (inet_pton(AF_INET, addr, buf) == 1) fam = 4;
  else if (inet_pton(AF_INET6, addr, buf) == 1) fam = 6;
  else return false;
  if (!slash) return true;
  const char *b = slash + 1;
  size_t d = strlen(b);
  if (d < 1 || d > 3 || strspn(b, "0123456789") != d) return false;
  return atoi(b) <= (fam == 4 ? 32 : 128);
}

#define RELAY_IFACES_MAX 4 /* the core's relay interfaces (config.ts RELAY_IFACES) */
static bool is_number_block(const char *s);

/* A relay interface's NAME: letters, digits, - and _, 1..16 (config.mjs RELAY_NAME). */
static bool is_relay_name(const char *s, size_t n) {
  if (n < 1 || n > 16) return false;
  for (size_t i = 0; i < n; i++)
    if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '_') return false;
  return true;
}

static int ip_family(const char *s) {
  unsigned char buf[16];
  if (strchr(s, '%')) return 0;
  return inet_pton(AF_INET, s, buf) == 1 ? 4 : inet_pton(AF_INET6, s, buf) == 1 ? 6 : 0;
}

#define RELAY_ADDRESS_EXPECTED                                                                                          \
  "expected \"[NAME/]ADDRESS[!ADVERTISED]\" (rtpengine's interface syntax: \"10.0.0.5\", \"10.0.0.5!203.0.113.5\", " \
  "\"trunk/10.0.0.5!203.0.113.5\"; NAME letters, digits, - and _, 1..16)"
#define RELAY_NETWORK_EXPECTED "expected \"CIDR NAME\": a network and the name of a relay interface (\"192.168.0.0/16 inside\")"

const char *parse_relay_address(const char *s, relay_addr *out) {
  relay_addr r;
  memset(&r, 0, sizeof r);
  const char *rest = s;
  const char *slash = strchr(s, '/');
  if (slash) {
    size_t n = (size_t)(slash - s);
    char left[64];
    if (n < sizeof left) {
      memcpy(left, s, n);
      left[n] = 0;
    }
    if (n >= sizeof left || ip_family(left) == 0) {
      /* a NAME (an address before the slash is one with a prefix) */
      if (!is_relay_name(s, n)) return RELAY_ADDRESS_EXPECTED;
      memcpy(r.name, s, n);
      rest = slash + 1;
    }
  }
  if (strchr(rest, '/')) return "expected an address without a prefix";
  const char *bang = strchr(rest, '!');
  size_t bl = bang ? (size_t)(bang - rest) : strlen(rest);
  const char *adv = bang ? bang + 1 : rest;
  if (bl >= sizeof r.bind || strlen(adv) >= sizeof r.advertise || strchr(adv, '!')) return RELAY_ADDRESS_EXPECTED;
  memcpy(r.bind, rest, bl);
  strcpy(r.advertise, bang ? adv : r.bind);
  r.family = ip_family(r.bind);
  int fa = ip_family(r.advertise);
  if (r.family == 0 || fa == 0) return RELAY_ADDRESS_EXPECTED;
  if (fa != r.family)
    return r.family == 4 ? "expected the advertised address of the bound address's family (IPv4)"
                         : "expected the advertised address of the bound address's family (IPv6)";
  if (out) *out = r;
  return NULL;
}

/* The interface number of NAME among the n names seen so far (in the order they first appear in
 * mediaRelay.addresses), adding it when it is new: -1 when it is new and RELAY_IFACES_MAX are seen. */
static int name_slot(char names[RELAY_IFACES_MAX][17], int *n, const char *name) {
  int i = 0;
  while (i < *n && strcmp(names[i], name) != 0) i++;
  if (i < *n) return i;
  if (*n == RELAY_IFACES_MAX) return -1;
  strcpy(names[(*n)++], name);
  return i;
}

int relay_iface_of(const config *c, const char *name) {
  const cfg_value *v = &c->v[SK_MEDIA_RELAY_ADDRESSES];
  char seen[RELAY_IFACES_MAX][17];
  int n = 0;
  for (size_t j = 0; v->set && j < v->n; j++) {
    relay_addr r;
    if (parse_relay_address(v->list[j], &r)) continue;
    int i = name_slot(seen, &n, r.name);
    if (i >= 0 && strcmp(seen[i], name) == 0) return i;
  }
  return -1;
}

/* "CIDR NAME" of mediaRelay.networks (config.mjs CHECKS.relayNetwork). */
static bool is_relay_network(const char *s) {
  const char *sp = strchr(s, ' ');
  if (!sp || sp == s || (size_t)(sp - s) >= 64 || !is_relay_name(sp + 1, strlen(sp + 1))) return false;
  char cidr[64];
  memcpy(cidr, s, (size_t)(sp - s));
  cidr[sp - s] = 0;
  return is_cidr(cidr);
}

/* "ACCOUNT BLOCK" of registrar.ginBlocks (config.mjs CHECKS.ginBlock). */
static bool is_gin_block(const char *s) {
  const char *sp = strchr(s, ' ');
  if (!sp || sp == s || sp - s > 32) return false;
  for (const char *p = s; p < sp; p++)
    if ((unsigned char)*p <= 0x20 || *p == '@' || *p == '%' || *p == ';' || *p == '<' || *p == '>') return false;
  return is_number_block(sp + 1);
}

/* A DNS name: dot-separated labels of 1..63 letters, digits and inner hyphens, 1..253 bytes
 * (config.mjs DNS_NAME). */
static bool is_dns_name(const char *s) {
  size_t n = strlen(s), label = 0;
  if (n == 0 || n > 253) return false;
  for (size_t i = 0; i <= n; i++) {
    char c = s[i];
    if (c == '.' || c == 0) {
      if (label == 0 || label > 63 || s[i - 1] == '-') return false;
      label = 0;
    } else if (isalnum((unsigned char)c) || (c == '-' && label > 0)) {
      label++;
    } else {
      return false;
    }
  }
  return true;
}

/* "CIDR require|none [NAME]" of tls.peers (config.mjs parseTlsPeer); *require and *name (NULL when
 * absent, else pointing into s) when wanted. */
bool cfg_tls_peer(const char *s, char *cidr, size_t cap, bool *require, const char **name) {
  const char *sp = strchr(s, ' ');
  if (!sp || (size_t)(sp - s) >= cap) return false;
  memcpy(cidr, s, (size_t)(sp - s));
  cidr[sp - s] = 0;
  if (!is_cidr(cidr)) return false;
  const char *w = sp + 1, *sp2 = strchr(w, ' ');
  size_t wl = sp2 ? (size_t)(sp2 - w) : strlen(w);
  bool req = wl == 7 && strncmp(w, "require", 7) == 0;
  if (!req && !(wl == 4 && strncmp(w, "none", 4) == 0)) return false;
  if (sp2 && !is_dns_name(sp2 + 1)) return false;
  if (require) *require = req;
  if (name) *name = sp2 ? sp2 + 1 : NULL;
  return true;
}

static bool is_tls_peer(const char *s) {
  char cidr[64];
  return cfg_tls_peer(s, cidr, sizeof cidr, NULL, NULL);
}

static bool is_deny_uri(const char *s) {
  const char *at = strchr(s, '@');
  size_t n = strlen(s);
  if (!at || strchr(at + 1, '@') || n == 1 || strpbrk(s, " \t\r\n\v\f<>\";,?")) return false;
  return !(n >= 2 && s[n - 2] == '@' && s[n - 1] == '.');
}

static bool is_type_rule(const char *s) {
  const char *sp = strchr(s, ' ');
  if (!sp) return false;
  if (!(sp - s == 1 && s[0] == '*') && !is_token(s, (size_t)(sp - s))) return false;
  const char *t = sp + 1, *slash = strchr(t, '/');
  if (!slash) return false;
  return is_token(t, (size_t)(slash - t)) && is_token(slash + 1, strlen(slash + 1));
}

static bool is_sip_uri(const char *s) {
  size_t skip;
  if (strncasecmp(s, "sip:", 4) == 0) skip = 4;
  else if (strncasecmp(s, "sips:", 5) == 0) skip = 5;
  else return false;
  s += skip;
  if (!*s) return false;
  for (; *s; s++)
    if (strchr(" \t\r\n\v\f<>\"", *s)) return false;
  return true;
}

static bool is_realm(const char *s) {
  size_t n = strlen(s);
  if (n == 0 || n > REALM_MAX) return false;
  for (; *s; s++)
    if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e || *s == '"' || *s == '\\') return false;
  return true;
}

static bool is_domain(const char *s) {
  if (!*s) return false;
  for (; *s; s++)
    if (strchr(" \t\r\n\v\f\"<>;,", *s)) return false;
  return true;
}

static bool is_hex(const char *s, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f') || (s[i] >= 'A' && s[i] <= 'F'))) return false;
  return true;
}

/* The numeric address [a, ae) (no zone) into buf (64 bytes) and its family (4 or 6); 0 when it is none. */
static int numeric_addr(const char *a, const char *ae, char buf[64]) {
  size_t n = (size_t)(ae - a);
  if (n == 0 || n >= 64) return 0;
  memcpy(buf, a, n);
  buf[n] = 0;
  unsigned char tmp[16];
  return inet_pton(AF_INET, buf, tmp) == 1 ? 4 : inet_pton(AF_INET6, buf, tmp) == 1 ? 6 : 0;
}

/* A port of 1..5 digits, at most 65535; -1 when malformed. */
static long port_digits(const char *ps) {
  size_t d = strlen(ps);
  if (d < 1 || d > 5 || strspn(ps, "0123456789") != d) return -1;
  long p = strtol(ps, NULL, 10);
  return p > 65535 ? -1 : p;
}

static void addr_out(const char *buf, int fam, long p, char addr[64], int *family, int *port) {
  if (addr) memcpy(addr, buf, strlen(buf) + 1);
  if (family) *family = fam;
  if (port) *port = (int)p;
}

/* "192.0.2.53", "192.0.2.53:5353", "::1", "[::1]" or "[::1]:5353" (host/shared/config.mjs
 * parseDnsServer): the address text into addr (64 bytes), its family and port (53 when absent). */
bool parse_dns_server(const char *s, char addr[64], int *family, int *port) {
  const char *end = s + strlen(s), *ps = NULL;
  const char *a = s, *ae;
  if (*s == '[') {
    const char *rb = strchr(s, ']');
    if (!rb) return false;
    a = s + 1;
    ae = rb;
    if (rb[1] == ':') ps = rb + 2;
    else if (rb[1]) return false;
  } else {
    const char *c1 = strchr(s, ':');
    if (c1 && strchr(c1 + 1, ':')) ae = end; /* a bare IPv6 */
    else if (c1) { ae = c1; ps = c1 + 1; }
    else ae = end;
  }
  char buf[64];
  int fam = numeric_addr(a, ae, buf);
  if (fam == 0 || (*s == '[' && fam != 6)) return false; /* brackets around IPv6 only */
  long p = ps ? port_digits(ps) : 53;
  if (p < 1) return false;
  addr_out(buf, fam, p, addr, family, port);
  return true;
}

/* "127.0.0.1:9090" or "[::1]:9090" (metrics.listen): a numeric address, brackets around IPv6 only, a port
 * 0..65535 (0: any free port); the address (without brackets), its family and the port. */
bool parse_ip_port(const char *s, char addr[64], int *family, int *port) {
  const char *a, *ae, *ps;
  if (*s == '[') {
    const char *rb = strchr(s, ']');
    if (!rb || rb[1] != ':') return false;
    a = s + 1;
    ae = rb;
    ps = rb + 2;
  } else {
    const char *c1 = strchr(s, ':');
    if (!c1 || strchr(c1 + 1, ':')) return false; /* no port, or an IPv6 without brackets */
    a = s;
    ae = c1;
    ps = c1 + 1;
  }
  char buf[64];
  int fam = numeric_addr(a, ae, buf);
  if (fam == 0 || (*s == '[') != (fam == 6)) return false;
  long p = port_digits(ps);
  if (p < 0) return false;
  addr_out(buf, fam, p, addr, family, port);
  return true;
}

/* What a string check expects (the message of a value that fails it). */
static const char *expected_of(sch_check c) {
  switch (c) {
    case SCH_CHECK_LISTEN: return "expected \"udp|tcp|tls:HOST:PORT\"";
    case SCH_CHECK_DOMAIN: return "expected a domain name (no spaces, quotes, <>;,)";
    case SCH_CHECK_CIDR: return "expected an IPv4 or IPv6 address or CIDR (a.b.c.d[/0-32], x:x::x[/0-128])";
    case SCH_CHECK_TOKEN: return "expected a method token (letters, digits, -.!%*_+`'~)";
    case SCH_CHECK_DENY_URI: return "expected \"user@domain\", \"@domain\", \"@.domain\" (and subdomains) or \"user@\"";
    case SCH_CHECK_TYPE_RULE: return "expected \"METHOD type/subtype\" (METHOD may be *)";
    case SCH_CHECK_SIP_URI: return "expected a SIP URI \"sip:host[:port]\"";
    case SCH_CHECK_REALM: return "expected printable ASCII text of 1..64 bytes without '\"' or '\\'";
    case SCH_CHECK_FILE: return "expected a file name";
    case SCH_CHECK_DNS_SERVER: return "expected an IP address with an optional port (192.0.2.53, 192.0.2.53:5353, ::1, [::1]:5353)";
    case SCH_CHECK_IP_PORT: return "expected \"IP:PORT\" with a numeric address (127.0.0.1:9090, [::1]:9090)";
    case SCH_CHECK_GIN_BLOCK: return "expected \"ACCOUNT BLOCK\": an AOR user part and a number block (\"acme +155500xx\": one x per trailing digit)";
    case SCH_CHECK_SECRET: return "expected 1..255 bytes without NUL, CR or LF";
    case SCH_CHECK_TLS_PEER: return "expected \"CIDR require|none [NAME]\" (an IPv4 or IPv6 address or CIDR, then require or none, then optionally a DNS name: \"192.0.2.10 require sip.carrier.example\")";
    case SCH_CHECK_RELAY_ADDRESS: return RELAY_ADDRESS_EXPECTED;
    case SCH_CHECK_RELAY_NETWORK: return RELAY_NETWORK_EXPECTED;
    default: return "expected a string";
  }
}

/* One string against a check; false when it fails. */
static bool check_string(sch_check c, const char *s) {
  switch (c) {
    case SCH_CHECK_LISTEN: return parse_listen(s, NULL);
    case SCH_CHECK_DOMAIN: return is_domain(s);
    case SCH_CHECK_CIDR: return is_cidr(s);
    case SCH_CHECK_TOKEN: return is_token(s, strlen(s));
    case SCH_CHECK_DENY_URI: return is_deny_uri(s);
    case SCH_CHECK_TYPE_RULE: return is_type_rule(s);
    case SCH_CHECK_SIP_URI: return is_sip_uri(s);
    case SCH_CHECK_REALM: return is_realm(s);
    case SCH_CHECK_FILE: return *s != 0;
    case SCH_CHECK_DNS_SERVER: return parse_dns_server(s, NULL, NULL, NULL);
    case SCH_CHECK_IP_PORT: return parse_ip_port(s, NULL, NULL, NULL);
    case SCH_CHECK_GIN_BLOCK: return is_gin_block(s);
    case SCH_CHECK_TLS_PEER: return is_tls_peer(s);
    case SCH_CHECK_SECRET: return s[0] != 0 && strlen(s) <= 255 && !strpbrk(s, "\r\n");
    case SCH_CHECK_RELAY_ADDRESS: return parse_relay_address(s, NULL) == NULL;
    case SCH_CHECK_RELAY_NETWORK: return is_relay_network(s);
    default: return true;
  }
}

static int enum_index(const sch_key *k, const char *s) {
  for (int i = 0; i < k->n_values; i++)
    if (strcmp(k->values[i], s) == 0) return i;
  return -1;
}

/* ---- values ----------------------------------------------------------------------------- */

static const json *member(const json *o, const char *name) {
  for (size_t i = 0; i < o->n; i++)
    if (strcmp(o->keys[i], name) == 0) return o->items[i];
  return NULL;
}

static char *lower(const char *s) {
  char *d = strdup(s);
  for (char *p = d; *p; p++)
    if (*p >= 'A' && *p <= 'Z') *p = (char)(*p - 'A' + 'a');
  return d;
}

static void check_users(const char *k, const json *v, cfg_value *out) {
  if (v->type != J_ARRAY) bad(k, "expected an array of {\"username\", \"password\" | \"ha1\" | \"ha1Sha256\"}", v);
  out->users = calloc(v->n + 1, sizeof *out->users);
  out->n = v->n;
  for (size_t i = 0; i < v->n; i++) {
    char *key = keyf("%s[%zu]", k, i);
    const json *o = v->items[i];
    if (o->type != J_OBJECT) bad(key, "expected an object", o);
    cfg_user *u = &out->users[i];
    for (size_t j = 0; j < o->n; j++) {
      const char *uk = o->keys[j];
      const json *uv = o->items[j];
      char *kk = keyf("%s.%s", key, uk);
      if (strcmp(uk, "username") == 0) {
        if (uv->type != J_STRING || !is_token(uv->str, strlen(uv->str)) || strlen(uv->str) > USERNAME_MAX)
          bad(kk, "expected a SIP token of 1..60 bytes (letters, digits, -.!%*_+`'~; no ':')", uv);
        for (size_t p = 0; p < i; p++)
          if (strcmp(out->users[p].username, uv->str) == 0) die2(false, kk, "duplicate user %s", show(uv));
        u->username = uv->str;
      } else if (strcmp(uk, "password") == 0) {
        bool ok = uv->type == J_STRING && uv->str[0] != 0;
        for (const char *p = ok ? uv->str : ""; *p; p++) ok = ok && (unsigned char)*p >= 0x20 && *p != 0x7f;
        /* never echo a password back, even a malformed one */
        if (!ok) {
          if (uv->type == J_STRING) die2(false, kk, "expected a non-empty string without control characters, got \"" MASK "\"");
          bad(kk, "expected a non-empty string without control characters", uv);
        }
        u->password = uv->str;
      } else if (strcmp(uk, "ha1") == 0 || strcmp(uk, "ha1Sha256") == 0) {
        bool sha = uk[3] != 0;
        size_t want = sha ? 64 : 32;
        if (uv->type != J_STRING || strlen(uv->str) != want || !is_hex(uv->str, want)) {
          const char *what = sha ? "expected 64 hex digits (SHA-256 of username:realm:password)" : "expected 32 hex digits (MD5 of username:realm:password)";
          if (uv->type == J_STRING) die2(false, kk, "%s, got \"%zu characters\"", what, strlen(uv->str));
          bad(kk, what, uv);
        }
        if (sha) u->ha1_sha256 = lower(uv->str);
        else u->ha1 = lower(uv->str);
      } else {
        die2(false, kk, "unknown key (expected username, password, ha1, ha1Sha256)");
      }
      free(kk);
    }
    if (!u->username) die2(false, key, "expected a \"username\"");
    bool has_ha1 = u->ha1 || u->ha1_sha256;
    if (!u->password && !has_ha1) die2(false, key, "user %s needs a \"password\" or an \"ha1\" / \"ha1Sha256\"", show_str(u->username));
    if (u->password && has_ha1) die2(false, key, "user %s: give either \"password\" or \"ha1\"/\"ha1Sha256\", not both", show_str(u->username));
    free(key);
  }
}

/* A trunk's address as a DNS name (config.mjs SIDE_NAME): labels of letters, digits and - (none at
 * either end of a label), at least one letter, an optional :PORT (1..65535), at most 48 bytes in all.
 * The name's length (0: not one) and *port (0: none, RFC 3263). */
size_t side_name(const char *s, unsigned *port) {
  size_t n = strlen(s);
  const char *colon = strchr(s, ':');
  size_t hl = colon ? (size_t)(colon - s) : n;
  *port = 0;
  if (n == 0 || n > 48 || hl == 0) return 0;
  if (colon) {
    size_t pl = n - hl - 1;
    if (pl == 0 || pl > 5 || strspn(colon + 1, "0123456789") != pl) return 0;
    long v = strtol(colon + 1, NULL, 10);
    if (v < 1 || v > 65535) return 0;
    *port = (unsigned)v;
  }
  bool letter = false;
  size_t label = 0;
  char prev = '.';
  for (size_t i = 0; i < hl; i++) {
    char c = s[i];
    if (c == '.') {
      if (label == 0 || prev == '-') return 0;
      label = 0;
    } else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
      letter = true;
      label++;
    } else if ((c >= '0' && c <= '9') || (c == '-' && label > 0)) {
      label++;
    } else {
      return 0;
    }
    prev = c;
  }
  return label > 0 && prev != '-' && letter ? hl : 0;
}

/* A trunk's address: IPv4:PORT or [IPv6]:PORT (config.mjs SIDE_ADDRESS), or a DNS name (side_name). */
static bool is_side_address(const char *s) {
  unsigned name_port;
  if (side_name(s, &name_port)) return true;
  const char *colon = strrchr(s, ':');
  if (!colon || colon == s) return false;
  char *end;
  long port = strtol(colon + 1, &end, 10);
  if (*end || colon[1] == 0 || port < 1 || port > 65535 || strlen(colon + 1) > 5) return false;
  char host[64];
  size_t n = (size_t)(colon - s);
  uint8_t tmp[16];
  if (s[0] == '[') {
    if (n < 3 || s[n - 1] != ']' || n - 2 >= sizeof host) return false;
    memcpy(host, s + 1, n - 2);
    host[n - 2] = 0;
    return inet_pton(AF_INET6, host, tmp) == 1;
  }
  if (n >= sizeof host) return false;
  memcpy(host, s, n);
  host[n] = 0;
  return inet_pton(AF_INET, host, tmp) == 1;
}

#define SIDE_KEYS "name, role, route, host, address, transport, accept, called, username, password, routes, failover, identity, drop, register, monitor, down, passthrough, mediaRelay, relayInterface"
#define PASSTHROUGH_KEYS "user, username, password"
/* a trunk's "register": {"expires"}: least, most, default (s) (config.mjs REGISTER_EXPIRES) */
#define REGISTER_EXPIRES_MIN 60
#define REGISTER_EXPIRES_MAX 86400
#define REGISTER_EXPIRES_DEFAULT 3600
#define DROP_NAMES 8 /* config.ts B2B_DROP_NAMES */

/* The headers each B2BUA leg writes itself (wire/emit.ts legOwned; config.mjs LEG_OWNED). */
static bool leg_owned(const char *h) {
  static const char *const names[] = {"via", "v", "from", "f", "to", "t", "call-id", "i", "cseq", "max-forwards",
    "contact", "m", "content-length", "l", "route", "record-route", "path", "authorization", "proxy-authorization",
    "www-authenticate", "proxy-authenticate", "require", "proxy-require", "supported", "k", "unsupported", "timestamp"};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if (strcasecmp(h, names[i]) == 0) return true;
  return false;
}

static bool is_number_block(const char *s);

/* A side's "identity" {pai, number} (config.mjs checkSides). */
static void check_identity(const char *k, const json *v, cfg_side *sd) {
  if (v->type != J_OBJECT) bad(k, "expected an object {pai, number}", v);
  for (size_t j = 0; j < v->n; j++) {
    char *kk = keyf("%s.%s", k, v->keys[j]);
    const json *iv = v->items[j];
    if (strcmp(v->keys[j], "pai") == 0) {
      if (iv->type != J_STRING || (strcmp(iv->str, "passthrough") != 0 && strcmp(iv->str, "drop") != 0 && strcmp(iv->str, "from") != 0))
        bad(kk, "expected \"passthrough\", \"drop\" or \"from\"", iv);
      sd->pai = iv->str;
    } else if (strcmp(v->keys[j], "number") == 0) {
      /* a trunk's calling number for callers with none of its gin block (b2bua/call.ts callerNumber) */
      if (iv->type != J_STRING || strchr(iv->str, 'x') || !is_number_block(iv->str))
        bad(kk, "expected a number: \"+\" (optional) and digits, 1..32 bytes (\"+15550100\")", iv);
      sd->number = iv->str;
    } else {
      die2(false, kk, "unknown key (expected pai, number)");
    }
    free(kk);
  }
}

/* Whether number n is one of block b (the core's blockMatch, config.mjs numberInBlock). */
static bool number_in_block(const char *n, const char *b) {
  if (strlen(n) != strlen(b)) return false;
  for (size_t i = 0; b[i]; i++)
    if (b[i] == 'x' ? !isdigit((unsigned char)n[i]) : b[i] != n[i]) return false;
  return true;
}

/* A number block (the core's util/numblock.ts, config.mjs isNumberBlock): [+]digits then x's, 1..32 bytes. */
static bool is_number_block(const char *s) {
  size_t n = strlen(s), i = 0;
  if (n < 1 || n > 32) return false;
  if (s[i] == '+') i++;
  while (i < n && s[i] >= '0' && s[i] <= '9') i++;
  while (i < n && s[i] == 'x') i++;
  return i == n;
}

/* A trunk's "register": true, false or {"expires": N, "mode": "gin", "block": "+155500xx"} (config.mjs checkSides). */
static void check_register(const char *k, const json *v, cfg_side *sd) {
  sd->reg_expires = REGISTER_EXPIRES_DEFAULT;
  if (v->type == J_TRUE || v->type == J_FALSE) {
    sd->reg = v->type == J_TRUE ? 1 : 2;
    return;
  }
  if (v->type != J_OBJECT) bad(k, "expected true, false or {\"expires\": N, \"mode\": \"gin\", \"block\": BLOCK}", v);
  sd->reg = 4;
  for (size_t j = 0; j < v->n; j++) {
    char *kk = keyf("%s.%s", k, v->keys[j]);
    const json *rv = v->items[j];
    if (strcmp(v->keys[j], "mode") == 0) {
      if (rv->type != J_STRING || strcmp(rv->str, "gin") != 0) bad(kk, "expected \"gin\"", rv);
      sd->reg_gin = 1;
      free(kk);
      continue;
    }
    if (strcmp(v->keys[j], "block") == 0) {
      if (rv->type != J_STRING || !is_number_block(rv->str))
        bad(kk, "expected a number block: \"+\" (optional) and digits, then one \"x\" per trailing digit, 1..32 bytes (\"+155500xx\")", rv);
      sd->reg_block = rv->str;
      free(kk);
      continue;
    }
    if (strcmp(v->keys[j], "expires") != 0) die2(false, kk, "unknown key (expected expires, mode, block)");
    if (rv->type != J_NUMBER || rv->num < REGISTER_EXPIRES_MIN || rv->num > REGISTER_EXPIRES_MAX || rv->num != (double)(int)rv->num)
      bad(kk, "expected an integer in 60..86400", rv);
    sd->reg = 3;
    sd->reg_expires = (int)rv->num;
    free(kk);
  }
  if (sd->reg_block && !sd->reg_gin) {
    char *kk = keyf("%s.block", k);
    die2(false, kk, "a number block is for \"mode\": \"gin\"");
  }
}

/* A side's "drop" list of header names (config.mjs checkSides). */
static void check_drop(const char *k, const json *v, cfg_side *sd) {
  if (v->type != J_ARRAY) bad(k, "expected an array of at most 8 header names", v);
  if (v->n > DROP_NAMES) die2(false, k, "expected at most 8 header names, got \"%zu\"", v->n);
  sd->drop = calloc(v->n + 1, sizeof *sd->drop);
  sd->n_drop = v->n;
  for (size_t j = 0; j < v->n; j++) {
    char *kk = keyf("%s[%zu]", k, j);
    const json *h = v->items[j];
    size_t n = h->type == J_STRING ? strlen(h->str) : 0;
    if (h->type != J_STRING || !is_token(h->str, n) || n > 32) bad(kk, "expected a header name (a SIP token of 1..32 bytes)", h);
    if (leg_owned(h->str)) die2(false, kk, "%s is written by each leg itself and never passes (nothing to drop)", show_str(h->str));
    sd->drop[j] = h->str;
    free(kk);
  }
}
#define RULE_KEYS "prefix, to, strip, prepend"

static bool is_affix(const char *s) {
  size_t n = strlen(s);
  if (n > 24) return false;
  for (size_t i = 0; i < n; i++)
    if (!isalnum((unsigned char)s[i]) && !strchr("+*#._-", s[i])) return false;
  return true;
}

/* A side's routing rules (config.mjs checkRules). */
static void check_rules(const char *k, const json *v, cfg_side *sd) {
  if (v->type != J_ARRAY) bad(k, "expected an array of {" RULE_KEYS "}", v);
  if (v->n > 16) die2(false, k, "expected at most 16 rules, got \"%zu\"", v->n);
  sd->rules = calloc(v->n + 1, sizeof *sd->rules);
  sd->n_rules = v->n;
  for (size_t i = 0; i < v->n; i++) {
    char *key = keyf("%s[%zu]", k, i);
    const json *o = v->items[i];
    if (o->type != J_OBJECT) bad(key, "expected an object", o);
    cfg_rule *r = &sd->rules[i];
    r->prepend = "";
    for (size_t j = 0; j < o->n; j++) {
      const char *rk = o->keys[j];
      const json *rv = o->items[j];
      char *kk = keyf("%s.%s", key, rk);
      if (strcmp(rk, "prefix") == 0 || strcmp(rk, "prepend") == 0) {
        if (rv->type != J_STRING || !is_affix(rv->str)) bad(kk, "expected 0..24 of 0-9 A-Z a-z + * # . _ -", rv);
        if (strcmp(rk, "prefix") == 0) r->prefix = rv->str;
        else r->prepend = rv->str;
      } else if (strcmp(rk, "to") == 0) {
        if (rv->type != J_STRING) bad(kk, "expected the name of another side", rv);
        r->to = rv->str;
      } else if (strcmp(rk, "strip") == 0) {
        if (rv->type != J_NUMBER || rv->num < 0 || rv->num > 32 || rv->num != (double)(int)rv->num) bad(kk, "expected an integer in 0..32", rv);
        r->strip = (int)rv->num;
      } else {
        die2(false, kk, "unknown key (expected " RULE_KEYS ")");
      }
      free(kk);
    }
    if (!r->prefix) die2(false, key, "expected a \"prefix\" (\"\" for any number)");
    if (!r->to) die2(false, key, "expected a \"to\" (the side the call goes to)");
    free(key);
  }
}

/* Whether trunk sd's transport is the host's choice by RFC 3263 §4.1 (config.mjs autoTransport): its
 * address a name without a port, no "transport" given. */
bool side_auto_transport(const cfg_side *sd) {
  unsigned port = 0;
  return !sd->transport && sd->role && strcmp(sd->role, "trunk") == 0 && sd->address && side_name(sd->address, &port) > 0 && port == 0;
}

/* The registrant's option word of a trunk whose calls and registrations go over TCP or TLS ("transport":
 * "tcp", "tls"): " tcp", " tls"; " auto" when the host chooses it (side_auto_transport: the account waits
 * for it), else "". */
static const char *side_stream(const cfg_side *sd) {
  if (!sd->transport) return side_auto_transport(sd) ? " auto" : "";
  return strcmp(sd->transport, "tcp") == 0 ? " tcp" : strcmp(sd->transport, "tls") == 0 ? " tls" : "";
}

/* A trunk's password (its own or a pass-through account's): 1..64 printable ASCII characters without
 * spaces (the core's side text is space-separated); never echoed back in an error. */
static const char *check_side_password(const char *k, const json *v) {
  size_t n = v->type == J_STRING ? strlen(v->str) : 0;
  bool ok = v->type == J_STRING && n >= 1 && n <= 64;
  for (size_t c = 0; ok && c < n; c++) ok = (unsigned char)v->str[c] > 0x20 && (unsigned char)v->str[c] < 0x7f;
  if (!ok) {
    if (v->type == J_STRING) die2(false, k, "expected 1..64 printable ASCII characters without spaces, got \"" MASK "\"");
    bad(k, "expected 1..64 printable ASCII characters without spaces", v);
  }
  return v->str;
}

/* A trunk's "passthrough": [{user, username, password}] (config.mjs checkSides). */
static void check_passthrough(const char *k, const json *v, cfg_side *sd) {
  if (v->type != J_ARRAY) bad(k, "expected an array of {" PASSTHROUGH_KEYS "}", v);
  sd->pt = calloc(v->n + 1, sizeof *sd->pt);
  sd->n_pt = v->n;
  for (size_t i = 0; i < v->n; i++) {
    char *key = keyf("%s[%zu]", k, i);
    const json *o = v->items[i];
    if (o->type != J_OBJECT) bad(key, "expected an object", o);
    cfg_passthrough *e = &sd->pt[i];
    for (size_t j = 0; j < o->n; j++) {
      const char *pk = o->keys[j];
      const json *pv = o->items[j];
      char *kk = keyf("%s.%s", key, pk);
      size_t n = pv->type == J_STRING ? strlen(pv->str) : 0;
      if (strcmp(pk, "user") == 0 || strcmp(pk, "username") == 0) {
        if (pv->type != J_STRING || !is_token(pv->str, n) || n > 32) bad(kk, "expected a SIP token of 1..32 bytes", pv);
        if (strcmp(pk, "user") == 0) e->user = pv->str;
        else e->username = pv->str;
      } else if (strcmp(pk, "password") == 0) {
        e->password = check_side_password(kk, pv);
      } else {
        die2(false, kk, "unknown key (expected " PASSTHROUGH_KEYS ")");
      }
      free(kk);
    }
    if (!e->user) die2(false, key, "expected a \"user\"");
    if (!e->username) die2(false, key, "expected a \"username\"");
    if (!e->password) die2(false, key, "expected a \"password\"");
    free(key);
  }
}

/* The B2BUA's sides (config.mjs checkSides: the same checks and messages). */
static void check_sides(const sch_key *k, const char *name, const json *v, cfg_value *out) {
  if (v->type != J_ARRAY) bad(name, "expected an array of {" SIDE_KEYS "}", v);
  if (k->max_items >= 0 && v->n > (size_t)k->max_items) die2(false, name, "expected at most %d sides, got \"%zu\"", k->max_items, v->n);
  out->sides = calloc(v->n + 1, sizeof *out->sides);
  out->n = v->n;
  for (size_t i = 0; i < v->n; i++) {
    char *key = keyf("%s[%zu]", name, i);
    const json *o = v->items[i];
    if (o->type != J_OBJECT) bad(key, "expected an object", o);
    cfg_side *sd = &out->sides[i];
    for (size_t j = 0; j < o->n; j++) {
      const char *sk = o->keys[j];
      const json *sv = o->items[j];
      char *kk = keyf("%s.%s", key, sk);
      size_t n = sv->type == J_STRING ? strlen(sv->str) : 0;
      if (strcmp(sk, "name") == 0) {
        bool ok = sv->type == J_STRING && n >= 1 && n <= 32;
        for (size_t c = 0; ok && c < n; c++) ok = isalnum((unsigned char)sv->str[c]) || sv->str[c] == '-' || sv->str[c] == '_';
        if (!ok) bad(kk, "expected a name of 1..32 letters, digits, - or _", sv);
        sd->name = sv->str;
      } else if (strcmp(sk, "role") == 0) {
        if (sv->type != J_STRING || (strcmp(sv->str, "registrar") != 0 && strcmp(sv->str, "trunk") != 0)) bad(kk, "expected \"registrar\" or \"trunk\"", sv);
        sd->role = sv->str;
      } else if (strcmp(sk, "route") == 0) {
        if (sv->type != J_STRING) bad(kk, "expected the name of another side", sv);
        sd->route = sv->str;
      } else if (strcmp(sk, "host") == 0) {
        bool ok = sv->type == J_STRING && n >= 1 && n <= 64;
        for (size_t c = 0; ok && c < n; c++) ok = !strchr(" \t\r\n\"<>;,", sv->str[c]);
        if (!ok) bad(kk, "expected host[:port] of 1..64 bytes (no spaces, quotes, <>;,)", sv);
        sd->host = sv->str;
      } else if (strcmp(sk, "address") == 0) {
        if (sv->type != J_STRING || !is_side_address(sv->str))
          bad(kk, "expected IP:PORT or a DNS name, NAME or NAME:PORT, of at most 48 bytes (IPv6 as [::1]:5060; a name without a port is located by RFC 3263: NAPTR, SRV, then its address on 5060, 5061 for tls)", sv);
        sd->address = sv->str;
      } else if (strcmp(sk, "accept") == 0) {
        /* how a trunk's calls are known: by its address, or also by its credentials from anywhere */
        if (sv->type != J_STRING || (strcmp(sv->str, "address") != 0 && strcmp(sv->str, "digest") != 0)) bad(kk, "expected \"address\" or \"digest\"", sv);
        sd->accept = sv->str;
      } else if (strcmp(sk, "called") == 0) {
        /* where a trunk's calls have the number called (config.mjs CALLED) */
        if (sv->type != J_STRING || (strcmp(sv->str, "ruri") != 0 && strcmp(sv->str, "to") != 0 && strcmp(sv->str, "p-called-party-id") != 0))
          bad(kk, "expected \"ruri\", \"to\" or \"p-called-party-id\"", sv);
        sd->called = sv->str;
      } else if (strcmp(sk, "transport") == 0) {
        /* how calls to a trunk go (b2bua/call.ts: its requests to us come on whatever it uses) */
        if (sv->type != J_STRING || (strcmp(sv->str, "udp") != 0 && strcmp(sv->str, "tcp") != 0 && strcmp(sv->str, "tls") != 0))
          bad(kk, "expected \"udp\", \"tcp\" or \"tls\"", sv);
        sd->transport = sv->str;
      } else if (strcmp(sk, "username") == 0) {
        if (sv->type != J_STRING || !is_token(sv->str, n) || n > 32) bad(kk, "expected a SIP token of 1..32 bytes", sv);
        sd->username = sv->str;
      } else if (strcmp(sk, "routes") == 0) {
        check_rules(kk, sv, sd);
      } else if (strcmp(sk, "failover") == 0) {
        if (sv->type != J_STRING) bad(kk, "expected the name of another side", sv);
        sd->failover = sv->str;
      } else if (strcmp(sk, "identity") == 0) {
        check_identity(kk, sv, sd);
      } else if (strcmp(sk, "drop") == 0) {
        check_drop(kk, sv, sd);
      } else if (strcmp(sk, "register") == 0) {
        check_register(kk, sv, sd);
      } else if (strcmp(sk, "passthrough") == 0) {
        check_passthrough(kk, sv, sd);
      } else if (strcmp(sk, "monitor") == 0) {
        /* static mode: the trunk pinged with OPTIONS every N s (config.mjs MONITOR_SECONDS) */
        if (sv->type != J_NUMBER || sv->num < 5 || sv->num > 3600 || sv->num != (double)(int)sv->num)
          bad(kk, "expected an integer in 5..3600 (seconds between OPTIONS pings)", sv);
        sd->monitor = (int)sv->num;
      } else if (strcmp(sk, "mediaRelay") == 0) {
        /* the media of this side's calls through our relay (media/relay.ts; the "mediaRelay" keys) */
        if (sv->type != J_TRUE && sv->type != J_FALSE) bad(kk, "expected true or false", sv);
        sd->media_relay = sv->type == J_TRUE;
      } else if (strcmp(sk, "relayInterface") == 0) {
        /* the relay interface of the legs facing this side (a NAME of mediaRelay.addresses: checked with them) */
        if (sv->type != J_STRING || !is_relay_name(sv->str, strlen(sv->str)))
          bad(kk, "expected the NAME of a relay interface (letters, digits, - and _, 1..16)", sv);
        sd->relay_iface = sv->str;
      } else if (strcmp(sk, "down") == 0) {
        /* a call toward the trunk while it is down (b2bua/call.ts Down) */
        if (sv->type != J_STRING || (strcmp(sv->str, "try") != 0 && strcmp(sv->str, "failover") != 0 && strcmp(sv->str, "refuse") != 0))
          bad(kk, "expected \"try\", \"failover\" or \"refuse\"", sv);
        sd->down = sv->str;
      } else if (strcmp(sk, "password") == 0) {
        sd->password = check_side_password(kk, sv);
      } else {
        die2(false, kk, "unknown key (expected " SIDE_KEYS ")");
      }
      free(kk);
    }
    if (!sd->name) die2(false, key, "expected a \"name\"");
    if (!sd->role) die2(false, key, "expected a \"role\"");
    if (!sd->route) die2(false, key, "expected a \"route\"");
    bool trunk = strcmp(sd->role, "trunk") == 0;
    if (trunk && !sd->address) die2(false, key, "a trunk needs its \"address\" (IP:PORT or a DNS name)");
    if (!trunk && sd->address) {
      char *kk = keyf("%s.address", key);
      die2(false, kk, "a registrar side has no address (its phones register)");
    }
    if (!trunk && sd->transport) {
      char *kk = keyf("%s.transport", key);
      die2(false, kk, "a registrar side's calls go where each phone registered from, on its transport");
    }
    if (!trunk && sd->accept) {
      char *kk = keyf("%s.accept", key);
      die2(false, kk, "a registrar side's calls are known by where each phone registered from");
    }
    if (!trunk && sd->called) {
      char *kk = keyf("%s.called", key);
      die2(false, kk, "a registrar side's calls have the number in the Request-URI (its phones dial it)");
    }
    if (sd->accept && strcmp(sd->accept, "digest") == 0 && !sd->username) {
      char *kk = keyf("%s.accept", key);
      die2(false, kk, "a trunk that takes calls by digest needs its \"username\" and \"password\"");
    }
    if (!sd->username != !sd->password) die2(false, key, "give both \"username\" and \"password\" (a trunk's credentials), or neither");
    if (!trunk && sd->username) {
      char *kk = keyf("%s.username", key);
      die2(false, kk, "credentials are a trunk's (for its proxy's challenges)");
    }
    if (sd->reg != 0 && sd->reg != 2) {
      char *kk = keyf("%s.register", key);
      if (!trunk) die2(false, kk, "a registrar side does not register (its phones register with us)");
      if (!sd->username) die2(false, kk, "a trunk that registers needs its \"username\" and \"password\"");
      free(kk);
    }
    if (!trunk && sd->pt) die2(false, keyf("%s.passthrough", key), "pass-through accounts are a trunk's (the provider's accounts of our users)");
    if (sd->number && !trunk)
      die2(false, keyf("%s.identity.number", key), "a calling number is a trunk's (for callers with none of its number block)");
    if (sd->number && sd->reg_block && !number_in_block(sd->number, sd->reg_block)) {
      char *num = strdup(show_str(sd->number)); /* show_str's buffer is one: the block's is shown next */
      die2(false, keyf("%s.identity.number", key), "%s is not a number of the trunk's block %s", num, show_str(sd->reg_block));
    }
    if (!trunk && sd->monitor) die2(false, keyf("%s.monitor", key), "a registrar side's phones are not pinged (a trunk is)");
    if (sd->down) {
      char *kk = keyf("%s.down", key);
      if (!trunk) die2(false, kk, "a registrar side is never down (a trunk is, when it registers or is monitored)");
      if (!sd->monitor && (sd->reg == 0 || sd->reg == 2))
        die2(false, kk, "a trunk is known down only when it registers (\"register\") or is pinged (\"monitor\")");
      if (strcmp(sd->down, "failover") == 0 && !sd->failover)
        die2(false, kk, "\"failover\" needs the side's \"failover\" (the side its calls go to meanwhile)");
      free(kk);
    }
    free(key);
  }
  size_t registrars = 0, rules = 0;
  for (size_t i = 0; i < out->n; i++) {
    const cfg_side *sd = &out->sides[i];
    bool found = false;
    for (size_t j = 0; j < out->n; j++) {
      if (j < i && strcmp(out->sides[j].name, sd->name) == 0) {
        char *kk = keyf("%s[%zu].name", name, i);
        die2(false, kk, "duplicate side %s", show_str(sd->name));
      }
      if (strcmp(out->sides[j].name, sd->route) == 0) found = true;
    }
    char *kr = keyf("%s[%zu].route", name, i);
    if (strcmp(sd->route, sd->name) == 0) die2(false, kr, "a side routes its calls to another side, not to itself");
    if (!found) die2(false, kr, "no side named %s", show_str(sd->route));
    free(kr);
    if (strcmp(sd->role, "registrar") == 0) registrars++;
    if (sd->failover) {
      char *kf = keyf("%s[%zu].failover", name, i);
      if (strcmp(sd->failover, sd->name) == 0) die2(false, kf, "a side fails over to another side, not to itself");
      bool known = false;
      for (size_t j = 0; j < out->n; j++) known = known || strcmp(out->sides[j].name, sd->failover) == 0;
      if (!known) die2(false, kf, "no side named %s", show_str(sd->failover));
      free(kf);
    }
    for (size_t r = 0; r < sd->n_rules; r++) {
      char *kt = keyf("%s[%zu].routes[%zu].to", name, i, r);
      if (strcmp(sd->rules[r].to, sd->name) == 0) die2(false, kt, "a rule sends calls to another side, not to its own");
      bool known = false;
      for (size_t j = 0; j < out->n; j++) known = known || strcmp(out->sides[j].name, sd->rules[r].to) == 0;
      if (!known) die2(false, kt, "no side named %s", show_str(sd->rules[r].to));
      free(kt);
    }
    rules += sd->n_rules;
  }
  if (registrars > 1) die2(false, name, "at most one registrar side");
  if (rules > 16) die2(false, name, "at most 16 routing rules in all");
}

static uint8_t *hex_bytes(const char *s, size_t *len) {
  size_t n = strlen(s) / 2;
  uint8_t *b = malloc(n ? n : 1);
  for (size_t i = 0; i < n; i++) {
    unsigned v;
    sscanf(s + 2 * i, "%2x", &v);
    b[i] = (uint8_t)v;
  }
  *len = n;
  return b;
}

static void check_patterns(const sch_key *k, const char *name, const json *v, cfg_value *out) {
  if (v->type != J_ARRAY) bad(name, "expected an array of strings or {\"hex\": \"...\"}", v);
  if (k->max_items >= 0 && v->n > (size_t)k->max_items) die2(false, name, "expected at most %d patterns, got \"%zu\"", k->max_items, v->n);
  out->patterns = calloc(v->n + 1, sizeof *out->patterns);
  out->n = v->n;
  for (size_t i = 0; i < v->n; i++) {
    char *kk = keyf("%s[%zu]", name, i);
    const json *p = v->items[i];
    cfg_pattern *o = &out->patterns[i];
    if (p->type == J_STRING) {
      o->text = p->str;
      o->bytes = (uint8_t *)p->str;
      o->len = strlen(p->str);
    } else {
      const json *h = p->type == J_OBJECT && p->n == 1 ? member(p, "hex") : NULL;
      size_t n = h && h->type == J_STRING ? strlen(h->str) : 0;
      if (!h || h->type != J_STRING || n == 0 || n % 2 || !is_hex(h->str, n))
        bad(kk, "expected a string or {\"hex\": \"<even number of hex digits>\"}", p);
      o->bytes = hex_bytes(h->str, &o->len);
    }
    if (o->len == 0 || (k->max_bytes > 0 && o->len > (size_t)k->max_bytes))
      die2(false, kk, "expected 1..%d bytes, got \"%zu bytes\"", k->max_bytes, o->len);
    free(kk);
  }
}

/* Checks one element of a list (or a list flag's value), named `name`. */
static void check_element(const sch_key *k, const json *s, const char *name) {
  if (k->check == SCH_CHECK_ENUM) {
    if (s->type != J_STRING || enum_index(k, s->str) < 0) bad(name, expect_enum(k), s);
    return;
  }
  if (s->type != J_STRING) bad(name, "expected a string", s);
  /* SIP over WebSocket (RFC 7118) is the Node host's: refused by name, not as a malformed address */
  if (k->check == SCH_CHECK_LISTEN && (strncmp(s->str, "ws:", 3) == 0 || strncmp(s->str, "wss:", 4) == 0))
    bad(name, "ws/wss listen is supported by the Node host only (the native host: udp, tcp)", s);
  if (k->check == SCH_CHECK_RELAY_ADDRESS && parse_relay_address(s->str, NULL)) bad(name, parse_relay_address(s->str, NULL), s);
  if (!check_string(k->check, s->str)) bad(name, expected_of(k->check), s);
}

/* Checks a value of key k, named `name` (the key, or a flag), into out. */
static void check_value(const sch_key *k, const json *v, const char *name, cfg_value *out) {
  memset(out, 0, sizeof *out);
  out->set = out->given = true;
  switch (k->type) {
    case SCH_T_SIDES:
      check_sides(k, name, v, out);
      return;
    case SCH_T_BOOL:
      if (v->type != J_TRUE && v->type != J_FALSE) bad(name, "expected true or false", v);
      out->num = v->type == J_TRUE;
      return;
    case SCH_T_INT:
      if (v->type != J_NUMBER || !(v->num >= (double)k->min && v->num <= (double)k->max) || v->num != (double)(int64_t)v->num) {
        char e[96];
        snprintf(e, sizeof e, "expected an integer in %lld..%lld", (long long)k->min, (long long)k->max);
        bad(name, e, v);
      }
      out->num = (int64_t)v->num;
      return;
    case SCH_T_ENUM: {
      int i = v->type == J_STRING ? enum_index(k, v->str) : -1;
      if (i < 0) bad(name, expect_enum(k), v);
      out->num = i;
      return;
    }
    case SCH_T_STRING:
      if (v->type != J_STRING || !check_string(k->check, v->str)) {
        if (!k->secret) bad(name, expected_of(k->check), v);
        if (v->type == J_STRING) die2(false, name, "%s, got \"%zu characters (not shown)\"", expected_of(k->check), strlen(v->str));
        die2(false, name, "%s, got \"%s\"", expected_of(k->check), v->type == J_NUMBER ? "number" : v->type == J_ARRAY || v->type == J_OBJECT || v->type == J_NULL ? "object" : "boolean");
      }
      out->str = v->str;
      return;
    case SCH_T_LIST: {
      if (v->type != J_ARRAY) {
        if (k->check != SCH_CHECK_ENUM) bad(name, "expected an array of strings", v);
        strbuf b = {0};
        sb_puts(&b, "expected an array of ");
        for (int i = 0; i < k->n_values; i++) {
          if (i) sb_puts(&b, " | ");
          sb_json_string(&b, k->values[i], strlen(k->values[i]));
        }
        sb_putc(&b, '\0');
        bad(name, b.p, v);
      }
      if (k->min_items >= 0 && v->n < (size_t)k->min_items)
        die2(false, name, "expected at least %d %s, got %s", k->min_items, k->min_items == 1 ? "element" : "elements", show(v));
      if (k->max_items >= 0 && v->n > (size_t)k->max_items) die2(false, name, "expected at most %d elements, got \"%zu\"", k->max_items, v->n);
      out->list = calloc(v->n + 1, sizeof *out->list);
      out->n = v->n;
      for (size_t i = 0; i < v->n; i++) {
        char *kk = keyf("%s[%zu]", name, i);
        check_element(k, v->items[i], kk);
        out->list[i] = v->items[i]->str;
        if (k->unique)
          for (size_t j = 0; j < i; j++)
            if (strcmp(out->list[j], out->list[i]) == 0) die2(false, kk, "duplicate %s", show(v->items[i]));
        free(kk);
      }
      return;
    }
    case SCH_T_USERS:
      check_users(name, v, out);
      return;
    case SCH_T_PATTERNS:
      check_patterns(k, name, v, out);
      return;
    case SCH_T_HEX: {
      size_t n = v->type == J_STRING ? strlen(v->str) : 0;
      if (v->type != J_STRING || !is_hex(v->str, n) || n % 2 || n < (size_t)k->min_digits || n > (size_t)k->max_digits) {
        char e[160];
        snprintf(e, sizeof e, "expected a hex string of %d..%d digits (%d..%d bytes; even length)", k->min_digits, k->max_digits,
                 k->min_digits / 2, k->max_digits / 2);
        if (v->type == J_STRING && k->secret) die2(false, name, "%s, got \"%zu characters (not shown)\"", e, n);
        if (k->secret) die2(false, name, "%s, got \"%s\"", e, v->type == J_NUMBER ? "number" : v->type == J_ARRAY || v->type == J_OBJECT || v->type == J_NULL ? "object" : "boolean");
        bad(name, e, v);
      }
      out->str = v->str;
      return;
    }
  }
}

/* ---- file ------------------------------------------------------------------------------- */

static int find_key(const char *path) {
  for (int i = 0; i < SK_COUNT; i++)
    if (strcmp(SCHEMA[i].path, path) == 0) return i;
  return -1;
}

static bool is_group(const char *path) {
  size_t n = strlen(path);
  for (int i = 0; i < SK_COUNT; i++)
    if (strncmp(SCHEMA[i].path, path, n) == 0 && SCHEMA[i].path[n] == '.') return true;
  return false;
}

static void hosts_text(unsigned hosts, char *out, size_t cap) {
  out[0] = 0;
  for (int h = 0; h < 4; h++)
    if (hosts & (1u << h)) {
      if (out[0]) strncat(out, ", ", cap - strlen(out) - 1);
      strncat(out, SCH_HOST_NAMES[h], cap - strlen(out) - 1);
    }
}

static void walk(config *c, const json *o, const char *prefix) {
  for (size_t i = 0; i < o->n; i++) {
    char *path = keyf("%s%s", prefix, o->keys[i]);
    const json *v = o->items[i];
    int k = find_key(path);
    if (k >= 0) {
      if (!(SCHEMA[k].hosts & HOST_BIT)) {
        char hosts[64];
        hosts_text(SCHEMA[k].hosts, hosts, sizeof hosts);
        die2(false, path, "not supported by the " HOST_NAME " host (only by %s)", hosts);
      }
      check_value(&SCHEMA[k], v, path, &c->v[k]);
    } else if (is_group(path)) {
      if (v->type != J_OBJECT) bad(path, "expected an object", v);
      char *sub = keyf("%s.", path);
      walk(c, v, sub);
      free(sub);
    } else if (!*prefix) {
      die2(false, path, "unknown key");
    } else {
      /* the names directly under the group, once each */
      strbuf b = {0};
      size_t pn = strlen(prefix);
      const char *seen[SK_COUNT];
      size_t seen_len[SK_COUNT], n_seen = 0;
      for (int j = 0; j < SK_COUNT; j++) {
        const char *p = SCHEMA[j].path;
        if (strncmp(p, prefix, pn) != 0 || !(SCHEMA[j].hosts & HOST_BIT)) continue;
        const char *rest = p + pn, *dot = strchr(rest, '.');
        size_t rn = dot ? (size_t)(dot - rest) : strlen(rest);
        bool dup = false;
        for (size_t q = 0; q < n_seen; q++) dup = dup || (seen_len[q] == rn && strncmp(seen[q], rest, rn) == 0);
        if (dup) continue;
        seen[n_seen] = rest;
        seen_len[n_seen++] = rn;
        if (b.len) sb_puts(&b, ", ");
        sb_putn(&b, rest, rn);
      }
      sb_putc(&b, '\0');
      die2(false, path, "unknown key (expected %s)", b.p);
    }
    free(path);
  }
}

static json *read_file(const char *file) {
  FILE *f = fopen(file, "rb");
  if (!f) {
    int e = errno;
#ifdef __GLIBC__
    const char *code = strerrorname_np(e);
#else
    const char *code = NULL;
#endif
    die2(false, "--config", "cannot read file %s (%s)", show_str(file), code ? code : strerror(e));
  }
  strbuf b = {0};
  char chunk[4096];
  size_t n;
  while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) sb_putn(&b, chunk, n);
  int err = ferror(f);
  fclose(f);
  if (err) die2(false, "--config", "cannot read file %s (EIO)", show_str(file));
  char msg[256];
  json *v = json_parse(b.p ? b.p : "", b.len, msg, sizeof msg);
  if (!v) die2(false, "--config", "file %s is not valid JSON (%s)", show_str(file), msg);
  free(b.p);
  return v;
}

/* ---- merge ------------------------------------------------------------------------------ */

static void set_default(const sch_key *k, cfg_value *v, const char *board) {
  memset(v, 0, sizeof *v);
  if (k == &SCHEMA[SK_BOARD]) {
    v->set = true;
    v->num = enum_index(k, board);
    return;
  }
  if (!k->has_default) return;
  v->set = true;
  v->num = k->def_int;
  v->str = k->def_str;
  if (k->def_list) {
    v->list = calloc((size_t)k->n_def_list + 1, sizeof *v->list);
    for (int i = 0; i < k->n_def_list; i++) v->list[i] = k->def_list[i];
    v->n = (size_t)k->n_def_list;
  }
}

/* The relay's interfaces (config.mjs checkRelayInterfaces): at most RELAY_IFACES_MAX names, one address
 * of each family each; the names of mediaRelay.networks and of a side's relayInterface among them. */
static void check_relay_interfaces(const config *c, size_t sides) {
  const cfg_value *v = &c->v[SK_MEDIA_RELAY_ADDRESSES];
  char names[RELAY_IFACES_MAX][17];
  int fams[RELAY_IFACES_MAX] = {0};
  int n = 0;
  for (size_t j = 0; v->set && j < v->n; j++) {
    relay_addr r;
    if (parse_relay_address(v->list[j], &r)) continue;
    int i = name_slot(names, &n, r.name);
    if (i < 0)
      die2(false, keyf("mediaRelay.addresses[%zu]", j), "at most %d relay interfaces (names), got a fifth: %s", RELAY_IFACES_MAX, show_str(v->list[j]));
    int bit = r.family == 6 ? 2 : 1;
    if (fams[i] & bit) {
      if (r.name[0] == 0)
        die2(false, keyf("mediaRelay.addresses[%zu]", j), "the interface without a NAME already has an IPv%d address, got %s", r.family, show_str(v->list[j]));
      die2(false, keyf("mediaRelay.addresses[%zu]", j), "interface \"%s\" already has an IPv%d address, got %s", r.name, r.family, show_str(v->list[j]));
    }
    fams[i] |= bit;
  }
  /* the names known, for the messages: ("a", "b") */
  char known[RELAY_IFACES_MAX * 24 + 64] = "(";
  bool any = false;
  for (int i = 0; i < n; i++) {
    if (names[i][0] == 0) continue;
    if (any) strcat(known, ", ");
    strcat(known, show_str(names[i]));
    any = true;
  }
  strcat(known, any ? ")" : "none named)");
  const cfg_value *nets = &c->v[SK_MEDIA_RELAY_NETWORKS];
  for (size_t j = 0; nets->set && j < nets->n; j++) {
    const char *name = strchr(nets->list[j], ' ') + 1; /* checked: "CIDR NAME" */
    if (relay_iface_of(c, name) < 0)
      die2(false, keyf("mediaRelay.networks[%zu]", j), "expected the name of a relay interface of \"mediaRelay.addresses\" %s, got %s", known, show_str(name));
  }
  for (size_t i = 0; i < sides; i++) {
    const char *name = c->v[SK_SIDES].sides[i].relay_iface;
    if (name && relay_iface_of(c, name) < 0)
      die2(false, keyf("sides[%zu].relayInterface", i), "expected the name of a relay interface of \"mediaRelay.addresses\" %s, got %s", known, show_str(name));
  }
}

/* localhost plus each listen host (IPv6 bracketed), wildcards skipped. */
static void default_domains(config *c) {
  cfg_value *v = &c->v[SK_DOMAINS];
  const char **out = calloc(c->n_listens + 2, sizeof *out);
  size_t n = 0;
  out[n++] = "localhost";
  for (size_t i = 0; i < c->n_listens; i++) {
    const listen_spec *l = &c->listens[i];
    if (strcmp(l->host, "0.0.0.0") == 0 || strcmp(l->host, "::") == 0) continue;
    char *d = l->family == 6 ? keyf("[%s]", l->host) : strdup(l->host);
    bool dup = false;
    for (size_t j = 0; j < n; j++) dup = dup || strcmp(out[j], d) == 0;
    if (dup) free(d);
    else out[n++] = d;
  }
  v->set = true;
  v->list = out;
  v->n = n;
}

void config_parse(cli *out, int argc, char **argv, const char *board) {
  bool help = false, print = false, version = false;
  const char *file = NULL;
  cfg_value flags[SK_COUNT];
  memset(flags, 0, sizeof flags);

  for (int i = 0; i < argc; i++) {
    char *a = strdup(argv[i]);
    const char *inline_v = NULL;
    if (strncmp(a, "--", 2) == 0) {
      char *eq = strchr(a, '=');
      if (eq && eq > a) {
        *eq = 0;
        inline_v = eq + 1;
      }
    }
#define NO_VALUE() \
  if (inline_v) die2(true, a, "takes no value, got %s", show_str(inline_v))
#define VALUE() \
  (inline_v ? inline_v : (i + 1 < argc ? argv[++i] : (die2(true, a, "expected a value after it"), "")))
    int k = -1;
    for (int j = 0; j < SK_COUNT && k < 0; j++)
      if (SCHEMA[j].flag && (SCHEMA[j].hosts & HOST_BIT) && strcmp(SCHEMA[j].flag, a) == 0) k = j;
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      NO_VALUE();
      help = true;
    } else if (strcmp(a, "--print-config") == 0) {
      NO_VALUE();
      print = true;
    } else if (strcmp(a, "--version") == 0 || strcmp(a, "-V") == 0) {
      NO_VALUE();
      version = true;
    } else if (strcmp(a, "--config") == 0) {
      file = VALUE();
    } else if (k >= 0) {
      const sch_key *key = &SCHEMA[k];
      cfg_value *v = &flags[k];
      if (key->type == SCH_T_BOOL) {
        NO_VALUE();
        v->set = v->given = true;
        v->num = 1;
      } else {
        json s = {.type = J_STRING, .str = (char *)VALUE()};
        if (key->type == SCH_T_LIST) {
          check_element(key, &s, a);
          v->list = realloc(v->list, (v->n + 2) * sizeof *v->list);
          v->list[v->n++] = s.str;
          v->set = v->given = true;
        } else {
          check_value(key, &s, a, v);
        }
      }
    } else {
      die2(true, a, "unknown option (see sipling --help)");
    }
#undef NO_VALUE
#undef VALUE
  }

  memset(out, 0, sizeof *out);
  out->help = help;
  out->version = version;
  out->print_config = print;
  if (help || version) return;
  config *c = &out->cfg;
  if (file) {
    json *raw = read_file(file);
    if (raw->type != J_OBJECT) bad("(file)", "expected an object", raw);
    walk(c, raw, "");
  }
  for (int k = 0; k < SK_COUNT; k++) {
    if (flags[k].set) c->v[k] = flags[k];
    else if (!c->v[k].set && (SCHEMA[k].hosts & HOST_BIT)) set_default(&SCHEMA[k], &c->v[k], board);
  }
  if (c->v[SK_BOARD].given && strcmp(SCHEMA[SK_BOARD].values[c->v[SK_BOARD].num], board) != 0)
    die2(false, "board", "this binary is built for board \"%s\", got %s", board, show_str(SCHEMA[SK_BOARD].values[c->v[SK_BOARD].num]));
  for (int k = 0; k < SK_COUNT; k++) {
    int le = SCHEMA[k].le;
    if (le < 0 || !c->v[k].set || !c->v[le].set) continue;
    if (c->v[k].num > c->v[le].num)
      die2(false, SCHEMA[k].path, "must not exceed %s (%lld), got %lld", SCHEMA[le].path, (long long)c->v[le].num, (long long)c->v[k].num);
  }
  const cfg_value *lv = &c->v[SK_LISTEN];
  c->n_listens = lv->n;
  c->listens = calloc(lv->n + 1, sizeof *c->listens);
  for (size_t i = 0; i < lv->n; i++) {
    listen_spec *l = &c->listens[i];
    parse_listen(lv->list[i], l);
    for (size_t j = 0; j < i; j++) {
      const listen_spec *o = &c->listens[j];
      if (l->port != 0 && o->proto == l->proto && o->port == l->port && strcmp(o->host, l->host) == 0) {
        char key[32];
        snprintf(key, sizeof key, "listen[%zu]", i);
        die2(false, key, "duplicate listen address %s", show_str(lv->list[i]));
      }
    }
  }
  if (!c->v[SK_DOMAINS].set || c->v[SK_DOMAINS].n == 0) default_domains(c);
  if (!c->v[SK_REALM].set) {
    const char *first = c->v[SK_DOMAINS].list[0];
    if (!is_realm(first)) die2(false, "realm (default: the first domain)", "%s, got %s", expected_of(SCH_CHECK_REALM), show_str(first));
    c->v[SK_REALM].set = true;
    c->v[SK_REALM].str = first;
  }
  bool b2bua = c->v[SK_MODE].set && c->v[SK_MODE].num == 1;
  size_t sides = c->v[SK_SIDES].set ? c->v[SK_SIDES].n : 0;
  /* a trunk on tcp needs a tcp listen address of its address's family (its leg's Via, Contact and
   * connection are that transport's) */
  for (size_t i = 0; i < sides; i++) {
    const cfg_side *sd = &c->v[SK_SIDES].sides[i];
    /* a digest trunk's username joins the users our realm checks: it must name no phone's account */
    if (sd->accept && strcmp(sd->accept, "digest") == 0 && c->v[SK_USERS].set) {
      for (size_t u = 0; u < c->v[SK_USERS].n; u++)
        if (strcmp(c->v[SK_USERS].users[u].username, sd->username) == 0) {
          char *kk = keyf("sides[%zu].username", i);
          die2(false, kk, "%s is also a user in \"users\": a digest trunk needs a name of its own", show_str(sd->username));
        }
    }
    if (!sd->transport || strcmp(sd->transport, "udp") == 0 || !sd->address) continue;
    int family = sd->address[0] == '[' ? 6 : 4, proto = strcmp(sd->transport, "tls") == 0 ? SIP_PROTO_TLS : SIP_PROTO_TCP;
    unsigned port;
    bool named = side_name(sd->address, &port) > 0; /* resolved for the family of a listen address of the transport */
    bool found = false;
    for (size_t l = 0; l < c->n_listens; l++)
      found = found || (c->listens[l].proto == proto && (named || c->listens[l].family == family || c->listens[l].family == 0));
    if (!found) {
      char *kk = keyf("sides[%zu].transport", i);
      if (named) die2(false, kk, "a trunk on %s needs a \"%s:\" listen address", sd->transport, sd->transport);
      die2(false, kk, "a trunk on %s needs a \"%s:\" listen address of its family (IPv%d)", sd->transport, sd->transport, family);
    }
  }
  /* the media relay (config.mjs checkMediaRelay): a range both ways round, and what a relaying side needs */
  const cfg_value *pmin = &c->v[SK_MEDIA_RELAY_PORT_MIN], *pmax = &c->v[SK_MEDIA_RELAY_PORT_MAX];
  if (pmin->set != pmax->set)
    die2(false, pmin->set ? "mediaRelay.portMax" : "mediaRelay.portMin", "the relay's port range needs both portMin and portMax");
  if (pmin->set && (long)pmin->num % 2 != 0) die2(false, "mediaRelay.portMin", "expected an even port (RTP even, RTCP odd), got %ld", (long)pmin->num);
  if (pmin->set && pmax->num <= pmin->num) die2(false, "mediaRelay.portMax", "expected a port above portMin (%ld), got %ld", (long)pmin->num, (long)pmax->num);
  bool proxy_relay = c->v[SK_MEDIA_RELAY_MODE].set && c->v[SK_MEDIA_RELAY_MODE].num != 0;
  if (proxy_relay && c->v[SK_RECORD_ROUTE].set && c->v[SK_RECORD_ROUTE].num == 0)
    die2(false, "mediaRelay.mode", "the proxy relays only calls it Record-Routes (their BYE must come through it): \"recordRoute\": false relays nothing");
  const char *relay_key = NULL;
  for (size_t i = 0; i < sides && relay_key == NULL; i++)
    if (c->v[SK_SIDES].sides[i].media_relay) relay_key = keyf("sides[%zu].mediaRelay", i);
  if (relay_key == NULL && proxy_relay) relay_key = "mediaRelay.mode";
  if (relay_key != NULL) {
    if (!c->v[SK_MEDIA_RELAY_ADDRESSES].set || c->v[SK_MEDIA_RELAY_ADDRESSES].n == 0)
      die2(false, relay_key, "the relay needs \"mediaRelay\": {\"addresses\": [...]}");
    if (!pmin->set) die2(false, relay_key, "the relay needs \"mediaRelay\": {\"portMin\", \"portMax\"}");
  }
  check_relay_interfaces(c, sides);
  if (c->v[SK_LOCATION_USERNAME].set && !c->v[SK_LOCATION_PASSWORD].set)
    die2(false, "location.username", "a Redis user needs its \"location.password\"");
  /* a tls listen address needs our certificate and its key (the files are read at start: tls.c);
   * verifying clients needs the CAs to verify them against (config.mjs checkTls) */
  if (cfg_bool(c, SK_TLS_VERIFY_CLIENT) && !c->v[SK_TLS_CA].set)
    die2(false, "tls.verifyClient", "verifying clients needs \"tls.ca\" (the CAs their certificates are checked against)");
  if (c->v[SK_TLS_PEERS].set && !c->v[SK_TLS_CA].set)
    for (size_t j = 0; j < c->v[SK_TLS_PEERS].n; j++) {
      char cidr[64];
      bool req = false;
      if (cfg_tls_peer(c->v[SK_TLS_PEERS].list[j], cidr, sizeof cidr, &req, NULL) && req)
        die2(false, keyf("tls.peers[%zu]", j), "requiring a client certificate needs \"tls.ca\" (the CAs it is checked against)");
    }
  for (size_t l = 0; l < c->n_listens; l++) {
    if (c->listens[l].proto != SIP_PROTO_TLS) continue;
    if (!c->v[SK_TLS_CERTIFICATE].set) die2(false, "tls.certificate", "a \"tls:\" listen address (listen[%zu]) needs \"tls.certificate\" (a PEM file)", l);
    if (!c->v[SK_TLS_KEY].set) die2(false, "tls.key", "a \"tls:\" listen address (listen[%zu]) needs \"tls.key\" (a PEM file)", l);
    break;
  }
  if (b2bua && sides < 2) die2(false, "sides", "\"mode\": \"b2bua\" needs at least two sides (e.g. a registrar side and a trunk)");
  if (!b2bua && sides > 0) die2(false, "sides", "sides are the B2BUA's: set \"mode\": \"b2bua\" (and a board with it, \"board\": \"gateway\")");
}

/* ---- the secure default ----------------------------------------------------------------- */

static bool is_loopback(const listen_spec *l) {
  const char *h = l->host;
  size_t n = strlen(h);
  if (l->family == 0) {
    const char *suffix = n >= 10 && strcasecmp(h + n - 10, ".localhost") == 0 ? h + n - 10
                       : n >= 11 && strcasecmp(h + n - 11, ".localhost.") == 0 ? h + n - 11 : NULL;
    return strcasecmp(h, "localhost") == 0 || strcasecmp(h, "localhost.") == 0 || suffix != NULL;
  }
  if (l->family == 4) return strncmp(h, "127.", 4) == 0;
  unsigned char a[16];
  if (inet_pton(AF_INET6, h, a) != 1) return false;
  static const unsigned char zero[15];
  static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (memcmp(a, zero, 15) == 0 && a[15] == 1) return true;
  return memcmp(a, mapped, 12) == 0 && a[12] == 127;
}

void config_check_secure(const config *c) {
  if ((c->v[SK_USERS].set && c->v[SK_USERS].n > 0) || cfg_bool(c, SK_ALLOW_UNAUTHENTICATED)) return;
  for (size_t i = 0; i < c->n_listens; i++)
    if (!is_loopback(&c->listens[i]))
      die_plain("listening on %s with no \"users\" would let anyone register and relay calls; "
                "add \"users\" (and \"realm\") or set \"allowUnauthenticated\": true",
                c->listens[i].spec);
}

/* ---- printing --------------------------------------------------------------------------- */

static void str_array(strbuf *b, const char **v, size_t n) {
  sb_putc(b, '[');
  for (size_t i = 0; i < n; i++) {
    if (i) sb_puts(b, ", ");
    sb_json_string(b, v[i], strlen(v[i]));
  }
  sb_putc(b, ']');
}

static void print_value(strbuf *b, const sch_key *k, const cfg_value *v) {
  char t[32];
  switch (k->type) {
    case SCH_T_SIDES:
      sb_putc(b, '[');
      for (size_t i = 0; i < v->n; i++) {
        const cfg_side *sd = &v->sides[i];
        if (i) sb_puts(b, ", ");
        const char *names[] = {"name", "role", "route", "host", "address", "transport", "accept", "called", "username", "failover"};
        const char *vals[] = {sd->name, sd->role, sd->route, sd->host, sd->address, sd->transport, sd->accept, sd->called, sd->username, sd->failover};
        sb_putc(b, '{');
        bool first = true;
        for (int f = 0; f < 10; f++) {
          if (!vals[f]) continue;
          if (!first) sb_puts(b, ", ");
          first = false;
          sb_json_string(b, names[f], strlen(names[f]));
          sb_puts(b, ": ");
          sb_json_string(b, vals[f], strlen(vals[f]));
        }
        if (sd->password) sb_puts(b, ", \"password\": \"" MASK "\"");
        if (sd->reg == 1 || sd->reg == 2) sb_puts(b, sd->reg == 1 ? ", \"register\": true" : ", \"register\": false");
        if (sd->reg == 3 || sd->reg == 4) {
          bool more = false;
          sb_puts(b, ", \"register\": {");
          if (sd->reg == 3) {
            snprintf(t, sizeof t, "%d", sd->reg_expires);
            sb_puts(b, "\"expires\": ");
            sb_puts(b, t);
            more = true;
          }
          if (sd->reg_gin) {
            sb_puts(b, more ? ", \"mode\": \"gin\"" : "\"mode\": \"gin\"");
            more = true;
          }
          if (sd->reg_block) {
            sb_puts(b, more ? ", \"block\": " : "\"block\": ");
            sb_json_string(b, sd->reg_block, strlen(sd->reg_block));
          }
          sb_putc(b, '}');
        }
        if (sd->pt) {
          sb_puts(b, ", \"passthrough\": [");
          for (size_t e = 0; e < sd->n_pt; e++) {
            sb_puts(b, e ? ", {\"user\": " : "{\"user\": ");
            sb_json_string(b, sd->pt[e].user, strlen(sd->pt[e].user));
            sb_puts(b, ", \"username\": ");
            sb_json_string(b, sd->pt[e].username, strlen(sd->pt[e].username));
            sb_puts(b, ", \"password\": \"" MASK "\"}");
          }
          sb_putc(b, ']');
        }
        if (sd->monitor) {
          snprintf(t, sizeof t, "%d", sd->monitor);
          sb_puts(b, ", \"monitor\": ");
          sb_puts(b, t);
        }
        if (sd->media_relay) sb_puts(b, ", \"mediaRelay\": true");
        if (sd->relay_iface) {
          sb_puts(b, ", \"relayInterface\": ");
          sb_json_string(b, sd->relay_iface, strlen(sd->relay_iface));
        }
        if (sd->down) {
          sb_puts(b, ", \"down\": ");
          sb_json_string(b, sd->down, strlen(sd->down));
        }
        if (sd->rules) {
          sb_puts(b, ", \"routes\": [");
          for (size_t r = 0; r < sd->n_rules; r++) {
            const cfg_rule *ru = &sd->rules[r];
            char t[16];
            if (r) sb_puts(b, ", ");
            sb_puts(b, "{\"prefix\": ");
            sb_json_string(b, ru->prefix, strlen(ru->prefix));
            sb_puts(b, ", \"to\": ");
            sb_json_string(b, ru->to, strlen(ru->to));
            snprintf(t, sizeof t, "%d", ru->strip);
            sb_puts(b, ", \"strip\": ");
            sb_puts(b, t);
            sb_puts(b, ", \"prepend\": ");
            sb_json_string(b, ru->prepend, strlen(ru->prepend));
            sb_putc(b, '}');
          }
          sb_putc(b, ']');
        }
        if (sd->pai || sd->number) {
          sb_puts(b, ", \"identity\": {");
          if (sd->pai) {
            sb_puts(b, "\"pai\": ");
            sb_json_string(b, sd->pai, strlen(sd->pai));
          }
          if (sd->number) {
            sb_puts(b, sd->pai ? ", \"number\": " : "\"number\": ");
            sb_json_string(b, sd->number, strlen(sd->number));
          }
          sb_putc(b, '}');
        }
        if (sd->drop) {
          sb_puts(b, ", \"drop\": ");
          str_array(b, sd->drop, sd->n_drop);
        }
        sb_putc(b, '}');
      }
      sb_putc(b, ']');
      break;
    case SCH_T_BOOL: sb_puts(b, v->num ? "true" : "false"); break;
    case SCH_T_INT: snprintf(t, sizeof t, "%lld", (long long)v->num); sb_puts(b, t); break;
    case SCH_T_ENUM: sb_json_string(b, k->values[v->num], strlen(k->values[v->num])); break;
    case SCH_T_STRING: k->secret ? sb_puts(b, "\"" MASK "\"") : sb_json_string(b, v->str, strlen(v->str)); break;
    case SCH_T_HEX: k->secret ? sb_puts(b, "\"" MASK "\"") : sb_json_string(b, v->str, strlen(v->str)); break;
    case SCH_T_LIST: str_array(b, v->list, v->n); break;
    case SCH_T_USERS:
      sb_putc(b, '[');
      for (size_t i = 0; i < v->n; i++) {
        const cfg_user *u = &v->users[i];
        if (i) sb_puts(b, ", ");
        sb_puts(b, "{\"username\": ");
        sb_json_string(b, u->username, strlen(u->username));
        if (u->password) sb_puts(b, ", \"password\": \"" MASK "\"");
        if (u->ha1) sb_puts(b, ", \"ha1\": \"" MASK "\"");
        if (u->ha1_sha256) sb_puts(b, ", \"ha1Sha256\": \"" MASK "\"");
        sb_putc(b, '}');
      }
      sb_putc(b, ']');
      break;
    case SCH_T_PATTERNS:
      sb_putc(b, '[');
      for (size_t i = 0; i < v->n; i++) {
        const cfg_pattern *p = &v->patterns[i];
        if (i) sb_puts(b, ", ");
        if (p->text) {
          sb_json_string(b, p->text, strlen(p->text));
          continue;
        }
        sb_puts(b, "{\"hex\": \"");
        for (size_t j = 0; j < p->len; j++) {
          snprintf(t, sizeof t, "%02x", p->bytes[j]);
          sb_puts(b, t);
        }
        sb_puts(b, "\"}");
      }
      sb_putc(b, ']');
      break;
  }
}

/* Number of leading path segments a and b share ("x.y.z", "x.y.w" -> 2), among the first max. */
static int common_groups(const char *a, const char *b, int max) {
  int n = 0;
  while (n < max) {
    const char *ea = strchr(a, '.'), *eb = strchr(b, '.');
    if (!ea || !eb || ea - a != eb - b || strncmp(a, b, (size_t)(ea - a)) != 0) break;
    a = ea + 1, b = eb + 1, n++;
  }
  return n;
}

static int depth_of(const char *path) {
  int d = 0;
  for (; *path; path++) d += *path == '.';
  return d;
}

static const char *segment(const char *path, int i, size_t *len) {
  while (i-- > 0) path = strchr(path, '.') + 1;
  const char *e = strchr(path, '.');
  *len = e ? (size_t)(e - path) : strlen(path);
  return path;
}

void config_print(const config *c) {
  strbuf b = {0};
  sb_putc(&b, '{');
  const char *prev = "";
  int open = 0;
  bool first[8] = {true};
  for (int k = 0; k < SK_COUNT; k++) {
    const sch_key *key = &SCHEMA[k];
    if (!(key->hosts & HOST_BIT) || !c->v[k].set) continue;
    int groups = depth_of(key->path);
    int same = common_groups(prev, key->path, open < groups ? open : groups);
    while (open > same) {
      sb_puts(&b, "\n");
      for (int i = 0; i < open; i++) sb_puts(&b, "  ");
      sb_putc(&b, '}');
      open--;
    }
    while (open < groups) {
      size_t n;
      const char *s = segment(key->path, open, &n);
      sb_puts(&b, first[open] ? "\n" : ",\n");
      first[open] = false;
      for (int i = 0; i <= open; i++) sb_puts(&b, "  ");
      sb_putc(&b, '"');
      sb_putn(&b, s, n);
      sb_puts(&b, "\": {");
      open++;
      first[open] = true;
    }
    size_t n;
    const char *s = segment(key->path, groups, &n);
    sb_puts(&b, first[open] ? "\n" : ",\n");
    first[open] = false;
    for (int i = 0; i <= open; i++) sb_puts(&b, "  ");
    sb_putc(&b, '"');
    sb_putn(&b, s, n);
    sb_puts(&b, "\": ");
    print_value(&b, key, &c->v[k]);
    prev = key->path;
  }
  while (open > 0) {
    sb_puts(&b, "\n");
    for (int i = 0; i < open; i++) sb_puts(&b, "  ");
    sb_putc(&b, '}');
    open--;
  }
  sb_puts(&b, "\n}\n");
  fwrite(b.p, 1, b.len, stdout);
  free(b.p);
}

/* ---- --help ----------------------------------------------------------------------------- */

/* `text` as lines of at most WIDTH columns, each indented by `indent` spaces. */
static void wrap(strbuf *b, const char *text, int indent) {
  int col = 0;
  const char *p = text;
  while (*p) {
    while (*p == ' ') p++;
    if (!*p) break;
    size_t w = strcspn(p, " ");
    if (col > 0 && indent + col + 1 + (int)w > WIDTH) {
      sb_putc(b, '\n');
      col = 0;
    }
    if (col == 0) {
      for (int i = 0; i < indent; i++) sb_putc(b, ' ');
    } else {
      sb_putc(b, ' ');
      col++;
    }
    sb_putn(b, p, w);
    col += (int)w;
    p += w;
  }
  sb_putc(b, '\n');
}

static void metavar(strbuf *b, const sch_key *k) {
  if (k->check == SCH_CHECK_LISTEN) sb_puts(b, "udp|tcp|tls:HOST:PORT");
  else if (k->check == SCH_CHECK_DOMAIN) sb_puts(b, "NAME");
  else if (k->check == SCH_CHECK_FILE) sb_puts(b, "FILE");
  else if (k->type == SCH_T_ENUM)
    for (int i = 0; i < k->n_values; i++) {
      if (i) sb_putc(b, '|');
      sb_puts(b, k->values[i]);
    }
  else sb_puts(b, "VALUE");
}

static void option(strbuf *b, const char *flag, const char *doc) {
  strbuf d = {0};
  wrap(&d, doc, 23);
  sb_putc(&d, '\0');
  size_t fl = strlen(flag);
  sb_puts(b, "  ");
  sb_puts(b, flag);
  if (fl < 21) {
    for (size_t i = fl; i < 21; i++) sb_putc(b, ' ');
    sb_puts(b, d.p + 23);
  } else {
    sb_putc(b, '\n');
    sb_puts(b, d.p);
  }
  free(d.p);
}

static void type_text(strbuf *b, const sch_key *k) {
  char t[128];
  switch (k->type) {
    case SCH_T_BOOL: sb_puts(b, "true|false"); break;
    case SCH_T_INT:
      if (k->max == 2147483647) snprintf(t, sizeof t, "integer >= %lld", (long long)k->min);
      else snprintf(t, sizeof t, "integer %lld..%lld", (long long)k->min, (long long)k->max);
      sb_puts(b, t);
      break;
    case SCH_T_ENUM:
      for (int i = 0; i < k->n_values; i++) {
        if (i) sb_putc(b, '|');
        sb_json_string(b, k->values[i], strlen(k->values[i]));
      }
      break;
    case SCH_T_STRING: sb_puts(b, "string ("), sb_puts(b, SCH_CHECK_NAMES[k->check]), sb_putc(b, ')'); break;
    case SCH_T_LIST:
      sb_putc(b, '[');
      if (k->check == SCH_CHECK_ENUM)
        for (int i = 0; i < k->n_values; i++) {
          if (i) sb_putc(b, '|');
          sb_json_string(b, k->values[i], strlen(k->values[i]));
        }
      else sb_puts(b, SCH_CHECK_NAMES[k->check]);
      sb_puts(b, ", ...]");
      break;
    case SCH_T_USERS: sb_puts(b, "[user, ...]"); break;
    case SCH_T_SIDES: sb_puts(b, "[side, ...]"); break;
    case SCH_T_PATTERNS:
      snprintf(t, sizeof t, "[text|{\"hex\"}, ...] (<= %d, <= %d bytes each)", k->max_items, k->max_bytes);
      sb_puts(b, t);
      break;
    case SCH_T_HEX:
      snprintf(t, sizeof t, "hex, %d..%d digits", k->min_digits, k->max_digits);
      sb_puts(b, t);
      break;
  }
}

static void default_text(strbuf *b, const sch_key *k) {
  if (!k->has_default) {
    if (k->default_doc) sb_puts(b, "default: "), sb_puts(b, k->default_doc);
    return;
  }
  sb_puts(b, "default ");
  char t[32];
  switch (k->type) {
    case SCH_T_BOOL: sb_puts(b, k->def_int ? "true" : "false"); break;
    case SCH_T_INT: snprintf(t, sizeof t, "%lld", (long long)k->def_int); sb_puts(b, t); break;
    case SCH_T_ENUM: sb_json_string(b, k->values[k->def_int], strlen(k->values[k->def_int])); break;
    case SCH_T_STRING: sb_json_string(b, k->def_str, strlen(k->def_str)); break;
    default:
      sb_putc(b, '[');
      for (int i = 0; i < k->n_def_list; i++) {
        if (i) sb_putc(b, ',');
        sb_json_string(b, k->def_list[i], strlen(k->def_list[i]));
      }
      sb_putc(b, ']');
  }
}

void config_usage(void) {
  strbuf b = {0};
  sb_puts(&b, "sipling - SIP proxy and registrar (AssemblyScript core, native host: " SIPLING_ENGINE_LONG ")\n\n");
  /* synopsis */
  strbuf line = {0};
  sb_puts(&line, "usage: sipling [--config FILE]");
  for (int k = 0; k < SK_COUNT; k++) {
    const sch_key *key = &SCHEMA[k];
    if (!key->flag || !(key->hosts & HOST_BIT)) continue;
    strbuf s = {0};
    sb_putc(&s, '[');
    sb_puts(&s, key->flag);
    if (key->type != SCH_T_BOOL) sb_putc(&s, ' '), metavar(&s, key);
    sb_putc(&s, ']');
    if (key->type == SCH_T_LIST) sb_puts(&s, "...");
    if (line.len + 1 + s.len > WIDTH) {
      sb_putn(&b, line.p, line.len);
      sb_putc(&b, '\n');
      line.len = 0;
      sb_puts(&line, "              ");
    }
    sb_putc(&line, ' ');
    sb_putn(&line, s.p, s.len);
    free(s.p);
  }
  if (line.len + 17 > WIDTH) {
    sb_putn(&b, line.p, line.len);
    sb_putc(&b, '\n');
    line.len = 0;
    sb_puts(&line, "              ");
  }
  sb_puts(&line, " [--print-config]");
  sb_putn(&b, line.p, line.len);
  free(line.p);
  sb_puts(&b, "\n       sipling --help | --version\n\noptions:\n");
  option(&b, "--config FILE", "read a JSON configuration file (keys below); flags override it");
  for (int k = 0; k < SK_COUNT; k++) {
    const sch_key *key = &SCHEMA[k];
    if (!key->flag || !(key->hosts & HOST_BIT)) continue;
    strbuf f = {0}, d = {0};
    sb_puts(&f, key->flag);
    if (key->type != SCH_T_BOOL) sb_putc(&f, ' '), metavar(&f, key);
    sb_putc(&f, '\0');
    sb_puts(&d, key->type == SCH_T_BOOL ? "set \"" : key->type == SCH_T_LIST ? "one of \"" : "set \"");
    sb_puts(&d, key->path);
    sb_puts(&d, key->type == SCH_T_BOOL ? "\" to true: " : key->type == SCH_T_LIST ? "\" (repeatable; replaces the file's list): " : "\": ");
    sb_puts(&d, key->doc);
    sb_putc(&d, '\0');
    option(&b, f.p, d.p);
    free(f.p);
    free(d.p);
  }
  option(&b, "--print-config", "print the effective configuration as JSON and exit (binds nothing; secrets as \"" MASK "\")");
  option(&b, "--help", "print this help and exit");
  option(&b, "--version", "print the version and the core build (board, wasm size) and exit");
  sb_puts(&b, "\nconfiguration file (JSON; unknown keys are errors; every key: docs/CONFIG.md):\n  {\n");
  const char *prev = "";
  int open = 0;
  for (int k = 0; k < SK_COUNT; k++) {
    const sch_key *key = &SCHEMA[k];
    if (!(key->hosts & HOST_BIT)) continue;
    int groups = depth_of(key->path);
    int same = common_groups(prev, key->path, open < groups ? open : groups);
    while (open > same) {
      open--;
      for (int i = 0; i < open + 2; i++) sb_puts(&b, "  ");
      sb_puts(&b, "}\n");
    }
    while (open < groups) {
      size_t n;
      const char *s = segment(key->path, open, &n);
      for (int i = 0; i < open + 2; i++) sb_puts(&b, "  ");
      sb_putc(&b, '"');
      sb_putn(&b, s, n);
      sb_puts(&b, "\": {\n");
      open++;
    }
    size_t n;
    const char *s = segment(key->path, groups, &n);
    for (int i = 0; i < open + 2; i++) sb_puts(&b, "  ");
    sb_putc(&b, '"');
    sb_putn(&b, s, n);
    sb_puts(&b, "\"  ");
    type_text(&b, key);
    if (key->unit) sb_puts(&b, "; "), sb_puts(&b, key->unit);
    if (key->has_default || key->default_doc) sb_puts(&b, "; "), default_text(&b, key);
    if (key->le >= 0) sb_puts(&b, "; <= "), sb_puts(&b, SCHEMA[key->le].path);
    if (key->secret) sb_puts(&b, "; secret");
    sb_putc(&b, '\n');
    wrap(&b, key->doc, 2 * (open + 2) + 4);
    prev = key->path;
  }
  while (open > 0) {
    open--;
    for (int i = 0; i < open + 2; i++) sb_puts(&b, "  ");
    sb_puts(&b, "}\n");
  }
  sb_puts(&b, "  }\n");
  strbuf other = {0};
  for (int k = 0; k < SK_COUNT; k++) {
    if (SCHEMA[k].hosts & HOST_BIT) continue;
    sb_puts(&other, other.len ? ", \"" : "\"");
    sb_puts(&other, SCHEMA[k].path);
    sb_putc(&other, '"');
  }
  if (other.len) {
    sb_putc(&other, '\0');
    sb_puts(&b, "  (keys of other hosts, refused here: ");
    sb_puts(&b, other.p);
    sb_puts(&b, ")\n");
  }
  strbuf tail = {0};
  sb_puts(&tail, "Usage records: with \"usageLog\" (or --usage-log) one JSON object per line is appended for each usage "
                 "event (registrations, calls, auth-fail, policy-refusal, flood-blocked, table-full; docs/ABI.md) with "
                 "the fields that apply: time, event, the event's text fields (aor, contact, caller, callee, user, uri, "
                 "callId, cause, rule), expires or duration (s), source, result, lost.");
  sb_putc(&tail, '\0');
  sb_putc(&b, '\n');
  wrap(&b, tail.p, 0);
  tail.len = 0;
  sb_puts(&tail, "Logs are JSON lines on stdout. SIGINT/SIGTERM stop the server and log the core's counters; SIGUSR2 logs "
                 "them as one line {\"msg\":\"stats\",\"signal\":\"SIGUSR2\", ...} and keeps running (");
  for (int i = 0; i < SIP_STAT_COUNT; i++) {
    if (i) sb_puts(&tail, ", ");
    sb_puts(&tail, SIP_STAT_NAMES[i]);
  }
  sb_puts(&tail, "). Exit status: 0 ok, 1 runtime error (e.g. a socket that cannot be bound, a trap in the core), "
                 "2 usage/configuration error.");
  sb_putc(&tail, '\0');
  sb_putc(&b, '\n');
  wrap(&b, tail.p, 0);
  fwrite(b.p, 1, b.len, stdout);
}

/* ---- applying to the core ---------------------------------------------------------------- */

typedef struct {
  const sch_key *key;
  const char *name;
  const char *text; /* NULL: secret or not text */
  cfg_add_fn add;
  const char *board;
} add_ctx;

static void refused(const sch_key *k, const char *name, int32_t r, const char *board, bool set, const char *shown) {
  if (r == SIP_CFG_UNKNOWN)
    die2(false, name, "the core does not know %s %d (%s): rebuild the core", set ? "config key" : "config kind", k->core_id, k->core_name);
  if (r == SIP_CFG_NOT_IN_BUILD) die2(false, name, "not in this core build (board %s leaves it out)", board);
  if (r == CFG_TOO_LONG) die2(false, name, "%s%sexceeds the core's cfg buffer", shown ? shown : "", shown ? " " : "");
  if (set) {
    if (r == SIP_CFG_REFUSED) die2(false, name, "value %s is out of the core's range", shown);
    die2(false, name, "the core refused %s (%d)", shown, r);
  }
  if (!shown) die2(false, name, "the core refused it (%d: table full, too long or does not parse)", r);
  die2(false, name, "the core refused %s (%d: table full or does not parse)", shown, r);
}

/* The core's text of a list entry of the relay (config.mjs relayText): a relay address
 * "[NAME/]BIND[!ADVERTISED]" as "[IFACE ]ADVERTISED" (none for the first interface), a network
 * "CIDR NAME" as "net IFACE CIDR"; NULL for any other (sent as it is). Freed by the caller. */
static char *relay_text(const config *c, const sch_key *k, const char *s) {
  if (k == &SCHEMA[SK_MEDIA_RELAY_NETWORKS]) {
    const char *sp = strchr(s, ' ');
    return keyf("net %d %.*s", relay_iface_of(c, sp + 1), (int)(sp - s), s);
  }
  if (k != &SCHEMA[SK_MEDIA_RELAY_ADDRESSES]) return NULL;
  relay_addr r;
  if (parse_relay_address(s, &r)) return NULL;
  int i = relay_iface_of(c, r.name);
  return i == 0 ? keyf("%s", r.advertise) : keyf("%d %s", i, r.advertise);
}

static void add_bytes(const add_ctx *a, const uint8_t *bytes, size_t len) {
  int32_t r = a->add(a->key->core_id, bytes, len);
  if (r != SIP_CFG_OK) refused(a->key, a->name, r, a->board, false, a->text ? show_str(a->text) : NULL);
}

/* One text line of a key (its shown name and text both allocated by keyf): added, then freed. */
static void add_text(add_ctx *a, char *name, char *text) {
  a->name = name;
  a->text = text;
  add_bytes(a, (const uint8_t *)text, strlen(text));
  free(text);
  free(name);
}

/* One text line holding a password (name and text allocated by keyf): added unshown, wiped, freed. */
static void add_secret_text(add_ctx *a, char *name, char *text) {
  a->name = name;
  a->text = NULL;
  add_bytes(a, (const uint8_t *)text, strlen(text));
  memset(text, 0, strlen(text));
  free(text);
  free(name);
}

/* A registrant account's text for trunk j (config.mjs registration): "register SIDE IP:PORT USER@HOST
 * EXPIRES USER PASSWORD" with `options` (freed here) and " tcp" (" tls") on a trunk over TCP (TLS). */
static char *registration(size_t j, const cfg_side *sd, const char *user, const char *password, int expires, char *options) {
  char *t = keyf("register %zu %s %s@%s %d %s %s%s%s", j, sd->address, user, sd->host ? sd->host : sd->address, expires, user,
                 password, options, side_stream(sd));
  free(options);
  return t;
}

static void add_secret_line(const add_ctx *a, const char *user, const char *what, const char *secret) {
  size_t n = strlen(user) + strlen(what) + strlen(secret) + 3;
  char *line = malloc(n);
  int len = snprintf(line, n, "%s:%s=%s", user, what, secret);
  add_bytes(a, (const uint8_t *)line, (size_t)len);
  memset(line, 0, n);
  free(line);
}

static int64_t set_value(const sch_key *k, const cfg_value *v) {
  if (k->type != SCH_T_LIST) return v->num; /* bool 1/0, int, enum index */
  int64_t n = 0;
  for (size_t i = v->n; i-- > 0;) n = n * 4 + enum_index(k, v->list[i]) + 1;
  return n;
}

static void random_bytes(uint8_t *out, size_t n) {
  FILE *f = fopen("/dev/urandom", "rb");
  if (!f || fread(out, 1, n, f) != n) {
    fprintf(stderr, "sipling: cannot read /dev/urandom for the nonce secret\n");
    exit(1);
  }
  fclose(f);
}

void config_apply(const config *c, cfg_set_fn set, cfg_add_fn add, const char *board) {
  for (int i = 0; i < SK_COUNT; i++) {
    const sch_key *k = &SCHEMA[i];
    const cfg_value *v = &c->v[i];
    if (k->core == SCH_CORE_NONE || !(k->hosts & HOST_BIT)) continue;
    add_ctx a = {.key = k, .name = k->path, .add = add, .board = board};
    if (!v->set) {
      if (i == SK_NONCE_SECRET) { /* 32 random bytes per start */
        uint8_t secret[32];
        random_bytes(secret, sizeof secret);
        add_bytes(&a, secret, sizeof secret);
        memset(secret, 0, sizeof secret);
      }
      continue;
    }
    if (k->core == SCH_CORE_SET) {
      int64_t n = set_value(k, v);
      int32_t r = set(k->core_id, (double)n);
      if (r != SIP_CFG_OK) {
        strbuf s = {0};
        if (k->type == SCH_T_INT) {
          char t[32];
          snprintf(t, sizeof t, "%lld", (long long)n);
          sb_puts(&s, t);
        } else {
          char t[32];
          print_value(&s, k, v);
          snprintf(t, sizeof t, " (%lld)", (long long)n);
          sb_puts(&s, t);
        }
        sb_putc(&s, '\0');
        refused(k, k->path, r, board, true, s.p);
      }
      continue;
    }
    switch (k->type) {
      case SCH_T_STRING:
        a.text = k->secret ? NULL : v->str;
        add_bytes(&a, (const uint8_t *)v->str, strlen(v->str));
        break;
      case SCH_T_LIST:
        for (size_t j = 0; j < v->n; j++) {
          char *name = keyf("%s[%zu]", k->path, j);
          a.name = name;
          /* the core's text of a relay address ("[IFACE ]ADVERTISED") or network ("net IFACE CIDR"):
           * config.mjs relayText */
          char *text = relay_text(c, k, v->list[j]);
          const char *t = text ? text : v->list[j];
          a.text = k->secret ? NULL : t;
          add_bytes(&a, (const uint8_t *)t, strlen(t));
          free(text);
          free(name);
        }
        break;
      case SCH_T_USERS:
        for (size_t j = 0; j < v->n; j++) {
          const cfg_user *u = &v->users[j];
          char *name = keyf("%s[%zu]", k->path, j);
          a.name = name;
          if (u->password) add_secret_line(&a, u->username, "password", u->password);
          if (u->ha1) add_secret_line(&a, u->username, "ha1", u->ha1);
          if (u->ha1_sha256) add_secret_line(&a, u->username, "ha1sha256", u->ha1_sha256);
          free(name);
        }
        break;
      case SCH_T_SIDES:
        /* "INDEX registrar|trunk ROUTE HOST [IP:PORT [USER PASSWORD]]" (abi.json cfgKinds.Side) */
        for (size_t j = 0; j < v->n; j++) {
          const cfg_side *sd = &v->sides[j];
          size_t route = 0;
          for (size_t r = 0; r < v->n; r++)
            if (strcmp(v->sides[r].name, sd->route) == 0) route = r;
          const char *host = sd->host ? sd->host : sd->address ? sd->address : c->v[SK_DOMAINS].list[0];
          char *text = keyf("%zu %s %zu %s%s%s", j, sd->role, route, host, sd->address ? " " : "", sd->address ? sd->address : "");
          char *name = keyf("%s[%zu]", k->path, j);
          if (!sd->password) {
            add_text(&a, name, text);
            continue;
          }
          add_secret_text(&a, name, keyf("%s %s %s", text, sd->username, sd->password));
          free(text);
        }
        /* then registrations (the registrant's account for a trunk with "register", and one per
         * pass-through account, "follow=USER": idle until the local user registers); secret, as they hold
         * the password */
        for (size_t j = 0; j < v->n; j++) {
          const cfg_side *sd = &v->sides[j];
          if (sd->reg == 0 || sd->reg == 2) continue;
          char *gin = keyf("%s%s", sd->reg_gin ? (sd->reg_block ? " gin=" : " gin") : "", sd->reg_gin && sd->reg_block ? sd->reg_block : "");
          add_secret_text(&a, keyf("%s[%zu].register", k->path, j), registration(j, sd, sd->username, sd->password, sd->reg_expires, gin));
        }
        for (size_t j = 0; j < v->n; j++) {
          const cfg_side *sd = &v->sides[j];
          for (size_t e = 0; e < sd->n_pt; e++) {
            const cfg_passthrough *p = &sd->pt[e];
            add_secret_text(&a, keyf("%s[%zu].passthrough[%zu]", k->path, j, e),
                            registration(j, sd, p->username, p->password, REGISTER_EXPIRES_DEFAULT, keyf(" follow=%s", p->user)));
          }
        }
        /* then failovers ("failover SIDE OTHER") and the rules: "route FROM PREFIX TO STRIP [PREPEND]" */
        for (size_t j = 0; j < v->n; j++) {
          const cfg_side *sd = &v->sides[j];
          if (!sd->failover) continue;
          size_t to = 0;
          for (size_t t = 0; t < v->n; t++)
            if (strcmp(v->sides[t].name, sd->failover) == 0) to = t;
          add_text(&a, keyf("%s[%zu].failover", k->path, j), keyf("failover %zu %zu", j, to));
        }
        /* then transports ("transport SIDE udp|tcp"), identities ("pai SIDE MODE") and drop lists
         * ("drop SIDE NAME", a name a text) */
        for (size_t j = 0; j < v->n; j++) {
          const cfg_side *sd = &v->sides[j];
          if (sd->transport) add_text(&a, keyf("%s[%zu].transport", k->path, j), keyf("transport %zu %s", j, sd->transport));
          if (sd->accept) add_text(&a, keyf("%s[%zu].accept", k->path, j), keyf("accept %zu %s", j, sd->accept));
          if (sd->called)
            add_text(&a, keyf("%s[%zu].called", k->path, j), keyf("called %zu %s", j, strcmp(sd->called, "p-called-party-id") == 0 ? "pcpi" : sd->called));
          if (sd->down) add_text(&a, keyf("%s[%zu].down", k->path, j), keyf("down %zu %s", j, sd->down));
          if (sd->monitor) add_text(&a, keyf("%s[%zu].monitor", k->path, j), keyf("monitor %zu %d", j, sd->monitor));
          if (sd->media_relay) add_text(&a, keyf("%s[%zu].mediaRelay", k->path, j), keyf("relay %zu on", j));
          if (sd->number) add_text(&a, keyf("%s[%zu].identity.number", k->path, j), keyf("number %zu %s", j, sd->number));
          if (sd->relay_iface)
            add_text(&a, keyf("%s[%zu].relayInterface", k->path, j), keyf("relayif %zu %d", j, relay_iface_of(c, sd->relay_iface)));
          for (size_t d = sd->pai ? 0 : 1; d <= sd->n_drop; d++) {
            char *text = d == 0 ? keyf("pai %zu %s", j, sd->pai) : keyf("drop %zu %s", j, sd->drop[d - 1]);
            add_text(&a, d == 0 ? keyf("%s[%zu].identity.pai", k->path, j) : keyf("%s[%zu].drop[%zu]", k->path, j, d - 1), text);
          }
        }
        for (size_t j = 0; j < v->n; j++) {
          const cfg_side *sd = &v->sides[j];
          for (size_t r = 0; r < sd->n_rules; r++) {
            const cfg_rule *ru = &sd->rules[r];
            size_t to = 0;
            for (size_t t = 0; t < v->n; t++)
              if (strcmp(v->sides[t].name, ru->to) == 0) to = t;
            add_text(&a, keyf("%s[%zu].routes[%zu]", k->path, j, r),
                     keyf("route %zu %s %zu %d%s%s", j, ru->prefix[0] ? ru->prefix : "-", to, ru->strip, ru->prepend[0] ? " " : "", ru->prepend));
          }
        }
        break;
      case SCH_T_PATTERNS:
        for (size_t j = 0; j < v->n; j++) {
          char *name = keyf("%s[%zu]", k->path, j);
          a.name = name;
          a.text = v->patterns[j].text;
          add_bytes(&a, v->patterns[j].bytes, v->patterns[j].len);
          free(name);
        }
        break;
      case SCH_T_HEX: {
        size_t len;
        uint8_t *bytes = hex_bytes(v->str, &len);
        add_bytes(&a, bytes, len);
        memset(bytes, 0, len);
        free(bytes);
        break;
      }
      default:
        break;
    }
  }
  /* a digest trunk's credentials, among the users our realm checks (b2bua/call.ts digestSide): after
   * everything else, so after the realm their digests are made with */
  for (size_t j = 0; c->v[SK_SIDES].set && j < c->v[SK_SIDES].n; j++) {
    const cfg_side *sd = &c->v[SK_SIDES].sides[j];
    if (!sd->accept || strcmp(sd->accept, "digest") != 0) continue;
    add_ctx a = {.key = &SCHEMA[SK_USERS], .add = add, .board = board};
    char *name = keyf("sides[%zu].accept", j);
    char *cred = keyf("%s:password=%s", sd->username, sd->password);
    a.name = name;
    add_bytes(&a, (const uint8_t *)cred, strlen(cred));
    memset(cred, 0, strlen(cred));
    free(cred);
    free(name);
  }
}

#ifndef SIPLING_WASM_BYTES
#define SIPLING_WASM_BYTES 0
#endif
void config_version(void) {
  printf("sipling %s (native host)\ncore %s %d bytes wasm (" SIPLING_ENGINE_LONG ")\n", SIPLING_VERSION, SIPLING_BOARD,
         SIPLING_WASM_BYTES);
}
