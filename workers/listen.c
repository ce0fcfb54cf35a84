/*
 * listen.c — binds the listen sockets of the config.
 *
 * Called by the master before it forks, so every child inherits the same
 * sockets; UDP workers of one entry all receive on its socket, and any
 * process can send from it. Errors go into a caller buffer, not the log.
 */
#include "workers.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int addr_fill(const struct conf_listen *l, struct sockaddr_storage *ss,
		     socklen_t *len)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, l->address, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(l->port);
		*len = sizeof(*sin);
		return 0;
	}
	if (inet_pton(AF_INET6, l->address, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(l->port);
		*len = sizeof(*sin6);
		return 0;
	}
	return -EINVAL;
}

static int open_one(const struct conf_listen *l, int *fdp, char *errbuf, size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t sslen;
	int type = l->proto == CONF_PROTO_UDP ? SOCK_DGRAM : SOCK_STREAM;
	int one = 1, fd, err;

	if (addr_fill(l, &ss, &sslen) < 0) {
		snprintf(errbuf, errlen, "listen %s:%s:%u: not an IP address",
			 conf_proto_name(l->proto), l->address, l->port);
		return -EINVAL;
	}
	fd = socket(ss.ss_family, type | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail;
	if (type == SOCK_STREAM)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (type == SOCK_DGRAM) {
		int rcvbuf = 4 << 20;

		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	}
	if (bind(fd, (struct sockaddr *)&ss, sslen) < 0)
		goto fail;
	/* Listening from the start: a connection that comes before a stream
	 * worker is up (startup, respawn) waits in the backlog, not refused. */
	if (type == SOCK_STREAM && listen(fd, 4096) < 0)
		goto fail;
	*fdp = fd;
	return 0;
fail:
	err = errno;
	snprintf(errbuf, errlen, "listen %s:%s:%u: %s: %s", conf_proto_name(l->proto),
		 l->address, l->port, fd < 0 ? "socket" : "bind/listen", strerror(err));
	if (fd >= 0)
		close(fd);
	return -err;
}

int listen_open_all(const struct pinhole_conf *conf, struct listen_set *ls,
		    char *errbuf, size_t errlen)
{
	int rc;

	ls->n = conf->nlisten;
	for (unsigned i = 0; i < CONF_MAX_LISTEN; i++)
		ls->fd[i] = -1;
	for (unsigned i = 0; i < conf->nlisten; i++) {
		rc = open_one(&conf->listen[i], &ls->fd[i], errbuf, errlen);
		if (rc < 0) {
			listen_close_all(ls);
			return rc;
		}
	}
	return 0;
}

void listen_close_all(struct listen_set *ls)
{
	for (unsigned i = 0; i < CONF_MAX_LISTEN; i++) {
		if (ls->fd[i] >= 0)
			close(ls->fd[i]);
		ls->fd[i] = -1;
	}
	ls->n = 0;
}
