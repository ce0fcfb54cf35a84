/*
 * worker.c — a relay worker process: forwards RTP/RTCP for the sessions
 * on its slices and serves the rtpproxy control socket.
 *
 * Worker i of a generation of N watches, with one level-triggered epoll
 * set, the inherited sockets of every slice s with s % N == i, plus the
 * control socket (every worker watches it, EPOLLEXCLUSIVE: one is
 * woken per command). A readable port gets one recvmmsg of at most RELAY_BATCH
 * datagrams per round, so a flood on one port costs the others at most
 * one batch of delay; the batch is checked against a lock-free copy of
 * the session's route (seqlock) and leaves in one sendmmsg from the other
 * leg's port. No allocation and no lock per packet: only latching takes
 * the session's stripe lock, once per leg and move. Counters are added
 * once per batch (session) and once per round (process).
 */
#include "relay_int.h"

#include <errno.h>
#include <sys/epoll.h>
#include <unistd.h>

#define RELAY_BATCH 32
#define RELAY_PKT_MAX 2048      /* larger datagrams are dropped (MSG_TRUNC) */
#define RELAY_EVENTS 256
#define RELAY_WAIT_MS 500
#define RELAY_RTP_MIN 12        /* RTP fixed header */
#define RELAY_RTCP_MIN 8        /* RTCP header + SSRC */
#define CONTROL_EVENT UINT32_MAX

struct fwd_round {
	struct relay_table *t;
	int64_t now;
	uint64_t packets, bytes, dropped;
};

/* One batch of one port. in[k] receives into buf[k] from src[k]; out[]
 * points at the accepted ones, all to one destination. */
static char buf[RELAY_BATCH][RELAY_PKT_MAX];
static struct sockaddr_storage src[RELAY_BATCH];
static struct iovec in_iov[RELAY_BATCH], out_iov[RELAY_BATCH];
static struct mmsghdr in[RELAY_BATCH], out[RELAY_BATCH];

static int receive_batch(int fd)
{
	for (unsigned k = 0; k < RELAY_BATCH; k++) {
		in_iov[k] = (struct iovec){ buf[k], RELAY_PKT_MAX };
		in[k].msg_hdr = (struct msghdr){ .msg_name = &src[k], .msg_namelen = sizeof(src[k]),
						 .msg_iov = &in_iov[k], .msg_iovlen = 1 };
	}
	return recvmmsg(fd, in, RELAY_BATCH, MSG_DONTWAIT, NULL);
}

/* Sends out[0..n) from fd; returns how many left. */
static unsigned send_batch(int fd, unsigned n)
{
	unsigned sent = 0;

	while (sent < n) {
		int r = sendmmsg(fd, out + sent, n - sent, MSG_DONTWAIT);

		if (r <= 0) {
			if (r < 0 && errno == EINTR)
				continue;
			break;
		}
		sent += (unsigned)r;
	}
	return sent;
}

static bool packet_ok(const struct mmsghdr *m, unsigned rtcp)
{
	return !(m->msg_hdr.msg_flags & MSG_TRUNC) &&
	       m->msg_len >= (rtcp ? RELAY_RTCP_MIN : RELAY_RTP_MIN);
}

/* What one batch on a port needs to know of its session. */
struct fwd_batch {
	uint32_t q;
	unsigned leg, rtcp;
	struct relay_route rt;
	struct sockaddr_storage dst;
	socklen_t dstlen;
	bool can_send;          /* a destination, and the receiver wants media */
	bool discard;           /* the sender said it does not send (RTP only) */
};

static void batch_route(struct fwd_batch *b)
{
	const struct relay_route_leg *to = &b->rt.leg[1 - b->leg];
	struct relay_addr d;

	b->can_send = relay_destination(to, b->rtcp, &d) &&
		      relay_addr_to_sa(&d, relay_port_family(), &b->dst, &b->dstlen) == 0 &&
		      !(!b->rtcp && (to->flags & RELAY_F_NO_RECV));
	b->discard = !b->rtcp && (b->rt.leg[b->leg].flags & RELAY_F_NO_SEND);
}

/* Whether packet k goes on: its source is the leg's (latching it if the
 * rule says so) and the route lets it through. */
static bool accept_packet(struct fwd_round *r, struct relay_slot *s, struct fwd_batch *b,
			  unsigned k, bool *from_party)
{
	struct relay_addr a;
	enum relay_verdict v;

	relay_addr_from_sa(&src[k], &a);
	v = relay_latch_verdict(&b->rt.leg[b->leg], b->rtcp, &a, r->now);
	if (v == RELAY_V_LATCH) {
		uint32_t gen = b->rt.gen;

		if (!relay_latch(r->t, b->q, gen, b->leg, b->rtcp, &a, r->now) ||
		    !relay_route_read(s, &b->rt) || b->rt.gen != gen ||
		    b->rt.state != RELAY_S_LIVE)
			return false;
		batch_route(b);
		v = RELAY_V_FORWARD;
	}
	if (v != RELAY_V_FORWARD)
		return false;
	*from_party = true;
	return b->can_send && !b->discard;
}

static void batch_count(struct fwd_round *r, struct relay_slot *s, unsigned leg,
			uint64_t sent, uint64_t bytes, uint64_t dropped, bool from_party)
{
	__atomic_fetch_add(&s->st[leg].packets, sent, __ATOMIC_RELAXED);
	__atomic_fetch_add(&s->st[leg].bytes, bytes, __ATOMIC_RELAXED);
	__atomic_fetch_add(&s->st[leg].dropped, dropped, __ATOMIC_RELAXED);
	if (from_party)
		__atomic_store_n(&s->last_packet_ms, r->now, __ATOMIC_RELAXED);
	r->packets += sent;
	r->bytes += bytes;
	r->dropped += dropped;
}

/* One batch from port base + i. */
static void forward(struct fwd_round *r, uint32_t i)
{
	struct fwd_batch b = { .q = i / 4, .leg = (i >> 1) & 1, .rtcp = i & 1 };
	struct relay_slot *s = &relay_slots(r->t)[b.q];
	int n = receive_batch(relay_port_fd(i));
	unsigned nout = 0, sent;
	uint64_t bytes = 0;
	bool from_party = false;

	if (n <= 0)
		return;
	if (!relay_route_read(s, &b.rt) || b.rt.state != RELAY_S_LIVE) {
		r->dropped += (unsigned)n;
		return;
	}
	batch_route(&b);
	for (unsigned k = 0; k < (unsigned)n; k++) {
		if (!packet_ok(&in[k], b.rtcp) || !accept_packet(r, s, &b, k, &from_party))
			continue;
		out_iov[nout] = (struct iovec){ buf[k], in[k].msg_len };
		out[nout].msg_hdr = (struct msghdr){ .msg_name = &b.dst, .msg_namelen = b.dstlen,
						     .msg_iov = &out_iov[nout], .msg_iovlen = 1 };
		nout++;
	}
	sent = nout ? send_batch(relay_port_fd(b.q * 4 + 2 * (1 - b.leg) + b.rtcp), nout) : 0;
	for (unsigned k = 0; k < sent; k++)
		bytes += out_iov[k].iov_len;
	batch_count(r, s, b.leg, sent, bytes, (unsigned)n - sent, from_party);
}

/* Adds this worker's ports (slices s with s % nworkers == index) and the
 * control socket; returns the number of ports. */
static int watch(int ep, const struct relay_table *t, unsigned index, unsigned nworkers)
{
	struct epoll_event ev = { .events = EPOLLIN };
	int nports = 0;

	for (uint32_t s = index; s < t->nslices; s += nworkers) {
		const struct relay_slice *sl = &t->slices[s];

		for (uint32_t i = sl->first * 4; i < (sl->first + sl->count) * 4; i++) {
			ev.data.u32 = i;
			if (relay_port_fd(i) < 0)
				continue;       /* held by another program: quad unused */
			if (epoll_ctl(ep, EPOLL_CTL_ADD, relay_port_fd(i), &ev) < 0) {
				LOG_ERR("relay port %u: epoll_ctl: %s", t->port_base + i,
					strerror(errno));
				return -1;
			}
			nports++;
		}
	}
	ev.data.u32 = CONTROL_EVENT;
	ev.events = EPOLLIN | EPOLLEXCLUSIVE;   /* one worker woken per command */
	if (relay_control_fd() >= 0 &&
	    epoll_ctl(ep, EPOLL_CTL_ADD, relay_control_fd(), &ev) < 0) {
		LOG_ERR("relay.control: epoll_ctl: %s", strerror(errno));
		return -1;
	}
	return nports;
}

static void round_flush(struct fwd_round *r)
{
	if (r->packets)
		stat_add(STAT_RELAY_PACKETS, r->packets);
	if (r->bytes)
		stat_add(STAT_RELAY_BYTES, r->bytes);
	if (r->dropped)
		stat_add(STAT_RELAY_DROPPED, r->dropped);
	r->packets = r->bytes = r->dropped = 0;
}

static int serve(int ep, const struct pinhole_conf *conf, struct relay_table *t,
		 volatile sig_atomic_t *stop)
{
	static struct epoll_event evs[RELAY_EVENTS];
	struct fwd_round r = { .t = t };

	while (!*stop) {
		int n = epoll_wait(ep, evs, RELAY_EVENTS, RELAY_WAIT_MS);

		log_set_level(shm->log_level);
		if (n < 0 && errno != EINTR) {
			LOG_ERR("epoll_wait: %s", strerror(errno));
			return 1;
		}
		r.now = relay_now_ms();
		for (int k = 0; k < n; k++) {
			if (evs[k].data.u32 == CONTROL_EVENT)
				relay_control_input(relay_control_fd(), conf);
			else
				forward(&r, evs[k].data.u32);
		}
		round_flush(&r);
	}
	return 0;
}

int relay_worker_run(const struct pinhole_conf *conf, unsigned index,
		     volatile sig_atomic_t *stop)
{
	struct relay_table *t = relay_table();
	unsigned nworkers = conf->workers.relay ? conf->workers.relay : 1;
	int ep, nports, rc;

	if (!t) {
		LOG_WARN("no relay table (workers.relay was 0 at start): idle until restart");
		while (!*stop)
			usleep(RELAY_WAIT_MS * 1000);
		return 0;
	}
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0) {
		LOG_ERR("epoll_create1: %s", strerror(errno));
		return 1;
	}
	nports = watch(ep, t, index, nworkers);
	if (nports < 0) {
		close(ep);
		return 1;
	}
	LOG_INFO("relaying on %d port(s)%s", nports,
		 relay_control_fd() >= 0 ? ", serving relay.control" : "");
	rc = serve(ep, conf, t, stop);
	close(ep);
	return rc;
}
