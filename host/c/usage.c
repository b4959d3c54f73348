/* Usage records (see usage.h). The fields come from abi.json's event table (numbers.h). */
#include "usage.h"
#include "log.h"
#include "numbers.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define FLUSH_BYTES (64 * 1024)
#define FLUSH_MS 200.0
#define RETRY_MS 50.0 /* while the file is full (EAGAIN) */
#define CLOSE_WAIT_MS 1000
#define QUEUE_MAX SIP_LIMIT_USAGE_QUEUE_BYTES

/* Event record offsets (docs/ABI.md). */
enum { E_CODE = 4, E_VALUE = 16, E_LOST = 20, E_LENS = 56, E_TEXT = 64 };

static int fd = -1;
static const char *file;
static strbuf buf;   /* records waiting, written from off */
static size_t off;
static uint64_t dropped;
static double due = -1;
static uint32_t lost_pending;
static bool failed;

static uint32_t rd32(const uint8_t *p) { return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24; }
static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }

bool usage_open(const char *path) {
  /* non-blocking: a FIFO nobody reads must not stop the server (one nobody opened is ENXIO here) */
  fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NONBLOCK, 0640);
  file = path;
  return fd >= 0;
}

static void key(const char *k) {
  sb_puts(&buf, ",\"");
  sb_puts(&buf, k);
  sb_puts(&buf, "\":");
}

/* {"time":"...Z","event":"NAME" (the rest of the record follows, then "}\n") */
static void record_start(double wall_ms, const char *name) {
  time_t secs = (time_t)(wall_ms / 1000.0);
  int ms = (int)(wall_ms - (double)secs * 1000.0);
  struct tm tm;
  gmtime_r(&secs, &tm);
  char t[64];
  snprintf(t, sizeof t, "{\"time\":\"%04d-%02d-%02dT%02d:%02d:%02d.%03dZ\",\"event\":", tm.tm_year + 1900, tm.tm_mon + 1,
           tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
  sb_puts(&buf, t);
  sb_json_string(&buf, name, strlen(name));
}

void usage_event(uint32_t kind, const uint8_t *e, const char *source, double wall_ms, double now) {
  if (fd < 0) return;
  lost_pending += rd32(e + E_LOST);
  if (kind >= SIP_EVENT_LIMIT || !SIP_EVENTS[kind].usage) return;
  const sip_event_info *info = &SIP_EVENTS[kind];
  size_t start = buf.len;
  uint32_t lost_before = lost_pending;
  record_start(wall_ms, info->name);
  const uint8_t *at = e + E_TEXT;
  for (int i = 0; i < 4; i++) {
    uint16_t len = rd16(e + E_LENS + 2 * i);
    const char *label = info->texts[i];
    if (len && strcmp(label, "text1") != 0 && strcmp(label, "text2") != 0 && strcmp(label, "detail") != 0) {
      key(label);
      sb_json_string(&buf, (const char *)at, len);
    }
    at += len;
  }
  if (info->value_field) {
    uint32_t value = rd32(e + E_VALUE);
    size_t n = strlen(info->value_field);
    if (n > 2 && strcmp(info->value_field + n - 2, "Ms") == 0) { /* ms -> s */
      sb_puts(&buf, ",\"");
      sb_putn(&buf, info->value_field, n - 2);
      sb_puts(&buf, "\":");
      sb_json_number(&buf, (double)value / 1000.0);
    } else {
      key(info->value_field);
      sb_json_number(&buf, value);
    }
  }
  if (source) {
    key("source");
    sb_json_string(&buf, source, strlen(source));
  }
  int32_t code = (int32_t)rd32(e + E_CODE);
  if (code) {
    key("result");
    sb_json_number(&buf, code);
  }
  if (lost_pending) {
    key("lost");
    sb_json_number(&buf, lost_pending);
    lost_pending = 0;
  }
  sb_puts(&buf, "}\n");
  if (buf.len - off > QUEUE_MAX) { /* the file is not taking them: this record is dropped, counted */
    buf.len = start;
    lost_pending = lost_before + 1;
    dropped++;
    return;
  }
  if (buf.len - off >= FLUSH_BYTES) usage_flush();
  else if (due < 0) due = now + FLUSH_MS;
}

void usage_relay(const char *callid, size_t callid_len, uint32_t leg, unsigned port, bool video, uint64_t packets, uint64_t bytes,
                 uint64_t lost, uint64_t dropped_pkts, double wall_ms, double now) {
  if (fd < 0) return;
  size_t start = buf.len;
  record_start(wall_ms, "relay");
  key("callId");
  sb_json_string(&buf, callid, callid_len);
  key("leg");
  sb_json_number(&buf, leg);
  key("port");
  sb_json_number(&buf, port);
  sb_puts(&buf, video ? ",\"video\":true" : ",\"video\":false");
  key("packets");
  sb_json_number(&buf, (double)packets);
  key("bytes");
  sb_json_number(&buf, (double)bytes);
  key("lost");
  sb_json_number(&buf, (double)lost);
  key("dropped");
  sb_json_number(&buf, (double)dropped_pkts);
  sb_puts(&buf, "}\n");
  if (buf.len - off > QUEUE_MAX) {
    buf.len = start;
    lost_pending++;
    dropped++;
    return;
  }
  if (buf.len - off >= FLUSH_BYTES) usage_flush();
  else if (due < 0) due = now + FLUSH_MS;
}

double usage_deadline(void) { return due; }

uint64_t usage_dropped(void) { return dropped; }

static double mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

/* Writes what the file takes now, never waiting; the rest waits (retried after RETRY_MS). */
void usage_flush(void) {
  due = -1;
  if (fd < 0 || buf.len == off) return;
  while (off < buf.len) {
    ssize_t w = write(fd, buf.p + off, buf.len - off);
    if (w < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) {
        due = mono_ms() + RETRY_MS;
        if (off >= buf.len / 2) {
          memmove(buf.p, buf.p + off, buf.len - off);
          buf.len -= off;
          off = 0;
        }
        return;
      }
      if (!failed) {
        log_begin(LOG_ERROR, "cannot write the usage log; records dropped");
        log_str("file", file);
        log_str("error", strerror(errno));
        log_end();
      }
      failed = true;
      buf.len = off = 0;
      return;
    }
    off += (size_t)w;
  }
  failed = false;
  buf.len = off = 0;
}

void usage_close(void) {
  if (fd < 0) return;
  double until = mono_ms() + CLOSE_WAIT_MS;
  usage_flush();
  while (buf.len > off && mono_ms() < until) {
    struct timespec ts = {0, 10 * 1000000};
    nanosleep(&ts, NULL);
    usage_flush();
  }
  if (buf.len > off) {
    log_begin(LOG_ERROR, "usage log still full at stop; records dropped");
    log_str("file", file);
    log_num("bytes", (double)(buf.len - off));
    log_end();
    buf.len = off = 0;
  }
  fsync(fd); /* not a regular file (e.g. /dev/stdout): nothing to sync, the error is harmless */
  close(fd);
  fd = -1;
}
