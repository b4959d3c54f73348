/* JSON-lines logger (see log.h). */
#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define FLUSH_BYTES (64 * 1024)

int log_rank = LOG_INFO;

static const char *const NAMES[] = {"error", "warn", "info", "debug"};

int log_level_parse(const char *name) {
  for (int i = 0; i < 4; i++)
    if (strcmp(name, NAMES[i]) == 0) return i;
  return -1;
}

const char *log_level_name(int rank) { return rank >= 0 && rank < 4 ? NAMES[rank] : "info"; }

/* ---- string buffer ---------------------------------------------------------------------- */

static void sb_grow(strbuf *b, size_t more) {
  if (b->len + more <= b->cap) return;
  size_t cap = b->cap ? b->cap : 256;
  while (cap < b->len + more) cap *= 2;
  char *p = realloc(b->p, cap);
  if (!p) {
    static const char oom[] = "sipling: out of memory\n";
    (void)!write(2, oom, sizeof oom - 1);
    _exit(1);
  }
  b->p = p;
  b->cap = cap;
}

void sb_putn(strbuf *b, const char *s, size_t n) {
  sb_grow(b, n);
  memcpy(b->p + b->len, s, n);
  b->len += n;
}
void sb_puts(strbuf *b, const char *s) { sb_putn(b, s, strlen(s)); }
void sb_putc(strbuf *b, char c) { sb_putn(b, &c, 1); }

/* Length of the valid UTF-8 sequence at s[0..n), or 0 if it is not one. */
static size_t utf8_seq(const unsigned char *s, size_t n) {
  unsigned c = s[0];
  size_t k;
  unsigned min;
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) k = 2, min = 0x80;
  else if (c >= 0xE0 && c <= 0xEF) k = 3, min = 0x800;
  else if (c >= 0xF0 && c <= 0xF4) k = 4, min = 0x10000;
  else return 0;
  if (n < k) return 0;
  unsigned cp = c & (0x7F >> k);
  for (size_t i = 1; i < k; i++) {
    if ((s[i] & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (s[i] & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return k;
}

void sb_json_string(strbuf *b, const char *str, size_t n) {
  const unsigned char *s = (const unsigned char *)str;
  sb_grow(b, n + 2);
  sb_putc(b, '"');
  size_t i = 0;
  while (i < n) {
    unsigned c = s[i];
    if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
      size_t j = i + 1;
      while (j < n && s[j] >= 0x20 && s[j] < 0x80 && s[j] != '"' && s[j] != '\\') j++;
      sb_putn(b, (const char *)s + i, j - i);
      i = j;
      continue;
    }
    if (c >= 0x80) {
      size_t k = utf8_seq(s + i, n - i);
      if (k) sb_putn(b, (const char *)s + i, k), i += k;
      else sb_puts(b, "\\ufffd"), i++;
      continue;
    }
    i++;
    switch (c) {
      case '"': sb_puts(b, "\\\""); break;
      case '\\': sb_puts(b, "\\\\"); break;
      case '\n': sb_puts(b, "\\n"); break;
      case '\r': sb_puts(b, "\\r"); break;
      case '\t': sb_puts(b, "\\t"); break;
      case '\b': sb_puts(b, "\\b"); break;
      case '\f': sb_puts(b, "\\f"); break;
      default: {
        char u[8];
        snprintf(u, sizeof u, "\\u%04x", c);
        sb_puts(b, u);
      }
    }
  }
  sb_putc(b, '"');
}

void sb_json_number(strbuf *b, double v) {
  char t[40];
  if (v != v || v - v != 0) { /* NaN, +-Infinity: JSON.stringify writes null */
    sb_puts(b, "null");
    return;
  }
  if (v == (double)(long long)v && v > -9007199254740992.0 && v < 9007199254740992.0) {
    snprintf(t, sizeof t, "%lld", (long long)v);
  } else {
    for (int prec = 15; prec <= 17; prec++) {
      snprintf(t, sizeof t, "%.*g", prec, v);
      if (strtod(t, NULL) == v) break;
    }
  }
  sb_puts(b, t);
}

/* ---- lines ------------------------------------------------------------------------------ */

static strbuf out;  /* batched lines */
static strbuf line; /* the line being built */

void log_begin(int level, const char *msg) {
  struct timespec ts;
  struct tm tm;
  char t[40];
  clock_gettime(CLOCK_REALTIME, &ts);
  gmtime_r(&ts.tv_sec, &tm);
  size_t n = strftime(t, sizeof t, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(t + n, sizeof t - n, ".%03ldZ", ts.tv_nsec / 1000000);
  line.len = 0;
  sb_puts(&line, "{\"t\":\"");
  sb_puts(&line, t);
  sb_puts(&line, "\",\"level\":\"");
  sb_puts(&line, log_level_name(level));
  sb_puts(&line, "\",\"msg\":");
  sb_json_string(&line, msg, strlen(msg));
}

static void key(const char *k) {
  sb_putc(&line, ',');
  sb_json_string(&line, k, strlen(k));
  sb_putc(&line, ':');
}

void log_strn(const char *k, const char *s, size_t n) {
  key(k);
  sb_json_string(&line, s, n);
}
void log_str(const char *k, const char *s) { log_strn(k, s, strlen(s)); }
void log_num(const char *k, double v) {
  key(k);
  sb_json_number(&line, v);
}
void log_bool(const char *k, bool v) {
  key(k);
  sb_puts(&line, v ? "true" : "false");
}
void log_raw(const char *k, const char *json) {
  key(k);
  sb_puts(&line, json);
}

void log_end(void) {
  sb_puts(&line, "}\n");
  sb_putn(&out, line.p, line.len);
  if (out.len >= FLUSH_BYTES) log_flush();
}

void log_msg(int level, const char *msg) {
  if (!log_on(level)) return;
  log_begin(level, msg);
  log_end();
}

void log_flush(void) {
  size_t off = 0;
  while (off < out.len) {
    ssize_t w = write(1, out.p + off, out.len - off);
    if (w > 0) off += (size_t)w;
    else if (w < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    else break; /* stdout gone: drop the logs rather than stop the server */
  }
  out.len = 0;
}
