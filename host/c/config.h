/* Command line and configuration file of the native host: the same contract as the Node host
 * (host/node/config.ts), minus what only Node has (SIPLING_WASM; "board" is accepted and ignored:
 * this binary is built for one board).
 *
 *   sipling [--config FILE] [--listen udp|tcp:HOST:PORT]... [--domain NAME]...
 *           [--log-level L] [--trace] [--print-config]
 *   sipling --help
 *
 * Flags override the file; repeated --listen / --domain flags replace the file's list. Every error
 * names the key (or flag) and what was expected; config_parse prints it on stderr and exits 2. */
#ifndef SIPLING_CONFIG_H
#define SIPLING_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#define MAX_LISTEN 255 /* transport ids are a u8 in the peer record (1..255) */

typedef struct {
  int proto;      /* 1 UDP, 2 TCP (the ABI's proto numbers) */
  char host[256]; /* unbracketed ("::1") */
  int port;
  int family;     /* 4, 6, or 0 for a host name */
  const char *spec;
} listen_spec;

typedef struct {
  const char **listen;
  size_t n_listen;
  const char **domains;
  size_t n_domains;
  int log_level;
  bool trace;
  long t1, t2, t4, timer_c;             /* ms */
  long min_expires, max_expires, default_expires;
  long max_contacts;                    /* -1: the board's default */
  bool record_route;
  bool overload_control;                /* local overload control (main.c, "overload") */
  long retry_after;
  const char *outbound_proxy;           /* NULL: none */
  const char *board;                    /* as given in the file (informational) */
} config;

typedef struct {
  bool help, print_config;
  config cfg;
  listen_spec *listens; /* parsed cfg.listen, same order */
} cli;

extern const char USAGE[];

/* Parses argv (without the program name), reads the file, merges, validates. Exits 2 on error. */
void config_parse(cli *out, int argc, char **argv);

/* "udp:1.2.3.4:5060", "tcp:[::1]:5060", "udp:host.name:5060" -> out; false if malformed. */
bool parse_listen(const char *spec, listen_spec *out);

/* The effective configuration as JSON (what --print-config prints). */
void config_print(const config *c, const char *board);

#endif
