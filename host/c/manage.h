/* The native host's management API ("management": true, served on metrics.listen beside /metrics):
 * host/node/manage.ts is the reference, with the same paths, JSON shapes and status codes.
 *
 *   GET    /registrations                 every binding: [{ aor, contact, expires, q, origin, source, path }]
 *   GET    /registrations/AOR             the bindings of one AOR (its user part, %-escaped in the path)
 *   DELETE /registrations/AOR[?contact=U] remove them (or the one contact): { removed: n }
 *   GET    /status                        tables and pools, trunks and registrations of ours, the location
 *                                         service
 * Anything else is not its (404); a method a path does not take is 405. */
#ifndef SIPLING_MANAGE_H
#define SIPLING_MANAGE_H

#include <stddef.h>
#include <stdint.h>

#include "log.h"

/* The core's stat by id (sip_stat), -1 when it has none. */
typedef double (*manage_stat_fn)(int id);

void manage_init(const char *board, manage_stat_fn stat);

/* A trunk-state or trunk-reg event (the event record at e), for /status; wall: Unix ms. */
void manage_event(uint32_t kind, const uint8_t *e, double wall);

/* A request: its status and JSON body (into body), or 0 when the path is not the API's. */
int manage_answer(const char *method, const char *path, const char *query, strbuf *body);

#endif
