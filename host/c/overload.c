/* Local overload control of the native host (overload.h).
 *
 * RFC 6357 §5 with the same rule and constants as the Node host (host/node/overload.ts, where the
 * reasoning is written out), measured by the kernel instead of probes: every datagram carries its
 * arrival time (SO_TIMESTAMPNS, CLOCK_REALTIME), so the wait before we read it is known, and the
 * socket's drop counter (SO_RXQ_OVFL) tells when the receive buffer overflowed, which plays the part
 * of the Node host's lost probe. Every OV_PERIOD_MS the longest wait of the period goes to the rule:
 * - Evidence before shedding: a datagram read at t after waiting w > OV_HIGH_MS proves the queue was
 *   behind from t - w + OV_HIGH_MS until t; consecutive periods over OV_HIGH_MS join into one
 *   stretch, and shedding starts once a stretch lasts OV_ONSET_MS (or the kernel dropped datagrams),
 *   at the share that rising by OV_UP per period of the stretch would have reached. One pause (a page
 *   fault storm, a descheduling) does not shed; a stall longer than OV_ONSET_MS + OV_HIGH_MS does.
 * - While shedding: over OV_HIGH_MS raises the share by OV_UP (a drop by OV_LOST_UP), under OV_LOW_MS
 *   lowers it by OV_DOWN, in between holds it; at 0 shedding ends and needs fresh evidence. */
#include "overload.h"
#include "log.h"

#include <math.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

int ov_rule_period(ov_rule *r, double wait, double at, bool lost) {
  if (wait > OV_HIGH_MS) {
    double from = at - wait + OV_HIGH_MS;
    if (!r->behind || from < r->since) r->since = from;
    r->until = at;
    r->behind = true;
  } else {
    r->behind = false;
  }
  if (r->shed == 0) {
    double stretch = r->behind ? r->until - r->since : 0;
    if (stretch < OV_ONSET_MS && !lost) return 0;
    r->onset = stretch;
    r->worst = wait;
    double s = OV_UP * floor(stretch / OV_PERIOD_MS) + (lost ? OV_LOST_UP : 0);
    r->shed = s > OV_MAX ? OV_MAX : (int)s;
    return r->shed;
  }
  if (wait > r->worst) r->worst = wait;
  if (lost) r->shed = r->shed + OV_LOST_UP > OV_MAX ? OV_MAX : r->shed + OV_LOST_UP;
  else if (wait > OV_HIGH_MS) r->shed = r->shed + OV_UP > OV_MAX ? OV_MAX : r->shed + OV_UP;
  else if (wait < OV_LOW_MS) r->shed = r->shed > OV_DOWN ? r->shed - OV_DOWN : 0;
  return r->shed;
}

/* ---- the host's side: time stamps in, a share per period out ---------------------------------- */

#define OV_SOCKETS 8 /* UDP sockets whose drop counters are followed (more: drops go unseen) */

static bool ov_on;
static ov_rule ov;
static double ov_wait, ov_wait_at; /* longest wait this period, ms, and when it was read (CLOCK_REALTIME) */
static bool ov_lost;               /* the kernel dropped datagrams this period */
static double ov_next;             /* end of the period (the loop's clock) */
static double ov_shed_since;       /* when shedding started (the loop's clock) */
static struct { int fd; uint32_t drops; } ov_socks[OV_SOCKETS];
static int ov_nsocks;

static void ov_drops(int fd, uint32_t drops) {
  for (int i = 0; i < ov_nsocks; i++) {
    if (ov_socks[i].fd != fd) continue;
    if (drops != ov_socks[i].drops) ov_lost = true;
    ov_socks[i].drops = drops;
    return;
  }
  if (ov_nsocks == OV_SOCKETS) return;
  /* the kernel adds the count only once it is above 0, and the host asked for it when it made the
   * socket: a socket's first count is all new drops */
  ov_lost = true;
  ov_socks[ov_nsocks].fd = fd;
  ov_socks[ov_nsocks++].drops = drops;
}

void ov_note(int fd, struct msghdr *mh) {
  for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
    if (c->cmsg_level != SOL_SOCKET) continue;
    if (c->cmsg_type == SO_RXQ_OVFL) {
      uint32_t drops;
      memcpy(&drops, CMSG_DATA(c), sizeof drops);
      ov_drops(fd, drops);
      continue;
    }
    if (c->cmsg_type != SCM_TIMESTAMPNS) continue;
    struct timespec at, now;
    memcpy(&at, CMSG_DATA(c), sizeof at);
    clock_gettime(CLOCK_REALTIME, &now);
    double t = (double)now.tv_sec * 1e3 + (double)now.tv_nsec / 1e6;
    double w = t - ((double)at.tv_sec * 1e3 + (double)at.tv_nsec / 1e6);
    if (w > ov_wait) {
      ov_wait = w;
      ov_wait_at = t;
    }
  }
}

int ov_tick(double now) {
  if (!ov_on || now < ov_next) return -1;
  ov_next = now + OV_PERIOD_MS;
  double w = ov_wait, at = ov_wait_at;
  bool lost = ov_lost;
  ov_wait = 0;
  ov_lost = false;
  if (w == 0) { /* nothing read this period: the measure is "no wait, now" */
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    at = (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
  }
  int before = ov.shed;
  int shed = ov_rule_period(&ov, w, at, lost);
  if (shed == before) return -1;
  if (before == 0) {
    ov_shed_since = now;
    log_begin(LOG_WARN, "overload: refusing new requests with 503");
    log_num("shedPermille", shed);
    log_num("waitMs", round(w));
    log_num("behindMs", round(ov.onset));
    log_bool("lost", lost);
    log_end();
  } else if (shed == 0) {
    log_begin(LOG_INFO, "overload over");
    log_num("worstWaitMs", round(ov.worst));
    log_num("shedMs", round(now - ov_shed_since));
    log_end();
  }
  return shed;
}

void ov_start(bool on) { ov_on = on; }
bool ov_enabled(void) { return ov_on; }

int ov_poll_timeout(int timeout) {
  if (ov.shed > 0 && (timeout < 0 || timeout > (int)OV_PERIOD_MS)) return (int)OV_PERIOD_MS;
  return timeout;
}
