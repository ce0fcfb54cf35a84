/*
 * stream_tcp.c — the byte I/O of a plain TCP connection (struct
 * stream_ops): no handshake, read/write on the non-blocking socket.
 * stream_ops_for picks the ops of a listen entry's protocol; TLS plugs
 * in here (see stream_int.h). Called by the stream worker owning c.
 */
#include "stream_int.h"
#include "tls_int.h"

#include <errno.h>
#include <unistd.h>

static int tcp_handshake(struct stream_conn *c)
{
	return 0;
}

static ssize_t tcp_read(struct stream_conn *c, void *buf, size_t len)
{
	ssize_t n = read(c->fd, buf, len);

	if (n < 0)
		return errno == EWOULDBLOCK || errno == EINTR ? -EAGAIN : -errno;
	return n;
}

static ssize_t tcp_write(struct stream_conn *c, const void *buf, size_t len)
{
	ssize_t n = send(c->fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);

	if (n < 0)
		return errno == EWOULDBLOCK || errno == EINTR ? -EAGAIN : -errno;
	return n;
}

static void tcp_close(struct stream_conn *c)
{
	close(c->fd);
	c->fd = -1;
}

const struct stream_ops stream_tcp_ops = {
	.handshake = tcp_handshake, .read = tcp_read, .write = tcp_write, .close = tcp_close,
};

const struct stream_ops *stream_ops_for(uint8_t proto)
{
	return proto == CONF_PROTO_TCP ? &stream_tcp_ops :
	       proto == CONF_PROTO_TLS ? &stream_tls_ops : NULL;
}
