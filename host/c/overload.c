/* Local overload control of the native host (overload.h). */
#include "overload.h"
#include "log.h"

#include <math.h>
#include <string.h>
#include <time.h>

/* RFC 6357 §5, as the Node host does it (host/node/overload.ts), with the kernel's measure instead of
 * probes: every datagram carries its arrival time (SO_TIMESTAMPNS, CLOCK_REALTIME), so the wait before
 * we read it is known. Every OV_PERIOD ms the longest wait of the period raises (> OV_HIGH_MS) or
 * lowers (< OV_LOW_MS) the share of new out-of-dialog requests the core refuses with 503 + Retry-After
 * (sip_cfg_set key 21, per mille). */
#define OV_PERIOD 50.0
#define OV_HIGH_MS 30.0
#define OV_LOW_MS 10.0
#define OV_UP 30
#define OV_DOWN 10
#define OV_MAX 990

static bool ov_on;
static int ov_shed;                    /* per mille, as last given to the core */
static double ov_wait, ov_worst;       /* longest wait this period / since shedding began, ms */
static double ov_next;                 /* end of the period */

void ov_note(struct msghdr *mh) {
  for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_TIMESTAMPNS) continue;
    struct timespec at, now;
    memcpy(&at, CMSG_DATA(c), sizeof at);
    clock_gettime(CLOCK_REALTIME, &now);
    double w = (double)(now.tv_sec - at.tv_sec) * 1e3 + (double)(now.tv_nsec - at.tv_nsec) / 1e6;
    if (w > ov_wait) ov_wait = w;
  }
}

int ov_tick(double now) {
  if (!ov_on || now < ov_next) return -1;
  ov_next = now + OV_PERIOD;
  double w = ov_wait;
  ov_wait = 0;
  if (ov_shed > 0 && w > ov_worst) ov_worst = w;
  int before = ov_shed;
  if (w > OV_HIGH_MS) ov_shed = ov_shed + OV_UP > OV_MAX ? OV_MAX : ov_shed + OV_UP;
  else if (w < OV_LOW_MS) ov_shed = ov_shed > OV_DOWN ? ov_shed - OV_DOWN : 0;
  if (ov_shed == before) return -1;
  if (before == 0) {
    ov_worst = w;
    log_begin(LOG_WARN, "overload: refusing new requests with 503");
    log_num("shedPermille", ov_shed);
    log_num("waitMs", round(w));
    log_end();
  } else if (ov_shed == 0) {
    log_begin(LOG_INFO, "overload over");
    log_num("worstWaitMs", round(ov_worst));
    log_end();
    ov_worst = 0;
  }
  return ov_shed;
}

void ov_start(bool on) { ov_on = on; }
bool ov_enabled(void) { return ov_on; }

int ov_poll_timeout(int timeout) {
  if (ov_shed > 0 && (timeout < 0 || timeout > (int)OV_PERIOD)) return (int)OV_PERIOD;
  return timeout;
}
