/* Usage records of the native host: one JSON object per line appended to the "usageLog" file for
 * each event kind abi.json marks as a usage event, with the same fields as the Node host's
 * (host/node/usage.ts usageRecord): time, event, the event's text fields under their labels (but
 * text1, text2, detail), its value field (a name ending in Ms is written in seconds without the
 * suffix), source, result (the code, when nonzero), lost (events the core dropped before this one).
 * Lines are buffered and written at most FLUSH_MS after the first pending one, or at FLUSH_BYTES,
 * and at stop (then fsync'ed). */
#ifndef SIPLING_USAGE_H
#define SIPLING_USAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Opens (creates, mode 0640) the file for appending; false with errno set when it cannot. */
bool usage_open(const char *path);

/* An event record (docs/ABI.md) of `kind`; `source` the peer text ("udp:1.2.3.4:5060") or NULL;
 * `wall_ms` the event's time on the Unix clock; `now` the host's monotonic ms (for the flush timer). */
void usage_event(uint32_t kind, const uint8_t *record, const char *source, double wall_ms, double now);

/* The media relay's record of one leg at its close (host/node/relay.ts writes the same fields):
 * {"time", "event": "relay", "callId", "leg", "port", "video", "packets", "bytes", "lost", "dropped"}. */
void usage_relay(const char *callid, size_t callid_len, uint32_t leg, unsigned port, bool video, uint64_t packets, uint64_t bytes,
                 uint64_t lost, uint64_t dropped, double wall_ms, double now);

/* Monotonic ms by which buffered lines must be written, -1 when none are. */
double usage_deadline(void);

/* Writes what is buffered (called when usage_deadline() has passed). */
void usage_flush(void);

/* Flushes, fsyncs and closes the file (safe to call when it was never opened). */
void usage_close(void);
/* Records dropped because the file did not take them (SIP_LIMIT_USAGE_QUEUE_BYTES waiting), in all. */
uint64_t usage_dropped(void);

#endif
