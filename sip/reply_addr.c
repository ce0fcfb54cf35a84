/*
 * reply_addr.c — where a response to a request goes and how its top Via
 * reads (RFC 3261 §18.2.1, §18.2.2; RFC 3581 rport).
 *
 * Shared by the stateless replies of the SIP workers and by the
 * transaction layer, which writes received/rport into the stored request
 * once so that every response it builds or forwards later carries them.
 * Pure functions: no locks, no allocation; any process may call them.
 */
#include "sip.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>

/* inet_ntop formats IPv4 with sprintf, the cost of a whole header line
 * on the reply path: four octets by hand. */
static int ipv4_text(const struct in_addr *in, char *ip, size_t iplen)
{
	const unsigned char *a = (const unsigned char *)in;
	struct sbuf b;

	sbuf_init(&b, ip, iplen);
	for (int i = 0; i < 4; i++) {
		sbuf_add_uint(&b, a[i]);
		if (i < 3)
			sbuf_adds(&b, ".");
	}
	return b.full ? -ENOSPC : 0;
}

int sip_sockaddr_text(const struct sockaddr *sa, char *ip, size_t iplen, uint16_t *port)
{
	const void *a;

	if (sa->sa_family == AF_INET) {
		*port = ntohs(((const struct sockaddr_in *)sa)->sin_port);
		return ipv4_text(&((const struct sockaddr_in *)sa)->sin_addr, ip, iplen);
	} else if (sa->sa_family == AF_INET6) {
		a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
		*port = ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
	} else {
		return -EAFNOSUPPORT;
	}
	return inet_ntop(sa->sa_family, a, ip, (socklen_t)iplen) ? 0 : -errno;
}

size_t sip_reply_top_via(const struct sip_msg *msg, const struct sockaddr *src,
			 bool force_rport, char *out, size_t cap)
{
	const struct sip_via *via = &msg->via[0];
	slice rest = via->params, name, value;
	const char *params_at = via->params.len ? via->params.p - 1 : slice_end(via->raw);
	char ip[INET6_ADDRSTRLEN];
	uint16_t port = 0;
	struct sbuf b;

	if (msg->nvia == 0 || sip_sockaddr_text(src, ip, sizeof(ip), &port) < 0)
		return 0;
	sbuf_init(&b, out, cap);
	sbuf_add(&b, slice_between(via->raw.p, params_at));
	while (sip_param_next(&rest, &name, &value) == 1) {
		if (slice_caseeq_cstr(name, "received") || slice_caseeq_cstr(name, "rport"))
			continue;
		sbuf_adds(&b, ";");
		sbuf_add(&b, name);
		if (value.len) {
			sbuf_adds(&b, "=");
			sbuf_add(&b, value);
		}
	}
	if (!sip_addr_equals(via->host, src)) {
		sbuf_adds(&b, ";received=");
		sbuf_adds(&b, ip);
	}
	if (via->has_rport || force_rport) {
		sbuf_adds(&b, ";rport=");
		sbuf_add_uint(&b, port);
	}
	return b.full ? 0 : b.len;
}

void sip_reply_dest(const struct sip_msg *msg, const struct sockaddr *src,
		    bool force_rport, struct sockaddr_storage *dst)
{
	uint16_t port;

	memset(dst, 0, sizeof(*dst));
	if (src->sa_family == AF_INET)
		memcpy(dst, src, sizeof(struct sockaddr_in));
	else if (src->sa_family == AF_INET6)
		memcpy(dst, src, sizeof(struct sockaddr_in6));
	if (!msg || msg->nvia == 0 || msg->via[0].has_rport || force_rport)
		return;
	if (!slice_caseeq_cstr(msg->via[0].transport, "UDP"))
		return;            /* reliable: back to the source (§18.2.2) */
	port = htons(msg->via[0].port ? msg->via[0].port : 5060);
	if (dst->ss_family == AF_INET)
		((struct sockaddr_in *)dst)->sin_port = port;
	else if (dst->ss_family == AF_INET6)
		((struct sockaddr_in6 *)dst)->sin6_port = port;
}

size_t sip_reply_to_tag(const struct sip_msg *req, const char *prefix, uint64_t salt,
			char *out, size_t cap)
{
	uint64_t h = 0xcbf29ce484222325ull;
	const slice parts[] = { req->call_id, req->from.tag,
				req->nvia ? req->via[0].branch : SLICE_NULL };
	struct sbuf b;

	for (size_t i = 0; i < ARRAY_LEN(parts); i++)
		for (uint32_t j = 0; j < parts[i].len; j++)
			h = (h ^ (unsigned char)parts[i].p[j]) * 0x100000001b3ull;
	sbuf_init(&b, out, cap);
	sbuf_adds(&b, prefix);
	sbuf_add_hex(&b, h ^ salt, 16);
	return b.full ? 0 : b.len;
}
