/*
 * nameaddr.c — name-addr / addr-spec header values with header parameters
 * (From, To, Contact, Route, Record-Route, Path; RFC 3261 §20.10, §25.1).
 *
 * The message parser calls sip_nameaddr_parse for From and To; the list
 * accessors call sip_nameaddr_list_parse for Contact and the route sets.
 * Zero-copy: every field is a slice of the value. Pure functions on caller
 * bytes: any process, no locking.
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

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Whether the value starts with "scheme:" (an addr-spec, not a name). */
static bool starts_addr_spec(const char *p, const char *end)
{
	p = scan_token(p, end);
	return p < end && *p == ':';
}

/* display-name = *(token LWS) / quoted-string, then LAQUOT; *pp past '<'. */
static int parse_display(const char **pp, const char *end,
			 struct sip_nameaddr *out, const char **reason)
{
	const char *p = *pp, *start = p, *last = p, *q;

	if (*p == '"') {
		p = hvalue_scan_quoted(p, end, reason);
		if (!p)
			return -EINVAL;
		last = p;
		p = scan_lws(p, end);
	} else {
		while (p < end && *p != '<') {
			q = scan_token(p, end);
			if (q != p) {
				last = p = q;
				continue;
			}
			q = scan_lws(p, end);
			if (q == p)
				return fail(reason, "Bad display name");
			p = q;
		}
	}
	if (p == end || *p != '<')
		return fail(reason, "Bad display name");
	out->display = slice_between(start, last);
	*pp = p + 1;
	return 0;
}

/* The URI between '<' and '>'; *pp past the '<', left past the '>'. */
static int find_angle_uri(const char **pp, const char *end,
			  struct sip_nameaddr *out, const char **reason)
{
	const char *p = *pp, *close = memchr(p, '>', (size_t)(end - p));

	if (!close)
		return fail(reason, "Missing '>' after URI");
	out->uri_raw = slice_between(p, close);
	out->angle = true;
	*pp = close + 1;
	if (p < close && (is_space(*p) || is_space(close[-1])))
		return fail(reason, "Whitespace inside <URI>");
	return 0;
}

/*
 * An addr-spec ends at the first ';' (header parameters follow) or LWS; a
 * URI holding ',' or '?' would be ambiguous and must be in <> (§20.10).
 */
static int find_addr_spec(const char **pp, const char *end,
			  struct sip_nameaddr *out, const char **reason)
{
	const char *p = *pp;
	bool ambiguous = false;

	for (; p < end && *p != ';' && !is_space(*p); p++)
		ambiguous |= *p == ',' || *p == '?';
	out->uri_raw = slice_between(*pp, p);
	*pp = p;
	if (ambiguous)
		return fail(reason, "URI with ',' or '?' must be in <>");
	return 0;
}

/* qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ), times 1000. */
static int parse_q(slice v, int16_t *q)
{
	int val, scale = 100;

	if (v.len == 0 || v.len > 5 || (v.p[0] != '0' && v.p[0] != '1') ||
	    (v.len > 1 && v.p[1] != '.'))
		return -EINVAL;
	val = (v.p[0] - '0') * 1000;
	for (uint32_t i = 2; i < v.len; i++, scale /= 10) {
		if (!ch_is((unsigned char)v.p[i], CH_DIGIT))
			return -EINVAL;
		val += (v.p[i] - '0') * scale;
	}
	if (val > 1000)
		return -EINVAL;
	*q = (int16_t)val;
	return 0;
}

/* tag, expires and q; the first occurrence of each counts. */
static int note_param(struct sip_nameaddr *out, slice name, slice value,
		      const char **reason)
{
	if (hvalue_name_is(name, "tag", 3)) {
		if (!scan_is_token(value))
			return fail(reason, "Bad tag");
		if (!out->tag.len)
			out->tag = value;
	} else if (hvalue_name_is(name, "expires", 7)) {
		uint32_t v;

		if (slice_to_u32(value, UINT32_MAX, &v) < 0)
			return fail(reason, "Bad expires value");
		if (!out->has_expires)
			out->expires = v;
		out->has_expires = true;
	} else if (hvalue_name_is(name, "q", 1)) {
		int16_t q;

		if (parse_q(value, &q) < 0)
			return fail(reason, "Bad q value");
		if (out->q < 0)
			out->q = q;
	}
	return 0;
}

/* *( SEMI generic-param ) after the URI; p at the first ';'. */
static int parse_hparams(const char *p, const char *end,
			 struct sip_nameaddr *out, const char **reason)
{
	slice rest = slice_between(p, end), name, value;
	unsigned n = 0;
	int rc;

	out->params = slice_between(scan_lws(p + 1, end), end);
	while ((rc = sip_param_next(&rest, &name, &value)) == 1) {
		if (++n > SIP_MAX_PARAMS)
			return fail(reason, "Too many header parameters");
		if (note_param(out, name, value, reason) < 0)
			return -EINVAL;
	}
	if (rc < 0)
		return fail(reason, "Malformed header parameter");
	return 0;
}

/* Clears *out but its URI, which sip_uri_parse sets whole: clearing it
 * twice was a tenth of the parse. */
static void clear_but_uri(struct sip_nameaddr *out)
{
	char *after = (char *)&out->uri + sizeof(out->uri);

	scan_zero(out, offsetof(struct sip_nameaddr, uri));
	scan_zero(after, (size_t)((char *)(out + 1) - after));
}

int sip_nameaddr_parse(slice value, struct sip_nameaddr *out,
		       const char **reason)
{
	const char *p, *end;
	int rc;

	value = hvalue_trim(value);
	p = value.p;
	end = value.len ? slice_end(value) : p;
	clear_but_uri(out);
	out->raw = value;
	out->params = slice_make(end, 0);
	out->q = -1;
	if (p == end)
		rc = fail(reason, "Empty name-addr");
	else if (*p != '"' && *p != '<' && starts_addr_spec(p, end))
		rc = find_addr_spec(&p, end, out, reason);
	else if ((rc = parse_display(&p, end, out, reason)) == 0)
		rc = find_angle_uri(&p, end, out, reason);
	if (rc < 0) {
		scan_zero(&out->uri, sizeof(out->uri)); /* never reached */
		return rc;
	}
	if (sip_uri_parse(out->uri_raw, &out->uri, reason) < 0)
		return -EINVAL;
	p = scan_lws(p, end);
	if (p == end)
		return 0;
	if (*p != ';')
		return fail(reason, "Malformed name-addr");
	return parse_hparams(p, end, out, reason);
}

/* The next ',' outside quotes and <>, or end. */
static const char *find_comma(const char *p, const char *end)
{
	const char *why, *q;

	for (; p < end; p++) {
		if (*p == ',')
			return p;
		if (*p == '"') {
			q = hvalue_scan_quoted(p, end, &why);
			if (!q)
				return end;
			p = q - 1;
		} else if (*p == '<') {
			q = memchr(p, '>', (size_t)(end - p));
			if (!q)
				return end;
			p = q;
		}
	}
	return end;
}

int sip_nameaddr_list_parse(slice value, struct sip_nameaddr *out,
			    unsigned max, unsigned *n, const char **reason)
{
	const char *p = value.p, *end = value.len ? slice_end(value) : p, *comma;
	bool commas = value.len && memchr(p, ',', value.len); /* usually none */

	for (;;) {
		slice elem;

		comma = commas ? find_comma(p, end) : end;
		elem = hvalue_trim(slice_between(p, comma));
		if (elem.len == 0)
			return fail(reason, "Empty element in name-addr list");
		if (*n >= max) {
			*reason = "Too many name-addr values";
			return -E2BIG;
		}
		if (sip_nameaddr_parse(elem, &out[*n], reason) < 0)
			return -EINVAL;
		(*n)++;
		if (comma == end)
			return 0;
		p = comma + 1;
	}
}
