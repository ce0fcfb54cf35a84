/*
 * keepalive_msg.c — the NAT keepalive ping on the wire: the OPTIONS
 * request the timer sends, the branch that names its binding (written and
 * read here, so both ends always agree), where a binding is pinged, and
 * how many buckets a tick visits.
 *
 * Pure functions with no shared state: the timer and the SIP workers call
 * them without locks.
 */
#include "keepalive_int.h"
#include "timer.h"
#include "../conf/conf.h"
#include "../sip/sip.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

uint32_t ka_hash(slice s)
{
	uint32_t h = 2166136261u;

	for (uint32_t i = 0; i < s.len; i++)
		h = (h ^ (unsigned char)s.p[i]) * 16777619u;
	return h;
}

int64_t ka_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* ---- the branch ------------------------------------------------------ */

int ka_branch_format(const struct ka_id *id, char *out, size_t cap)
{
	int n = snprintf(out, cap, KA_BRANCH_PREFIX "%08x-%08x%08x-%llx", id->bucket,
			 id->aor_hash, id->contact_hash, (unsigned long long)id->sent_us);

	return n > 0 && (size_t)n < cap ? n : -ENOSPC;
}

/* Exactly digits lower-case hex digits (any number up to 16 when digits is
 * 0) from *s, then the separator sep (or the end when sep is 0). */
static int hex_field(slice *s, unsigned digits, char sep, uint64_t *out)
{
	unsigned n = 0;

	*out = 0;
	while (n < s->len && ((s->p[n] >= '0' && s->p[n] <= '9') ||
			      (s->p[n] >= 'a' && s->p[n] <= 'f'))) {
		*out = *out << 4 | (uint64_t)(s->p[n] <= '9' ? s->p[n] - '0' : s->p[n] - 'a' + 10);
		if (++n > 16)
			return -EINVAL;
	}
	if (n == 0 || (digits && n != digits))
		return -EINVAL;
	if (sep ? n >= s->len || s->p[n] != sep : n != s->len)
		return -EINVAL;
	*s = slice_make(s->p + n + (sep != 0), s->len - n - (sep != 0));
	return 0;
}

int ka_branch_parse(slice branch, struct ka_id *id)
{
	const size_t plen = sizeof(KA_BRANCH_PREFIX) - 1;
	slice s = branch;
	uint64_t bucket, aor, contact, sent;

	if (s.len < plen || memcmp(s.p, KA_BRANCH_PREFIX, plen) != 0)
		return -ENOENT;
	s = slice_make(s.p + plen, s.len - plen);
	if (hex_field(&s, 8, '-', &bucket) < 0)
		return -EINVAL;
	if (s.len < 8)
		return -EINVAL;
	slice aor_s = slice_make(s.p, 8);
	s = slice_make(s.p + 8, s.len - 8);
	if (hex_field(&aor_s, 8, 0, &aor) < 0 || hex_field(&s, 8, '-', &contact) < 0 ||
	    hex_field(&s, 0, 0, &sent) < 0 || sent > INT64_MAX)
		return -EINVAL;
	*id = (struct ka_id){ (uint32_t)bucket, (uint32_t)aor, (uint32_t)contact,
			      (int64_t)sent };
	return 0;
}

/* ---- the OPTIONS request --------------------------------------------- */

int ka_options_build(const struct ka_options *o, char *out, size_t cap, size_t *len)
{
	unsigned pid = (unsigned)getpid();
	char branch[96];
	bool v6;
	int n;

	if (o->contact.len == 0 || o->from.len == 0 || o->via_host.len == 0)
		return -EINVAL;
	v6 = memchr(o->via_host.p, ':', o->via_host.len) && o->via_host.p[0] != '[';
	if (ka_branch_format(&o->id, branch, sizeof(branch)) < 0)
		return -ENOSPC;
	n = snprintf(out, cap,
		     "OPTIONS %.*s SIP/2.0\r\n"
		     "Via: SIP/2.0/UDP %s%.*s%s:%u;branch=%s;rport\r\n"
		     "Max-Forwards: 70\r\n"
		     "From: <%.*s>;tag=ka%x.%x\r\n"
		     "To: <%.*s>\r\n"
		     "Call-ID: ka-%x-%x-%llx\r\n"
		     "CSeq: 1 OPTIONS\r\n"
		     "Content-Length: 0\r\n\r\n",
		     SLICE_FMT(o->contact), v6 ? "[" : "", SLICE_FMT(o->via_host), v6 ? "]" : "",
		     o->via_port, branch, SLICE_FMT(o->from), pid, o->seq,
		     SLICE_FMT(o->contact), pid, o->seq, (unsigned long long)o->id.sent_us);
	if (n < 0 || (size_t)n >= cap)
		return -ENOSPC;
	*len = (size_t)n;
	return 0;
}

/* ---- where a binding is pinged --------------------------------------- */

/* A Contact without a received address: its IP literal and port, over UDP. */
static int contact_target(slice contact, struct sockaddr_storage *dst)
{
	char host[INET6_ADDRSTRLEN];
	unsigned char addr[16];
	struct sip_uri uri;
	const char *reason;
	unsigned len;
	int family;

	if (sip_uri_parse(contact, &uri, &reason) < 0 ||
	    (uri.scheme_id != SIP_SCHEME_SIP && uri.scheme_id != SIP_SCHEME_SIPS))
		return -EADDRNOTAVAIL;
	if (uri.scheme_id == SIP_SCHEME_SIPS ||
	    (uri.transport.len && !slice_caseeq_cstr(uri.transport, "udp")))
		return -EPROTONOSUPPORT;
	if (uri.host_type != SIP_HOST_IPV4 && uri.host_type != SIP_HOST_IPV6)
		return -EADDRNOTAVAIL;
	family = uri.host_type == SIP_HOST_IPV4 ? AF_INET : AF_INET6;
	slice_copy_cstr(uri.host, host, sizeof(host));
	if (inet_pton(family, host, addr) != 1)
		return -EADDRNOTAVAIL;
	netaddr_join((uint8_t)family, sip_uri_port(&uri), addr, dst, &len);
	return 0;
}

int ka_target(const struct loc_binding *b, struct sockaddr_storage *dst)
{
	unsigned len;

	if (b->received.family == 0)
		return contact_target(b->contact, dst);
	if (b->received.proto != CONF_PROTO_UDP)
		return -EPROTONOSUPPORT;
	netaddr_join(b->received.family, b->received.port, b->received.addr, dst, &len);
	return 0;
}

bool keepalive_flagged(const struct pinhole_conf *conf, const struct loc_binding *b)
{
	const uint8_t both = LOC_F_NAT | LOC_F_KEEPALIVE;

	return !conf->nat.keepalive.nated_only || (b->flags & both) == both;
}

bool ka_sockaddr_same(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;

		return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	if (a->ss_family == AF_INET6) {
		const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;

		return x->sin6_port == y->sin6_port &&
		       memcmp(&x->sin6_addr, &y->sin6_addr, 16) == 0;
	}
	return false;
}

/* ---- pacing ---------------------------------------------------------- */

uint32_t ka_budget(uint32_t nbuckets, unsigned interval_ms, int64_t elapsed_ms,
		   uint64_t *carry)
{
	uint64_t due;

	if (interval_ms == 0 || elapsed_ms <= 0)
		return 0;
	due = *carry + (uint64_t)nbuckets * (uint64_t)elapsed_ms;
	*carry = due % interval_ms;
	due /= interval_ms;
	return due > nbuckets ? nbuckets : (uint32_t)due;
}
