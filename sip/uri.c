/*
 * uri.c — SIP, SIPS and tel URIs (RFC 3261 §19.1 and §25.1, RFC 3966),
 * plus the minimal check for any other scheme.
 *
 * Called by the message parser for the Request-URI and by nameaddr.c for
 * every From/To/Contact/Route URI. One left-to-right pass over the slice
 * with the chars.h table; escapes are validated, never decoded. Pure
 * functions on caller bytes: any process, no locking.
 */
#include "sip.h"
#include "chars.h"
#include "hvalue.h"

#include <errno.h>

static int fail(const char **reason, const char *why)
{
	*reason = why;
	return -EINVAL;
}

static bool is_hex(char c)
{
	return ch_is((unsigned char)c, CH_HEX);
}

/* Advances over bytes of class cls and %HH escapes; NULL on a bad escape. */
static inline const char *scan_class(const char *p, const char *end,
				     unsigned cls)
{
	for (;;) {
		p = ch_span(p, end, cls);
		if (p == end || *p != '%')
			return p;
		if (end - p < 3 || !is_hex(p[1]) || !is_hex(p[2]))
			return NULL;
		p += 3;
	}
}

static bool is_scheme_char(char c)
{
	return ch_is((unsigned char)c, CH_ALPHA | CH_DIGIT) || c == '+' ||
	       c == '-' || c == '.';
}

static uint8_t scheme_id(slice s)
{
	const char *p = s.p;

	if (s.len < 3 || s.len > 4)
		return SIP_SCHEME_OTHER;
	if ((p[0] | 0x20) == 's' && (p[1] | 0x20) == 'i' && (p[2] | 0x20) == 'p') {
		if (s.len == 3)
			return SIP_SCHEME_SIP;
		if ((p[3] | 0x20) == 's')
			return SIP_SCHEME_SIPS;
	} else if (s.len == 3 && (p[0] | 0x20) == 't' && (p[1] | 0x20) == 'e' &&
		   (p[2] | 0x20) == 'l') {
		return SIP_SCHEME_TEL;
	}
	return SIP_SCHEME_OTHER;
}

/* scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) ":"; the usual
 * "sip:" is taken in one compare. */
static int parse_scheme(const char **pp, const char *end, struct sip_uri *out,
			const char **reason)
{
	const char *p = *pp, *start = p;

	if (end - p >= 4 && scan_caseeq4(p, "sip:")) {
		out->scheme = slice_make(p, 3);
		out->scheme_id = SIP_SCHEME_SIP;
		*pp = p + 4;
		return 0;
	}
	if (p == end || !ch_is((unsigned char)*p, CH_ALPHA))
		return fail(reason, "Missing URI scheme");
	for (p++; p < end && is_scheme_char(*p); p++)
		;
	if (p == end || *p != ':')
		return fail(reason, "Missing URI scheme");
	out->scheme = slice_between(start, p);
	out->scheme_id = scheme_id(out->scheme);
	*pp = p + 1;
	return 0;
}

/*
 * [user[:password]@]: user chars are unreserved / escaped / &=+$,;?/ and
 * password chars unreserved / escaped / &=+$, so the scan stops at the
 * first byte neither allows; the userinfo exists only if that byte is '@'
 * (which cannot appear unescaped anywhere else in a SIP URI). Up to the
 * first ':' or escape every user character continues the scan: one span.
 */
static int parse_userinfo(const char **pp, const char *end,
			  struct sip_uri *out, const char **reason)
{
	const char *p = ch_span(*pp, end, CH_UNRESERVED | CH_USER_UNRES);
	const char *colon = NULL;

	for (; p < end; p++) {
		unsigned char c = (unsigned char)*p;

		if (ch_is(c, CH_UNRESERVED | CH_PASSWD))
			continue;
		if (c == '%') {
			if (end - p < 3 || !is_hex(p[1]) || !is_hex(p[2]))
				return fail(reason, "Bad escape in URI");
			p += 2;
		} else if (c == ':' && !colon) {
			colon = p;
		} else if (!ch_is(c, CH_USER_UNRES) || colon) {
			break;
		}
	}
	if (p == end || *p != '@')
		return 0;
	out->user = slice_between(*pp, colon ? colon : p);
	if (out->user.len == 0)
		return fail(reason, "Malformed URI user part");
	if (colon)
		out->password = slice_between(colon + 1, p);
	*pp = p + 1;
	return 0;
}

/* Exactly four decimal numbers 0..255 of 1-3 digits filling [p, end). */
static bool is_ipv4(const char *p, const char *end)
{
	unsigned dots = 0, digits = 0, v = 0;

	for (; p < end; p++) {
		if (*p == '.') {
			if (!digits || ++dots > 3)
				return false;
			digits = v = 0;
		} else if (ch_is((unsigned char)*p, CH_DIGIT) && ++digits <= 3) {
			v = v * 10 + (unsigned)(*p - '0');
			if (v > 255)
				return false;
		} else {
			return false;
		}
	}
	return dots == 3 && digits;
}

/*
 * The inside of an IPv6 reference: hex groups of at most 4 digits split by
 * ':', one run of empty groups ("::"), an optional dotted quad at the end.
 * Three colons in a row are tolerated (RFC 5118 §4.10).
 */
static bool is_ipv6(const char *p, const char *end)
{
	unsigned groups = 0, runs = 0, colons = 0;
	bool prev_empty = false;

	if (end - p < 2 || (p[0] == ':' && p[1] != ':') ||
	    (end[-1] == ':' && end[-2] != ':'))
		return false;
	for (;;) {
		const char *s = p;

		while (p < end && is_hex(*p))
			p++;
		if (p < end && *p == '.') {
			if (!is_ipv4(s, end))
				return false;
			groups += 2;
			break;
		}
		if (p - s > 4)
			return false;
		if (p == s && !prev_empty)
			runs++;
		groups += p != s;
		prev_empty = p == s;
		if (p == end)
			break;
		if (*p != ':')
			return false;
		colons++;
		p++;
	}
	return colons >= 2 && runs <= 1 && (runs ? groups <= 7 : groups == 8);
}

/* An unbracketed IPv6 address: hex, ':' and '.' with two colons or more. */
static bool looks_like_bare_ipv6(const char *p, const char *end)
{
	unsigned colons = 0;

	for (; p < end && (is_hex(*p) || *p == ':' || *p == '.'); p++)
		colons += *p == ':';
	return colons >= 2;
}

/* A label that may be part of an IPv4 address: 1-3 digits worth 0..255. */
static bool is_octet(const char *p, const char *end)
{
	unsigned v = 0;

	if (end - p > 3)
		return false;
	for (; p < end; p++) {
		if (!scan_is_digit(*p))
			return false;
		v = v * 10 + (unsigned)(*p - '0');
	}
	return v <= 255;
}

/* hostname: labels of alphanum and '-' (not at either end), split by '.',
 * an optional final '.' (RFC 3261 §25.1); an IPv4 address when it is four
 * octet labels without the final '.'. One pass, label by label. */
static int parse_hostname(const char **pp, const char *end, struct sip_uri *out)
{
	const char *p = *pp, *start = p;
	unsigned octets = 0;
	bool v4 = true;

	if (*p == '-') /* later labels start with the alphanum after a '.' */
		return -EINVAL;
	for (;;) {
		const char *label = p;

		p = ch_span(p, end, CH_LABEL);
		if (p == label || p[-1] == '-')
			return -EINVAL;
		v4 = v4 && is_octet(label, p);
		octets++;
		if (p >= end || *p != '.')
			break;
		if (++p >= end || !ch_is((unsigned char)*p, CH_ALPHA | CH_DIGIT)) {
			if (p < end && *p == '.')
				return -EINVAL;
			v4 = false;
			break;
		}
	}
	out->host = slice_between(start, p);
	out->host_type = v4 && octets == 4 ? SIP_HOST_IPV4 : SIP_HOST_NAME;
	*pp = p;
	return 0;
}

static int parse_host(const char **pp, const char *end, struct sip_uri *out,
		      const char **reason)
{
	const char *p = *pp, *close;

	if (p == end || *p == ';' || *p == '?')
		return fail(reason, "Missing host in URI");
	if (*p != '[') {
		if (parse_hostname(pp, end, out) < 0)
			return fail(reason, "Malformed host in URI");
		return 0;
	}
	close = memchr(p, ']', (size_t)(end - p));
	if (!close || !is_ipv6(p + 1, close))
		return fail(reason, "Malformed IPv6 reference");
	out->host = slice_between(p + 1, close);
	out->host_type = SIP_HOST_IPV6;
	*pp = close + 1;
	return 0;
}

/* ":" 1*5DIGIT, 1..65535 */
static int parse_port(const char **pp, const char *end, uint16_t *port)
{
	const char *p = *pp + 1, *start = p;
	unsigned v = 0;

	for (; p < end && ch_is((unsigned char)*p, CH_DIGIT) && p - start < 6; p++)
		v = v * 10 + (unsigned)(*p - '0');
	if (p == start || p - start > 5 || v == 0 || v > 65535)
		return -EINVAL;
	*port = (uint16_t)v;
	*pp = p;
	return 0;
}

static int parse_hostport(const char **pp, const char *end,
			  struct sip_uri *out, const char **reason)
{
	const char *start = *pp;
	int rc = parse_host(pp, end, out, reason);

	if (rc == 0 && *pp < end && **pp == ':') {
		rc = parse_port(pp, end, &out->port);
		if (rc == 0 && *pp < end && **pp == ':')
			rc = -EINVAL;
		if (rc < 0)
			*reason = "Bad port in URI";
	}
	if (rc < 0 && start < end && *start != '[' &&
	    looks_like_bare_ipv6(start, end))
		*reason = "IPv6 address must be in brackets";
	return rc;
}

/* Remembers the first transport/maddr/user/ttl/lr parameter. */
static void note_param(struct sip_uri *out, slice name, slice value)
{
	slice *dst = NULL;

	switch (name.len) {
	case 2:
		out->lr |= hvalue_name_is(name, "lr", 2);
		return;
	case 3:
		dst = hvalue_name_is(name, "ttl", 3) ? &out->ttl : NULL;
		break;
	case 4:
		dst = hvalue_name_is(name, "user", 4) ? &out->user_param : NULL;
		break;
	case 5:
		dst = hvalue_name_is(name, "maddr", 5) ? &out->maddr : NULL;
		break;
	case 9:
		dst = hvalue_name_is(name, "transport", 9) ? &out->transport : NULL;
		break;
	}
	if (dst && !dst->p)
		*dst = value;
}

#define PARAMCHAR (CH_UNRESERVED | CH_PARAM_UNRES)

/* 1*paramchar at *pp; the end of the run, or NULL with *reason set. */
static const char *scan_paramchars(const char *p, const char *end,
				   const char **reason)
{
	const char *q = scan_class(p, end, PARAMCHAR);

	if (!q)
		*reason = "Bad escape in URI";
	else if (q == p)
		*reason = "Malformed URI parameter";
	return q == p ? NULL : q;
}

/* *( ";" pname [ "=" pvalue ] ), pname and pvalue 1*paramchar; *pp at ';'. */
static int parse_params(const char **pp, const char *end, struct sip_uri *out,
			const char **reason)
{
	const char *p = *pp, *start = p + 1;
	unsigned n = 0;

	while (p < end && *p == ';') {
		slice name, value;

		if (++n > SIP_MAX_PARAMS)
			return fail(reason, "Too many URI parameters");
		name.p = ++p;
		p = scan_paramchars(p, end, reason);
		if (!p)
			return -EINVAL;
		name.len = (uint32_t)(p - name.p);
		value = slice_make(p, 0);
		if (p < end && *p == '=') {
			value.p = ++p;
			p = scan_paramchars(p, end, reason);
			if (!p)
				return -EINVAL;
			value.len = (uint32_t)(p - value.p);
		}
		note_param(out, name, value);
	}
	out->params = slice_between(start, p);
	*pp = p;
	return 0;
}

#define HNVCHAR (CH_UNRESERVED | CH_HNV_UNRES)

/* "?" hname "=" hvalue *( "&" hname "=" hvalue ); *pp at '?'. */
static int parse_headers(const char **pp, const char *end, struct sip_uri *out,
			 const char **reason)
{
	const char *p = *pp, *start = p + 1, *name;

	do {
		name = ++p;
		p = scan_class(p, end, HNVCHAR);
		if (!p || p == name || p == end || *p != '=')
			return fail(reason, "Malformed URI headers");
		p = scan_class(p + 1, end, HNVCHAR);
		if (!p)
			return fail(reason, "Malformed URI headers");
	} while (p < end && *p == '&');
	out->headers = slice_between(start, p);
	*pp = p;
	return 0;
}

/* sip / sips: [userinfo "@"] hostport uri-parameters [headers] */
static int parse_sip(const char *p, const char *end, struct sip_uri *out,
		     const char **reason)
{
	if (parse_userinfo(&p, end, out, reason) < 0 ||
	    parse_hostport(&p, end, out, reason) < 0)
		return -EINVAL;
	if (p < end && *p == ';' && parse_params(&p, end, out, reason) < 0)
		return -EINVAL;
	if (p < end && *p == '?' && parse_headers(&p, end, out, reason) < 0)
		return -EINVAL;
	if (p != end)
		return fail(reason, "Malformed URI");
	return 0;
}

/*
 * tel (RFC 3966): a global number "+" with digits and visual separators
 * -.() or a local number of hex digits, '*', '#' and separators, then
 * parameters with the URI paramchar set. The number lands in user.
 */
static int parse_tel(const char *p, const char *end, struct sip_uri *out,
		     const char **reason)
{
	const char *start = p;
	bool global = p < end && *p == '+', digit = false;

	for (p += global; p < end; p++) {
		unsigned char c = (unsigned char)*p;

		if (ch_is(c, CH_DIGIT) ||
		    (!global && (ch_is(c, CH_HEX) || c == '*' || c == '#')))
			digit = true;
		else if (c != '-' && c != '.' && c != '(' && c != ')')
			break;
	}
	if (!digit)
		return fail(reason, "Malformed tel URI");
	out->user = slice_between(start, p);
	if (p < end && *p == ';' && parse_params(&p, end, out, reason) < 0)
		return -EINVAL;
	if (p != end)
		return fail(reason, "Malformed tel URI");
	return 0;
}

/* Any other scheme: at least one byte of RFC 3986 URI characters. */
static int parse_opaque(const char *p, const char *end, const char **reason)
{
	const char *start = p;

	for (; p < end; p++) {
		unsigned char c = (unsigned char)*p;

		if (!ch_is(c, CH_UNRESERVED | CH_USER_UNRES | CH_PARAM_UNRES) &&
		    c != '%' && c != '@' && c != '#')
			return fail(reason, "Malformed URI");
	}
	if (p == start)
		return fail(reason, "Malformed URI");
	return 0;
}

int sip_uri_parse(slice in, struct sip_uri *out, const char **reason)
{
	const char *p = in.p, *end = in.len ? slice_end(in) : p;

	scan_zero(out, sizeof(*out));
	out->raw = in;
	/* empty lists point at the end, so callers may iterate them */
	out->params = out->headers = slice_make(end, 0);
	if (parse_scheme(&p, end, out, reason) < 0)
		return -EINVAL;
	switch (out->scheme_id) {
	case SIP_SCHEME_SIP:
	case SIP_SCHEME_SIPS:
		return parse_sip(p, end, out, reason);
	case SIP_SCHEME_TEL:
		return parse_tel(p, end, out, reason);
	default:
		return parse_opaque(p, end, reason);
	}
}

bool sip_uri_param(const struct sip_uri *uri, slice name, slice *value)
{
	const char *p, *end;

	if (!uri->params.len)
		return false;
	p = uri->params.p;
	end = slice_end(uri->params);
	while (p < end) {
		const char *start = p, *eq, *semi;

		semi = memchr(p, ';', (size_t)(end - p));
		if (!semi)
			semi = end;
		eq = memchr(p, '=', (size_t)(semi - p));
		p = semi < end ? semi + 1 : end;
		if (slice_caseeq(slice_between(start, eq ? eq : semi), name)) {
			*value = eq ? slice_between(eq + 1, semi) : slice_make(semi, 0);
			return true;
		}
	}
	return false;
}

uint16_t sip_uri_port(const struct sip_uri *uri)
{
	if (uri->port)
		return uri->port;
	return uri->scheme_id == SIP_SCHEME_SIPS ? 5061 : 5060;
}
