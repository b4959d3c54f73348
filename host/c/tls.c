/* TLS for the native host with OpenSSL 3 (tls.h). Non-blocking throughout: main.c's poll loop waits for
 * whatever event a session asks for (SSL_ERROR_WANT_READ/WRITE). */
#include "tls.h"

#include <errno.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static SSL_CTX *server_ctx, *client_ctx;
static bool verify_server;

/* tls.peers: per network, whether a client there must present a certificate, and the name its
 * certificate (or the certificate of a server there we connect to) must carry. */
#define MAX_PEERS 16
typedef struct {
  int family;
  uint8_t addr[16];
  int bits;
  bool require;
  const char *name; /* NULL: none (the config's string: lives as long as the process) */
} tls_peer;
static tls_peer peers[MAX_PEERS];
static int npeers;

static bool parse_peer(const char *s, tls_peer *p) {
  char cidr[64];
  if (!cfg_tls_peer(s, cidr, sizeof cidr, &p->require, &p->name)) return false;
  char *slash = strchr(cidr, '/');
  if (slash) *slash = 0;
  p->family = strchr(cidr, ':') ? 6 : 4;
  if (inet_pton(p->family == 6 ? AF_INET6 : AF_INET, cidr, p->addr) != 1) return false;
  p->bits = slash ? atoi(slash + 1) : p->family == 6 ? 128 : 32;
  return true;
}

/* The first tls.peers entry holding `ip` (numeric text), or NULL. */
static const tls_peer *peer_of(const char *ip) {
  uint8_t a[16];
  int fam = strchr(ip, ':') ? 6 : 4;
  if (inet_pton(fam == 6 ? AF_INET6 : AF_INET, ip, a) != 1) return NULL;
  static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (fam == 6 && memcmp(a, mapped, 12) == 0) { /* an IPv4 client on an IPv6 socket */
    memmove(a, a + 12, 4);
    fam = 4;
  }
  for (int i = 0; i < npeers; i++) {
    const tls_peer *p = &peers[i];
    if (p->family != fam) continue;
    int full = p->bits / 8, rest = p->bits % 8;
    if (memcmp(a, p->addr, (size_t)full) != 0) continue;
    if (rest && ((a[full] ^ p->addr[full]) & (uint8_t)(0xff << (8 - rest)))) continue;
    return p;
  }
  return NULL;
}

/* The reason of the last OpenSSL error (the queue emptied), or `fallback`. */
static void ssl_reason(char *err, size_t cap, const char *fallback) {
  unsigned long e = ERR_get_error();
  if (e == 0) {
    snprintf(err, cap, "%s", fallback);
    return;
  }
  const char *r = ERR_reason_error_string(e);
  if (r) snprintf(err, cap, "%s", r);
  else ERR_error_string_n(e, err, cap);
  ERR_clear_error();
}

/* The file must be readable: its errno named, before OpenSSL's own message would hide it. */
static bool readable(const char *file, char *err, size_t cap) {
  FILE *f = fopen(file, "rb");
  if (!f) {
    snprintf(err, cap, "cannot read \"%s\": %s", file, strerror(errno));
    return false;
  }
  fclose(f);
  return true;
}

static bool load_own(SSL_CTX *ctx, const char *cert, const char *keyf, const char **key, char *err, size_t cap) {
  char why[256];
  *key = "tls.certificate";
  if (!readable(cert, err, cap)) return false;
  if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
    ssl_reason(why, sizeof why, "no certificate");
    snprintf(err, cap, "\"%s\": invalid PEM certificate (%s)", cert, why);
    return false;
  }
  *key = "tls.key";
  if (!readable(keyf, err, cap)) return false;
  if (SSL_CTX_use_PrivateKey_file(ctx, keyf, SSL_FILETYPE_PEM) != 1) {
    ssl_reason(why, sizeof why, "no key");
    snprintf(err, cap, "\"%s\": invalid PEM private key (%s)", keyf, why);
    return false;
  }
  if (SSL_CTX_check_private_key(ctx) != 1) {
    ssl_reason(why, sizeof why, "key mismatch");
    snprintf(err, cap, "\"%s\" does not go with tls.certificate \"%s\" (%s)", keyf, cert, why);
    return false;
  }
  return true;
}

static bool load_ca(SSL_CTX *ctx, const char *ca, const char **key, char *err, size_t cap) {
  char why[256];
  *key = "tls.ca";
  if (!readable(ca, err, cap)) return false;
  if (SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1) {
    ssl_reason(why, sizeof why, "no certificate");
    snprintf(err, cap, "\"%s\": invalid PEM CA certificates (%s)", ca, why);
    return false;
  }
  return true;
}

bool tls_init(const config *cfg, const char **key, char *err, size_t errcap) {
  const char *cert = cfg_str(cfg, SK_TLS_CERTIFICATE), *keyf = cfg_str(cfg, SK_TLS_KEY), *ca = cfg_str(cfg, SK_TLS_CA);
  verify_server = cfg_bool(cfg, SK_TLS_VERIFY_SERVER);
  npeers = 0;
  if (cfg->v[SK_TLS_PEERS].set)
    for (size_t i = 0; i < cfg->v[SK_TLS_PEERS].n && npeers < MAX_PEERS; i++)
      if (parse_peer(cfg->v[SK_TLS_PEERS].list[i], &peers[npeers])) npeers++; /* config.c checked each */
  server_ctx = SSL_CTX_new(TLS_server_method());
  client_ctx = SSL_CTX_new(TLS_client_method());
  if (!server_ctx || !client_ctx) {
    *key = "tls.certificate";
    ssl_reason(err, errcap, "cannot make a TLS context");
    return false;
  }
  for (int i = 0; i < 2; i++) {
    SSL_CTX *ctx = i ? client_ctx : server_ctx;
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION); /* TLS 1.2: no write that must wait for a read */
    /* a queued write may be retried from a grown (moved) buffer: main.c's write queue */
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    if (cert && keyf && !load_own(ctx, cert, keyf, key, err, errcap)) return false;
    if (ca && !load_ca(ctx, ca, key, err, errcap)) return false;
  }
  if (cfg_bool(cfg, SK_TLS_VERIFY_CLIENT)) SSL_CTX_set_verify(server_ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
  if (ca) {
    STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(ca);
    if (names) SSL_CTX_set_client_CA_list(server_ctx, names);
  }
  if (verify_server) {
    if (!ca) SSL_CTX_set_default_verify_paths(client_ctx);
    SSL_CTX_set_verify(client_ctx, SSL_VERIFY_PEER, NULL);
  }
  ERR_clear_error();
  return true;
}

SSL *tls_new(int fd, bool server, const char *ip, const char *name, char *err, size_t errcap) {
  SSL *ssl = SSL_new(server ? server_ctx : client_ctx);
  if (!ssl || SSL_set_fd(ssl, fd) != 1) {
    ssl_reason(err, errcap, "cannot make a TLS session");
    if (ssl) SSL_free(ssl);
    return NULL;
  }
  const tls_peer *p = ip ? peer_of(ip) : NULL;
  if (server) {
    SSL_set_accept_state(ssl);
    /* a tls.peers entry decides for a client there, over tls.verifyClient (the context's default) */
    if (p && p->require) SSL_set_verify(ssl, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
    else if (p) SSL_set_verify(ssl, SSL_VERIFY_NONE, NULL);
    if (p && p->require && p->name && SSL_set1_host(ssl, p->name) != 1) {
      ssl_reason(err, errcap, "cannot set the name to verify");
      SSL_free(ssl);
      return NULL;
    }
  } else {
    SSL_set_connect_state(ssl);
    /* a server there is verified by its name (and told it: SNI), not by its address: a tls.peers entry's,
     * else the name we resolved to reach it (a trunk or a Request-URI host by name, RFC 5922 §4.1) */
    const char *nm = p && p->name ? p->name : name;
    if (nm) {
      if (SSL_set_tlsext_host_name(ssl, nm) != 1 || (verify_server && SSL_set1_host(ssl, nm) != 1)) {
        ssl_reason(err, errcap, "cannot set the server name");
        SSL_free(ssl);
        return NULL;
      }
    } else if (verify_server && ip) {
      X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), ip);
    }
  }
  return ssl;
}

/* Sorts an SSL call's failure: 0 would block (*want set), -1 failed (reason in err). */
static int failure(SSL *ssl, int r, short *want, char *err, size_t cap) {
  int e = SSL_get_error(ssl, r);
  if (e == SSL_ERROR_WANT_READ) { *want = POLLIN; return 0; }
  if (e == SSL_ERROR_WANT_WRITE) { *want = POLLOUT; return 0; }
  long v = SSL_get_verify_result(ssl);
  unsigned long q = ERR_peek_error();
  if (v != X509_V_OK && q != 0) {
    const char *r2 = ERR_reason_error_string(q);
    snprintf(err, cap, "%s: %s", r2 ? r2 : "certificate verify failed", X509_verify_cert_error_string(v));
    ERR_clear_error();
  } else if (e == SSL_ERROR_SYSCALL && q == 0) {
    snprintf(err, cap, "%s", errno ? strerror(errno) : "connection closed by the peer");
  } else if (e == SSL_ERROR_ZERO_RETURN) {
    snprintf(err, cap, "connection closed by the peer");
  } else {
    ssl_reason(err, cap, "TLS error");
  }
  return -1;
}

int tls_handshake(SSL *ssl, short *want, char *err, size_t errcap) {
  ERR_clear_error();
  errno = 0;
  int r = SSL_do_handshake(ssl);
  if (r == 1) return 1;
  return failure(ssl, r, want, err, errcap) == 0 ? 0 : -1;
}

ssize_t tls_read(SSL *ssl, void *buf, size_t n, short *want, char *err, size_t errcap) {
  ERR_clear_error();
  errno = 0;
  size_t got = 0;
  int r = SSL_read_ex(ssl, buf, n, &got);
  if (r == 1) return (ssize_t)got;
  if (SSL_get_error(ssl, r) == SSL_ERROR_ZERO_RETURN) return 0; /* close_notify */
  int f = failure(ssl, r, want, err, errcap);
  if (f == 0) return -1;
  if (ERR_peek_error() == 0 && errno == 0) return 0; /* EOF without close_notify: closed all the same */
  return -2;
}

ssize_t tls_write(SSL *ssl, const void *buf, size_t n, short *want, char *err, size_t errcap) {
  ERR_clear_error();
  errno = 0;
  size_t put = 0;
  int r = SSL_write_ex(ssl, buf, n, &put);
  if (r == 1) return (ssize_t)put;
  return failure(ssl, r, want, err, errcap) == 0 ? -1 : -2;
}

int tls_pending(SSL *ssl) { return SSL_pending(ssl); }

void tls_free(SSL *ssl) {
  if (SSL_is_init_finished(ssl)) (void)SSL_shutdown(ssl); /* one non-blocking try at close_notify */
  SSL_free(ssl);
  ERR_clear_error();
}
