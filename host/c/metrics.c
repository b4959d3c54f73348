/* The native host's Prometheus endpoint: see metrics.h. host/node/metrics.ts is the Node host's; both
 * serve the same families (numbers.h SIP_METRICS, from host/shared/abi.json) and the same answers. */
#include "metrics.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "numbers.h"

#ifndef SIPLING_VERSION
#define SIPLING_VERSION "unknown"
#endif

typedef struct {
  int fd;               /* -1: free */
  double deadline;      /* ms: closed then, whatever its state */
  double opened;        /* ms: the oldest is closed for a new one when every slot is taken */
  bool answered;        /* the answer is queued: writing, then draining until the peer closes */
  size_t inlen;         /* bytes of the request head so far */
  char in[METRICS_REQUEST_MAX];
  char *out;            /* the answer: bytes out[ooff..olen) still to send */
  size_t ooff, olen;
} client;

static int listen_fd = -1;
static metrics_render_fn render_body;
static metrics_api_fn api; /* the management API (manage.h), or NULL */
static client clients[METRICS_MAX_CLIENTS];

static double mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

bool metrics_on(void) { return listen_fd >= 0; }

void metrics_set_api(metrics_api_fn fn) { api = fn; }

int metrics_start(const char *spec, metrics_render_fn render, char *bound, size_t bound_cap) {
  char addr[64];
  int fam, port;
  for (int i = 0; i < METRICS_MAX_CLIENTS; i++) clients[i].fd = -1;
  if (!parse_ip_port(spec, addr, &fam, &port)) return EINVAL;
  struct sockaddr_storage ss;
  memset(&ss, 0, sizeof ss);
  socklen_t sl;
  if (fam == 6) {
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
    a->sin6_family = AF_INET6;
    a->sin6_port = htons((uint16_t)port);
    inet_pton(AF_INET6, addr, &a->sin6_addr);
    sl = sizeof *a;
  } else {
    struct sockaddr_in *a = (struct sockaddr_in *)&ss;
    a->sin_family = AF_INET;
    a->sin_port = htons((uint16_t)port);
    inet_pton(AF_INET, addr, &a->sin_addr);
    sl = sizeof *a;
  }
  int fd = socket(fam == 6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return errno;
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (fam == 6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  if (bind(fd, (struct sockaddr *)&ss, sl) != 0 || listen(fd, 64) != 0) {
    int e = errno;
    close(fd);
    return e;
  }
  sl = sizeof ss;
  if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
    port = ntohs(fam == 6 ? ((struct sockaddr_in6 *)&ss)->sin6_port : ((struct sockaddr_in *)&ss)->sin_port);
  snprintf(bound, bound_cap, fam == 6 ? "[%s]:%d" : "%s:%d", addr, port);
  listen_fd = fd;
  render_body = render;
  return 0;
}

static void drop(client *c) {
  if (c->fd < 0) return;
  close(c->fd);
  free(c->out);
  c->out = NULL;
  c->fd = -1;
  c->inlen = c->ooff = c->olen = 0;
  c->answered = false;
}

static void on_accept(void) {
  for (int k = 0; k < 16; k++) {
    int fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      return; /* EAGAIN, or out of descriptors: the backlog waits */
    }
    client *free_slot = NULL, *oldest = NULL;
    for (int i = 0; i < METRICS_MAX_CLIENTS; i++) {
      client *c = &clients[i];
      if (c->fd < 0) {
        free_slot = c;
        break;
      }
      if (!oldest || c->opened < oldest->opened) oldest = c;
    }
    if (!free_slot) { /* every slot taken (slow or idle clients): the oldest makes room */
      drop(oldest);
      free_slot = oldest;
    }
    double now = mono_ms();
    free_slot->fd = fd;
    free_slot->opened = now;
    free_slot->deadline = now + METRICS_TIMEOUT_MS;
  }
}

static void respond(client *c, const char *status, const char *type, const char *body, size_t blen, bool head_only) {
  char h[256];
  int n = snprintf(h, sizeof h, "HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n", status, type, blen);
  size_t total = (size_t)n + (head_only ? 0 : blen);
  c->out = malloc(total);
  if (!c->out) {
    drop(c);
    return;
  }
  memcpy(c->out, h, (size_t)n);
  if (!head_only) memcpy(c->out + n, body, blen);
  c->olen = total;
  c->ooff = 0;
  c->answered = true;
}

/* The request head is complete (or cannot be): answer it. */
static void answer(client *c, bool complete) {
  static const char NOT_FOUND[] = "not found\n", BAD[] = "bad request\n";
  const char *plain = "text/plain; charset=utf-8";
  if (!complete) {
    respond(c, "400 Bad Request", plain, BAD, sizeof BAD - 1, false);
    return;
  }
  /* request line: METHOD SP TARGET SP HTTP/1.x */
  size_t eol = 0;
  while (eol < c->inlen && c->in[eol] != '\r' && c->in[eol] != '\n') eol++;
  char line[METRICS_REQUEST_MAX + 1];
  memcpy(line, c->in, eol);
  line[eol] = 0;
  char *sp1 = strchr(line, ' '), *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
  if (!sp1 || !sp2 || sp1 == line || strncmp(sp2 + 1, "HTTP/1.", 7) != 0 || strchr(sp2 + 1, ' ')) {
    respond(c, "400 Bad Request", plain, BAD, sizeof BAD - 1, false);
    return;
  }
  *sp1 = *sp2 = 0;
  const char *method = line, *target = sp1 + 1;
  size_t tlen = strcspn(target, "?");
  bool get = strcmp(method, "GET") == 0, head = strcmp(method, "HEAD") == 0;
  if ((get || head) && tlen == 8 && strncmp(target, "/metrics", 8) == 0) {
    strbuf b = {0};
    render_body(&b);
    respond(c, "200 OK", "text/plain; version=0.0.4; charset=utf-8", b.p ? b.p : "", b.len, head);
    free(b.p);
    return;
  }
  if (api) {
    /* the path (up to '?') and the query (after it), NUL-terminated in line */
    char *t = (char *)target;
    char *query = NULL;
    if (t[tlen] == '?') query = t + tlen + 1;
    t[tlen] = 0;
    strbuf b = {0};
    int st = api(method, t, query, &b);
    if (st > 0) {
      sb_putc(&b, '\n');
      const char *text = st == 200 ? "200 OK" : st == 400 ? "400 Bad Request" : st == 404 ? "404 Not Found"
                       : st == 405 ? "405 Method Not Allowed" : st == 501 ? "501 Not Implemented" : "500 Internal Server Error";
      respond(c, text, "application/json", b.p, b.len, head);
      free(b.p);
      return;
    }
    free(b.p);
  }
  respond(c, "404 Not Found", plain, NOT_FOUND, sizeof NOT_FOUND - 1, head);
}

static void on_readable(client *c) {
  for (;;) {
    char scratch[1024];
    char *to = c->answered ? scratch : c->in + c->inlen;
    size_t room = c->answered ? sizeof scratch : sizeof c->in - c->inlen;
    ssize_t n = recv(c->fd, to, room, MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) drop(c);
      return;
    }
    if (n == 0) { /* the peer is done: after our answer, or before a whole request */
      if (!c->answered || c->ooff == c->olen) drop(c);
      return;
    }
    if (c->answered) continue; /* draining what follows the request */
    size_t from = c->inlen > 3 ? c->inlen - 3 : 0;
    c->inlen += (size_t)n;
    for (size_t i = from; i < c->inlen; i++) {
      if (c->in[i] == '\n' && ((i >= 1 && c->in[i - 1] == '\n') || (i >= 3 && memcmp(c->in + i - 3, "\r\n\r\n", 4) == 0))) {
        answer(c, true);
        return;
      }
    }
    if (c->inlen == sizeof c->in) {
      answer(c, false); /* a head larger than METRICS_REQUEST_MAX */
      return;
    }
  }
}

static void on_writable(client *c) {
  while (c->ooff < c->olen) {
    ssize_t w = send(c->fd, c->out + c->ooff, c->olen - c->ooff, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (w < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) drop(c);
      return;
    }
    c->ooff += (size_t)w;
  }
  /* all sent: our side is done; the peer's close (or the deadline) ends the connection, so that unread
   * bytes of ours are never reset away by closing with its bytes unread */
  shutdown(c->fd, SHUT_WR);
  free(c->out);
  c->out = NULL;
  c->ooff = c->olen = 0;
}

int metrics_pollfds(struct pollfd *out, int max) {
  if (listen_fd < 0 || max < 1) return 0;
  int n = 0;
  out[n++] = (struct pollfd){.fd = listen_fd, .events = POLLIN};
  for (int i = 0; i < METRICS_MAX_CLIENTS && n < max; i++) {
    client *c = &clients[i];
    if (c->fd < 0) continue;
    out[n++] = (struct pollfd){.fd = c->fd, .events = (short)(c->ooff < c->olen ? POLLOUT : POLLIN)};
  }
  return n;
}

int metrics_timeout(int timeout) {
  double now = mono_ms();
  for (int i = 0; i < METRICS_MAX_CLIENTS; i++) {
    if (clients[i].fd < 0) continue;
    double d = clients[i].deadline - now;
    int t = d <= 0 ? 0 : (int)d + 1;
    if (timeout < 0 || t < timeout) timeout = t;
  }
  return timeout;
}

void metrics_process(const struct pollfd *fds, int n) {
  for (int k = 0; k < n; k++) {
    short rev = fds[k].revents;
    if (!rev) continue;
    if (fds[k].fd == listen_fd) {
      on_accept();
      continue;
    }
    client *c = NULL;
    for (int i = 0; i < METRICS_MAX_CLIENTS; i++)
      if (clients[i].fd == fds[k].fd) c = &clients[i];
    if (!c) continue; /* closed meanwhile (a new client made room) */
    if (c->ooff < c->olen) {
      if (rev & (POLLOUT | POLLERR | POLLHUP)) on_writable(c);
    } else if (rev & (POLLIN | POLLERR | POLLHUP)) {
      on_readable(c);
      if (c->fd >= 0 && c->ooff < c->olen) on_writable(c); /* most answers go out at once */
    }
  }
  double now = mono_ms();
  for (int i = 0; i < METRICS_MAX_CLIENTS; i++)
    if (clients[i].fd >= 0 && now >= clients[i].deadline) drop(&clients[i]);
}

void metrics_stop(void) {
  for (int i = 0; i < METRICS_MAX_CLIENTS; i++) drop(&clients[i]);
  if (listen_fd >= 0) close(listen_fd);
  listen_fd = -1;
}

/* ---- the exposition ------------------------------------------------------------------------ */

/* A label value: backslash, double quote and newline escaped. */
static void label_value(strbuf *b, const char *s) {
  for (; *s; s++) {
    if (*s == '\\' || *s == '"') sb_putc(b, '\\'), sb_putc(b, *s);
    else if (*s == '\n') sb_puts(b, "\\n");
    else sb_putc(b, *s);
  }
}

static void family_head(strbuf *b, const sip_metric_family *f) {
  sb_puts(b, "# HELP "), sb_puts(b, f->name), sb_putc(b, ' '), sb_puts(b, f->help), sb_putc(b, '\n');
  sb_puts(b, "# TYPE "), sb_puts(b, f->name), sb_putc(b, ' '), sb_puts(b, f->type), sb_putc(b, '\n');
}

static void sample(strbuf *b, const char *name, const char *label, const char *lv, double v) {
  sb_puts(b, name);
  if (label && *label) {
    sb_putc(b, '{'), sb_puts(b, label), sb_puts(b, "=\"");
    label_value(b, lv);
    sb_puts(b, "\"}");
  }
  sb_putc(b, ' ');
  sb_json_number(b, v);
  sb_putc(b, '\n');
}

static const metrics_field *find(const metrics_field *fields, int n, const char *name) {
  for (int i = 0; i < n; i++)
    if (strcmp(fields[i].name, name) == 0) return &fields[i];
  return NULL;
}

void metrics_exposition(strbuf *b, const metrics_field *fields, int n, const double *events, int n_events,
                        const char *host, const char *board, double uptime_s, metrics_hist_fn hist) {
  for (int i = 0; i < SIP_METRIC_COUNT; i++) {
    const sip_metric_family *f = &SIP_METRICS[i];
    if (strcmp(f->special, "build_info") == 0) {
      family_head(b, f);
      sb_puts(b, f->name), sb_puts(b, "{version=\"");
      label_value(b, SIPLING_VERSION);
      sb_puts(b, "\",board=\"");
      label_value(b, board);
      sb_puts(b, "\",host=\"");
      label_value(b, host);
      sb_puts(b, "\"} 1\n");
    } else if (strcmp(f->special, "uptime") == 0) {
      family_head(b, f);
      sample(b, f->name, NULL, NULL, (double)(long long)(uptime_s * 1000.0) / 1000.0);
    } else if (strcmp(f->special, "events") == 0) {
      family_head(b, f);
      for (int k = 1; k < SIP_EVENT_LIMIT && k < n_events; k++) sample(b, f->name, f->label, SIP_EVENTS[k].name, events[k]);
    } else {
      bool any = false;
      for (int s = 0; s < f->n; s++) {
        const metrics_field *x = find(fields, n, f->samples[s].field);
        if (!x || x->value < 0) continue; /* not in this host, or -1: not in this core */
        if (!any) family_head(b, f);
        any = true;
        sample(b, f->name, f->label, f->samples[s].label_value, x->value);
      }
    }
  }
  for (int i = 0; hist && i < SIP_HIST_FAMILIES; i++) {
    const sip_hist_family *f = &SIP_HISTOGRAMS[i];
    bool kept = true;
    for (int s = 0; s < f->n; s++) kept = kept && hist(f->series[s].id, 0) >= 0;
    if (!kept) continue;
    sb_puts(b, "# HELP "), sb_puts(b, f->name), sb_putc(b, ' '), sb_puts(b, f->help), sb_putc(b, '\n');
    sb_puts(b, "# TYPE "), sb_puts(b, f->name), sb_puts(b, " histogram\n");
    for (int s = 0; s < f->n; s++) {
      int id = f->series[s].id;
      double cum = 0;
      for (int k = 0; k <= SIP_HIST_BOUNDS; k++) {
        cum += hist(id, k);
        sb_puts(b, f->name), sb_puts(b, "_bucket{"), sb_puts(b, f->label), sb_puts(b, "=\"");
        label_value(b, f->series[s].label_value);
        sb_puts(b, "\",le=\"");
        if (k < SIP_HIST_BOUNDS) sb_json_number(b, SIP_HIST_BOUNDS_MS[k] / 1000.0);
        else sb_puts(b, "+Inf");
        sb_puts(b, "\"} ");
        sb_json_number(b, cum);
        sb_putc(b, '\n');
      }
      for (int part = 0; part < 2; part++) {
        sb_puts(b, f->name), sb_puts(b, part == 0 ? "_sum{" : "_count{"), sb_puts(b, f->label), sb_puts(b, "=\"");
        label_value(b, f->series[s].label_value);
        sb_puts(b, "\"} ");
        sb_json_number(b, part == 0 ? hist(id, SIP_HIST_BOUNDS + 1) / 1000.0 : cum);
        sb_putc(b, '\n');
      }
    }
  }
}
