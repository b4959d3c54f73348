/* Local overload control of the native host (RFC 6357 §5): see overload.c. The host feeds it the
 * arrival time stamps of the datagrams it reads and asks it, once per loop turn, for the share of new
 * out-of-dialog requests the core should refuse (sip_cfg_set key 21, per mille). */
#ifndef SIPLING_OVERLOAD_H
#define SIPLING_OVERLOAD_H

#include <stdbool.h>
#include <sys/socket.h>

/* Turns the controller on or off (config "overloadControl"). */
void ov_start(bool on);
bool ov_enabled(void);
/* One datagram read with recvmsg and SO_TIMESTAMPNS: notes how long it waited in the socket. */
void ov_note(struct msghdr *mh);
/* Once per loop turn: the new share (per mille) when it changed, else -1. Logs the transitions. */
int ov_tick(double now);
/* The poll timeout to use: while shedding, at most one period, so the share falls when idle. */
int ov_poll_timeout(int timeout);

#endif
