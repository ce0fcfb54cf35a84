/*
 * udp.c — the UDP worker loop.
 *
 * Every UDP worker of a listen entry blocks in recvfrom on the same
 * inherited socket. A blocking receive waits exclusively, so the kernel
 * wakes one worker per datagram (poll would wake them all and let all but
 * one find nothing: a thundering herd that costs more than the parsing).
 * The receive timeout bounds how long a worker goes without looking at its
 * flags (stop, log level); a signal interrupts it at once.
 */
#include "pipeline.h"
#include "../shm/shm.h"

#include <errno.h>
#include <sys/time.h>

#define UDP_FLAG_CHECK_MS 500

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

/* Waits for one datagram; false on timeout, interruption or error. */
static bool receive(int fd, struct sip_rx *rx)
{
	ssize_t n;

	rx->srclen = sizeof(rx->src);
	n = recvfrom(fd, rx_buf, sizeof(rx_buf) - 1, 0, (struct sockaddr *)&rx->src,
		     &rx->srclen);
	if (n < 0) {
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			LOG_WARN("recvfrom: %s", strerror(errno));
		return false;
	}
	rx->len = (size_t)n;
	return !is_keepalive(rx_buf, (size_t)n);
}

int udp_worker_run(const struct worker_args *wa)
{
	int fd = wa->listens->fd[wa->listen_index];
	struct timeval tv = { .tv_sec = 0, .tv_usec = UDP_FLAG_CHECK_MS * 1000 };
	struct sip_rx rx = { .buf = rx_buf, .fd = fd, .proto = CONF_PROTO_UDP,
			     .socket = (uint8_t)wa->listen_index, .conf = wa->conf };

	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0) {
		LOG_ERR("setsockopt SO_RCVTIMEO: %s", strerror(errno));
		return 1;
	}
	LOG_INFO("serving udp:%s:%u", wa->conf->listen[wa->listen_index].address,
		 wa->conf->listen[wa->listen_index].port);
	while (!*wa->stop) {
		log_set_level(shm->log_level);
		if (receive(fd, &rx))
			pipeline_handle(&rx);
	}
	return 0;
}
