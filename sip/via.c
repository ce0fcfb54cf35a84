/*
 * via.c — Via header bodies (RFC 3261 §20.42, §25.1):
 *   via-parm = sent-protocol LWS sent-by *( SEMI via-params )
 *   sent-protocol = name SLASH version SLASH transport, sent-by = host [COLON port]
 * with linear white space (folding included) allowed around '/', ':', ';'
 * and '=' as the ABNF's SLASH/COLON/SEMI/EQUAL say (RFC 4475 §3.1.1.1).
 *
 * The transport is any token (§3.1.1.10). received may carry IPv6 brackets
 * or not (RFC 5118 §4.5): they are stripped. An empty parameter or a comma
 * with no via-parm after it is a defect (RFC 4475 §3.1.2.1). Called by
 * sip_msg_parse for every Via line; pure, any process.
 */
#include "sip.h"
#include "scan.h"

#include <errno.h>

/* [p, end) without the LWS (folding included) at both ends. */
static inline slice trim_lws(const char *p, const char *end)
{
	p = scan_lws(p, end);
	while (end > p && ch_is((unsigned char)end[-1], CH_SPACE))
		end--;
	return slice_between(p, end);
}

/* Digits only, value in min..max. */
static bool parse_uint_in(slice s, uint32_t min, uint32_t max, uint32_t *out)
{
	return slice_to_u32(s, max, out) == 0 && *out >= min;
}

/* A dotted quad whose parts are 0..255. */
static bool is_ipv4(slice s)
{
	const char *p = s.p, *end = slice_end(s);

	for (int part = 0; part < 4; part++) {
		const char *start;
		unsigned v = 0;

		if (part && (p >= end || *p++ != '.'))
			return false;
		for (start = p; p < end && scan_is_digit(*p) && p - start < 3; p++)
			v = v * 10 + (unsigned)(*p - '0');
		if (p == start || v > 255)
			return false;
	}
	return p == end;
}

/* The inside of an IPv6 reference: hex digits, ':' and '.' (for an
 * embedded IPv4 part). The exact RFC 4291 form is not enforced: RFC 5118
 * §4.10 asks to tolerate "2001:db8:::192.0.2.1". */
static bool is_ipv6(slice s)
{
	bool colon = false;

	for (uint32_t i = 0; i < s.len; i++) {
		char c = s.p[i];

		if (c == ':')
			colon = true;
		else if (c != '.' && !ch_is((unsigned char)c, CH_HEX))
			return false;
	}
	return colon && s.len >= 2;
}

/* A host name or IPv4 address at p, made of host characters: no empty
 * label, all digits and dots only as a valid IPv4 address (checked in the
 * same pass). Returns the byte after it, or NULL. */
static const char *scan_name(const char *p, const char *end, uint8_t *type)
{
	const char *start = p;
	unsigned label = 0, octet = 0, dots = 0;
	bool alpha = false, quad = true;

	for (; p < end && ch_is((unsigned char)*p, CH_HOST); p++) {
		if (*p == '.') {
			if (label == 0)
				return NULL;
			quad &= label <= 3 && octet <= 255;
			dots++;
			label = octet = 0;
			continue;
		}
		if (scan_is_digit(*p))
			octet = octet * 10 + (unsigned)(*p - '0');
		else
			alpha = true;
		label++;
	}
	if (p == start || *start == '-')
		return NULL;
	if (!alpha && !(quad && dots == 3 && label && label <= 3 && octet <= 255))
		return NULL;
	*type = alpha ? SIP_HOST_NAME : SIP_HOST_IPV4;
	return p;
}

/* sent-by host at p: "[v6]" or a name/IPv4; returns the byte after it. */
static const char *parse_host(const char *p, const char *end, struct sip_via *v)
{
	const char *start = p;

	if (p < end && *p == '[') {
		const char *close = memchr(p, ']', (size_t)(end - p));

		if (!close)
			return NULL;
		v->host = slice_between(p + 1, close);
		v->host_type = SIP_HOST_IPV6;
		return is_ipv6(v->host) ? close + 1 : NULL;
	}
	p = scan_name(p, end, &v->host_type);
	v->host = p ? slice_between(start, p) : SLICE_NULL;
	return p;
}

/* A whole value that is a host (maddr). */
static bool is_host(slice s)
{
	uint8_t type;

	if (s.len >= 2 && s.p[0] == '[' && s.p[s.len - 1] == ']')
		return is_ipv6(slice_make(s.p + 1, s.len - 2));
	return scan_name(s.p, slice_end(s), &type) == slice_end(s);
}

/* received: an IPv4 or IPv6 address, the latter with or without []. */
static bool parse_received(slice val, slice *out)
{
	if (val.len >= 2 && val.p[0] == '[' && val.p[val.len - 1] == ']')
		val = slice_make(val.p + 1, val.len - 2);
	*out = val;
	return is_ipv4(val) || is_ipv6(val);
}

/* The well-known parameters are checked every time they appear; the first
 * occurrence is the one kept, as sip_param_find would find it. */
static bool via_param(struct sip_via *v, slice name, slice val)
{
	slice addr;
	uint32_t u = 0;

	switch (name.len) {
	case 3:
		if (!scan_name_is(name, "ttl", 3))
			return true;
		if (!parse_uint_in(val, 0, 255, &u))
			return false;
		if (v->ttl < 0)
			v->ttl = (int16_t)u;
		return true;
	case 5:
		if (scan_name_is(name, "rport", 5)) {
			if (val.len && !parse_uint_in(val, 1, 65535, &u))
				return false;
			if (!v->has_rport)
				v->rport = (uint16_t)u;
			v->has_rport = true;
		} else if (scan_name_is(name, "maddr", 5)) {
			if (!is_host(val))
				return false;
			if (!v->maddr.p)
				v->maddr = val;
		}
		return true;
	case 6:
		if (!scan_name_is(name, "branch", 6))
			return true;
		if (!scan_is_token(val))
			return false;
		if (!v->branch.p)
			v->branch = val;
		return true;
	case 8:
		if (!scan_name_is(name, "received", 8))
			return true;
		if (!parse_received(val, &addr))
			return false;
		if (!v->received.p)
			v->received = addr;
		return true;
	}
	return true;
}

/* End of the current via-parm: the next ',' outside a quoted string
 * (memchr first: quoted parameter values in a Via are rare). */
static const char *parm_end(const char *p, const char *end)
{
	const char *comma = memchr(p, ',', (size_t)(end - p));
	bool quoted = false;

	if (!memchr(p, '"', (size_t)((comma ? comma : end) - p)))
		return comma ? comma : end;
	for (; p < end; p++) {
		if (quoted && *p == '\\' && p + 1 < end)
			p++;
		else if (*p == '"')
			quoted = !quoted;
		else if (!quoted && *p == ',')
			return p;
	}
	return end;
}

static int via_params(struct sip_via *v, const char *p, const char *end,
		      const char **reason)
{
	slice rest, name, val;
	int rc;

	v->params = trim_lws(p, end);
	rest = v->params;
	if (rest.len == 0) {
		*reason = "Empty Via parameter";
		return -EINVAL;
	}
	while ((rc = sip_param_next(&rest, &name, &val)) == 1) {
		if (!via_param(v, name, val)) {
			*reason = "Bad Via parameter";
			return -EINVAL;
		}
	}
	if (rc < 0) {
		*reason = "Empty Via parameter";
		return -EINVAL;
	}
	return 0;
}

/* sent-protocol: three tokens separated by SLASH; returns the byte after.
 * "SIP/2.0/" without LWS, the usual form, is taken in one compare. */
static const char *parse_protocol(const char *p, const char *end,
				  struct sip_via *v)
{
	const char *start = p, *tok;

	if (end - p > 8 && memcmp(p, "SIP/2.0/", 8) == 0 &&
	    ch_is((unsigned char)p[8], CH_TOKEN)) {
		v->protocol = slice_make(p, 7);
		v->transport = slice_between(p + 8, scan_token(p + 8, end));
		return slice_end(v->transport);
	}
	for (int i = 0; i < 3; i++) {
		if (i) {
			p = scan_lws(p, end);
			if (p >= end || *p != '/')
				return NULL;
			p = scan_lws(p + 1, end);
		}
		tok = p;
		p = scan_token(p, end);
		if (p == tok)
			return NULL;
		if (i == 1)
			v->protocol = slice_between(start, p);
	}
	v->transport = slice_between(tok, p);
	return p;
}

/* One via-parm from p up to the next top-level ',' or end. */
static int via_parm(const char *p, const char *end, struct sip_via *v,
		    const char **next, const char **reason)
{
	const char *start = p, *stop = parm_end(p, end), *q;
	uint32_t port;

	scan_zero(v, sizeof(*v));
	v->ttl = -1;
	*reason = "Malformed Via header";
	p = parse_protocol(p, stop, v);
	if (!p || (q = scan_lws(p, stop)) == p)
		return -EINVAL;
	p = parse_host(q, stop, v);
	if (!p)
		return -EINVAL;
	q = scan_lws(p, stop);
	if (q < stop && *q == ':') {
		p = scan_lws(q + 1, stop);
		for (q = p; q < stop && scan_is_digit(*q); q++)
			;
		if (!parse_uint_in(slice_between(p, q), 1, 65535, &port)) {
			*reason = "Bad Via port";
			return -EINVAL;
		}
		v->port = (uint16_t)port;
		q = scan_lws(q, stop);
	}
	if (q < stop && *q == ';') {
		if (via_params(v, q + 1, stop, reason) < 0)
			return -EINVAL;
	} else if (q != stop) {
		return -EINVAL;
	}
	v->raw = trim_lws(start, stop);
	*next = stop;
	return 0;
}

int sip_via_parse(slice value, struct sip_via *out, unsigned max, unsigned *n,
		  const char **reason)
{
	const char *p = value.p, *end = slice_end(value);

	for (;;) {
		p = scan_lws(p, end);
		if (p >= end) {
			*reason = "Malformed Via header";
			return -EINVAL;
		}
		if (*n >= max) {
			*reason = "Too many Via values";
			return -E2BIG;
		}
		if (via_parm(p, end, &out[*n], &p, reason) < 0)
			return -EINVAL;
		(*n)++;
		if (p >= end)
			return 0;
		p++; /* the ',' */
	}
}
