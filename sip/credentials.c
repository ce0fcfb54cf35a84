/*
 * credentials.c — Authorization / Proxy-Authorization values (RFC 3261
 * §25.1 credentials, RFC 7616 Digest): a scheme token, LWS, then
 * comma-separated auth-params name=value (token or quoted-string).
 *
 * Called by the registrar and proxy authentication code. For Digest the
 * well-known parameters are picked out (quotes stripped); other schemes get
 * only scheme and params. Pure functions on caller bytes: any process, no
 * locking.
 */
#include "sip.h"
#include "chars.h"
#include "hvalue.h"

#include <errno.h>
#include <stddef.h>

static int fail(const char **reason, const char *why)
{
	*reason = why;
	return -EINVAL;
}

#define FIELD(name, f) { name, sizeof(name) - 1, offsetof(struct sip_credentials, f) }

static const struct {
	const char *name;
	uint32_t len;
	size_t off;
} digest_fields[] = {
	FIELD("username", username),
	FIELD("realm", realm),
	FIELD("nonce", nonce),
	FIELD("uri", uri),
	FIELD("response", response),
	FIELD("algorithm", algorithm),
	FIELD("cnonce", cnonce),
	FIELD("opaque", opaque),
	FIELD("qop", qop),
	FIELD("nc", nc),
};

/* Stores a Digest parameter in its field; a repeated one is a defect. */
static int note_digest(struct sip_credentials *out, slice name, slice value,
		       const char **reason)
{
	for (size_t i = 0; i < ARRAY_LEN(digest_fields); i++) {
		slice *dst;

		if (!hvalue_name_is(name, digest_fields[i].name, digest_fields[i].len))
			continue;
		dst = (slice *)((char *)out + digest_fields[i].off);
		if (dst->p)
			return fail(reason, "Duplicate credentials parameter");
		*dst = value;
		return 0;
	}
	return 0;
}

/* auth-param = token EQUAL ( token / quoted-string ); *pp advanced. */
static int parse_auth_param(const char **pp, const char *end, bool digest,
			    struct sip_credentials *out, const char **reason)
{
	const char *p = *pp, *q;
	slice name, value;

	q = scan_token(p, end);
	if (q == p)
		return fail(reason, "Malformed credentials");
	name = slice_between(p, q);
	p = scan_lws(q, end);
	if (p == end || *p != '=')
		return fail(reason, "Malformed credentials");
	p = scan_lws(p + 1, end);
	if (p < end && *p == '"') {
		q = hvalue_scan_quoted(p, end, reason);
		if (!q)
			return -EINVAL;
		value = slice_between(p + 1, q - 1);
	} else {
		q = scan_token(p, end);
		if (q == p)
			return fail(reason, "Malformed credentials");
		value = slice_between(p, q);
	}
	*pp = q;
	return digest ? note_digest(out, name, value, reason) : 0;
}

int sip_credentials_parse(slice value, struct sip_credentials *out,
			  const char **reason)
{
	const char *p, *q, *end;
	unsigned n = 0;
	bool digest;

	value = slice_trim(value);
	p = value.p;
	end = value.len ? slice_end(value) : p;
	scan_zero(out, sizeof(*out));
	q = scan_token(p, end);
	if (q == p)
		return fail(reason, "Malformed credentials");
	out->scheme = slice_between(p, q);
	digest = hvalue_name_is(out->scheme, "digest", 6);
	p = scan_lws(q, end);
	if (p == q || p == end)
		return fail(reason, "Malformed credentials");
	out->params = slice_between(p, end);
	for (;;) {
		if (++n > SIP_MAX_PARAMS)
			return fail(reason, "Too many credentials parameters");
		if (parse_auth_param(&p, end, digest, out, reason) < 0)
			return -EINVAL;
		p = scan_lws(p, end);
		if (p == end)
			return 0;
		if (*p != ',')
			return fail(reason, "Malformed credentials");
		p = scan_lws(p + 1, end);
	}
}
