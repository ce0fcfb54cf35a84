/*
 * nat.c — NAT detection: the nat_uac_test bits of Kamailio's nathelper.
 *
 * A UA behind NAT writes its private address into Via, Contact and SDP; the
 * packet arrives from the NAT's public address. Each test compares what the
 * message declares with where it came from; the Contact list comes parsed
 * by the caller (struct sip_contacts). Pure functions: any process.
 */
#include "sip.h"

#include <arpa/inet.h>
#include <netinet/in.h>

/* Dotted-quad IPv4 as inet_pton takes it: four decimal octets up to 255,
 * no leading zeros, nothing else. Runs on every request (Via, Contact),
 * so it works on the slice in place. */
static bool ipv4_parse(slice s, unsigned char out[4])
{
	unsigned octet = 0, val = 0, digits = 0;

	for (uint32_t i = 0; i < s.len; i++) {
		char c = s.p[i];

		if (c >= '0' && c <= '9') {
			if (digits && val == 0)
				return false;
			val = val * 10 + (unsigned)(c - '0');
			if (val > 255)
				return false;
			digits++;
		} else if (c == '.' && digits && octet < 3) {
			out[octet++] = (unsigned char)val;
			val = digits = 0;
		} else {
			return false;
		}
	}
	if (!digits || octet != 3)
		return false;
	out[3] = (unsigned char)val;
	return true;
}

/* Parses a textual address into binary; AF_INET / AF_INET6, or 0. */
static int addr_parse(slice host, unsigned char out[16])
{
	char tmp[INET6_ADDRSTRLEN + 1];

	if (ipv4_parse(host, out))
		return AF_INET;
	if (host.len == 0 || host.len >= sizeof(tmp) || !memchr(host.p, ':', host.len))
		return 0;
	memcpy(tmp, host.p, host.len);
	tmp[host.len] = '\0';
	return inet_pton(AF_INET6, tmp, out) == 1 ? AF_INET6 : 0;
}

static bool ipv4_is_private(const unsigned char a[4])
{
	return a[0] == 10 ||
	       (a[0] == 172 && (a[1] & 0xf0) == 16) ||
	       (a[0] == 192 && a[1] == 168) ||
	       (a[0] == 100 && (a[1] & 0xc0) == 64); /* RFC 6598 shared space */
}

static bool ipv6_is_private(const unsigned char a[16])
{
	static const unsigned char v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	if (memcmp(a, v4mapped, sizeof(v4mapped)) == 0)
		return ipv4_is_private(a + 12);
	return (a[0] & 0xfe) == 0xfc; /* unique local fc00::/7 */
}

bool sip_addr_is_private(slice host)
{
	unsigned char a[16];

	switch (addr_parse(host, a)) {
	case AF_INET:
		return ipv4_is_private(a);
	case AF_INET6:
		return ipv6_is_private(a);
	default:
		return false;
	}
}

bool sip_addr_equals(slice host, const struct sockaddr *sa)
{
	unsigned char a[16];
	int af = addr_parse(host, a);

	if (af == AF_INET && sa->sa_family == AF_INET)
		return memcmp(a, &((const struct sockaddr_in *)sa)->sin_addr, 4) == 0;
	if (af == AF_INET6 && sa->sa_family == AF_INET6)
		return memcmp(a, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16) == 0;
	return false;
}

static bool src_is_private(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return ipv4_is_private((const unsigned char *)&((const struct sockaddr_in *)sa)->sin_addr);
	if (sa->sa_family == AF_INET6)
		return ipv6_is_private(((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr);
	return false;
}

static uint16_t src_port(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)sa)->sin_port);
	if (sa->sa_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
	return 0;
}

/* The Contact values looked at: the first ones, those parsed before a
 * defect included. */
#define NAT_CONTACTS_TESTED 8

static bool contact_is_private(const struct sip_contacts *contacts)
{
	unsigned n = contacts->n < NAT_CONTACTS_TESTED ? contacts->n : NAT_CONTACTS_TESTED;

	for (unsigned i = 0; i < n; i++)
		if (sip_addr_is_private(contacts->v[i].uri.host))
			return true;
	return false;
}

static bool sdp_is_private(const struct sip_msg *msg)
{
	struct sdp_session sdp;
	const char *reason;

	if (msg->body.len == 0 || sdp_parse(msg->body, &sdp, &reason) < 0)
		return false;
	if (sdp.conn.present && sip_addr_is_private(sdp.conn.address))
		return true;
	for (unsigned i = 0; i < sdp.nmedia; i++)
		if (sdp.media[i].conn.present && sip_addr_is_private(sdp.media[i].conn.address))
			return true;
	return false;
}

unsigned sip_nat_detect(const struct sip_msg *msg, const struct sip_contacts *contacts,
			const struct sockaddr *src, unsigned mask)
{
	const struct sip_via *via = msg->nvia ? &msg->via[0] : NULL;
	unsigned fired = 0;

	if ((mask & SIP_NAT_CONTACT_PRIVATE) && contact_is_private(contacts))
		fired |= SIP_NAT_CONTACT_PRIVATE;
	if (via && (mask & SIP_NAT_VIA_HOST_DIFFERS) && !sip_addr_equals(via->host, src))
		fired |= SIP_NAT_VIA_HOST_DIFFERS;
	if (via && (mask & SIP_NAT_VIA_PRIVATE) && sip_addr_is_private(via->host))
		fired |= SIP_NAT_VIA_PRIVATE;
	if ((mask & SIP_NAT_SDP_PRIVATE) && sdp_is_private(msg))
		fired |= SIP_NAT_SDP_PRIVATE;
	if (via && (mask & SIP_NAT_VIA_PORT_DIFFERS) &&
	    (via->port ? via->port : 5060) != src_port(src))
		fired |= SIP_NAT_VIA_PORT_DIFFERS;
	if ((mask & SIP_NAT_SRC_PRIVATE) && src_is_private(src))
		fired |= SIP_NAT_SRC_PRIVATE;
	return fired;
}
