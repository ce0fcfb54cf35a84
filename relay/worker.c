/*
 * worker.c — a relay worker process: forwards RTP/RTCP for the sessions
 * on its slices and serves the rtpproxy control socket.
 *
 * relay_worker_run tries the io_uring loop (worker_uring.c) and falls
 * back, with a log line, to the epoll loop here when io_uring cannot be
 * set up (old kernel, sysctl, seccomp) or PINHOLE_RELAY_EPOLL is set.
 * Worker i of a generation of N watches the inherited sockets of every
 * slice s with s % N == i, plus the control socket (EPOLLEXCLUSIVE: one
 * worker is woken per command). A readable port gets one recvmmsg of at
 * most RELAY_BATCH datagrams per round, so a flood on one port costs the
 * others at most one batch of delay; the accepted ones (fwd.c) leave in
 * one sendmmsg from the other leg's port. Counters are added once per
 * batch (session) and once per round (process).
 */
#include "fwd_int.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#define RELAY_BATCH 32
#define RELAY_EVENTS 256
#define CONTROL_EVENT UINT32_MAX

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

/* One batch from port base + i. */
static void forward(struct relay_fwd_round *r, uint32_t i)
{
	struct relay_fwd b;
	int n = receive_batch(relay_port_fd(i));
	unsigned nout = 0, sent;
	uint64_t bytes = 0;
	bool from_party = false;

	if (n <= 0)
		return;
	if (!relay_fwd_begin(r, i, &b)) {
		r->dropped += (unsigned)n;
		return;
	}
	for (unsigned k = 0; k < (unsigned)n; k++) {
		if (!relay_fwd_size_ok(in[k].msg_len, in[k].msg_hdr.msg_flags & MSG_TRUNC, b.rtcp) ||
		    !relay_fwd_accept(r, &b, &src[k], &from_party))
			continue;
		out_iov[nout] = (struct iovec){ buf[k], in[k].msg_len };
		out[nout].msg_hdr = (struct msghdr){ .msg_name = &b.dst, .msg_namelen = b.dstlen,
						     .msg_iov = &out_iov[nout], .msg_iovlen = 1 };
		nout++;
	}
	sent = nout ? send_batch(relay_fwd_out_fd(&b), nout) : 0;
	for (unsigned k = 0; k < sent; k++)
		bytes += out_iov[k].iov_len;
	relay_fwd_count(r, b.q, b.leg, sent, bytes, (unsigned)n - sent);
	if (from_party)
		relay_fwd_heard(r, b.q);
}

/* Adds this worker's ports (slices s with s % nworkers == index) and the
 * control socket; returns the number of ports. */
static int watch(int ep, const struct relay_table *t, unsigned index, unsigned nworkers)
{
	struct epoll_event ev = { .events = EPOLLIN };
	int nports = 0;

	for (uint32_t i = 0; i < t->nquads * 4; i++) {
		if (!relay_fwd_mine(t, i, index, nworkers))
			continue;       /* another worker's, or held by another program */
		ev.data.u32 = i;
		if (epoll_ctl(ep, EPOLL_CTL_ADD, relay_port_fd(i), &ev) < 0) {
			LOG_ERR("relay port %u: epoll_ctl: %s", t->port_base + i, strerror(errno));
			return -1;
		}
		nports++;
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

static int serve(int ep, const struct pinhole_conf *conf, struct relay_table *t,
		 volatile sig_atomic_t *stop)
{
	static struct epoll_event evs[RELAY_EVENTS];
	struct relay_fwd_round r = { .t = t };

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
		relay_fwd_flush(&r);
	}
	return 0;
}

/* The fallback loop: one level-triggered epoll set. */
static int run_epoll(const struct pinhole_conf *conf, struct relay_table *t, unsigned index,
		     unsigned nworkers, volatile sig_atomic_t *stop)
{
	int ep = epoll_create1(EPOLL_CLOEXEC), nports, rc;

	if (ep < 0) {
		LOG_ERR("epoll_create1: %s", strerror(errno));
		return 1;
	}
	nports = watch(ep, t, index, nworkers);
	if (nports < 0) {
		close(ep);
		return 1;
	}
	LOG_INFO("relaying on %d port(s) with epoll%s", nports,
		 relay_control_fd() >= 0 ? ", serving relay.control" : "");
	rc = serve(ep, conf, t, stop);
	close(ep);
	return rc;
}

int relay_worker_run(const struct pinhole_conf *conf, unsigned index,
		     volatile sig_atomic_t *stop)
{
	struct relay_table *t = relay_table();
	unsigned nworkers = conf->workers.relay ? conf->workers.relay : 1;
	int rc;

	if (!t) {
		LOG_WARN("no relay table (workers.relay was 0 at start): idle until restart");
		while (!*stop)
			usleep(RELAY_WAIT_MS * 1000);
		return 0;
	}
	if (getenv("PINHOLE_RELAY_EPOLL"))
		return run_epoll(conf, t, index, nworkers, stop);
	rc = relay_uring_run(conf, t, index, nworkers, stop);
	if (rc >= 0)
		return rc;
	LOG_INFO("io_uring unavailable (%s): falling back to epoll", strerror(-rc));
	return run_epoll(conf, t, index, nworkers, stop);
}
