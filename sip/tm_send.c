/*
 * tm_send.c — what the transaction layer needs from its process: the
 * sockets it sends from, the clock, and copies of messages in shm.
 *
 * UDP listen sockets are bound by the master and inherited, so any
 * process can send from the socket a message must leave by; each process
 * that sends registers the listen set once after fork (tm_sockets_set).
 * Sends never block (MSG_DONTWAIT): a full socket buffer drops the
 * datagram and the retransmission timers recover. A destination on a
 * TCP/TLS listen entry goes through stream_send (workers/stream_send.c),
 * which finds the connection to dst by its alias, or has one opened, and
 * hands the message to the connection's owner; that takes the connection
 * table's lock, never another one.
 */
#include "tm_int.h"
#include "../workers/workers.h"

#include <errno.h>
#include <netinet/in.h>
#include <time.h>

static int sockets[CONF_MAX_LISTEN] = { -1, -1, -1, -1, -1, -1, -1, -1,
					-1, -1, -1, -1, -1, -1, -1, -1 };
static bool stream[CONF_MAX_LISTEN];     /* a TCP/TLS listen socket */
_Static_assert(CONF_MAX_LISTEN == 16, "sockets[] initialiser");

static int64_t monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t (*clock_fn)(void) = monotonic_ms;

int64_t tm_now_ms(void)
{
	return clock_fn();
}

void tm_clock_set(int64_t (*fn)(void))
{
	clock_fn = fn ? fn : monotonic_ms;
}

void tm_sockets_set(const int *fds, unsigned n)
{
	for (unsigned i = 0; i < CONF_MAX_LISTEN; i++) {
		int type = 0;
		socklen_t len = sizeof(type);

		sockets[i] = i < n ? fds[i] : -1;
		stream[i] = sockets[i] >= 0 &&
			    getsockopt(sockets[i], SOL_SOCKET, SO_TYPE, &type, &len) == 0 &&
			    type == SOCK_STREAM;
	}
}

bool tm_addr_reliable(const struct tm_addr *a)
{
	return a->socket < CONF_MAX_LISTEN && stream[a->socket];
}

void tm_addr_to_sockaddr(const struct tm_addr *a, struct sockaddr_storage *ss, socklen_t *len)
{
	netaddr_join(a->family, a->port, a->addr, ss, len);
}

void tm_addr_from_sockaddr(const struct sockaddr *sa, uint8_t socket, struct tm_addr *out)
{
	netaddr_split(sa, &out->family, &out->port, out->addr);
	out->socket = socket;
}

void tm_addr_from_loc(const struct loc_addr *la, uint8_t socket, struct tm_addr *out)
{
	memset(out, 0, sizeof(*out));
	out->family = la->family;
	out->socket = socket;
	out->port = la->port;
	memcpy(out->addr, la->addr, la->family == AF_INET6 ? 16 : 4);
}

int tm_send(const struct tm_addr *dst, const char *buf, size_t len)
{
	struct sockaddr_storage ss;
	socklen_t sslen;
	int fd = dst->socket < CONF_MAX_LISTEN ? sockets[dst->socket] : -1;

	if (fd < 0 || !dst->family)
		return -EBADF;
	tm_addr_to_sockaddr(dst, &ss, &sslen);
	if (stream[dst->socket])
		return stream_send(dst->socket, (struct sockaddr *)&ss, 0, buf, len);
	if (sendto(fd, buf, len, MSG_DONTWAIT, (struct sockaddr *)&ss, sslen) < 0) {
		LOG_DBG("sendto: %s", strerror(errno));
		return -errno;
	}
	return 0;
}

shm_off tm_store(const char *buf, size_t len)
{
	shm_off off = len ? shm_alloc(len) : 0;

	if (off)
		memcpy(shm_ptr(off), buf, len);
	return off;
}

int tm_parse_stored(shm_off off, uint32_t len, struct sip_msg *msg)
{
	struct sip_parse_status st;

	if (!off)
		return -ENOENT;
	return sip_msg_parse(shm_ptr(off), len, 0, msg, &st);
}
