/* JSON-lines logger on stdout, the same shape as the Node host's (host/node/log.ts):
 *   {"t":"2024-01-01T00:00:00.000Z","level":"info","msg":"listening","listen":"udp:127.0.0.1:5060",...}
 * One line is built at a time in a static buffer (log_begin ... fields ... log_end); lines are
 * batched in an output buffer and written when it fills, once per event-loop turn (log_flush) and
 * at exit. Single-threaded by design. Text fields are JSON-escaped; invalid UTF-8 becomes U+FFFD,
 * as Node's Buffer.toString("utf8") does. */
#ifndef SIPLING_LOG_H
#define SIPLING_LOG_H

#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>

enum log_level { LOG_ERROR = 0, LOG_WARN = 1, LOG_INFO = 2, LOG_DEBUG = 3 };

extern int log_rank; /* lines above this level are not written (log_begin returns false) */

/* Level name -> rank, or -1. */
int log_level_parse(const char *name);
const char *log_level_name(int rank);

/* True if a line of this level would be written: test before building costly fields. */
static inline bool log_on(int level) { return level <= log_rank; }

/* Starts a line whatever the level (the trace uses it at "debug" with --log-level info). */
void log_begin(int level, const char *msg);
void log_str(const char *key, const char *s);
void log_strn(const char *key, const char *s, size_t n);
void log_num(const char *key, double v);
void log_bool(const char *key, bool v);
/* A field whose value is already JSON text (arrays, objects). */
void log_raw(const char *key, const char *json);
void log_end(void);

/* A message with no fields, if its level is on. */
void log_msg(int level, const char *msg);

/* Writes what fd 1 takes now, never waiting (a pipe or socket is non-blocking); the rest waits, at most
 * SIP_LIMIT_LOG_QUEUE_BYTES: a line beyond it is dropped and counted (EPIPE: all are dropped). */
void log_flush(void);
/* At exit: log_flush, waiting at most ms for a full stdout. */
void log_flush_exit(int ms);
/* Lines are waiting for stdout (the loop retries soon). */
bool log_pending(void);
/* Lines dropped because stdout was full (LIMITS logQueueBytes), in all. */
uint64_t log_dropped(void);

/* JSON helpers shared with --print-config and config error messages. */
typedef struct { char *p; size_t len, cap; } strbuf;
void sb_putn(strbuf *b, const char *s, size_t n);
void sb_puts(strbuf *b, const char *s);
void sb_putc(strbuf *b, char c);
void sb_json_string(strbuf *b, const char *s, size_t n); /* "..." with escapes */
void sb_json_number(strbuf *b, double v);                /* shortest text that reads back as v */

#endif
