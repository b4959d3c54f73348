/* Name resolution of the native host: the core names a host to send to (a transmit whose peer family
 * is 0, docs/ABI.md "Peer record"); the host resolves it with c-ares, driven from its poll() loop,
 * never blocking it and never growing. host/shared/resolver.mjs is the same design for the Node host
 * and the firmware bridge, with the same bounds (host/shared/config.json "limits", SIP_LIMIT_DNS_* of
 * numbers.h) and the same counters:
 *
 *   a message to a name   cached answer     -> sent now
 *                         cached failure    -> dropped (negative_hits)
 *                         lookup in flight  -> held until it ends (at most SIP_LIMIT_DNS_WAIT_PER_NAME
 *                                              per name, SIP_LIMIT_DNS_WAIT_BYTES in all); beyond: dropped
 *                         new name          -> a lookup, if fewer than SIP_LIMIT_DNS_IN_FLIGHT are in
 *                                              flight and fewer than SIP_LIMIT_DNS_PER_SOURCE were started
 *                                              by the messages of the current source (resolve_source;
 *                                              the core's timers count as one source); else dropped
 *   cache                 answers for their TTL clamped to SIP_LIMIT_DNS_MIN_TTL..MAX_TTL, failures for
 *                         SIP_LIMIT_DNS_NEGATIVE_TTL; SIP_LIMIT_DNS_CACHE names, least recently used evicted
 *
 * A dropped message is counted; its transaction retransmits it or times out, as on any lost datagram.
 * A failed name is logged (warn) once per failed lookup, so at most once per negative TTL. */
#ifndef SIPLING_RESOLVE_H
#define SIPLING_RESOLVE_H

#include <poll.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>

/* Sockets c-ares may wait on at once (its ARES_GETSOCK_MAXNUM). */
#define RESOLVE_MAX_FDS 16

/* Sends n bytes to fam/addr:port on transport `t` (connection conn_id, 0 for none), found by `name`
 * (NULL: an IP literal; a connection opened for it verifies a TLS server by that name). */
typedef void (*resolve_sender)(void *t, uint32_t conn_id, int fam, const uint8_t addr[16], uint16_t port, const char *name,
                               const uint8_t *buf, size_t n);

/* servers: dns.servers (n of them; each valid for parse_dns_server), or n = 0 for the system's
 * (/etc/resolv.conf); timeout_ms: dns.timeout, the wait of a name's first query (c-ares doubles it for
 * the second, then the name has failed). Returns NULL, or what failed. */
const char *resolve_init(const char *const *servers, size_t n, int timeout_ms, resolve_sender send);

/* The source address (fam 4/6) of the input being processed, whose transmits' lookups count against
 * it; fam 0 for the core's timers. */
void resolve_source(int fam, const uint8_t addr[16]);

/* A transmit of n bytes to `name` (len bytes, not terminated) on transport t of family want (4/6):
 * sent now (cached), after its lookup, or dropped (bounded, counted). The bytes are copied when held.
 * Port 0: the URI named none; the server is located by RFC 3263 for `proto` (1 UDP, 2 TCP, 3 TLS) and
 * the message goes to target k of RFC 2782's order, `sel` the peer record's +28: k its low byte (0 the
 * first; past the last: dropped), the order drawn with the rest as seed (docs/ABI.md "Peer record"). */
void resolve_send(void *t, int want, int proto, uint32_t sel, uint32_t conn_id, const char *name, size_t len, uint16_t port,
                  const uint8_t *buf, size_t n);

/* `sel` of resolve_send asking for every target's address at once, with no message (a trunk found by
 * its name: the addresses its calls are taken from): the watcher gets them, each once, for t. */
#define RESOLVE_ALL 0xffffffffu
typedef void (*resolve_watcher)(void *t, int fam, const uint8_t (*addrs)[16], int n);
void resolve_watch(resolve_watcher w);

/* RFC 3263 §4.1's transport of `name` (a trunk found by its name without a port and no transport
 * configured) among `supported` (bit 1 << p for protocol p: 1 UDP, 2 TCP, 3 TLS, those we listen on):
 * the NAPTR record of a supported service (flag "s") first by order, then preference; without one, the
 * first supported transport, in the order UDP, TCP, TLS, whose SRV name has records; cb gets 0 when
 * neither answers (or for an IP address), never after resolve_shutdown. Not cached itself (resolver.mjs
 * transportOf is the same); its NAPTR and SRV answers are shared with lookups for dnsMinTtl. */
typedef void (*resolve_transport_cb)(void *t, int proto);
void resolve_transport(void *t, const char *name, unsigned supported, resolve_transport_cb cb);

/* The proxy's requests to names held for their transport (docs/ABI.md "Transport by DNS"; resolver.mjs
 * transportCached, transportAsk). resolve_transport_cached: the transport chosen for `name` (len bytes)
 * within dnsTransportTtl (0 included: none), or -1. resolve_transport_ask: resolve_transport for request
 * `id`, cb(id, proto) once it is known (possibly before this returns, from answers kept dnsMinTtl), the
 * choice then kept; a request for a name being asked waits for the same answer. False, and no cb, when
 * it cannot be asked (an IP address or a name of the hosts file, dnsWaitPerName requests waiting for
 * the name, dnsInFlight names being asked): the caller goes on over UDP. */
typedef void (*resolve_request_cb)(uint32_t id, int proto);
int resolve_transport_cached(const char *name, size_t len);
bool resolve_transport_ask(uint32_t id, const char *name, size_t len, unsigned supported, resolve_request_cb cb);

/* Poll integration: the sockets c-ares waits on (at most max), the poll timeout folded with its own
 * (ms, -1 none), and after poll: the revents of those sockets, then expired timeouts. */
int resolve_pollfds(struct pollfd *out, int max);
int resolve_timeout(int timeout);
void resolve_process(const struct pollfd *fds, int n);

/* Counters of the stats line (the names of host/shared/resolver.mjs RESOLVER_STATS, in its order). */
#define RESOLVE_STAT_COUNT 16
extern const char *const RESOLVE_STAT_NAMES[RESOLVE_STAT_COUNT];
void resolve_stats(double out[RESOLVE_STAT_COUNT]);

/* Ends every lookup (nothing held is sent) and frees c-ares. */
void resolve_shutdown(void);

#endif
