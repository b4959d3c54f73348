/* Command line and configuration file of the native host, by walking the generated schema table
 * (schema.h, from host/shared/config.json): the same keys, checks, messages, defaults, --help and
 * --print-config as the Node host (host/shared/config.mjs is the reference walker).
 *
 *   sipling [--config FILE] [--listen udp|tcp|tls:HOST:PORT]... [--domain NAME]...
 *           [--log-level L] [--trace] [--usage-log FILE] [--print-config]
 *   sipling --help
 *
 * Flags override the file; repeated --listen / --domain flags replace the file's list. Every error
 * names the key (or flag) and what was expected, on stderr, and exits 2; secrets are never echoed. */
#ifndef SIPLING_CONFIG_H
#define SIPLING_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "schema.h"

/* How the core runs, in --help, --version and the "running" line. The WAMR host (host/wamr/, the same
 * sources built against WAMR's interpreter by tools/wamr.mjs) sets both. */
#ifndef SIPLING_ENGINE
#define SIPLING_ENGINE "wasm2c (linked in)"
#endif
#ifndef SIPLING_ENGINE_LONG
#define SIPLING_ENGINE_LONG "compiled to C by wasm2c"
#endif

#define MAX_LISTEN 255 /* transport ids are a u8 in the peer record (1..255) */

typedef struct {
  int proto;      /* SIP_PROTO_UDP or SIP_PROTO_TCP */
  char host[256]; /* unbracketed ("::1") */
  int port;
  int family;     /* 4, 6, or 0 for a host name */
  const char *spec;
} listen_spec;

typedef struct {
  const char *username, *password, *ha1, *ha1_sha256; /* NULL when absent; hex in lower case */
} cfg_user;

typedef struct {
  uint8_t *bytes;
  size_t len;
  const char *text; /* the pattern as text (NULL for {"hex"}) */
} cfg_pattern;

/* A B2BUA routing rule (sides[].routes[]). */
typedef struct {
  const char *prefix, *to, *prepend; /* prefix "" = any number; prepend "" = none */
  int strip;
} cfg_rule;

/* A trunk's pass-through account (sides[].passthrough[]). */
typedef struct {
  const char *user, *username, *password;
} cfg_passthrough;

/* A B2BUA side ("sides"): NULL for what is absent. */
typedef struct {
  const char *name, *role, *route, *host, *address, *username, *password, *failover;
  const char *transport; /* a trunk's: "udp" | "tcp", NULL: udp */
  const char *accept;    /* a trunk's: "address" | "digest", NULL: address */
  const char *called;    /* a trunk's: "ruri" | "to" | "p-called-party-id", NULL: ruri */
  cfg_rule *rules;
  size_t n_rules;
  const char *pai;   /* identity.pai: "passthrough" | "drop" | "from", NULL: not given */
  const char *number; /* identity.number: a trunk's calling number for callers outside its gin block, or NULL */
  const char **drop; /* header names not passed to this side's leg */
  size_t n_drop;
  cfg_passthrough *pt; /* "passthrough": our users' own accounts with the provider */
  size_t n_pt;
  int reg;           /* "register": 0 absent, 1 true, 2 false, 3 {"expires"} (4: {} without it) */
  int reg_expires;   /* its expires (s), REGISTER_EXPIRES_DEFAULT unless given */
  const char *down;  /* "down": "try" | "failover" | "refuse", NULL: not given (try) */
  int monitor;       /* "monitor": seconds between OPTIONS pings, 0: not given */
  int media_relay;   /* "mediaRelay": true: the media of its calls go through our relay */
  const char *relay_iface; /* "relayInterface": the NAME of its legs' relay interface, NULL: the first */
  int reg_gin;       /* "register": {"mode": "gin"}: RFC 6140 registration for a number block */
  const char *reg_block; /* "register": {"block"}: the numbers provisioned ("+155500xx"), or NULL */
} cfg_side;

/* The value of one schema key (SCHEMA[i] <-> config.v[i]). */
typedef struct {
  bool set;             /* given, a default, or derived */
  bool given;           /* in the file or a flag */
  int64_t num;          /* bool, int; enum: index into the key's values */
  const char *str;      /* string, hex */
  const char **list;    /* list: strings (enum lists: the value names) */
  size_t n;             /* list, users, patterns: count */
  cfg_user *users;
  cfg_pattern *patterns;
  cfg_side *sides;
} cfg_value;

typedef struct {
  cfg_value v[SK_COUNT];
  listen_spec *listens; /* parsed "listen", same order */
  size_t n_listens;
} config;

typedef struct {
  bool help, version, print_config;
  config cfg;
} cli;

/* Parses argv (without the program name), reads the file, merges, validates; `board` is this
 * binary's board (the default of "board"; another value is refused). Exits 2 on error. */
void config_parse(cli *out, int argc, char **argv, const char *board);

/* --version: the release and the core build (board, wasm size). */
void config_version(void);

/* --help: generated from the schema (the keys this host implements). */
void config_usage(void);

/* The effective configuration as JSON (what --print-config prints; secrets as "***"). */
void config_print(const config *c);

/* The secure default: no users and a non-loopback listen address exits 2, unless
 * "allowUnauthenticated". */
void config_check_secure(const config *c);

/* "udp:1.2.3.4:5060", "tcp:[::1]:5060", "udp:host.name:5060" -> out; false if malformed. */
bool parse_listen(const char *spec, listen_spec *out);
/* A "mediaRelay.addresses" entry "[NAME/]ADDRESS[!ADVERTISED]" (rtpengine's interface=; config.mjs
 * parseRelayAddress): NULL with its parts in out (name "" when none), or the message of what was expected. */
typedef struct {
  char name[17], bind[64], advertise[64];
  int family; /* 4 or 6 */
} relay_addr;
const char *parse_relay_address(const char *s, relay_addr *out);
/* The interface number of relay interface `name` (its entries' order of first appearance in
 * "mediaRelay.addresses": 0 the first, the default), or -1: none of that name. */
int relay_iface_of(const config *c, const char *name);
/* A dns.servers element: the address text (64 bytes), its family (4/6) and port (53 when absent). */
bool parse_dns_server(const char *s, char addr[64], int *family, int *port);
/* metrics.listen: "127.0.0.1:9090" or "[::1]:9090" (port 0..65535). */
bool parse_ip_port(const char *s, char addr[64], int *family, int *port);
/* A trunk's address as a DNS name, NAME[:PORT]: the name's length (0: not a name; IP:PORT is not) and
 * *port (0: none, RFC 3263 locates the server). */
size_t side_name(const char *s, unsigned *port);
/* Whether trunk side sd's transport is the host's choice by RFC 3263 §4.1 (a name without a port, no
 * "transport"): main.c resolves it (resolve_transport) and gives the core "transport SIDE PROTO". */
bool side_auto_transport(const cfg_side *sd);

/* A tls.peers element "CIDR require|none [NAME]": the CIDR text (cap bytes), whether a client
 * certificate is required, and the name (NULL when absent; points into s). False if malformed. */
bool cfg_tls_peer(const char *s, char *cidr, size_t cap, bool *require, const char **name);

/* Applies every core key to the core, walking the schema (realm before users; nonceSecret random
 * when absent): set(key, value) and add(kind, bytes, len) return the core's result; any result
 * but Ok exits 2 naming the key (NotInBuild names `board`). add() wipes the core's cfg buffer after
 * a secret kind; the walker wipes its own copy of each secret line. */
#define CFG_TOO_LONG (-1000) /* what add() returns, without calling the core, for text over its cfg buffer */
typedef int32_t (*cfg_set_fn)(int key, double value);
typedef int32_t (*cfg_add_fn)(int kind, const uint8_t *bytes, size_t len);
void config_apply(const config *c, cfg_set_fn set, cfg_add_fn add, const char *board);

static inline bool cfg_bool(const config *c, int key) { return c->v[key].set && c->v[key].num != 0; }
static inline const char *cfg_str(const config *c, int key) { return c->v[key].set ? c->v[key].str : NULL; }

#endif
