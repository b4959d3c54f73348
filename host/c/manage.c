/* The management API: see manage.h (host/node/manage.ts is the reference). */
#include "manage.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "location.h"
#include "numbers.h"

static const char *board_name = "";
static manage_stat_fn stat_of;

/* The last state of each trunk and registration of ours (bounded: the first MANAGE_MAX names). */
#define MANAGE_MAX 256
typedef struct {
  char *name, *registrar, *detail;
  double value;
  char since[64];
} state;
static state trunks[MANAGE_MAX], regs[MANAGE_MAX];
static int n_trunks, n_regs;

void manage_init(const char *board, manage_stat_fn stat) {
  board_name = board;
  stat_of = stat;
}

static char *dupn(const uint8_t *s, size_t n) {
  char *p = malloc(n + 1);
  if (p) memcpy(p, s, n), p[n] = 0;
  return p;
}

static void iso(char out[64], double wall) {
  time_t s = (time_t)(wall / 1000);
  int ms = (int)(wall - (double)s * 1000);
  struct tm tm;
  gmtime_r(&s, &tm);
  snprintf(out, 64, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
}

static uint32_t rd32(const uint8_t *p) { return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24; }
static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }

void manage_event(uint32_t kind, const uint8_t *e, double wall) {
  if (kind != SIP_EVENT_TRUNK_STATE && kind != SIP_EVENT_TRUNK_REG) return;
  const uint8_t *text[4];
  size_t len[4];
  const uint8_t *at = e + 64;
  for (int i = 0; i < 4; i++) {
    len[i] = rd16(e + 56 + 2 * i);
    text[i] = at;
    at += len[i];
  }
  state *table = kind == SIP_EVENT_TRUNK_STATE ? trunks : regs;
  int *n = kind == SIP_EVENT_TRUNK_STATE ? &n_trunks : &n_regs;
  state *s = NULL;
  for (int i = 0; i < *n; i++)
    if (strlen(table[i].name) == len[0] && memcmp(table[i].name, text[0], len[0]) == 0) s = &table[i];
  if (!s) {
    if (*n == MANAGE_MAX) return;
    s = &table[(*n)++];
    s->name = dupn(text[0], len[0]);
  }
  free(s->registrar), free(s->detail);
  s->registrar = dupn(text[1], len[1]);
  s->detail = dupn(text[3], len[3]);
  s->value = rd32(e + 16);
  iso(s->since, wall);
}

static void str_or_null(strbuf *b, const char *s) {
  if (strcmp(s, "-") == 0) sb_puts(b, "null");
  else sb_json_string(b, s, strlen(s));
}

static void view(strbuf *b, const loc_binding *x) {
  sb_puts(b, "{\"aor\":"), sb_json_string(b, x->aor, strlen(x->aor));
  sb_puts(b, ",\"contact\":"), sb_json_string(b, x->contact, strlen(x->contact));
  sb_puts(b, ",\"expires\":"), sb_json_number(b, x->expires);
  sb_puts(b, ",\"q\":");
  if (x->q < 0) sb_puts(b, "null");
  else sb_json_number(b, x->q / 1000);
  sb_puts(b, ",\"origin\":"), sb_json_string(b, x->origin, strlen(x->origin));
  sb_puts(b, ",\"source\":"), str_or_null(b, x->source);
  sb_puts(b, ",\"path\":"), str_or_null(b, x->path);
  sb_putc(b, '}');
}

static int error(strbuf *b, int status, const char *msg) {
  sb_puts(b, "{\"error\":"), sb_json_string(b, msg, strlen(msg)), sb_putc(b, '}');
  return status;
}

static void stat_value(strbuf *b, int id) {
  double v = stat_of(id);
  if (v < 0) sb_puts(b, "null");
  else sb_json_number(b, v);
}

static void pair(strbuf *b, const char *name, int used, int cap) {
  sb_putc(b, '"'), sb_puts(b, name), sb_puts(b, "\":{\"inUse\":");
  stat_value(b, used);
  sb_puts(b, ",\"capacity\":");
  stat_value(b, cap);
  sb_putc(b, '}');
}

static int status(strbuf *b) {
  sb_puts(b, "{\"board\":"), sb_json_string(b, board_name, strlen(board_name));
  sb_puts(b, ",\"tables\":{");
  pair(b, "transactions", SIP_STAT_TXN_IN_USE, SIP_STAT_TXN_CAPACITY), sb_putc(b, ',');
  pair(b, "registrations", SIP_STAT_BINDINGS_IN_USE, SIP_STAT_BINDING_CAPACITY), sb_putc(b, ',');
  pair(b, "aors", SIP_STAT_AORS_IN_USE, SIP_STAT_AOR_CAPACITY), sb_putc(b, ',');
  pair(b, "messagePool", SIP_STAT_MSG_POOL_IN_USE, SIP_STAT_MSG_POOL_BLOCKS), sb_putc(b, ',');
  pair(b, "registrarPool", SIP_STAT_REG_POOL_IN_USE, SIP_STAT_REG_POOL_BLOCKS), sb_putc(b, ',');
  sb_puts(b, "\"dialogs\":{\"inUse\":"), stat_value(b, SIP_STAT_DIALOGS_IN_USE), sb_puts(b, "},");
  pair(b, "relayLegs", SIP_STAT_RELAY_LEGS_IN_USE, SIP_STAT_RELAY_LEG_CAPACITY);
  sb_puts(b, "},\"trunks\":{");
  for (int i = 0; i < n_trunks; i++) {
    if (i) sb_putc(b, ',');
    sb_json_string(b, trunks[i].name, strlen(trunks[i].name));
    sb_puts(b, ":{\"up\":"), sb_puts(b, trunks[i].value != 0 ? "true" : "false");
    sb_puts(b, ",\"detail\":"), sb_json_string(b, trunks[i].detail, strlen(trunks[i].detail));
    sb_puts(b, ",\"since\":"), sb_json_string(b, trunks[i].since, strlen(trunks[i].since)), sb_putc(b, '}');
  }
  sb_puts(b, "},\"registrationsOfOurs\":{");
  for (int i = 0; i < n_regs; i++) {
    if (i) sb_putc(b, ',');
    sb_json_string(b, regs[i].name, strlen(regs[i].name));
    sb_puts(b, ":{\"registrar\":"), sb_json_string(b, regs[i].registrar, strlen(regs[i].registrar));
    sb_puts(b, ",\"state\":"), sb_json_number(b, regs[i].value);
    sb_puts(b, ",\"detail\":"), sb_json_string(b, regs[i].detail, strlen(regs[i].detail));
    sb_puts(b, ",\"since\":"), sb_json_string(b, regs[i].since, strlen(regs[i].since)), sb_putc(b, '}');
  }
  sb_puts(b, "},\"location\":");
  if (!location_on()) sb_puts(b, "null");
  else {
    const char *inst = location_instance();
    sb_puts(b, "{\"instance\":"), sb_json_string(b, inst, strlen(inst));
    sb_puts(b, ",\"connected\":"), sb_puts(b, location_connected() ? "true" : "false");
    double s[LOC_STATS];
    location_stats(s);
    for (int i = 0; i < LOC_STATS; i++) {
      sb_puts(b, ",\""), sb_puts(b, LOC_STAT_NAMES[i]), sb_puts(b, "\":");
      sb_json_number(b, s[i]);
    }
    sb_putc(b, '}');
  }
  sb_putc(b, '}');
  return 200;
}

static int hexval(char c) {
  return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Well-formed UTF-8 (as decodeURIComponent demands of what it decodes). */
static bool utf8_ok(const uint8_t *s, size_t n) {
  for (size_t i = 0; i < n;) {
    uint8_t c = s[i];
    size_t k;
    uint32_t cp;
    if (c < 0x80) { i++; continue; }
    if (c >= 0xc2 && c <= 0xdf) k = 1, cp = c & 0x1f;
    else if (c >= 0xe0 && c <= 0xef) k = 2, cp = c & 0x0f;
    else if (c >= 0xf0 && c <= 0xf4) k = 3, cp = c & 0x07;
    else return false;
    for (size_t j = 1; j <= k; j++) {
      if (i + j >= n || (s[i + j] & 0xc0) != 0x80) return false;
      cp = cp << 6 | (s[i + j] & 0x3f);
    }
    if ((k == 2 && cp < 0x800) || (k == 3 && (cp < 0x10000 || cp > 0x10ffff)) || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    i += k + 1;
  }
  return true;
}

/* decodeURIComponent's bytes: false on a bad escape or decoded bytes that are not UTF-8. */
static bool uri_decode(const char *s, uint8_t *out, size_t *n) {
  size_t k = 0;
  for (size_t i = 0; s[i]; i++) {
    if (s[i] == '%') {
      int h = hexval(s[i + 1]), l = h < 0 ? -1 : hexval(s[i + 2]);
      if (h < 0 || l < 0) return false;
      out[k++] = (uint8_t)(h << 4 | l);
      i += 2;
    } else out[k++] = (uint8_t)s[i];
  }
  *n = k;
  return utf8_ok(out, k);
}

/* URLSearchParams.get(name): form-decoded ('+' a space, a bad escape kept as it is); NULL when absent. */
static char *query_get(const char *q, const char *name) {
  if (!q) return NULL;
  size_t nl = strlen(name);
  for (const char *p = q; *p;) {
    size_t len = strcspn(p, "&");
    const char *eq = memchr(p, '=', len);
    size_t klen = eq ? (size_t)(eq - p) : len;
    /* names are compared decoded: our name has no escapes, so a raw compare of an unescaped name */
    if (klen == nl && memcmp(p, name, nl) == 0) {
      const char *v = eq ? eq + 1 : p + len;
      size_t vl = (size_t)(p + len - v);
      char *out = malloc(vl + 1);
      if (!out) return NULL;
      size_t k = 0;
      for (size_t i = 0; i < vl; i++) {
        int h, l;
        if (v[i] == '+') out[k++] = ' ';
        else if (v[i] == '%' && i + 2 < vl && (h = hexval(v[i + 1])) >= 0 && (l = hexval(v[i + 2])) >= 0) {
          out[k++] = (char)(h << 4 | l);
          i += 2;
        } else out[k++] = v[i];
      }
      out[k] = 0;
      return out;
    }
    p += len;
    if (*p == '&') p++;
  }
  return NULL;
}

int manage_answer(const char *method, const char *path, const char *query, strbuf *b) {
  bool get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
  if (strcmp(path, "/status") == 0) {
    if (!get) return error(b, 405, "GET only");
    return status(b);
  }
  static const char PFX[] = "/registrations/";
  bool all = strcmp(path, "/registrations") == 0;
  if (!all && strncmp(path, PFX, sizeof PFX - 1) != 0) return 0;
  if (!loc_available()) return error(b, 501, "this core has no location service (boards server and b2bua have it)");
  if (all) {
    if (!get) return error(b, 405, "GET only");
    sb_putc(b, '[');
    bool any = false;
    for (int i = loc_next(0); i >= 0; i = loc_next(i + 1)) {
      loc_binding x;
      if (!loc_read(i, &x)) continue;
      if (any) sb_putc(b, ',');
      any = true;
      view(b, &x);
      loc_binding_free(&x);
    }
    sb_putc(b, ']');
    return 200;
  }
  const char *enc = path + sizeof PFX - 1;
  uint8_t *key = malloc(strlen(enc) + 1);
  size_t kn = 0;
  if (!key) return error(b, 400, "no AOR");
  if (!uri_decode(enc, key, &kn)) {
    free(key);
    return error(b, 400, "the AOR in the path is not %-escaped UTF-8");
  }
  int st;
  if (kn == 0) st = error(b, 400, "no AOR");
  else if (get) {
    strbuf list = {0};
    sb_putc(&list, '[');
    bool any = false;
    for (int i = loc_first(key, kn); i >= 0; i = loc_sibling(i)) {
      loc_binding x;
      if (!loc_read(i, &x)) continue;
      if (any) sb_putc(&list, ',');
      any = true;
      view(&list, &x);
      loc_binding_free(&x);
    }
    sb_putc(&list, ']');
    if (any) sb_putn(b, list.p, list.len), st = 200;
    else st = error(b, 404, "not registered");
    free(list.p);
  } else if (strcmp(method, "DELETE") == 0) {
    char *contact = query_get(query, "contact");
    if (contact && (!*contact || strpbrk(contact, " \t\r\n\f\v"))) st = error(b, 400, "contact: expected a URI");
    else {
      /* a binding of ours leaves the shared location service by its reg-remove event (main.c); a shared
       * copy goes here only (the instance holding the registration publishes it again at its refresh) */
      strbuf aor = {0};
      loc_escape_aor(&aor, key, kn);
      sb_putc(&aor, 0);
      int n = loc_remove(aor.p, contact);
      free(aor.p);
      if (n < 0) st = error(b, 400, "malformed AOR or contact");
      else {
        char t[48];
        snprintf(t, sizeof t, "{\"removed\":%d}", n);
        sb_puts(b, t);
        st = n > 0 ? 200 : 404;
      }
    }
    free(contact);
  } else st = error(b, 405, "GET or DELETE");
  free(key);
  return st;
}
