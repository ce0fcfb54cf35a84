/*
 * worker_uring.c — the relay worker's io_uring loop (relay_worker_run
 * tries it first): RTP/RTCP of the worker's slices with few system calls
 * and few wake-ups, and the rtpproxy control socket.
 *
 * Every port gets one multishot recvmsg, armed once, that takes buffers
 * from one provided-buffer ring. The ring defers completion work to the
 * worker (DEFER_TASKRUN), so arrivals do not wake it one by one: while
 * media flows it sleeps until URING_WAIT_NR datagrams are due or
 * URING_WAIT_US passed, reaps them all, queues one sendmsg per accepted
 * packet from the other leg's port, and submits the sends with the next
 * wait: one io_uring_enter per round. A buffer goes back to the ring when
 * its send completes, or at once when its packet is dropped. The kernel
 * bounds the datagrams one multishot receive takes per wake-up, so a
 * flooded port delays the others by a batch at most. The control socket
 * is polled one shot at a time and re-armed after each read, so datagrams
 * a read left behind wake the loop again. Process-local state only.
 */
#include "fwd_int.h"

#include <errno.h>
#include <liburing.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <unistd.h>

#define URING_BUFS 2048u        /* receive buffers, a power of two */
#define URING_BGID 0
#define URING_NAME sizeof(struct sockaddr_in6)
#define URING_BUF_LEN (sizeof(struct io_uring_recvmsg_out) + URING_NAME + RELAY_PKT_MAX)
#define URING_STRIDE ((URING_BUF_LEN + 63u) & ~(size_t)63u)
#define URING_SQ 4096u
#define URING_CQ_MAX 65536u
#define URING_WAIT_NR 64u
#define URING_WAIT_US 2000

enum { UD_RECV = 1, UD_SEND = 2, UD_CONTROL = 3 };
#define UD(kind, v) ((uint64_t)(kind) << 32 | (uint32_t)(v))

/* The way out of the packet in buffer bid: sends[bid] (mh and iov only
 * when IORING_OP_SEND takes no destination address on this kernel). */
struct uring_send {
	struct msghdr mh;
	struct iovec iov;
	struct sockaddr_storage dst;
	uint32_t q;
	unsigned leg;
};

struct uring {
	struct io_uring ring;
	struct io_uring_buf_ring *br;
	char *bufs;
	struct uring_send *sends;
	uint32_t *rearm;                /* ports whose multishot receive ended */
	unsigned nrearm, nrecycled, nsends;
	bool control_rearm, busy, ring_up, sendto;
	uint32_t control_events;
	struct msghdr recv_mh;          /* the layout of a received buffer */
	const struct pinhole_conf *conf;
	struct relay_fwd_round r;
};

static char *buf_of(struct uring *u, unsigned bid)
{
	return u->bufs + (size_t)bid * URING_STRIDE;
}

static void recycle(struct uring *u, unsigned bid)
{
	io_uring_buf_ring_add(u->br, buf_of(u, bid), URING_BUF_LEN, (unsigned short)bid,
			      io_uring_buf_ring_mask(URING_BUFS), (int)u->nrecycled++);
}

/* A free submission entry, submitting the queued ones when the queue is
 * full; NULL if even that fails. */
static struct io_uring_sqe *sqe_get(struct uring *u)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&u->ring);

	if (!sqe && io_uring_submit(&u->ring) >= 0)
		sqe = io_uring_get_sqe(&u->ring);
	return sqe;
}

static bool arm_recv(struct uring *u, uint32_t i)
{
	struct io_uring_sqe *sqe = sqe_get(u);

	if (!sqe)
		return false;
	io_uring_prep_recvmsg_multishot(sqe, (int)i, &u->recv_mh, 0);
	sqe->flags |= IOSQE_FIXED_FILE | IOSQE_BUFFER_SELECT;
	sqe->buf_group = URING_BGID;
	io_uring_sqe_set_data64(sqe, UD(UD_RECV, i));
	return true;
}

static bool arm_control(struct uring *u)
{
	struct io_uring_sqe *sqe = sqe_get(u);

	if (!sqe)
		return false;
	io_uring_prep_poll_add(sqe, relay_control_fd(), u->control_events);
	io_uring_sqe_set_data64(sqe, UD(UD_CONTROL, 0));
	return true;
}

/* Queues the send of the packet in bid; false when it cannot leave. */
static bool send_queue(struct uring *u, const struct relay_fwd *b, uint32_t i, unsigned bid,
		       void *payload, size_t len)
{
	struct uring_send *s = &u->sends[bid];
	struct io_uring_sqe *sqe;

	if (relay_fwd_out_fd(b) < 0 || !(sqe = sqe_get(u)))
		return false;
	memcpy(&s->dst, &b->dst, b->dstlen);
	s->q = b->q;
	s->leg = b->leg;
	if (u->sendto) {        /* i ^ 2: the other leg's port */
		io_uring_prep_send(sqe, (int)(i ^ 2), payload, len, 0);
		io_uring_prep_send_set_addr(sqe, (const struct sockaddr *)&s->dst,
					    (uint16_t)b->dstlen);
	} else {
		s->iov = (struct iovec){ payload, len };
		s->mh = (struct msghdr){ .msg_name = &s->dst, .msg_namelen = b->dstlen,
					 .msg_iov = &s->iov, .msg_iovlen = 1 };
		io_uring_prep_sendmsg(sqe, (int)(i ^ 2), &s->mh, 0);
	}
	sqe->flags |= IOSQE_FIXED_FILE;
	io_uring_sqe_set_data64(sqe, UD(UD_SEND, bid));
	u->nsends++;
	return true;
}

/* The datagram of res bytes in buffer bid, received on port i: sent on
 * (the buffer comes back with the send) or dropped and recycled. */
static void forward(struct uring *u, uint32_t i, unsigned bid, int res)
{
	struct io_uring_recvmsg_out *o = io_uring_recvmsg_validate(buf_of(u, bid), res, &u->recv_mh);
	struct sockaddr_storage src = { 0 };
	struct relay_fwd b;
	bool from_party = false, ok;
	size_t len;

	if (!o || !relay_fwd_begin(&u->r, i, &b)) {
		u->r.dropped++;
		recycle(u, bid);
		return;
	}
	len = io_uring_recvmsg_payload_length(o, res, &u->recv_mh);
	memcpy(&src, io_uring_recvmsg_name(o), o->namelen < URING_NAME ? o->namelen : URING_NAME);
	ok = relay_fwd_size_ok(len, o->flags & MSG_TRUNC, b.rtcp) &&
	     relay_fwd_accept(&u->r, &b, &src, &from_party) &&
	     send_queue(u, &b, i, bid, io_uring_recvmsg_payload(o, &u->recv_mh), len);
	if (from_party)
		relay_fwd_heard(&u->r, b.q);
	if (!ok) {
		relay_fwd_count(&u->r, b.q, b.leg, 0, 0, 1);
		recycle(u, bid);
	}
}

static void on_recv(struct uring *u, uint32_t i, const struct io_uring_cqe *cqe)
{
	if (cqe->flags & IORING_CQE_F_BUFFER) {
		u->busy = true;
		forward(u, i, cqe->flags >> IORING_CQE_BUFFER_SHIFT, cqe->res);
	}
	if (cqe->flags & IORING_CQE_F_MORE)
		return;
	if (cqe->res >= 0 || cqe->res == -ENOBUFS || cqe->res == -EINTR || cqe->res == -EAGAIN)
		u->rearm[u->nrearm++] = i;
	else
		LOG_ERR("relay port %u: receive: %s (no longer watched)",
			u->r.t->port_base + i, strerror(-cqe->res));
}

static void on_send(struct uring *u, unsigned bid, int res)
{
	const struct uring_send *s = &u->sends[bid];

	if (res >= 0)
		relay_fwd_count(&u->r, s->q, s->leg, 1, (uint64_t)res, 0);
	else
		relay_fwd_count(&u->r, s->q, s->leg, 0, 0, 1);
	recycle(u, bid);
}

static void on_control(struct uring *u, int res)
{
	if (res == -EINVAL && (u->control_events & EPOLLEXCLUSIVE)) {
		u->control_events &= ~(uint32_t)EPOLLEXCLUSIVE;
	} else if (res < 0) {
		LOG_ERR("relay.control poll: %s", strerror(-res));
		return;
	} else {
		relay_control_input(relay_control_fd(), u->conf);
	}
	u->control_rearm = true;
}

/* Handles every completion due; the buffers dropped or sent go back to
 * the ring together. */
static void reap(struct uring *u)
{
	struct io_uring_cqe *cqe;
	unsigned head, n = 0;

	io_uring_for_each_cqe(&u->ring, head, cqe) {
		uint64_t ud = io_uring_cqe_get_data64(cqe);

		if (ud >> 32 == UD_RECV)
			on_recv(u, (uint32_t)ud, cqe);
		else if (ud >> 32 == UD_SEND)
			on_send(u, (uint32_t)ud, cqe->res);
		else if (ud >> 32 == UD_CONTROL)
			on_control(u, cqe->res);
		n++;
	}
	io_uring_cq_advance(&u->ring, n);
	if (u->nrecycled)
		io_uring_buf_ring_advance(u->br, (int)u->nrecycled);
	u->nrecycled = 0;
}

static void rearm(struct uring *u)
{
	unsigned kept = 0;

	for (unsigned k = 0; k < u->nrearm; k++)
		if (!arm_recv(u, u->rearm[k]))
			u->rearm[kept++] = u->rearm[k];
	u->nrearm = kept;
	if (u->control_rearm && arm_control(u))
		u->control_rearm = false;
}

static int serve(struct uring *u, volatile sig_atomic_t *stop)
{
	while (!*stop) {
		/* Busy: wait for the sends just queued and a batch more. */
		unsigned want = u->busy ? u->nsends + URING_WAIT_NR : 1;
		struct __kernel_timespec ts = u->busy ?
			(struct __kernel_timespec){ .tv_nsec = URING_WAIT_US * 1000 } :
			(struct __kernel_timespec){ .tv_nsec = RELAY_WAIT_MS * 1000000 };
		struct io_uring_cqe *cqe;
		int rc = io_uring_submit_and_wait_timeout(&u->ring, &cqe, want, &ts, NULL);

		if (rc < 0 && rc != -ETIME && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY) {
			LOG_ERR("io_uring_enter: %s", strerror(-rc));
			return 1;
		}
		log_set_level(shm->log_level);
		u->r.now = relay_now_ms();
		u->nsends = 0;
		u->busy = false;
		reap(u);
		rearm(u);
		relay_fwd_flush(&u->r);
	}
	return 0;
}

/* The receive buffers, registered as buffer group URING_BGID. */
static int buffers_setup(struct uring *u)
{
	struct io_uring_buf_reg reg = { .ring_entries = URING_BUFS, .bgid = URING_BGID };
	size_t brlen = URING_BUFS * sizeof(struct io_uring_buf);
	int rc;

	u->bufs = mmap(NULL, URING_BUFS * URING_STRIDE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	u->br = mmap(NULL, brlen, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (u->bufs == MAP_FAILED || u->br == MAP_FAILED)
		return -ENOMEM;
	reg.ring_addr = (uintptr_t)u->br;
	rc = io_uring_register_buf_ring(&u->ring, &reg, 0);
	if (rc < 0)
		return rc;
	io_uring_buf_ring_init(u->br);
	for (unsigned bid = 0; bid < URING_BUFS; bid++)
		recycle(u, bid);
	io_uring_buf_ring_advance(u->br, (int)u->nrecycled);
	u->nrecycled = 0;
	return 0;
}

/* This worker's ports as fixed files (index = port - base; the others
 * -1); arms their receives. Returns how many or a negative errno. */
static int ports_setup(struct uring *u, unsigned index, unsigned nworkers)
{
	const struct relay_table *t = u->r.t;
	uint32_t n = t->nquads * 4;
	int *fds = calloc(n ? n : 1, sizeof(*fds)), nports = 0, rc = 0;

	if (!fds)
		return -ENOMEM;
	for (uint32_t i = 0; i < n; i++) {
		fds[i] = relay_fwd_mine(t, i, index, nworkers) ? relay_port_fd(i) : -1;
		if (fds[i] >= 0)
			u->rearm[u->nrearm++] = i;
	}
	if (n)
		rc = io_uring_register_files(&u->ring, fds, n);
	free(fds);
	nports = (int)u->nrearm;
	rearm(u);
	return rc < 0 ? rc : nports;
}

/* Whether IORING_OP_SEND takes a destination address here (it saves the
 * msghdr copy of a sendmsg): an empty datagram to a socket of our own,
 * before anything else is queued. */
static bool probe_sendto(struct uring *u)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), res = -1;
	struct io_uring_sqe *sqe;
	struct io_uring_cqe *cqe;

	if (fd >= 0 && bind(fd, (struct sockaddr *)&a, len) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &len) == 0 &&
	    (sqe = io_uring_get_sqe(&u->ring))) {
		io_uring_prep_send(sqe, fd, "", 0, 0);
		io_uring_prep_send_set_addr(sqe, (const struct sockaddr *)&a, (uint16_t)len);
		if (io_uring_submit_and_wait(&u->ring, 1) >= 0 &&
		    io_uring_peek_cqe(&u->ring, &cqe) == 0) {
			res = cqe->res;
			io_uring_cqe_seen(&u->ring, cqe);
		}
	}
	if (fd >= 0)
		close(fd);
	return res == 0;
}

static unsigned cq_size(unsigned nports)
{
	unsigned want = 2 * URING_BUFS + nports + 64, cq = URING_SQ;

	while (cq < want && cq < URING_CQ_MAX)
		cq <<= 1;
	return cq;
}

static int uring_setup(struct uring *u, unsigned index, unsigned nworkers)
{
	struct io_uring_params p = {
		.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN |
			 IORING_SETUP_CQSIZE,
		.cq_entries = cq_size(u->r.t->nquads * 4),
	};
	int rc = io_uring_queue_init_params(URING_SQ, &u->ring, &p);

	if (rc < 0)
		return rc;
	u->ring_up = true;
	if (!(p.features & IORING_FEAT_EXT_ARG))
		return -EOPNOTSUPP;
	u->sends = calloc(URING_BUFS, sizeof(*u->sends));
	u->rearm = calloc(u->r.t->nquads * 4 + 1, sizeof(*u->rearm));
	if (!u->sends || !u->rearm)
		return -ENOMEM;
	u->recv_mh.msg_namelen = URING_NAME;
	u->sendto = probe_sendto(u);
	rc = buffers_setup(u);
	if (rc < 0)
		return rc;
	u->control_events = POLLIN | EPOLLEXCLUSIVE;
	u->control_rearm = relay_control_fd() >= 0;
	return ports_setup(u, index, nworkers);
}

/* Ends every request and drops the sockets before the ring goes: the
 * kernel tears a closed ring down later, in the background, and until
 * then its requests would keep the ports bound after pinhole stopped. */
static void uring_quiesce(struct uring *u)
{
	struct io_uring_sync_cancel_reg reg = { .flags = IORING_ASYNC_CANCEL_ANY,
						.timeout = { .tv_sec = 1 } };

	io_uring_register_sync_cancel(&u->ring, &reg);
	io_uring_unregister_files(&u->ring);
}

static void uring_free(struct uring *u)
{
	if (u->ring_up) {
		uring_quiesce(u);
		io_uring_queue_exit(&u->ring);
	}
	if (u->bufs && u->bufs != MAP_FAILED)
		munmap(u->bufs, URING_BUFS * URING_STRIDE);
	if (u->br && u->br != MAP_FAILED)
		munmap(u->br, URING_BUFS * sizeof(struct io_uring_buf));
	free(u->sends);
	free(u->rearm);
}

int relay_uring_run(const struct pinhole_conf *conf, struct relay_table *t, unsigned index,
		    unsigned nworkers, volatile sig_atomic_t *stop)
{
	static struct uring u;
	int nports, rc;

	u = (struct uring){ .conf = conf, .r = { .t = t } };
	nports = uring_setup(&u, index, nworkers);
	if (nports < 0) {
		uring_free(&u);
		return nports;
	}
	LOG_INFO("relaying on %d port(s) with io_uring (%s)%s", nports,
		 u.sendto ? "send" : "sendmsg",
		 relay_control_fd() >= 0 ? ", serving relay.control" : "");
	rc = serve(&u, stop);
	uring_free(&u);
	return rc;
}
