/* Command line and configuration file (see config.h; host/node/config.ts is the reference). */
#include "config.h"
#include "json.h"
#include "log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define U31 0x7fffffffL

const char USAGE[] =
    "sipling - SIP proxy and registrar (AssemblyScript core, native host via wasm2c)\n"
    "\n"
    "usage: sipling [--config FILE] [--listen udp|tcp:HOST:PORT]... [--domain NAME]...\n"
    "               [--log-level error|warn|info|debug] [--trace] [--print-config]\n"
    "       sipling --help\n"
    "\n"
    "options:\n"
    "  --config FILE        read a JSON configuration file (keys below); flags override it\n"
    "  --listen SPEC        listen on SPEC = udp:HOST:PORT or tcp:HOST:PORT (repeatable; IPv6 as\n"
    "                       [::1]); replaces the file's \"listen\" list\n"
    "                       (default: udp:127.0.0.1:5060 and tcp:127.0.0.1:5060)\n"
    "  --domain NAME        a domain this server is responsible for (repeatable); replaces the\n"
    "                       file's \"domains\" (default: localhost plus the listen addresses' hosts)\n"
    "  --log-level L        error, warn, info (default) or debug\n"
    "  --trace              log every SIP message received and sent, in full\n"
    "  --print-config       print the effective configuration as JSON and exit (binds nothing)\n"
    "  --help               print this help and exit\n"
    "\n"
    "configuration file (JSON; unknown keys are errors):\n"
    "  {\n"
    "    \"listen\": [\"udp:127.0.0.1:5060\", \"tcp:[::1]:5060\"],\n"
    "    \"domains\": [\"example.org\"],\n"
    "    \"logLevel\": \"info\",\n"
    "    \"trace\": false,\n"
    "    \"timers\": {\"t1\": 500, \"t2\": 4000, \"t4\": 5000, \"timerC\": 180000},        (ms)\n"
    "    \"registrar\": {\"minExpires\": 60, \"maxExpires\": 3600, \"defaultExpires\": 3600,\n"
    "                  \"maxContactsPerAor\": 8},                                   (s, count)\n"
    "    \"recordRoute\": true,\n"
    "    \"retryAfter\": 5,                                                         (s, on 503)\n"
    "    \"outboundProxy\": \"sip:proxy.example.org:5060\",\n"
    "    \"board\": \"server\"              (accepted and ignored: this binary is built for one board)\n"
    "  }\n"
    "\n"
    "Logs are JSON lines on stdout. SIGINT/SIGTERM stop the server. Exit status: 0 ok, 1 runtime\n"
    "error (e.g. a socket that cannot be bound, a trap in the core), 2 usage/configuration error.\n";

/* ---- errors ----------------------------------------------------------------------------- */

static void die2(bool usage, const char *key, const char *fmt, ...) {
  char what[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof what, fmt, ap);
  va_end(ap);
  fprintf(stderr, "%s: \"%s\": %s\n", usage ? "usage error" : "config error", key, what);
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

static void bad(const char *key, const char *expected, const json *got) {
  die2(false, key, "%s, got %s", expected, show(got));
}

static char *keyf(const char *fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  return strdup(buf);
}

/* ---- value checks ----------------------------------------------------------------------- */

static const char LISTEN_EXPECTED[] = "expected \"udp|tcp:HOST:PORT\"";

/* A DNS name: labels of letters, digits, inner hyphens (<= 63 each), <= 253 in all, optional
 * trailing dot (the Node host's HOSTNAME regex). */
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
  if (strncmp(spec, "udp:", 4) == 0) proto = 1;
  else if (strncmp(spec, "tcp:", 4) == 0) proto = 2;
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

/* Domain: no whitespace, quotes, <>;, (the Node host's DOMAIN regex). */
static bool is_domain(const char *s) {
  if (!*s) return false;
  for (; *s; s++)
    if (strchr(" \t\r\n\v\f\"<>;,", *s)) return false;
  return true;
}

/* sip: or sips: URI without whitespace, <>" (the Node host's PROXY regex). */
static bool is_proxy(const char *s) {
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

static long integer(const char *key, const json *v, long min, long max) {
  if (!v || v->type != J_NUMBER || !(v->num >= (double)min && v->num <= (double)max) || v->num != (double)(long)v->num) {
    char e[96];
    snprintf(e, sizeof e, "expected an integer in %ld..%ld", min, max);
    bad(key, e, v);
  }
  return (long)v->num;
}

static const json *object(const char *key, const json *v) {
  if (!v || v->type != J_OBJECT) bad(key, "expected an object", v);
  return v;
}

typedef void (*str_check)(const char *s, const char *key, const json *v);

static const char **str_list(const char *key, const json *v, size_t *n, str_check check) {
  if (!v || v->type != J_ARRAY) bad(key, "expected an array of strings", v);
  const char **out = calloc(v->n + 1, sizeof *out);
  for (size_t i = 0; i < v->n; i++) {
    char *k = keyf("%s[%zu]", key, i);
    const json *s = v->items[i];
    if (s->type != J_STRING) bad(k, "expected a string", s);
    check(s->str, k, s);
    out[i] = s->str;
    free(k);
  }
  *n = v->n;
  return out;
}

static void check_listen(const char *s, const char *key, const json *v) {
  if (!parse_listen(s, NULL)) bad(key, LISTEN_EXPECTED, v);
}
static void check_domain(const char *s, const char *key, const json *v) {
  if (!is_domain(s)) bad(key, "expected a domain name (no spaces, quotes, <>;,)", v);
}

/* ---- file ------------------------------------------------------------------------------- */

static void apply_file(config *c, const json *raw) {
  const json *o = object("(file)", raw);
  for (size_t i = 0; i < o->n; i++) {
    const char *k = o->keys[i];
    const json *v = o->items[i];
    if (strcmp(k, "listen") == 0) {
      c->listen = str_list(k, v, &c->n_listen, check_listen);
      if (c->n_listen == 0) bad(k, "expected at least one listen address", v);
    } else if (strcmp(k, "domains") == 0) {
      c->domains = str_list(k, v, &c->n_domains, check_domain);
    } else if (strcmp(k, "logLevel") == 0) {
      int l = v->type == J_STRING ? log_level_parse(v->str) : -1;
      if (l < 0) bad(k, "expected one of error|warn|info|debug", v);
      c->log_level = l;
    } else if (strcmp(k, "trace") == 0 || strcmp(k, "recordRoute") == 0 || strcmp(k, "overloadControl") == 0) {
      if (v->type != J_TRUE && v->type != J_FALSE) bad(k, "expected true or false", v);
      bool *dst = k[0] == 't' ? &c->trace : k[0] == 'r' ? &c->record_route : &c->overload_control;
      *dst = v->type == J_TRUE;
    } else if (strcmp(k, "retryAfter") == 0) {
      c->retry_after = integer(k, v, 0, U31);
    } else if (strcmp(k, "outboundProxy") == 0) {
      if (v->type != J_STRING || !is_proxy(v->str)) bad(k, "expected a SIP URI \"sip:host[:port]\"", v);
      c->outbound_proxy = v->str;
    } else if (strcmp(k, "board") == 0) {
      if (v->type != J_STRING || (strcmp(v->str, "server") != 0 && strcmp(v->str, "micro") != 0))
        bad(k, "expected one of server|micro", v);
      c->board = v->str;
    } else if (strcmp(k, "timers") == 0) {
      const json *t = object(k, v);
      for (size_t j = 0; j < t->n; j++) {
        const char *tk = t->keys[j];
        char *key = keyf("timers.%s", tk);
        long *dst = strcmp(tk, "t1") == 0 ? &c->t1
                  : strcmp(tk, "t2") == 0 ? &c->t2
                  : strcmp(tk, "t4") == 0 ? &c->t4
                  : strcmp(tk, "timerC") == 0 ? &c->timer_c : NULL;
        if (!dst) die2(false, key, "unknown key (expected t1, t2, t4, timerC)");
        *dst = integer(key, t->items[j], 1, U31);
        free(key);
      }
    } else if (strcmp(k, "registrar") == 0) {
      const json *r = object(k, v);
      for (size_t j = 0; j < r->n; j++) {
        const char *rk = r->keys[j];
        char *key = keyf("registrar.%s", rk);
        if (strcmp(rk, "maxContactsPerAor") == 0) c->max_contacts = integer(key, r->items[j], 1, U31);
        else if (strcmp(rk, "minExpires") == 0) c->min_expires = integer(key, r->items[j], 0, U31);
        else if (strcmp(rk, "maxExpires") == 0) c->max_expires = integer(key, r->items[j], 0, U31);
        else if (strcmp(rk, "defaultExpires") == 0) c->default_expires = integer(key, r->items[j], 0, U31);
        else die2(false, key, "unknown key (expected minExpires, maxExpires, defaultExpires, maxContactsPerAor)");
        free(key);
      }
    } else {
      die2(false, k, "unknown key");
    }
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

static void defaults(config *c) {
  static const char *listen[] = {"udp:127.0.0.1:5060", "tcp:127.0.0.1:5060"};
  memset(c, 0, sizeof *c);
  c->listen = listen;
  c->n_listen = 2;
  c->log_level = LOG_INFO;
  c->t1 = 500;
  c->t2 = 4000;
  c->t4 = 5000;
  c->timer_c = 180000;
  c->min_expires = 60;
  c->max_expires = 3600;
  c->default_expires = 3600;
  c->max_contacts = -1;
  c->record_route = true;
  c->overload_control = true;
  c->retry_after = 5;
}

static void check_merged(const config *c) {
  if (c->min_expires > c->max_expires)
    die2(false, "registrar.minExpires", "must not exceed registrar.maxExpires (%ld), got %ld", c->max_expires, c->min_expires);
  if (c->default_expires > c->max_expires || c->default_expires < c->min_expires)
    die2(false, "registrar.defaultExpires", "must lie in registrar.minExpires..maxExpires (%ld..%ld), got %ld",
         c->min_expires, c->max_expires, c->default_expires);
  if (c->t1 > c->t2) die2(false, "timers.t1", "must not exceed timers.t2 (%ld), got %ld", c->t2, c->t1);
}

/* localhost plus each listen host (IPv6 bracketed), wildcards skipped. */
static void default_domains(config *c, const listen_spec *ls) {
  const char **out = calloc(c->n_listen + 2, sizeof *out);
  size_t n = 0;
  out[n++] = "localhost";
  for (size_t i = 0; i < c->n_listen; i++) {
    const listen_spec *l = &ls[i];
    if (strcmp(l->host, "0.0.0.0") == 0 || strcmp(l->host, "::") == 0) continue;
    char *d = l->family == 6 ? keyf("[%s]", l->host) : strdup(l->host);
    bool dup = false;
    for (size_t j = 0; j < n; j++) dup = dup || strcmp(out[j], d) == 0;
    if (dup) free(d);
    else out[n++] = d;
  }
  c->domains = out;
  c->n_domains = n;
}

void config_parse(cli *out, int argc, char **argv) {
  bool help = false, print = false, trace = false;
  const char *file = NULL;
  const char **listen = calloc((size_t)argc + 1, sizeof *listen);
  const char **domains = calloc((size_t)argc + 1, sizeof *domains);
  size_t n_listen = 0, n_domains = 0;
  int level = -1;

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
#define VALUE()                                                                          \
  (inline_v ? inline_v                                                                   \
            : (i + 1 < argc ? argv[++i] : (die2(true, a, "expected a value after it"), "")))
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      NO_VALUE();
      help = true;
    } else if (strcmp(a, "--print-config") == 0) {
      NO_VALUE();
      print = true;
    } else if (strcmp(a, "--trace") == 0) {
      NO_VALUE();
      trace = true;
    } else if (strcmp(a, "--config") == 0) {
      file = VALUE();
    } else if (strcmp(a, "--listen") == 0) {
      const char *v = VALUE();
      if (!parse_listen(v, NULL)) die2(false, "--listen", "%s, got %s", LISTEN_EXPECTED, show_str(v));
      listen[n_listen++] = v;
    } else if (strcmp(a, "--domain") == 0) {
      const char *v = VALUE();
      if (!is_domain(v)) die2(false, "--domain", "expected a domain name (no spaces, quotes, <>;,), got %s", show_str(v));
      domains[n_domains++] = v;
    } else if (strcmp(a, "--log-level") == 0) {
      const char *v = VALUE();
      level = log_level_parse(v);
      if (level < 0) die2(false, "--log-level", "expected one of error|warn|info|debug, got %s", show_str(v));
    } else {
      die2(true, a, "unknown option (see sipling --help)");
    }
#undef NO_VALUE
#undef VALUE
  }

  memset(out, 0, sizeof *out);
  config *c = &out->cfg;
  defaults(c);
  out->help = help;
  out->print_config = print;
  if (help) return;
  if (file) apply_file(c, read_file(file));
  if (n_listen) c->listen = listen, c->n_listen = n_listen;
  if (n_domains) c->domains = domains, c->n_domains = n_domains;
  if (level >= 0) c->log_level = level;
  if (trace) c->trace = true;
  check_merged(c);
  if (c->n_listen > MAX_LISTEN) die2(false, "listen", "at most %d listen addresses", MAX_LISTEN);
  listen_spec *ls = calloc(c->n_listen, sizeof *ls);
  for (size_t i = 0; i < c->n_listen; i++) {
    parse_listen(c->listen[i], &ls[i]);
    for (size_t j = 0; j < i; j++) {
      if (ls[i].port != 0 && ls[j].proto == ls[i].proto && ls[j].port == ls[i].port && strcmp(ls[j].host, ls[i].host) == 0) {
        char key[32];
        snprintf(key, sizeof key, "listen[%zu]", i);
        die2(false, key, "duplicate listen address %s", show_str(c->listen[i]));
      }
    }
  }
  out->listens = ls;
  if (c->n_domains == 0) default_domains(c, ls);
}

static void str_array(strbuf *b, const char **v, size_t n) {
  sb_putc(b, '[');
  for (size_t i = 0; i < n; i++) {
    if (i) sb_puts(b, ", ");
    sb_json_string(b, v[i], strlen(v[i]));
  }
  sb_putc(b, ']');
}

void config_print(const config *c, const char *board) {
  strbuf b = {0};
  char t[512];
  sb_puts(&b, "{\n  \"listen\": ");
  str_array(&b, c->listen, c->n_listen);
  sb_puts(&b, ",\n  \"domains\": ");
  str_array(&b, c->domains, c->n_domains);
  snprintf(t, sizeof t,
           ",\n  \"logLevel\": \"%s\",\n  \"trace\": %s,\n"
           "  \"timers\": {\"t1\": %ld, \"t2\": %ld, \"t4\": %ld, \"timerC\": %ld},\n"
           "  \"registrar\": {\"minExpires\": %ld, \"maxExpires\": %ld, \"defaultExpires\": %ld",
           log_level_name(c->log_level), c->trace ? "true" : "false", c->t1, c->t2, c->t4, c->timer_c,
           c->min_expires, c->max_expires, c->default_expires);
  sb_puts(&b, t);
  if (c->max_contacts >= 0) {
    snprintf(t, sizeof t, ", \"maxContactsPerAor\": %ld", c->max_contacts);
    sb_puts(&b, t);
  }
  snprintf(t, sizeof t, "},\n  \"recordRoute\": %s,\n  \"overloadControl\": %s,\n  \"retryAfter\": %ld",
           c->record_route ? "true" : "false", c->overload_control ? "true" : "false", c->retry_after);
  sb_puts(&b, t);
  if (c->outbound_proxy) {
    sb_puts(&b, ",\n  \"outboundProxy\": ");
    sb_json_string(&b, c->outbound_proxy, strlen(c->outbound_proxy));
  }
  sb_puts(&b, ",\n  \"board\": ");
  sb_json_string(&b, board, strlen(board));
  sb_puts(&b, "\n}\n");
  fwrite(b.p, 1, b.len, stdout);
  free(b.p);
}
