/* JSON-lines logger (see log.h). */
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include "numbers.h"

#define FLUSH_BYTES (64 * 1024)
#define QUEUE_MAX SIP_LIMIT_LOG_QUEUE_BYTES

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

/* Lines wait in `out` from out_off on: at most QUEUE_MAX bytes; a line beyond it is dropped and
 * counted. stdout as a pipe or socket is made non-blocking (a reader that stops reading must not stop
 * the server): log_flush writes what it takes and keeps the rest. */
static strbuf out;     /* batched lines, written from out_off */
static size_t out_off;
static strbuf line;    /* the line being built */
static int setup_done;
static uint64_t dropped_now, dropped_total;

static void setup(void) {
  setup_done = 1;
  struct stat st;
  if (fstat(1, &st) == 0 && (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode))) {
    int fl = fcntl(1, F_GETFL);
    if (fl >= 0) (void)fcntl(1, F_SETFL, fl | O_NONBLOCK);
  }
}

uint64_t log_dropped(void) { return dropped_total; }
bool log_pending(void) { return out.len > out_off; }

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
  if (out.len - out_off + line.len > QUEUE_MAX) {
    dropped_now++;
    dropped_total++;
    return;
  }
  if (out_off > 0 && out_off == out.len) out.len = out_off = 0;
  sb_putn(&out, line.p, line.len);
  if (out.len - out_off >= FLUSH_BYTES) log_flush();
}

void log_msg(int level, const char *msg) {
  if (!log_on(level)) return;
  log_begin(level, msg);
  log_end();
}

/* Writes what stdout takes now (never waits for a full pipe); once all is out, one line says how many
 * lines were dropped since the last such line. */
void log_flush(void) {
  if (!setup_done) setup();
  for (int round = 0; round < 2; round++) {
    while (out_off < out.len) {
      ssize_t w = write(1, out.p + out_off, out.len - out_off);
      if (w > 0) out_off += (size_t)w;
      else if (w < 0 && errno == EINTR) continue;
      else if (w < 0 && errno == EAGAIN) break; /* full: the rest waits */
      else {
        out_off = out.len; /* stdout gone: drop the logs rather than stop the server */
        break;
      }
    }
    if (out_off < out.len) {
      if (out_off >= out.len / 2) { /* keep the waiting part at the front */
        memmove(out.p, out.p + out_off, out.len - out_off);
        out.len -= out_off;
        out_off = 0;
      }
      return;
    }
    out.len = out_off = 0;
    if (!dropped_now || round) return;
    uint64_t n = dropped_now;
    dropped_now = 0;
    log_begin(LOG_WARN, "log lines dropped");
    log_num("count", (double)n);
    log_num("total", (double)dropped_total);
    log_str("reason", "stdout is not being read fast enough");
    sb_puts(&line, "}\n");
    sb_putn(&out, line.p, line.len);
  }
}

void log_flush_exit(int ms) {
  struct timespec t0, t;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (;;) {
    log_flush();
    if (!log_pending()) return;
    clock_gettime(CLOCK_MONOTONIC, &t);
    long left = ms - ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000);
    if (left <= 0) return;
    struct pollfd p = {.fd = 1, .events = POLLOUT};
    (void)poll(&p, 1, (int)left);
  }
}
