/*
 * udp.c — the UDP worker loop.
 *
 * Every UDP worker of a listen entry waits on the same inherited socket;
 * the kernel hands each datagram to one of them. Each wake-up drains a
 * bounded batch, then the loop looks at its flags (stop, log level).
 */
#include "pipeline.h"
#include "../shm/shm.h"

#include <errno.h>
#include <poll.h>

#define UDP_BATCH 64

static char rx_buf[SIP_MAX_MSG + 1];

/* RFC 5626 §3.5.1 / NAT keepalives: a datagram of only CR and LF (or a
 * few NULs) is not a message; it is ignored without a counter. */
static bool is_keepalive(const char *p, size_t n)
{
	if (n > 4)
		return false;
	for (size_t i = 0; i < n; i++)
		if (p[i] != '\r' && p[i] != '\n' && p[i] != '\0')
			return false;
	return true;
}

static void drain(const struct worker_args *wa, int fd)
{
	struct sip_rx rx = { .buf = rx_buf, .fd = fd, .proto = CONF_PROTO_UDP,
			     .socket = (uint8_t)wa->listen_index, .conf = wa->conf };

	for (int i = 0; i < UDP_BATCH; i++) {
		rx.srclen = sizeof(rx.src);
		ssize_t n = recvfrom(fd, rx_buf, sizeof(rx_buf) - 1, MSG_DONTWAIT,
				     (struct sockaddr *)&rx.src, &rx.srclen);
		if (n < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				LOG_WARN("recvfrom: %s", strerror(errno));
			return;
		}
		if (is_keepalive(rx_buf, (size_t)n))
			continue;
		rx.len = (size_t)n;
		pipeline_handle(&rx);
	}
}

int udp_worker_run(const struct worker_args *wa)
{
	int fd = wa->listens->fd[wa->listen_index];
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	LOG_INFO("serving udp:%s:%u", wa->conf->listen[wa->listen_index].address,
		 wa->conf->listen[wa->listen_index].port);
	while (!*wa->stop) {
		log_set_level(shm->log_level);
		int n = poll(&pfd, 1, 500);
		if (n < 0 && errno != EINTR) {
			LOG_ERR("poll: %s", strerror(errno));
			return 1;
		}
		if (n > 0)
			drain(wa, fd);
	}
	return 0;
}
