/*
 * stream_tls.c — the byte I/O of a TLS connection (struct stream_ops) on
 * top of tls.c: the session starts at the first handshake call (server
 * side for accepted connections, client side verifying the peer's
 * address for connections pinhole opened), then reads and writes go
 * through OpenSSL with the same -EAGAIN rules as plain TCP. A handshake
 * that never completes is cut by the worker's message timeout like a
 * message that never completes. Called by the stream worker owning c.
 */
#include "stream_int.h"
#include "tls_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <unistd.h>

int stream_tls_init(const struct pinhole_conf *conf)
{
	char err[512];
	int rc;

	if (tls_server_ready())
		return 0;
	rc = tls_init(conf, err, sizeof(err));
	if (rc < 0)
		LOG_ERR("%s", err);
	else if (!tls_server_ready())
		LOG_ERR("a tls listener needs tls.certificate and tls.private_key");
	return rc < 0 ? rc : tls_server_ready() ? 0 : -EINVAL;
}

int stream_tls_check(const struct pinhole_conf *conf, char *err, size_t errlen)
{
	int rc;

	for (unsigned i = 0; i < conf->nlisten; i++) {
		if (conf->listen[i].proto != CONF_PROTO_TLS)
			continue;
		if ((rc = tls_init(conf, err, errlen)) < 0)
			return rc;
		if (tls_server_ready())
			return 0;
		snprintf(err, errlen, "a tls listener needs tls.certificate and tls.private_key");
		return -EINVAL;
	}
	return 0;
}

/* Accepted connections are the server side; those pinhole opened check
 * that the server's certificate names the address they connected to. */
static int session_start(struct stream_conn *c)
{
	struct conn_info info;
	char peer[INET6_ADDRSTRLEN] = "";
	uint16_t port;
	bool outgoing = conn_find_id(c->id, &info) == 0 && info.outgoing;

	if (outgoing && sip_sockaddr_text((const struct sockaddr *)&c->peer, peer, sizeof(peer),
					  &port) < 0)
		return -EAFNOSUPPORT;
	return tls_conn_new(c->fd, !outgoing, peer, &c->ssl);
}

static int tls_op_handshake(struct stream_conn *c)
{
	int rc;

	if (!c->ssl && (rc = session_start(c)) < 0)
		return rc;
	rc = tls_handshake(c->ssl);
	c->hs_out = rc == -EAGAIN && tls_want_write(c->ssl);
	return rc;
}

static ssize_t tls_op_read(struct stream_conn *c, void *buf, size_t len)
{
	return c->ssl ? tls_read(c->ssl, buf, len) : -ENOTCONN;
}

static ssize_t tls_op_write(struct stream_conn *c, const void *buf, size_t len)
{
	return c->ssl ? tls_write(c->ssl, buf, len) : -ENOTCONN;
}

static void tls_op_close(struct stream_conn *c)
{
	tls_conn_free(c->ssl);
	c->ssl = NULL;
	close(c->fd);
	c->fd = -1;
}

const struct stream_ops stream_tls_ops = {
	.handshake = tls_op_handshake, .read = tls_op_read, .write = tls_op_write,
	.close = tls_op_close,
};
