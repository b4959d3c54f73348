/* TLS for the native host (RFC 3261 §26: sips:, transport=tls, port 5061) with OpenSSL 3. A TLS
 * connection is one of main.c's stream connections with an SSL attached: the same table, framing and
 * bounds as TCP; this file holds the two SSL_CTX (server: our listeners; client: connections we open)
 * and non-blocking wrappers that say which poll event the SSL layer waits for.
 *
 *   tls.certificate, tls.key   what our listeners (and our outgoing connections) present
 *   tls.ca                     what peers' certificates are verified against (clients with
 *                              tls.verifyClient, servers with tls.verifyServer; system CAs when absent)
 *   tls.peers                  per network: a client certificate required or not, and the name
 *                              a peer's certificate must carry (client or server)
 */
#ifndef SIPLING_TLS_H
#define SIPLING_TLS_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "config.h"

typedef struct ssl_st SSL;

/* Reads the tls.* files and makes the contexts. On an unreadable or invalid file: false, with the key
 * to name in *key and the reason (naming the file) in err. */
bool tls_init(const config *cfg, const char **key, char *err, size_t errcap);

/* A TLS session on connected socket fd with the peer at numeric `ip`: accepting (server: a client
 * certificate required or not as the first tls.peers entry holding ip says, else tls.verifyClient) or
 * connecting (client: the server's certificate must name that entry's NAME, else `name`, the name
 * resolved to reach it (NULL: none), else that IP, when tls.verifyServer). NULL on failure (reason in err). */
SSL *tls_new(int fd, bool server, const char *ip, const char *name, char *err, size_t errcap);

/* Drives the handshake: 1 done, 0 in progress (*want: POLLIN or POLLOUT), -1 failed (reason in err). */
int tls_handshake(SSL *ssl, short *want, char *err, size_t errcap);

/* Reads decrypted bytes: >0 bytes, 0 the peer closed, -1 would block (*want), -2 failed (reason in err). */
ssize_t tls_read(SSL *ssl, void *buf, size_t n, short *want, char *err, size_t errcap);

/* Writes: >0 bytes taken, -1 would block (*want; retry with the same bytes first), -2 failed (err). */
ssize_t tls_write(SSL *ssl, const void *buf, size_t n, short *want, char *err, size_t errcap);

/* Decrypted bytes already buffered (readable without the socket becoming readable). */
int tls_pending(SSL *ssl);

/* Sends close_notify (best effort, never blocks) and frees the session. */
void tls_free(SSL *ssl);

#endif
