/* The registrar's bindings seen from the native host (the core's sip_loc lines, docs/ABI.md "Location
 * service") and the location service shared by several instances through Redis ("location.redis").
 * host/node/location.ts is the reference: the same keys, values, channel, messages and resync rules, so
 * that Node and native instances share one Redis.
 *
 *   key     P:loc:AOR CONTACT   value "INSTANCE INDEX LINE", PX: the binding's expiry (our local ones)
 *   channel P:loc               "put INSTANCE INDEX LINE" / "del INSTANCE AOR CONTACT"
 *
 * Another instance's binding is put into our core as shared with the route <sip:rbXXXXXXXX@INSTANCE;lr>.
 * At each connection: SUBSCRIBE first, then SCAN + GET + PTTL of every key (others' put as shared; our
 * own, on the first connection, put back as local; our own that we no longer hold deleted), shared
 * bindings whose key is gone removed, and every local binding published. When Redis goes away the
 * bindings we have keep serving and a connection is retried every second.
 *
 * Redis: RESP2 over two plain TCP sockets (commands, subscription), non-blocking, serviced from the
 * host's poll loop (never blocks it: connect is non-blocking with a 2 s deadline). Bounded: a reply
 * larger than LOC_IN_MAX bytes, or a malformed one, closes the connection (then the retry); more than
 * LOC_OUT_MAX bytes queued for Redis likewise. */
#ifndef SIPLING_LOCATION_H
#define SIPLING_LOCATION_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "log.h"

#define LOC_MAX_FDS 2
#define LOC_IN_MAX (64u << 20)
#define LOC_OUT_MAX (256u << 20) /* a full server table's resync (262,144 bindings, SET + PUBLISH each) is ~130 MB */
#define LOC_FIRST_MS 5000 /* the first attempt, at start, runs at most this long before the loop */

/* The core's sip_loc, as the host calls it: `op` runs sip_loc(op, now, arg) (and, after PUT and REMOVE,
 * the host's draining of what the change produced); `buf` is the line buffer (sip_loc_ptr) now. */
typedef struct {
  int32_t (*op)(int op, uint32_t arg);
  uint8_t *(*buf)(void);
} loc_core;

/* One binding, its fields pointing into line (NUL-terminated each). */
typedef struct {
  int index;
  double expires, q;
  const char *aor, *contact, *origin, *source, *path;
  char *line; /* owned: loc_binding_free */
} loc_binding;

/* The core's line buffer: loc_init once the core runs; loc_available: a core with the location service. */
void loc_init(const loc_core *core);
bool loc_available(void);
/* The next binding in use at index >= from, or -1. */
int loc_next(int from);
/* Binding index read and parsed; false when gone. */
bool loc_read(int index, loc_binding *out);
void loc_binding_free(loc_binding *b);
/* The first binding of the AOR whose (unescaped) key is key[0..n), then its siblings; -1 at the end. */
int loc_first(const uint8_t *key, size_t n);
int loc_sibling(int index);
/* Remove "AOR [CONTACT]" (AOR escaped as in a line, contact NULL: all): how many went, -1 malformed. */
int loc_remove(const char *aor, const char *contact);
/* The AOR's key escaped as in a line (bytes <= 0x20, >= 0x7f and '%' as %XX) into b. */
void loc_escape_aor(strbuf *b, const uint8_t *key, size_t n);

/* The shared location service: started when "location.redis" names one (instance: location.address or
 * the first udp listen's); the first attempt runs to its end (as the Node host's start awaits it: at
 * most LOC_FIRST_MS), later ones from the loop. */
void location_start(const char *redis_addr, int family, int port, const char *instance, const char *prefix, const char *user,
                    const char *password);
bool location_on(void);
bool location_connected(void);
const char *location_instance(void);
void location_stop(void);

/* A reg-add/reg-refresh/reg-remove/reg-expire event of ours (code 0 or 200; code 1 is a shared binding's
 * and not published): aor (raw key bytes) and contact as the event carries them. */
void location_event(int kind, const uint8_t *aor, size_t aor_len, const uint8_t *contact, size_t contact_len);

/* The counters (stats line, /status): names and values, LOC_STATS of them. */
#define LOC_STATS 5
extern const char *const LOC_STAT_NAMES[LOC_STATS];
void location_stats(double out[LOC_STATS]);

/* Poll integration, as metrics.h's. */
int location_pollfds(struct pollfd *out, int max);
int location_timeout(int timeout);
void location_process(const struct pollfd *fds, int n);

#endif
