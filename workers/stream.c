/*
 * stream.c — the TCP and TLS worker loop.
 *
 * Every stream worker of a listen entry waits in epoll on the inherited
 * listening socket (the master listens before forking), on its channel (stream_chan.c) and on
 * the connections it owns (stream_conn.c). Every worker is woken for a new
 * connection and the quickest takes a few (not EPOLLEXCLUSIVE, which
 * hands them all to the first idle worker): new connections spread over
 * the workers, and a crash takes only its own share. Accepted and opened connections stay with their
 * worker for life; messages other processes send on them arrive over the
 * channel. Once a second it cuts idle and slow connections. At start it
 * frees the table entries its slot's killed predecessor left behind; when
 * it retires at a reload it hands its TCP connections (same ids, so the
 * bindings keep them) to the workers of the new generation.
 */
#include "stream_int.h"
#include "tls_int.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define EV_LISTEN 0
#define EV_CHAN 1
#define EV_BASE 2
#define MAX_EVENTS 256
#define ACCEPT_BURST 4

struct stream_worker *stream_self;

int64_t stream_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int my_slot(void)
{
	pid_t pid = getpid();

	for (unsigned s = 1; s < SHM_MAX_PROCS; s++)
		if (shm->procs[s].pid == pid)
			return (int)s;
	return -1;
}

/* As many descriptors as the hard limit allows: one per connection. */
static void raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static int ep_add(int epfd, int fd, uint32_t events, uint64_t data)
{
	struct epoll_event ev = { .events = events, .data.u64 = data };

	if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		LOG_ERR("epoll_ctl: %s", strerror(errno));
		return -errno;
	}
	return 0;
}

static int worker_init(struct stream_worker *w, const struct worker_args *wa)
{
	const struct pinhole_conf *conf = wa->conf;
	int slot = my_slot(), rc;

	w->wa = wa;
	w->listen_fd = wa->listens->fd[wa->listen_index];
	if (slot < 0 || w->listen_fd < 0)
		return -EINVAL;
	w->slot = (unsigned)slot;
	w->pid = (int32_t)getpid();
	if (conf->listen[wa->listen_index].proto == CONF_PROTO_TLS &&
	    (rc = stream_tls_init(conf)) < 0)
		return rc;
	raise_nofile();
	if ((rc = conn_table_attach(conf->tcp.max_connections)) < 0) {
		LOG_ERR("connection table: %s (raise shm_size)", strerror(-rc));
		return rc;
	}
	w->by_index = calloc(conn_table_get()->capacity, sizeof(*w->by_index));
	if (!w->by_index)
		return -ENOMEM;
	if (conn_sweep_slot((uint16_t)w->slot, (int32_t)getpid()))
		LOG_INFO("connections of this slot's previous process removed");
	fcntl(w->listen_fd, F_SETFL, fcntl(w->listen_fd, F_GETFL) | O_NONBLOCK);
	w->chan_fd = chan_bind(w->slot);
	w->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (w->chan_fd < 0 || w->epfd < 0)
		return -EIO;
	if ((rc = ep_add(w->epfd, w->listen_fd, EPOLLIN, EV_LISTEN)) < 0 ||
	    (rc = ep_add(w->epfd, w->chan_fd, EPOLLIN, EV_CHAN)) < 0)
		return rc;
	stream_self = w;
	return 0;
}

static void accept_some(struct stream_worker *w)
{
	for (unsigned i = 0; i < ACCEPT_BURST; i++) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		int fd = accept4(w->listen_fd, (struct sockaddr *)&ss, &len,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE)
				LOG_WARN("accept: %s", strerror(errno));
			return;
		}
		stream_conn_accepted(w, fd, (struct sockaddr *)&ss, len);
	}
}

static void dispatch(struct stream_worker *w, const struct epoll_event *ev)
{
	struct stream_conn *c;

	if (ev->data.u64 == EV_LISTEN) {
		accept_some(w);
		return;
	}
	if (ev->data.u64 == EV_CHAN) {
		stream_chan_event(w);
		return;
	}
	c = w->by_index[ev->data.u64 - EV_BASE];
	if (c)
		stream_conn_event(w, c, ev->events);
}

static void worker_stop(struct stream_worker *w)
{
	stream_conn_hand_over(w);
	while (w->nlist)
		stream_conn_close(w, w->list[w->nlist - 1]);
	stream_self = NULL;
	stream_chan_forward(w->chan_fd);
}

static int idle_until_stopped(const struct worker_args *wa)
{
	while (!*wa->stop) {
		log_set_level(shm->log_level);
		poll(NULL, 0, 500);
	}
	return 0;
}

int stream_worker_run(const struct worker_args *wa)
{
	static struct epoll_event ev[MAX_EVENTS];
	static struct stream_worker w;
	const struct conf_listen *l = &wa->conf->listen[wa->listen_index];
	int64_t next_sweep = 0;

	if (!stream_ops_for(l->proto)) {
		LOG_WARN("no transport for %s: this worker stays idle", conf_proto_name(l->proto));
		return idle_until_stopped(wa);
	}
	if (worker_init(&w, wa) < 0)
		return 1;
	LOG_INFO("serving %s:%s:%u", conf_proto_name(l->proto), l->address, l->port);
	while (!*wa->stop) {
		int n = epoll_wait(w.epfd, ev, MAX_EVENTS, w.again ? 0 : 250);
		int64_t now;

		for (int i = 0; i < n; i++)
			dispatch(&w, &ev[i]);
		if (w.again)
			stream_conn_read_again(&w);
		now = stream_now_ms();
		if (now >= next_sweep) {
			log_set_level(shm->log_level);
			stream_conn_timeouts(&w, now);
			next_sweep = now + 1000;
		}
	}
	worker_stop(&w);
	return 0;
}
