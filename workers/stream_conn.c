/*
 * stream_conn.c — one stream worker's connections: registering them in
 * the shared table, reading and framing their input, handing complete
 * messages to the SIP pipeline, buffering output the socket does not take
 * at once, and cutting idle, slow and abusive peers.
 *
 * A connection with no partial input holds no buffer, so idle connections
 * cost a table entry, a small struct and a descriptor. A connection is
 * only closed between events (a failed write marks it dead), so a message
 * being handled never loses the connection it came from. Only the owning
 * worker calls these; the shared table has its own lock.
 */
#include "stream_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#define READ_CHUNK (SIP_MAX_MSG + 1)
#define MAX_OUT (4u << 20)         /* unwritten bytes before a reader counts as stuck */
#define EV_BASE 2                  /* epoll data: 0 listen, 1 channel, index + 2 */
#define READ_BURST 16

static char scratch[READ_CHUNK];

static int ep_set(struct stream_worker *w, struct stream_conn *c, int op)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP,
				  .data.u64 = (uint64_t)c->index + EV_BASE };

	if (c->want_out || c->connecting || c->hs_out)
		ev.events |= EPOLLOUT;
	if (epoll_ctl(w->epfd, op, c->fd, &ev) < 0) {
		LOG_ERR("epoll_ctl: %s", strerror(errno));
		return -errno;
	}
	return 0;
}

static int list_add(struct stream_worker *w, struct stream_conn *c)
{
	if (w->nlist == w->cap) {
		unsigned cap = w->cap ? w->cap * 2 : 256;
		struct stream_conn **l = realloc(w->list, cap * sizeof(*l));

		if (!l)
			return -ENOMEM;
		w->list = l;
		w->cap = cap;
	}
	c->pos = w->nlist;
	w->list[w->nlist++] = c;
	return 0;
}

static struct stream_conn *conn_new(struct stream_worker *w, int fd,
				    const struct sockaddr *peer, socklen_t plen, bool outgoing)
{
	const struct conf_listen *l = &w->wa->conf->listen[w->wa->listen_index];
	struct stream_conn *c = calloc(1, sizeof(*c));
	int rc;

	if (!c || list_add(w, c) < 0) {
		free(c);
		return NULL;
	}
	rc = conn_add((uint16_t)w->slot, l->proto, (uint8_t)w->wa->listen_index, outgoing,
		      peer, w->wa->conf->tcp.max_connections, &c->id, &c->index);
	if (rc < 0) {
		w->nlist--;
		free(c);
		return NULL;
	}
	c->fd = fd;
	c->proto = l->proto;
	c->socket = (uint8_t)w->wa->listen_index;
	c->ops = stream_ops_for(l->proto);
	c->last_ms = stream_now_ms();
	memcpy(&c->peer, peer, plen);
	c->peer_len = plen;
	w->by_index[c->index] = c;
	return c;
}

int stream_conn_accepted(struct stream_worker *w, int fd, const struct sockaddr *peer,
			 socklen_t plen)
{
	struct stream_conn *c = conn_new(w, fd, peer, plen, false);
	int one = 1;

	if (!c) {
		STAT_INC(TCP_REJECTED);
		close(fd);
		return -ENOSPC;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	STAT_INC(TCP_ACCEPTED);
	c->handshaking = c->ops->handshake(c) != 0;
	c->msg_start_ms = c->handshaking ? c->last_ms : 0;
	if (ep_set(w, c, EPOLL_CTL_ADD) < 0) {
		stream_conn_close(w, c);
		return -EIO;
	}
	return 0;
}

/* The outgoing connection leaves from the listen entry's address. */
static int connect_fd(const struct conf_listen *l, const struct loc_addr *dst)
{
	struct sockaddr_storage ss, src;
	socklen_t len, slen;
	struct loc_addr a = { .family = dst->family };
	int fd = socket(dst->family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	if (inet_pton(dst->family, l->address, a.addr) == 1) {
		conn_addr_to_sockaddr(&a, &src, &slen);
		if (bind(fd, (struct sockaddr *)&src, slen) < 0)
			LOG_DBG("bind for connect: %s", strerror(errno));
	}
	conn_addr_to_sockaddr(dst, &ss, &len);
	if (connect(fd, (struct sockaddr *)&ss, len) < 0 && errno != EINPROGRESS) {
		int err = errno;

		close(fd);
		return -err;
	}
	return fd;
}

int stream_conn_connect(struct stream_worker *w, const struct loc_addr *dst,
			struct stream_conn **out)
{
	const struct conf_listen *l = &w->wa->conf->listen[w->wa->listen_index];
	struct sockaddr_storage ss;
	socklen_t len;
	struct stream_conn *c;
	int fd = connect_fd(l, dst);

	if (fd < 0) {
		LOG_DBG("connect: %s", strerror(-fd));
		return fd;
	}
	conn_addr_to_sockaddr(dst, &ss, &len);
	c = conn_new(w, fd, (struct sockaddr *)&ss, len, true);
	if (!c) {
		STAT_INC(TCP_REJECTED);
		close(fd);
		return -ENOSPC;
	}
	c->connecting = true;
	c->msg_start_ms = c->last_ms;
	if (ep_set(w, c, EPOLL_CTL_ADD) < 0) {
		stream_conn_close(w, c);
		return -EIO;
	}
	*out = c;
	return 0;
}

/* Forgets c in this worker; its table entry stays as it is. */
static void detach(struct stream_worker *w, struct stream_conn *c)
{
	struct stream_conn *last = w->list[w->nlist - 1];

	c->ops->close(c);
	w->by_index[c->index] = NULL;
	last->pos = c->pos;
	w->list[c->pos] = last;
	w->nlist--;
	free(c->in);
	free(c->out);
	free(c);
}

void stream_conn_close(struct stream_worker *w, struct stream_conn *c)
{
	conn_del(c->id);
	detach(w, c);
	STAT_INC(TCP_CLOSED);
}

/* ---- output ---------------------------------------------------------- */

static int out_append(struct stream_worker *w, struct stream_conn *c, const char *buf,
		      size_t len)
{
	size_t pending = c->out_len - c->out_off;
	char *o;

	if (pending + len > MAX_OUT)
		return -ENOBUFS;
	if (c->out_off) {
		memmove(c->out, c->out + c->out_off, pending);
		c->out_len = pending;
		c->out_off = 0;
	}
	o = realloc(c->out, pending + len);
	if (!o)
		return -ENOMEM;
	memcpy(o + pending, buf, len);
	c->out = o;
	c->out_len = pending + len;
	if (!c->want_out) {
		c->want_out = true;
		ep_set(w, c, EPOLL_CTL_MOD);
	}
	return 0;
}

static void mark_dead(struct stream_conn *c)
{
	c->closing = true;
	c->out_len = c->out_off = 0;
}

int stream_conn_write(struct stream_worker *w, struct stream_conn *c, const char *buf,
		      size_t len)
{
	ssize_t n = 0;
	int rc;

	if (c->closing && c->out_len == c->out_off && !c->connecting)
		return -EPIPE;
	c->last_ms = stream_now_ms();
	if (!c->connecting && !c->handshaking && c->out_len == c->out_off) {
		n = c->ops->write(c, buf, len);
		if (n == -EAGAIN)
			n = 0;
		if (n < 0) {
			STAT_INC(TCP_SEND_ERRORS);
			mark_dead(c);
			return (int)n;
		}
		if ((size_t)n == len)
			return 0;
	}
	rc = out_append(w, c, buf + n, len - (size_t)n);
	if (rc < 0) {
		STAT_INC(TCP_SEND_ERRORS);
		mark_dead(c);
	}
	return rc;
}

static void flush_out(struct stream_worker *w, struct stream_conn *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = c->ops->write(c, c->out + c->out_off, c->out_len - c->out_off);

		if (n == -EAGAIN)
			return;
		if (n < 0) {
			STAT_INC(TCP_SEND_ERRORS);
			mark_dead(c);
			return;
		}
		c->out_off += (size_t)n;
	}
	free(c->out);
	c->out = NULL;
	c->out_len = c->out_off = 0;
	c->want_out = false;
	ep_set(w, c, EPOLL_CTL_MOD);
}

/* ---- input ----------------------------------------------------------- */

static void deliver(struct stream_worker *w, struct stream_conn *c, char *buf, size_t len)
{
	struct sip_rx rx = { .buf = buf, .len = len, .srclen = c->peer_len, .fd = -1,
			     .proto = c->proto, .socket = c->socket, .conn_id = c->id,
			     .conf = w->wa->conf };

	memcpy(&rx.src, &c->peer, c->peer_len);
	if (c->proto == CONF_PROTO_TLS)
		STAT_INC(CORE_RCV_TLS);
	else
		STAT_INC(CORE_RCV_TCP);
	pipeline_handle(&rx);
}

/* Handles every whole message in buf[0..n); returns the bytes used. */
static size_t consume(struct stream_worker *w, struct stream_conn *c, char *buf, size_t n)
{
	const struct pinhole_conf *conf = w->wa->conf;
	size_t off = 0, len = 0;

	while (off < n && !c->closing) {
		switch (stream_frame(buf + off, n - off, conf->tcp.max_header,
				     conf->tcp.max_message, &len)) {
		case FRAME_NEED_MORE:
			return off;
		case FRAME_PING:
			stream_conn_write(w, c, "\r\n", 2);
			break;
		case FRAME_PONG:
			break;
		case FRAME_MESSAGE:
			deliver(w, c, buf + off, len);
			break;
		case FRAME_NO_LENGTH:      /* answered 400; then framing is lost */
			deliver(w, c, buf + off, len);
			STAT_INC(TCP_BAD_FRAMES);
			c->closing = true;
			return n;
		case FRAME_TOO_LARGE:
		case FRAME_BAD:
			STAT_INC(TCP_BAD_FRAMES);
			c->closing = true;
			return n;
		}
		off += len;
	}
	return c->closing ? n : off;
}

static int keep_rest(struct stream_conn *c, const char *rest, size_t n, bool fresh)
{
	if (n == 0) {
		free(c->in);
		c->in = NULL;
		c->in_len = c->in_cap = 0;
		c->msg_start_ms = 0;
		return 0;
	}
	if (n > c->in_cap) {
		char *p = realloc(c->in, n);

		if (!p)
			return -ENOMEM;
		c->in = p;
		c->in_cap = n;
	}
	memmove(c->in, rest, n);
	c->in_len = n;
	if (fresh)
		c->msg_start_ms = c->last_ms;
	return 0;
}

/* New bytes in scratch[0..n): framed with what was kept before. */
static int take_input(struct stream_worker *w, struct stream_conn *c, size_t n)
{
	size_t used, had = c->in_len;
	char *buf = scratch;

	if (had) {
		char *p = realloc(c->in, had + n);

		if (!p)
			return -ENOMEM;
		memcpy(p + had, scratch, n);
		c->in = p;
		c->in_cap = had + n;
		buf = p;
	}
	n += had;
	used = consume(w, c, buf, n);
	return keep_rest(c, buf + used, n - used, had == 0 || used > 0);
}

/* Until -EAGAIN, since TLS may hold decrypted bytes the socket no longer
 * signals; after READ_BURST reads the connection is marked to be read
 * again after the other events, so one busy peer cannot starve the rest. */
static void read_input(struct stream_worker *w, struct stream_conn *c)
{
	c->again = false;
	for (unsigned i = 0; !c->closing; i++) {
		ssize_t n;

		if (i == READ_BURST) {
			c->again = w->again = true;
			return;
		}
		n = c->ops->read(c, scratch, sizeof(scratch));
		if (n == -EAGAIN)
			return;
		if (n <= 0 || take_input(w, c, (size_t)n) < 0) {
			mark_dead(c);
			return;
		}
		c->last_ms = stream_now_ms();
		if (c->last_ms / 1000 != c->last_touch_s) {
			c->last_touch_s = c->last_ms / 1000;
			conn_touch(c->index);
		}
	}
}

/* One step of the transport's handshake (TLS; none for TCP). EPOLLOUT is
 * registered while the handshake waits to write, and refreshed when
 * `refresh` (the connect that registered it has finished). */
static void handshake_step(struct stream_worker *w, struct stream_conn *c, bool refresh)
{
	bool was = c->hs_out;
	int rc = c->ops->handshake(c);

	if (rc < 0 && rc != -EAGAIN) {
		mark_dead(c);
		return;
	}
	c->handshaking = rc != 0;
	if (refresh || c->hs_out != was)
		ep_set(w, c, EPOLL_CTL_MOD);
}

static void connected(struct stream_worker *w, struct stream_conn *c)
{
	int err = 0;
	socklen_t len = sizeof(err);

	getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
	if (err) {
		LOG_DBG("connect: %s", strerror(err));
		STAT_INC(TCP_SEND_ERRORS);
		mark_dead(c);
		return;
	}
	c->connecting = false;
	c->msg_start_ms = 0;
	STAT_INC(TCP_CONNECTED);
	c->handshaking = true;
	handshake_step(w, c, true);
}

void stream_conn_event(struct stream_worker *w, struct stream_conn *c, uint32_t events)
{
	if (c->connecting && (events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
		connected(w, c);
	if (c->handshaking && !c->closing)
		handshake_step(w, c, false);
	if (!c->connecting && !c->handshaking && !c->closing &&
	    (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)))
		read_input(w, c);
	if (!c->connecting && !c->handshaking && c->out_off < c->out_len)
		flush_out(w, c);
	if (c->closing && c->out_off >= c->out_len)
		stream_conn_close(w, c);
}

/* Idle connections, messages not finished in time, connects and
 * handshakes that hang, and connections a failed write left dead. */
void stream_conn_timeouts(struct stream_worker *w, int64_t now_ms)
{
	const struct pinhole_conf *conf = w->wa->conf;
	int64_t idle = (int64_t)conf->tcp.idle_timeout * 1000;
	int64_t msg = (int64_t)conf->tcp.message_timeout * 1000;

	for (unsigned i = w->nlist; i-- > 0;) {
		struct stream_conn *c = w->list[i];
		bool late = now_ms - c->last_ms > idle ||
			    (c->msg_start_ms && now_ms - c->msg_start_ms > msg);

		if (late)
			STAT_INC(TCP_TIMEOUTS);
		if (late || (c->closing && c->out_off >= c->out_len))
			stream_conn_close(w, c);
	}
}

/* ---- reloads: connections move to the new generation ----------------- */

static int adopt_init(struct stream_worker *w, struct stream_conn *c, int fd, uint32_t id)
{
	struct conn_info ci;

	if (conn_take_over(id, (uint16_t)w->slot, &ci) < 0)
		return -ENOENT;
	c->fd = fd;
	c->id = id;
	c->index = conn_index_of(id);
	c->proto = ci.proto;
	c->socket = ci.socket;
	c->ops = stream_ops_for(ci.proto);
	c->last_ms = stream_now_ms();
	conn_addr_to_sockaddr(&ci.peer, &c->peer, &c->peer_len);
	if (!c->ops || list_add(w, c) < 0) {
		conn_del(id);
		return -ENOMEM;
	}
	w->by_index[c->index] = c;
	return 0;
}

void stream_conn_adopt(struct stream_worker *w, int fd, uint32_t id, const char *in,
		       size_t len)
{
	struct stream_conn *c = calloc(1, sizeof(*c));

	if (!c || adopt_init(w, c, fd, id) < 0) {
		free(c);
		close(fd);
		return;
	}
	if (ep_set(w, c, EPOLL_CTL_ADD) < 0) {
		stream_conn_close(w, c);
		return;
	}
	if (len && len <= sizeof(scratch)) {
		memcpy(scratch, in, len);
		if (take_input(w, c, len) < 0)
			mark_dead(c);
	}
}

/* Waits (3 s at most) for a channel the new worker may not have bound yet. */
static int send_adopt(unsigned slot, const struct chan_msg *h, const struct stream_conn *c)
{
	int rc = -EAGAIN;

	for (unsigned i = 0; i < 60 && rc < 0; i++) {
		rc = chan_send_fd(slot, h, c->in, c->in_len, c->fd);
		if (rc == -ECONNREFUSED || rc == -ENOENT || rc == -EAGAIN)
			poll(NULL, 0, 50);
		else if (rc < 0)
			return rc;
	}
	return rc;
}

void stream_conn_hand_over(struct stream_worker *w)
{
	if (shm->procs[w->slot].generation >= shm->generation)
		return;
	for (unsigned i = w->nlist; i-- > 0;) {
		struct stream_conn *c = w->list[i];
		struct chan_msg h = { .magic = CHAN_ADOPT, .conn_id = c->id, .socket = c->socket };
		int slot;

		if (c->proto != CONF_PROTO_TCP || c->connecting || c->closing)
			continue;
		if (c->out_off < c->out_len)
			flush_out(w, c);
		conn_addr_from_sockaddr((struct sockaddr *)&c->peer, &h.dst);
		slot = stream_pick_worker(c->socket, &h.dst);
		if (slot >= 0 && send_adopt((unsigned)slot, &h, c) == 0)
			detach(w, c);
	}
}

void stream_conn_read_again(struct stream_worker *w)
{
	w->again = false;
	for (unsigned i = w->nlist; i-- > 0;) {
		struct stream_conn *c = w->list[i];

		if (c->again)
			stream_conn_event(w, c, EPOLLIN);
	}
}
