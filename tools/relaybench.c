/* sipling's native media relay engine (host/c/relay.c) under the media benchmark
 * (tools/bench-media.mjs), driven through its C API as the native host drives it, without the SIP
 * control path (which is not per packet).
 *
 *   relaybench PORTS_FILE [--family 4|6]
 *
 * For each line "aLocal aRelay bLocal bRelay" of PORTS_FILE (tools/rtpload.c), call i opens leg 2i (port
 * aRelay, peer aLocal) and leg 2i+1 (port bRelay, peer bLocal), partners, RTCP on port + 1 as without
 * rtcp-mux, no idle time. Prints "ready" once every leg is bound (exit 1 on a BindFailed report); on
 * SIGTERM or SIGINT closes every leg and prints the totals of the Closed reports as one JSON line. */
#include "relay.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#define MAX_CALLS 20000

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: relaybench PORTS_FILE [--family 4|6]\n");
    return 2;
  }
  int fam = argc > 3 && !strcmp(argv[2], "--family") ? atoi(argv[3]) : 4;
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, NULL); /* before relay_start: the relay thread inherits the mask */

  FILE *f = fopen(argv[1], "r");
  if (!f) {
    perror(argv[1]);
    return 1;
  }
  static unsigned ports[MAX_CALLS][4];
  int calls = 0;
  while (calls < MAX_CALLS && fscanf(f, "%u %u %u %u", &ports[calls][0], &ports[calls][1], &ports[calls][2], &ports[calls][3]) == 4) calls++;
  fclose(f);

  relay_config cfg;
  memset(&cfg, 0, sizeof cfg);
  if (fam == 6) {
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)&cfg.bind6[0];
    a->sin6_family = AF_INET6;
    a->sin6_addr = in6addr_loopback;
  } else {
    struct sockaddr_in *a = (struct sockaddr_in *)&cfg.bind4[0];
    a->sin_family = AF_INET;
    a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  }
  cfg.max_legs = (uint32_t)(2 * calls + 2);
  if (relay_start(&cfg) != 0) {
    fprintf(stderr, "relaybench: %s\n", relay_error());
    return 1;
  }
  uint8_t lo[16] = {0};
  if (fam == 6) memcpy(lo, &in6addr_loopback, 16);
  else memcpy(lo, (uint8_t[]){127, 0, 0, 1}, 4);
  for (int i = 0; i < calls; i++) {
    char id[32];
    int n = snprintf(id, sizeof id, "bench-%d", i);
    for (int k = 0; k < 2; k++) {
      uint16_t peer = (uint16_t)ports[i][2 * k];
      relay_open((uint32_t)(2 * i + k), (uint32_t)(2 * i + (k ^ 1)), (uint16_t)ports[i][2 * k + 1], 0, fam, fam, lo, peer,
                 (uint16_t)(peer + 1), 0, (uint32_t)i, id, (size_t)n);
    }
  }
  relay_sync();
  relay_report r;
  while (relay_poll_report(&r))
    if (r.kind == RELAY_BIND_FAILED) {
      fprintf(stderr, "relaybench: leg %u: port %u could not be bound\n", r.leg, r.port);
      relay_stop();
      return 1;
    }
  printf("ready %d calls, %u legs\n", calls, relay_legs_in_use());
  fflush(stdout);
  int sig;
  sigwait(&set, &sig);
  for (int i = 0; i < 2 * calls; i++) relay_close((uint32_t)i);
  relay_sync();
  unsigned long long packets = 0, bytes = 0, gaps = 0, dropped = 0, unsent = 0;
  while (relay_poll_report(&r))
    if (r.kind == RELAY_CLOSED) {
      packets += r.packets;
      bytes += r.bytes;
      gaps += r.gaps;
      dropped += r.dropped;
      unsent += r.unsent;
    }
  printf("{\"packets\":%llu,\"bytes\":%llu,\"gaps\":%llu,\"dropped\":%llu,\"unsent\":%llu,\"reports_lost\":%llu}\n", packets,
         bytes, gaps, dropped, unsent, (unsigned long long)relay_reports_lost());
  relay_stop();
  return 0;
}
