/* Drives the native host's overload rule (host/c/overload.c, ov_rule_period) for
 * tests/overload/rule.test.mjs: reads one period per line, "wait at lost" (ms, ms, 0 or 1), and prints
 * the share (per mille) after each. Built by the test: gcc -I host/c host/c/overload.c host/c/log.c
 * tests/overload/rule.c -lm. */
#include <stdio.h>
#include "overload.h"

int main(void) {
  ov_rule r = {0};
  double wait, at;
  int lost;
  while (scanf("%lf %lf %d", &wait, &at, &lost) == 3) printf("%d\n", ov_rule_period(&r, wait, at, lost != 0));
  return 0;
}
