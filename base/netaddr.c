/*
 * netaddr.c — between struct sockaddr and the (family, port, address
 * bytes) triple that shared-memory tables store: the location table's
 * received address, transaction destinations, the connection table's
 * peers, relay legs. Pure functions, any process, no lock.
 */
#include "base.h"

#include <netinet/in.h>
#include <sys/socket.h>

void netaddr_split(const struct sockaddr *sa, uint8_t *family, uint16_t *port,
		   uint8_t addr[16])
{
	*family = 0;
	*port = 0;
	memset(addr, 0, 16);
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;

		*family = AF_INET;
		*port = ntohs(s4->sin_port);
		memcpy(addr, &s4->sin_addr, 4);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;

		*family = AF_INET6;
		*port = ntohs(s6->sin6_port);
		memcpy(addr, &s6->sin6_addr, 16);
	}
}

void netaddr_join(uint8_t family, uint16_t port, const uint8_t addr[16],
		  struct sockaddr_storage *ss, unsigned *len)
{
	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		memcpy(&s6->sin6_addr, addr, 16);
		*len = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		memcpy(&s4->sin_addr, addr, 4);
		*len = sizeof(*s4);
	}
}
