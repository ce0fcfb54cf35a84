/*
 * tls_int.h — TLS for the stream workers (workers/tls.c, OpenSSL 3): the
 * server and client contexts built from tls.*, and one TLS session per
 * connection over a nonblocking socket.
 *
 * tls_init runs in the master (contexts are inherited by fork) or in a
 * TLS worker before its loop; the per-connection calls run only in the
 * worker that owns the connection. Nothing here takes a shm lock.
 */
#ifndef PINHOLE_TLS_INT_H
#define PINHOLE_TLS_INT_H

#include "../conf/conf.h"

#include <stdbool.h>
#include <sys/types.h>

/* Builds the contexts from conf->tls (any previous ones are freed): a
 * server context when tls.certificate and tls.private_key are set (the
 * key must match the certificate; tls.ca_list, when set, lists the CAs
 * client certificates must chain to, required with tls.verify_client),
 * and a client context that verifies servers against tls.ca_list (the
 * system's CAs when empty) and presents our certificate when there is
 * one. TLS 1.2 and 1.3 only. 0, or a negative errno with err naming the
 * key, the file and the reason (errno's or OpenSSL's). */
int tls_init(const struct pinhole_conf *conf, char *err, size_t errlen);
/* Frees the contexts (a later tls_conn_new fails with -ENOTCONN). */
void tls_cleanup(void);
/* Whether tls_init built a server context. */
bool tls_server_ready(void);

/* A session on the connected nonblocking socket fd, accepting when server,
 * else connecting to peer_name (a host name or IP literal the server's
 * certificate must name; NULL or "" skips the name check but never the
 * chain check). The fd stays the caller's. 0, -ENOTCONN without the
 * context, -ENOMEM. */
int tls_conn_new(int fd, bool server, const char *peer_name, void **ssl);
/* Moves the handshake on: 0 done, -EAGAIN when it waits for the socket
 * (tls_want_write tells which way), -EPROTO on a protocol or certificate
 * failure, -ECONNRESET when the peer went away. Counts tls.handshakes,
 * tls.handshake_failures and tls.verify_failures. The caller bounds its
 * duration: a handshake that never completes is ended by tls_conn_free. */
int tls_handshake(void *ssl);
/* Whether the last -EAGAIN waits for the socket to be writable. */
bool tls_want_write(const void *ssl);
/* Reads decrypted bytes: the count, 0 at the end of the stream, -EAGAIN
 * when nothing is ready (call again until -EAGAIN: OpenSSL may hold
 * decrypted bytes the socket no longer signals), -EPROTO or -ECONNRESET. */
ssize_t tls_read(void *ssl, void *buf, size_t len);
/* Writes: the count taken (may be less than len), -EAGAIN when the socket
 * is full (retry later with the same bytes), -EPROTO or -ECONNRESET. */
ssize_t tls_write(void *ssl, const void *buf, size_t len);
/* Sends close_notify when it can without blocking and frees the session;
 * the caller closes the fd. NULL is ignored. */
void tls_conn_free(void *ssl);

/* ---- stream_tls.c: TLS as a stream transport (stream_int.h) ---------- */

struct stream_ops;
/* The ops stream_ops_for returns for a tls listen entry. */
extern const struct stream_ops stream_tls_ops;
/* A TLS worker before its loop: builds the contexts unless they were
 * inherited from the master. 0, or a negative errno (logged). */
int stream_tls_init(const struct pinhole_conf *conf);

#endif
