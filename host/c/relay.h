/* Media relay engine of the native host (relay.c): forwards RTP and RTCP between the legs that the
 * core's relay records (docs/ABI.md "Media relay") open, on a thread of its own, so that the SIP
 * poll() loop never carries media.
 *
 * Threads: the main thread calls relay_open / relay_close (commands, queued in order) and drains
 * reports with relay_poll_report when relay_wake_fd() is readable; the relay thread owns the legs,
 * their sockets and their counters. Nothing is allocated per packet: the leg table, the command and
 * report queues and the packet buffers are allocated once by relay_start.
 *
 * Forwarding: a packet arriving on leg L (from L's party) goes out of L's partner P's socket (RTP out
 * of P's RTP socket, RTCP out of P's RTCP socket: the RTP one when P has RtcpMux) to P's destination:
 * P's latched source when P has latched, else P's peer from the record (family 0, or a family other
 * than P's local one: not sent, counted as unsent). On an RtcpMux leg a packet whose second byte is 192..223 is RTCP (RFC 5761 §4).
 * Latching: each socket of a leg learns its party's source by the rule in relay.c (the SDP's address
 * and port latch at once and are strict; the SDP's address at another port, or another address when
 * the SDP's cannot be the source, latch only as described there: "RTP bleed"); packets from any other
 * source are dropped (counted). An Open that changes the leg's peer unlatches it. An RTCP socket not
 * latched yet sends to the record's RTCP port, or, when RTP latched elsewhere than the
 * record's peer (a NAT), to the RTP source's address at its port + 1.
 * Idle: a leg with an idle time reports RELAY_IDLE once when no packet arrived on it or on its
 * partner for that many seconds (counted from its last Open); the partner, when it has an idle time
 * too, reports its own. Close: the sockets are closed and RELAY_CLOSED carries the leg's counters
 * (for the usage log). */
#ifndef SIPLING_RELAY_H
#define SIPLING_RELAY_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define RELAY_CALLID_MAX 128 /* docs/ABI.md: the record's Call-ID is at most 128 bytes */
#define RELAY_IFACES 4       /* the core's relay interfaces (config.ts RELAY_IFACES; the record's iface) */

typedef struct {
  /* Local addresses that legs bind, by interface (a record's `iface`) and family (its `local`): family
   * 0 = that family is not served there (an Open asking for it reports RELAY_BIND_FAILED). Port fields
   * are ignored. */
  struct sockaddr_storage bind4[RELAY_IFACES], bind6[RELAY_IFACES];
  uint32_t max_legs;   /* leg indices 0 .. max_legs - 1 (the core's relayLegCapacity) */
  uint32_t queue;      /* commands and reports queued at most; 0 = 2 * max_legs + 64 */
} relay_config;

/* Report kinds: 1 and 2 are the core's RelayReport numbers (numbers.h SIP_RELAY_REPORT_*), for
 * sip_relay_report; RELAY_CLOSED is the host's own (the counters for the usage log). */
enum { RELAY_IDLE = 1, RELAY_BIND_FAILED = 2, RELAY_CLOSED = 100 };

typedef struct {
  int kind;
  uint32_t leg, call;
  uint16_t port, flags;   /* the leg's, as last opened */
  uint64_t packets, bytes; /* accepted on the leg (from its party), RTP and RTCP */
  uint64_t gaps;          /* RTP sequence numbers skipped (losses before the relay) */
  uint64_t dropped;       /* from a source that may not latch (relay.c's rule), or truncated */
  uint64_t unsent;        /* accepted but not sent: no destination, partner closed, send error */
  uint16_t callid_len;
  char callid[RELAY_CALLID_MAX];
} relay_report;

/* Allocates the leg table, queues and buffers and starts the relay thread (which blocks every signal).
 * 0, or -1 with the reason in relay_error() (bad config, out of memory, epoll/eventfd/thread failure).
 * Once per process until relay_stop. */
int relay_start(const relay_config *cfg);

/* The reason of relay_start's last failure ("relay: eventfd: ..."), for the caller's log. */
const char *relay_error(void);

/* Open (or update) a leg: the record of docs/ABI.md (family 0 = peer not known; local 4 or 6, plus
 * the record's iface << 8 (0: the first interface); addr in the record's layout: IPv4 in the first 4 bytes). Binds `port` (and port + 1 unless RtcpMux) when
 * the leg is not bound on those yet; a bind failure reports RELAY_BIND_FAILED and leaves the leg
 * closed. A peer different from the last Open's unlatches the leg. Blocks only while the command
 * queue is full. */
void relay_open(uint32_t leg, uint32_t partner, uint16_t port, uint16_t flags, int family, int local_family,
                const uint8_t addr[16], uint16_t peer_port, uint16_t rtcp_port, uint16_t idle_s, uint32_t call,
                const char *callid, size_t callid_len);

/* Applies one record of the core (`op` = sip_poll_relay()'s value, `rec` = the record at
 * sip_relay_ptr(), docs/ABI.md "Media relay"): relay_open or relay_close with its fields. -1 for an
 * op this host does not know (nothing done), else 0. */
int relay_apply_record(uint32_t op, const uint8_t *rec);

/* Close a leg: unbind, report RELAY_CLOSED with its counters. A leg that is not open: nothing. */
void relay_close(uint32_t leg);

/* Waits until the relay thread has applied every command queued before this call (its binds done,
 * its BindFailed reports queued). For tests and benchmarks; the main loop never needs to wait. */
void relay_sync(void);

/* An fd that is readable while reports wait (an eventfd); poll it for POLLIN, then call
 * relay_poll_report until it returns 0 (which makes the fd unreadable again; a wake-up may find nothing,
 * none is lost). -1 before relay_start.
 * The native host's loop, once the core has the relay exports:
 *   after each core call:  while ((op = sip_poll_relay()) != 0) relay_apply_record(op, M(sip_relay_ptr()));
 *   relay_wake_fd() POLLIN: while (relay_poll_report(&r)) RELAY_IDLE / RELAY_BIND_FAILED ->
 *                           sip_relay_report(now, r.leg, r.kind), then drain sip_poll_relay as above;
 *                           RELAY_CLOSED -> the usage log (r.packets, r.bytes, r.gaps, r.dropped, r.callid) */
int relay_wake_fd(void);

/* Takes the oldest report into *out: 1, or 0 when none waits. */
int relay_poll_report(relay_report *out);

/* Reports lost because the report queue was full (the main loop did not drain it), in all. */
uint64_t relay_reports_lost(void);

/* Legs open now (read from the relay thread's last update; for stats). */
uint32_t relay_legs_in_use(void);

/* Stops the thread, which first closes every leg still open with its RELAY_CLOSED report (its counters,
 * for the usage log: take them with relay_poll_report until 0 before relay_stop). Idempotent. */
void relay_quiesce(void);

/* Stops the thread (relay_quiesce, when not done), closes every leg's sockets and frees everything. */
void relay_stop(void);

#endif
