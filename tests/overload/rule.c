/* Drives the native host's overload control for tests/overload/rule.test.mjs. Built by the test:
 * gcc -I host/c host/c/overload.c host/c/log.c tests/overload/rule.c -lm.
 *   rule            reads one period per line, "wait at lost" (ms, ms, 0 or 1), and prints the share
 *                   (per mille) the rule (ov_rule_period) gives after each;
 *   rule --drops    overflows a real loopback socket's receive buffer, reads it as the host does
 *                   (recvmsg with SO_TIMESTAMPNS and SO_RXQ_OVFL, ov_note), and prints the share
 *                   ov_tick gives for two periods: the one that saw the drop count, then one with
 *                   the same count (no new drops). */
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "overload.h"

static int drops(void) {
  int rx = socket(AF_INET, SOCK_DGRAM, 0), tx = socket(AF_INET, SOCK_DGRAM, 0), one = 1, small = 4096;
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t al = sizeof a;
  setsockopt(rx, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  setsockopt(rx, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one);
  setsockopt(rx, SOL_SOCKET, SO_RXQ_OVFL, &one, sizeof one);
  if (bind(rx, (struct sockaddr *)&a, sizeof a) != 0 || getsockname(rx, (struct sockaddr *)&a, &al) != 0) return 1;
  char buf[512] = {0};
  /* loopback delivers at once: what does not fit is dropped (and counted) now */
  for (int i = 0; i < 200; i++) sendto(tx, buf, sizeof buf, 0, (struct sockaddr *)&a, sizeof a);
  ov_start(true);
  /* read as the host does: what was queued before the drops carries no count; a datagram queued
   * after them carries the socket's count (once the queue has room: UDP frees its memory on reading) */
  for (int round = -1; round < 2; round++) {
    if (round >= 0) sendto(tx, buf, sizeof buf, 0, (struct sockaddr *)&a, sizeof a);
    for (;;) {
      union { char b[CMSG_SPACE(sizeof(struct timespec)) + CMSG_SPACE(sizeof(unsigned))]; struct cmsghdr align; } ctl;
      struct iovec iov = {.iov_base = buf, .iov_len = sizeof buf};
      struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.b, .msg_controllen = sizeof ctl.b};
      if (recvmsg(rx, &mh, MSG_DONTWAIT) < 0) break;
      ov_note(rx, &mh);
    }
    if (round >= 0) printf("%d\n", ov_tick(1000.0 + 100.0 * round));
  }
  close(rx);
  close(tx);
  return 0;
}

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "--drops") == 0) return drops();
  ov_rule r = {0};
  double wait, at;
  int lost;
  while (scanf("%lf %lf %d", &wait, &at, &lost) == 3) printf("%d\n", ov_rule_period(&r, wait, at, lost != 0));
  return 0;
}
