/*
 * addr.c — relay addresses: comparing, converting to and from socket
 * addresses, printing.
 *
 * Pure functions on caller memory; any process may call them. IPv4 lives
 * in the first 4 bytes of addr (the rest zero), so equal addresses are
 * equal bytes.
 */
#include "relay_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>

bool relay_addr_eq(const struct relay_addr *a, const struct relay_addr *b)
{
	return a->family == b->family && a->port == b->port &&
	       memcmp(a->addr, b->addr, sizeof(a->addr)) == 0;
}

bool relay_addr_same_host(const struct relay_addr *a, const struct relay_addr *b)
{
	return a->family == b->family && memcmp(a->addr, b->addr, sizeof(a->addr)) == 0;
}

bool relay_addr_usable(const struct relay_addr *a)
{
	static const uint8_t zero[16];

	if (a->family != AF_INET && a->family != AF_INET6)
		return false;
	return a->port != 0 && memcmp(a->addr, zero, a->family == AF_INET ? 4 : 16) != 0;
}

struct relay_addr relay_addr_port(const struct relay_addr *a, int delta)
{
	struct relay_addr r = *a;

	r.port = (uint16_t)(a->port + delta);
	return r;
}

void relay_addr_from_sa(const struct sockaddr *sa, struct relay_addr *out)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	*out = (struct relay_addr){ 0 };
	netaddr_split(sa, &out->family, &out->port, out->addr);
	if (out->family == AF_INET6 && memcmp(out->addr, mapped, sizeof(mapped)) == 0) {
		out->family = AF_INET;   /* v4-mapped: the IPv4 form, so equal is equal */
		memmove(out->addr, out->addr + 12, 4);
		memset(out->addr + 4, 0, 12);
	}
}

int relay_addr_to_sa(const struct relay_addr *a, int sock_family,
		     struct sockaddr_storage *sa, socklen_t *len)
{
	memset(sa, 0, sizeof(*sa));
	if (a->family == AF_INET && sock_family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)sa;

		in->sin_family = AF_INET;
		in->sin_port = htons(a->port);
		memcpy(&in->sin_addr, a->addr, 4);
		*len = sizeof(*in);
		return 0;
	}
	if (sock_family != AF_INET6 || (a->family != AF_INET && a->family != AF_INET6))
		return -EAFNOSUPPORT;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)sa;
	uint8_t *b = (uint8_t *)&in6->sin6_addr;

	in6->sin6_family = AF_INET6;
	in6->sin6_port = htons(a->port);
	if (a->family == AF_INET) {
		b[10] = b[11] = 0xff;
		memcpy(b + 12, a->addr, 4);
	} else {
		memcpy(b, a->addr, 16);
	}
	*len = sizeof(*in6);
	return 0;
}

void relay_addr_format(const struct relay_addr *a, char *buf, size_t cap)
{
	char ip[INET6_ADDRSTRLEN];

	if ((a->family != AF_INET && a->family != AF_INET6) ||
	    !inet_ntop(a->family, a->addr, ip, sizeof(ip))) {
		if (cap)
			buf[0] = '\0';
		return;
	}
	snprintf(buf, cap, !a->port ? "%s" : a->family == AF_INET6 ? "[%s]:%u" : "%s:%u", ip,
		 a->port);
}
