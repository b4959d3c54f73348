/* The native host's Prometheus endpoint ("metrics.listen"): a plain TCP listener in the host's poll loop
 * speaking just enough HTTP/1.1 for a scrape. GET (or HEAD) /metrics is answered 200 with the text
 * exposition format 0.0.4, the management API's paths ("management": true, manage.h) as it answers them,
 * anything else 404, a request line that is not HTTP 400; one request per
 * connection, closed after the answer. Bounded: METRICS_MAX_CLIENTS connections at once (a further one
 * closes the oldest), METRICS_REQUEST_MAX bytes of request head (beyond: 400), METRICS_TIMEOUT_MS for a
 * whole exchange (a client that sends nothing, or does not read, is closed then). Never blocks: every
 * socket is non-blocking and serviced from the loop's poll, as resolve.h's are (the sockets ride after
 * the host's own for one poll). The families and their help text: numbers.h SIP_METRICS (abi.json). */
#ifndef SIPLING_METRICS_H
#define SIPLING_METRICS_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>

#include "log.h"

#define METRICS_MAX_CLIENTS 8
#define METRICS_MAX_FDS (1 + METRICS_MAX_CLIENTS)
#define METRICS_REQUEST_MAX 4096
#define METRICS_TIMEOUT_MS 5000

/* One field of the stats line: the names the "stats" log line uses. */
typedef struct {
  const char *name;
  double value;
} metrics_field;

/* Writes the body of a 200 (the host's exposition) into b. */
typedef void (*metrics_render_fn)(strbuf *b);

/* Binds and listens on spec ("IP:PORT", valid for parse_ip_port); 0 on success (the bound address,
 * "127.0.0.1:9100" or "[::1]:9100", written to bound), else an errno value. */
/* The management API (manage.h): a request's status and JSON body, 0 when the path is not its (404).
 * Set before or after metrics_start; NULL: none. Any method reaches it (GET/HEAD /metrics excepted). */
typedef int (*metrics_api_fn)(const char *method, const char *path, const char *query, strbuf *body);
void metrics_set_api(metrics_api_fn fn);

int metrics_start(const char *spec, metrics_render_fn render, char *bound, size_t bound_cap);
bool metrics_on(void);

/* Poll integration: the sockets to wait on (at most max), the poll timeout folded with the nearest
 * client deadline (ms, -1 none), and after poll: the revents of those sockets (then expired clients). */
int metrics_pollfds(struct pollfd *out, int max);
int metrics_timeout(int timeout);
void metrics_process(const struct pollfd *fds, int n);

/* Closes the listener and every client. */
void metrics_stop(void);

/* A slot of one of the core's response-time histograms (sip_hist(series, slot)); -1: not kept. */
typedef double (*metrics_hist_fn)(int series, int slot);

/* The exposition: the families of SIP_METRICS in order, samples from the stats line fields (a field
 * missing from fields is left out, a family without samples too), events[kind] counted by the host,
 * build_info with the host's name and board, uptime in seconds; then the histograms of SIP_HISTOGRAMS
 * (cumulative buckets in seconds, _sum, _count; a family the core does not keep is left out). */
void metrics_exposition(strbuf *b, const metrics_field *fields, int n, const double *events, int n_events,
                        const char *host, const char *board, double uptime_s, metrics_hist_fn hist);

#endif
