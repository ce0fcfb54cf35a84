/*
 * stream_send.c — sending on TCP/TLS from any process (the transaction
 * layer, stateless replies, the keepalive pinger) and the owner's side of
 * the handoff.
 *
 * The connection is found by id (a binding's or a request's connection:
 * never replaced by a new one, RFC 5626 style) or by alias (the peer's
 * address on that listen entry). Its owner writes it directly; anyone
 * else hands the message over the owner's channel. A destination with no
 * connection gets a new one from a stream worker of the listen entry (the
 * one this process is, or one picked by a hash of the address).
 */
#include "stream_int.h"

#include <errno.h>
#include <unistd.h>

static int write_local(uint32_t id, const char *buf, size_t len)
{
	uint32_t i = conn_index_of(id);
	struct stream_conn *c = i < conn_table_get()->capacity ? stream_self->by_index[i] : NULL;

	if (!c || c->id != id)
		return -ENOTCONN;
	return stream_conn_write(stream_self, c, buf, len);
}

static bool serves(const struct proc_entry *pe, uint8_t socket)
{
	return (pe->role == PROC_TCP || pe->role == PROC_TLS) && pe->listen == socket &&
	       pe->state == PROC_RUNNING && pe->generation == shm->generation;
}

int stream_pick_worker(uint8_t socket, const struct loc_addr *dst)
{
	unsigned n = 0, k;

	for (unsigned s = 1; s < SHM_MAX_PROCS; s++)
		n += serves(&shm->procs[s], socket);
	if (!n)
		return -ENOENT;
	k = (dst->port * 2654435761u ^ dst->addr[3] ^ (unsigned)dst->addr[2] << 8) % n;
	for (unsigned s = 1; s < SHM_MAX_PROCS; s++)
		if (serves(&shm->procs[s], socket) && k-- == 0)
			return (int)s;
	return -ENOENT;
}

static int open_local(const struct loc_addr *dst, const char *buf, size_t len)
{
	struct stream_conn *c;
	int rc = stream_conn_connect(stream_self, dst, &c);

	return rc < 0 ? rc : stream_conn_write(stream_self, c, buf, len);
}

static int open_and_send(uint8_t socket, const struct loc_addr *dst, const char *buf,
			 size_t len)
{
	struct chan_msg hdr = { .magic = CHAN_MAGIC, .socket = socket, .dst = *dst };
	int slot;

	if (stream_self && stream_self->wa->listen_index == socket)
		return open_local(dst, buf, len);
	slot = stream_pick_worker(socket, dst);
	if (slot < 0)
		return -ENETUNREACH;
	return chan_send((unsigned)slot, &hdr, buf, len);
}

int stream_send(uint8_t socket, const struct sockaddr *dst, uint32_t conn_id,
		const char *buf, size_t len)
{
	struct chan_msg hdr = { .magic = CHAN_MAGIC, .socket = socket };
	struct conn_info ci;
	int rc;

	rc = conn_id ? conn_find_id(conn_id, &ci) : conn_find_alias(socket, dst, &ci);
	if (rc < 0 && conn_id)
		rc = -ENOTCONN;
	else if (rc < 0) {
		conn_addr_from_sockaddr(dst, &hdr.dst);
		rc = open_and_send(socket, &hdr.dst, buf, len);
	} else if (stream_self && ci.owner_pid == stream_self->pid) {
		rc = write_local(ci.id, buf, len);
	} else {
		hdr.conn_id = ci.id;
		hdr.dst = ci.peer;
		rc = chan_send(ci.owner_slot, &hdr, buf, len);
	}
	if (rc < 0)
		STAT_INC(TCP_SEND_ERRORS);
	return rc;
}

bool stream_conn_alive(uint32_t conn_id)
{
	struct conn_info ci;

	return conn_id && conn_find_id(conn_id, &ci) == 0;
}

/* One handed-over message: to its connection, or to dst's. */
static void chan_one(struct stream_worker *w, const struct chan_msg *h, const char *buf,
		     size_t len)
{
	struct sockaddr_storage ss;
	socklen_t slen;
	struct conn_info ci;

	if (h->conn_id) {
		if (write_local(h->conn_id, buf, len) < 0)
			STAT_INC(TCP_SEND_ERRORS);
		return;
	}
	conn_addr_to_sockaddr(&h->dst, &ss, &slen);
	if (conn_find_alias(h->socket, (struct sockaddr *)&ss, &ci) == 0) {
		stream_send(h->socket, (struct sockaddr *)&ss, ci.id, buf, len);
		return;
	}
	if (open_local(&h->dst, buf, len) < 0)
		STAT_INC(TCP_SEND_ERRORS);
}

void stream_chan_event(struct stream_worker *w)
{
	static char buf[sizeof(struct chan_msg) + SIP_MAX_MSG + 4096];
	const struct chan_msg *h = (const struct chan_msg *)buf;

	for (unsigned i = 0; i < 64; i++) {
		int fd;
		ssize_t n = chan_recv(w->chan_fd, buf, sizeof(buf), &fd);

		if (n < 0)
			return;
		if ((size_t)n >= sizeof(*h) && h->magic == CHAN_ADOPT && fd >= 0) {
			stream_conn_adopt(w, fd, h->conn_id, buf + sizeof(*h),
					  (size_t)n - sizeof(*h));
			continue;
		}
		if (fd >= 0)
			close(fd);
		if ((size_t)n >= sizeof(*h) && h->magic == CHAN_MAGIC)
			chan_one(w, h, buf + sizeof(*h), (size_t)n - sizeof(*h));
	}
}

void stream_chan_forward(int chan_fd)
{
	static char buf[sizeof(struct chan_msg) + SIP_MAX_MSG + 4096];
	const struct chan_msg *h = (const struct chan_msg *)buf;
	struct sockaddr_storage ss;
	socklen_t slen;
	int fd;
	ssize_t n;

	for (unsigned i = 0; i < 4096 && (n = chan_recv(chan_fd, buf, sizeof(buf), &fd)) >= 0;
	     i++) {
		if (fd >= 0)
			close(fd);
		if ((size_t)n < sizeof(*h) || h->magic != CHAN_MAGIC)
			continue;
		conn_addr_to_sockaddr(&h->dst, &ss, &slen);
		stream_send(h->socket, (struct sockaddr *)&ss, h->conn_id, buf + sizeof(*h),
			    (size_t)n - sizeof(*h));
	}
}
