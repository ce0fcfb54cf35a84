/*
 * tls.c — OpenSSL 3 for SIP over TLS (RFC 3261 §26.3.1, RFC 5630): one
 * server and one client context built from tls.* and a session per
 * connection on a nonblocking socket, with EAGAIN semantics so the stream
 * worker's poll loop drives handshakes, reads and writes.
 *
 * Only TLS 1.2 and 1.3 are offered or accepted. The contexts are process
 * globals, built by tls_init in the master before fork (children inherit
 * them) or by a worker before its loop; sessions belong to the one worker
 * that owns their connection. No shm lock is taken.
 */
#include "tls_int.h"
#include "../shm/shm.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

static SSL_CTX *server_ctx, *client_ctx;

/* The reason of OpenSSL's oldest queued error (the cause; later ones
 * only add context), and the queue cleared. */
static const char *ssl_reason(void)
{
	static char text[256];
	unsigned long e = ERR_get_error();
	const char *r = e ? ERR_reason_error_string(e) : NULL;

	if (r)
		snprintf(text, sizeof(text), "%s", r);
	else if (e)
		ERR_error_string_n(e, text, sizeof(text));
	else
		snprintf(text, sizeof(text), "unknown OpenSSL error");
	ERR_clear_error();
	return text;
}

/* A key's file must be readable: errno's reason beats OpenSSL's
 * "system library" for a missing file or a permission problem. */
static int file_readable(const char *key, const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");

	if (f) {
		fclose(f);
		return 0;
	}
	snprintf(err, errlen, "%s %s: cannot open: %s", key, path, strerror(errno));
	return -errno;
}

/* A key protected by a passphrase cannot be read by a daemon: refuse it
 * instead of prompting on a terminal. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	return 0;
}

static int load_failed(const char *key, const char *path, char *err, size_t errlen)
{
	snprintf(err, errlen, "%s %s: %s", key, path, ssl_reason());
	return -EINVAL;
}

static SSL_CTX *ctx_new(bool server, char *err, size_t errlen)
{
	SSL_CTX *ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());

	if (!ctx) {
		snprintf(err, errlen, "tls: SSL_CTX_new: %s", ssl_reason());
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
			    SSL_OP_IGNORE_UNEXPECTED_EOF);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
			 SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_CTX_set_default_passwd_cb(ctx, no_passphrase);
	return ctx;
}

/* Our certificate chain and its key, checked against each other. */
static int load_identity(SSL_CTX *ctx, const struct pinhole_conf *conf, char *err,
			 size_t errlen)
{
	const char *cert = conf->tls.certificate, *key = conf->tls.private_key;
	int rc;

	if ((rc = file_readable("tls.certificate", cert, err, errlen)) < 0 ||
	    (rc = file_readable("tls.private_key", key, err, errlen)) < 0)
		return rc;
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1)
		return load_failed("tls.certificate", cert, err, errlen);
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 &&
	    ERR_GET_REASON(ERR_peek_error()) != X509_R_KEY_VALUES_MISMATCH)
		return load_failed("tls.private_key", key, err, errlen);
	if (SSL_CTX_check_private_key(ctx) != 1) {
		snprintf(err, errlen, "tls.private_key %s: does not match tls.certificate %s: %s",
			 key, cert, ssl_reason());
		return -EINVAL;
	}
	return 0;
}

/* The CAs peers' certificates must chain to: tls.ca_list, or (client
 * side, ca_list empty) the system's. */
static int load_trust(SSL_CTX *ctx, const char *ca_list, bool server, char *err,
		      size_t errlen)
{
	STACK_OF(X509_NAME) *names;
	int rc;

	if (!*ca_list) {
		if (!server && SSL_CTX_set_default_verify_paths(ctx) != 1)
			return load_failed("tls.ca_list", "(system default)", err, errlen);
		return 0;
	}
	if ((rc = file_readable("tls.ca_list", ca_list, err, errlen)) < 0)
		return rc;
	if (SSL_CTX_load_verify_file(ctx, ca_list) != 1)
		return load_failed("tls.ca_list", ca_list, err, errlen);
	if (server) {
		names = SSL_load_client_CA_file(ca_list);
		if (!names)
			return load_failed("tls.ca_list", ca_list, err, errlen);
		SSL_CTX_set_client_CA_list(ctx, names);
	}
	return 0;
}

static int build_server(const struct pinhole_conf *conf, SSL_CTX **out, char *err,
			size_t errlen)
{
	SSL_CTX *ctx = ctx_new(true, err, errlen);
	int rc;

	if (!ctx)
		return -ENOMEM;
	if ((rc = load_identity(ctx, conf, err, errlen)) < 0 ||
	    (rc = load_trust(ctx, conf->tls.ca_list, true, err, errlen)) < 0) {
		SSL_CTX_free(ctx);
		return rc;
	}
	SSL_CTX_set_verify(ctx, conf->tls.verify_client ?
			   SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT : SSL_VERIFY_NONE,
			   NULL);
	*out = ctx;
	return 0;
}

static int build_client(const struct pinhole_conf *conf, SSL_CTX **out, char *err,
			size_t errlen)
{
	SSL_CTX *ctx = ctx_new(false, err, errlen);
	int rc = 0;

	if (!ctx)
		return -ENOMEM;
	if (*conf->tls.certificate && *conf->tls.private_key)
		rc = load_identity(ctx, conf, err, errlen);
	if (rc == 0)
		rc = load_trust(ctx, conf->tls.ca_list, false, err, errlen);
	if (rc < 0) {
		SSL_CTX_free(ctx);
		return rc;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	*out = ctx;
	return 0;
}

void tls_cleanup(void)
{
	SSL_CTX_free(server_ctx);
	SSL_CTX_free(client_ctx);
	server_ctx = client_ctx = NULL;
}

int tls_init(const struct pinhole_conf *conf, char *err, size_t errlen)
{
	SSL_CTX *server = NULL, *client = NULL;
	int rc;

	ERR_clear_error();
	if (*conf->tls.certificate || *conf->tls.private_key) {
		if (!*conf->tls.certificate || !*conf->tls.private_key) {
			snprintf(err, errlen, "%s is set but %s is not",
				 *conf->tls.certificate ? "tls.certificate" : "tls.private_key",
				 *conf->tls.certificate ? "tls.private_key" : "tls.certificate");
			return -EINVAL;
		}
		if ((rc = build_server(conf, &server, err, errlen)) < 0)
			return rc;
	}
	if ((rc = build_client(conf, &client, err, errlen)) < 0) {
		SSL_CTX_free(server);
		return rc;
	}
	tls_cleanup();
	server_ctx = server;
	client_ctx = client;
	return 0;
}

bool tls_server_ready(void)
{
	return server_ctx != NULL;
}

/* ---- sessions ------------------------------------------------------------ */

/* The client checks the server's certificate names peer_name: an IP
 * literal against its IP addresses, a name against its DNS names (and
 * sends it as SNI). */
static int expect_peer(SSL *s, const char *peer_name)
{
	unsigned char ip[16];

	if (!peer_name || !*peer_name)
		return 0;
	if (inet_pton(AF_INET, peer_name, ip) == 1 || inet_pton(AF_INET6, peer_name, ip) == 1)
		return X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(s), peer_name) == 1 ? 0 : -EINVAL;
	if (SSL_set_tlsext_host_name(s, peer_name) != 1 || SSL_set1_host(s, peer_name) != 1)
		return -EINVAL;
	return 0;
}

int tls_conn_new(int fd, bool server, const char *peer_name, void **ssl)
{
	SSL_CTX *ctx = server ? server_ctx : client_ctx;
	SSL *s;

	*ssl = NULL;
	if (!ctx)
		return -ENOTCONN;
	ERR_clear_error();
	s = SSL_new(ctx);
	if (!s || SSL_set_fd(s, fd) != 1) {
		LOG_ERR("SSL_new: %s", ssl_reason());
		SSL_free(s);
		return -ENOMEM;
	}
	if (server) {
		SSL_set_accept_state(s);
	} else {
		SSL_set_connect_state(s);
		if (expect_peer(s, peer_name) < 0) {
			LOG_WARN("tls: cannot expect peer %s: %s", peer_name, ssl_reason());
			SSL_free(s);
			return -EINVAL;
		}
	}
	*ssl = s;
	return 0;
}

/* The errno-style result of an SSL call that returned rc <= 0. */
static int io_error(SSL *s, int rc)
{
	int e = SSL_get_error(s, rc);

	switch (e) {
	case SSL_ERROR_WANT_READ:
	case SSL_ERROR_WANT_WRITE:
		return -EAGAIN;
	case SSL_ERROR_ZERO_RETURN:
		return 0;
	case SSL_ERROR_SYSCALL:
		ERR_clear_error();
		return -ECONNRESET;
	default:
		return -EPROTO;
	}
}

int tls_handshake(void *ssl)
{
	SSL *s = ssl;
	long verify;
	int rc;

	ERR_clear_error();
	rc = SSL_do_handshake(s);
	if (rc == 1) {
		STAT_INC(TLS_HANDSHAKES);
		return 0;
	}
	rc = io_error(s, rc);
	if (rc == -EAGAIN)
		return rc;
	verify = SSL_get_verify_result(s);
	if (verify != X509_V_OK) {
		STAT_INC(TLS_VERIFY_FAILURES);
		LOG_DBG("tls handshake: certificate: %s", X509_verify_cert_error_string(verify));
	} else {
		LOG_DBG("tls handshake: %s", rc == -EPROTO ? ssl_reason() : "connection closed");
	}
	ERR_clear_error();
	STAT_INC(TLS_HANDSHAKE_FAILURES);
	return rc == 0 ? -ECONNRESET : rc;
}

bool tls_want_write(const void *ssl)
{
	return SSL_want_write((const SSL *)ssl);
}

ssize_t tls_read(void *ssl, void *buf, size_t len)
{
	size_t n = 0;
	int rc;

	ERR_clear_error();
	rc = SSL_read_ex(ssl, buf, len, &n);
	if (rc == 1)
		return (ssize_t)n;
	rc = io_error(ssl, rc);
	ERR_clear_error();
	return rc;
}

ssize_t tls_write(void *ssl, const void *buf, size_t len)
{
	size_t n = 0;
	int rc;

	if (len == 0)
		return 0;
	ERR_clear_error();
	rc = SSL_write_ex(ssl, buf, len, &n);
	if (rc == 1)
		return (ssize_t)n;
	rc = io_error(ssl, rc);
	ERR_clear_error();
	return rc == 0 ? -ECONNRESET : rc;
}

void tls_conn_free(void *ssl)
{
	if (!ssl)
		return;
	if (SSL_is_init_finished((SSL *)ssl)) {
		ERR_clear_error();
		SSL_shutdown(ssl);
	}
	ERR_clear_error();
	SSL_free(ssl);
}
