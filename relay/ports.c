/*
 * ports.c — the relay's sockets: every port of relay.ports and the
 * rtpproxy control socket, bound once by the master before it forks.
 *
 * Children inherit the descriptors; the relay workers of every generation
 * (and a respawned one) serve the same sockets, so a reload or a crash
 * never closes a relayed port (a closed port would answer ICMP
 * unreachable and make NATs drop the mapping). The table of descriptors
 * is process memory, written only before fork.
 */
#include "relay_int.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

#define FD_HEADROOM 1024        /* descriptors beyond the relay's for the rest */

static int *port_fds;
static uint32_t nport_fds;
static int port_family;
static int control_fd = -1;

int relay_port_fd(uint32_t i)
{
	return i < nport_fds ? port_fds[i] : -1;
}

int relay_port_family(void)
{
	return port_family;
}

int relay_control_fd(void)
{
	return control_fd;
}

/* Soft limit up to what is needed, the hard one too when allowed (root). */
static int raise_nofile(uint64_t need, char *err, size_t errlen)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= need)
		return 0;
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need)
		rl.rlim_max = need;
	rl.rlim_cur = need;
	if (setrlimit(RLIMIT_NOFILE, &rl) == 0)
		return 0;
	snprintf(err, errlen, "relay.ports needs %llu open files: setrlimit(RLIMIT_NOFILE): %s "
		 "(raise the hard limit or narrow relay.ports)", (unsigned long long)need,
		 strerror(errno));
	return -errno;
}

/* A port another program holds (the kernel's ephemeral range often
 * overlaps relay.ports) only takes its quad out of service. */
static int bind_one(const struct relay_table *t, uint32_t i, char *err, size_t errlen)
{
	struct relay_addr a = t->local;
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, off = 0;

	a.port = (uint16_t)(t->port_base + i);
	relay_addr_to_sa(&a, a.family, &ss, &len);
	fd = socket(a.family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "relay port %u: socket: %s", a.port, strerror(errno));
		return -errno;
	}
	if (a.family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off));
	if (bind(fd, (struct sockaddr *)&ss, len) < 0) {
		int e = errno;

		snprintf(err, errlen, "relay port %u: bind: %s", a.port, strerror(e));
		close(fd);
		return e == EADDRINUSE ? 1 : -e;
	}
	port_fds[i] = fd;
	return 0;
}

static bool quad_bound(uint32_t q)
{
	for (uint32_t i = 4 * q; i < 4 * q + 4; i++)
		if (relay_port_fd(i) < 0)
			return false;
	return true;
}

static int bind_all(const struct relay_table *t, char *err, size_t errlen)
{
	uint32_t n = 4 * t->nquads, busy = 0, kept;
	int rc;

	if ((rc = raise_nofile((uint64_t)n + FD_HEADROOM, err, errlen)) < 0)
		return rc;
	port_fds = malloc((n ? n : 1) * sizeof(int));
	if (!port_fds) {
		snprintf(err, errlen, "relay ports: out of memory");
		return -ENOMEM;
	}
	nport_fds = n;
	for (uint32_t i = 0; i < n; i++)
		port_fds[i] = -1;
	port_family = t->local.family;
	for (uint32_t i = 0; i < n; i++) {
		if ((rc = bind_one(t, i, err, errlen)) < 0)
			return rc;
		busy += rc;
	}
	if (busy == 0)
		return 0;
	kept = relay_quads_keep(quad_bound);
	LOG_WARN("relay: %u port(s) of %u..%u in use by other programs; %u of %u sessions "
		 "left (last: %s)", busy, t->port_base, t->port_base + n - 1, kept, t->nquads, err);
	if (kept)
		return 0;
	snprintf(err, errlen, "relay.ports: every session needs a port another program holds");
	return -EADDRINUSE;
}

int relay_ports_open(const struct pinhole_conf *conf, char *err, size_t errlen)
{
	const struct relay_table *t = relay_table();
	int rc;

	if (!t) {
		snprintf(err, errlen, "relay ports: no relay table");
		return -ENODEV;
	}
	if (port_fds) {
		snprintf(err, errlen, "relay ports: already bound");
		return -EEXIST;
	}
	rc = bind_all(t, err, errlen);
	if (rc == 0)
		rc = relay_control_open(conf, &control_fd, err, errlen);
	if (rc < 0)
		relay_ports_close();
	return rc;
}

void relay_ports_close(void)
{
	for (uint32_t i = 0; i < nport_fds; i++)
		if (port_fds[i] >= 0)
			close(port_fds[i]);
	free(port_fds);
	port_fds = NULL;
	nport_fds = 0;
	if (control_fd >= 0)
		close(control_fd);
	control_fd = -1;
}
