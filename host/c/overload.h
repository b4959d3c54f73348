/* Local overload control of the native host (RFC 6357 §5): see overload.c. The host feeds it the
 * arrival time stamps of the datagrams it reads and asks it, once per loop turn, for the share of new
 * out-of-dialog requests the core should refuse (sip_cfg_set key 21, per mille). */
#ifndef SIPLING_OVERLOAD_H
#define SIPLING_OVERLOAD_H

#include <stdbool.h>
#include <sys/socket.h>

/* The rule's constants; host/node/overload.ts has the same names and values. */
#define OV_PERIOD_MS 50.0 /* one measure per period */
#define OV_HIGH_MS 30.0   /* a wait over this is behind (and, while shedding, raises the share) */
#define OV_LOW_MS 10.0    /* while shedding, a wait under this lowers the share */
#define OV_ONSET_MS 250.0 /* how long the queue must stay behind before shedding starts */
#define OV_UP 30          /* per mille per period over OV_HIGH_MS */
#define OV_LOST_UP 100    /* per mille for a period in which the kernel dropped datagrams */
#define OV_DOWN 10        /* per mille per period under OV_LOW_MS */
#define OV_MAX 990        /* never refuse everything: a trickle of new calls still measures recovery */

/* The decision rule alone (no clock, no socket): zero-initialise, then one ov_rule_period per period. */
typedef struct {
  int shed;            /* per mille */
  double onset;        /* the stretch that started the current shedding, ms (for the log) */
  double worst;        /* the longest wait since shedding started, ms (for the log) */
  bool behind;         /* the last period was over OV_HIGH_MS */
  double since, until; /* the current stretch: the queue was behind from since until until, ms */
} ov_rule;

/* One period: wait = its longest queue wait (ms; 0 when nothing was read), at = when the datagram that
 * waited it was read (ms, any one clock), lost = the queue overflowed in the period. Returns the new
 * share, per mille. */
int ov_rule_period(ov_rule *r, double wait, double at, bool lost);

/* Turns the controller on or off (config "overloadControl"). */
void ov_start(bool on);
bool ov_enabled(void);
/* One datagram read from socket fd with recvmsg, SO_TIMESTAMPNS and SO_RXQ_OVFL: notes how long it
 * waited in the socket and whether the kernel dropped datagrams for a full buffer since the last. */
void ov_note(int fd, struct msghdr *mh);
/* Once per loop turn: the new share (per mille) when it changed, else -1. Logs the transitions. */
int ov_tick(double now);
/* The poll timeout to use: while shedding, at most one period, so the share falls when idle. */
int ov_poll_timeout(int timeout);

#endif
