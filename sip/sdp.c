/*
 * sdp.c — the SDP parser (RFC 4566, a=rtcp of RFC 3605, IPv6 per RFC 5118).
 *
 * The SIP workers call it on offers and answers, for NAT detection and to
 * rewrite media addresses and ports towards the relay, so every slice points
 * exactly at the bytes a rewrite replaces. Lines are "x=value" ended by CRLF
 * or a bare LF; blank lines are tolerated only at the very end of the body.
 * Pure function of the body bytes: no allocation, no lock, no logging.
 */
#include "sip.h"
#include "chars.h"

#include <errno.h>

/* One "x=value" line. */
struct sdp_line {
	char type;
	slice text;       /* the whole line without its line end */
	slice value;      /* after "x=" */
};

/* Parser state: the current media description is NULL at session level. */
struct sdp_parser {
	struct sdp_session *s;
	struct sdp_media *m;
	bool have_origin;
	const char **reason;
};

static int sdp_defect(const char **reason, const char *why, int err)
{
	*reason = why;
	return err;
}

static bool only_line_ends(const char *p, const char *end)
{
	for (; p < end; p++) {
		if (*p != '\r' && *p != '\n')
			return false;
	}
	return true;
}

/* Reads the line at *p and advances *p past its line end. 1 for a line,
 * 0 when only blank lines remain, -EINVAL on a malformed line. */
static int sdp_next_line(const char **p, const char *end, struct sdp_line *l,
			 const char **reason)
{
	const char *start = *p, *nl, *stop;

	nl = memchr(start, '\n', (size_t)(end - start));
	stop = nl ? nl : end;
	*p = nl ? nl + 1 : end;
	if (stop > start && stop[-1] == '\r')
		stop--;
	if (stop == start && only_line_ends(start, end)) {
		*p = end;
		return 0;
	}
	for (const char *q = start; q < stop; q++) {
		if (*q == '\r' || *q == '\0')
			return sdp_defect(reason, "bad character in SDP line", -EINVAL);
	}
	if (stop - start < 2 || start[0] < 'a' || start[0] > 'z' || start[1] != '=')
		return sdp_defect(reason, "malformed SDP line", -EINVAL);
	l->type = start[0];
	l->text = slice_between(start, stop);
	l->value = slice_between(start + 2, stop);
	return 1;
}

/* The next field of *rest; runs of SP separate fields. Empty at the end. */
static slice next_field(slice *rest)
{
	const char *p = rest->p, *end = slice_end(*rest), *start;

	while (p < end && *p == ' ')
		p++;
	for (start = p; p < end && *p != ' '; p++)
		;
	*rest = slice_between(p, end);
	return slice_between(start, p);
}

static bool is_digits(slice s)
{
	if (s.len == 0)
		return false;
	for (uint32_t i = 0; i < s.len; i++) {
		if (s.p[i] < '0' || s.p[i] > '9')
			return false;
	}
	return true;
}

/* A port or count: digits, min..65535. */
static int parse_u16(slice s, uint32_t min, uint16_t *out)
{
	uint32_t v;

	if (slice_to_u32(s, 65535, &v) < 0 || v < min)
		return -EINVAL;
	*out = (uint16_t)v;
	return 0;
}

static bool is_addrtype(slice s)
{
	return slice_eq(s, SLICE_LIT("IP4")) || slice_eq(s, SLICE_LIT("IP6"));
}

/* A unicast or multicast address or a domain name (RFC 4566 §9). */
static bool is_address(slice s)
{
	if (s.len == 0)
		return false;
	for (uint32_t i = 0; i < s.len; i++) {
		unsigned char c = (unsigned char)s.p[i];

		if (!ch_is(c, CH_HOST) && c != ':')
			return false;
	}
	return true;
}

/* "/ttl[/n]" after a multicast address: one or two numbers. */
static bool is_multicast_suffix(slice s)
{
	const char *slash = memchr(s.p, '/', s.len);

	if (!slash)
		return is_digits(s);
	return is_digits(slice_between(s.p, slash)) &&
	       is_digits(slice_between(slash + 1, slice_end(s)));
}

static int parse_origin(struct sdp_parser *ps, const struct sdp_line *l)
{
	slice rest = l->value, f[6];

	if (ps->m)
		return sdp_defect(ps->reason, "o= line inside a media description", -EINVAL);
	if (ps->have_origin)
		return sdp_defect(ps->reason, "duplicate o= line", -EINVAL);
	for (unsigned i = 0; i < ARRAY_LEN(f); i++) {
		f[i] = next_field(&rest);
		if (f[i].len == 0)
			return sdp_defect(ps->reason, "malformed o= line", -EINVAL);
	}
	if (next_field(&rest).len)
		return sdp_defect(ps->reason, "malformed o= line", -EINVAL);
	if (!is_digits(f[1]) || !is_digits(f[2]))
		return sdp_defect(ps->reason, "bad number in o= line", -EINVAL);
	ps->have_origin = true;
	ps->s->origin_line = l->text;
	ps->s->origin_version = f[2];
	ps->s->origin_addr = f[5];
	return 0;
}

static int parse_conn(struct sdp_parser *ps, const struct sdp_line *l)
{
	struct sdp_conn *c = ps->m ? &ps->m->conn : &ps->s->conn;
	slice rest = l->value, nettype, addrtype, addr;
	const char *slash;

	if (c->present)
		return sdp_defect(ps->reason, "duplicate c= line", -EINVAL);
	nettype = next_field(&rest);
	addrtype = next_field(&rest);
	addr = next_field(&rest);
	if (!slice_eq(nettype, SLICE_LIT("IN")) || !is_addrtype(addrtype) ||
	    next_field(&rest).len)
		return sdp_defect(ps->reason, "malformed c= line", -EINVAL);
	slash = memchr(addr.p, '/', addr.len);
	if (slash) {
		if (!is_multicast_suffix(slice_between(slash + 1, slice_end(addr))))
			return sdp_defect(ps->reason, "bad number in c= line", -EINVAL);
		addr = slice_between(addr.p, slash);
	}
	if (!is_address(addr))
		return sdp_defect(ps->reason, "bad address in c= line", -EINVAL);
	c->line = l->text;
	c->addrtype = addrtype;
	c->address = addr;
	c->present = true;
	return 0;
}

/* m=<media> <port>[/<n>] <proto> <fmt> ... */
static int parse_media(struct sdp_parser *ps, const struct sdp_line *l)
{
	struct sdp_session *s = ps->s;
	struct sdp_media *m;
	slice rest = l->value, port, f;
	const char *slash;

	if (s->nmedia == SDP_MAX_MEDIA)
		return sdp_defect(ps->reason, "too many m= lines in SDP", -E2BIG);
	m = &s->media[s->nmedia];
	m->media = next_field(&rest);
	port = next_field(&rest);
	m->proto = next_field(&rest);
	if (m->proto.len == 0)
		return sdp_defect(ps->reason, "malformed m= line", -EINVAL);
	slash = memchr(port.p, '/', port.len);
	m->port_s = slash ? slice_between(port.p, slash) : port;
	m->nports = 1;
	if (parse_u16(m->port_s, 0, &m->port) < 0 ||
	    (slash && parse_u16(slice_between(slash + 1, slice_end(port)), 1,
				&m->nports) < 0))
		return sdp_defect(ps->reason, "bad port in m= line", -EINVAL);
	while ((f = next_field(&rest)).len) {
		if (m->nformats == SDP_MAX_FORMATS)
			return sdp_defect(ps->reason, "too many formats in m= line", -E2BIG);
		m->formats[m->nformats++] = f;
	}
	if (m->nformats == 0)
		return sdp_defect(ps->reason, "m= line without formats", -EINVAL);
	if (ps->m)
		ps->m->block = slice_between(ps->m->block.p, l->text.p);
	m->line = l->text;
	m->block = l->text;
	s->nmedia++;
	ps->m = m;
	return 0;
}

/* a=rtcp:<port> [<nettype> <addrtype> <address>] (RFC 3605). */
static int parse_rtcp(struct sdp_parser *ps, const struct sdp_line *l, slice value)
{
	struct sdp_media *m = ps->m;
	slice rest = value, port, nettype, addrtype, addr;

	if (m->rtcp_line.len)
		return sdp_defect(ps->reason, "duplicate a=rtcp line", -EINVAL);
	port = next_field(&rest);
	if (parse_u16(port, 0, &m->rtcp_port) < 0)
		return sdp_defect(ps->reason, "bad port in a=rtcp line", -EINVAL);
	nettype = next_field(&rest);
	addrtype = next_field(&rest);
	addr = next_field(&rest);
	if (nettype.len &&
	    (!slice_eq(nettype, SLICE_LIT("IN")) || !is_addrtype(addrtype) ||
	     !is_address(addr) || next_field(&rest).len))
		return sdp_defect(ps->reason, "malformed a=rtcp line", -EINVAL);
	m->rtcp_line = l->text;
	m->rtcp_addr = addr;
	return 0;
}

static enum sdp_direction direction_from(slice name)
{
	static const char *const names[] = {
		[SDP_DIR_SENDRECV] = "sendrecv", [SDP_DIR_SENDONLY] = "sendonly",
		[SDP_DIR_RECVONLY] = "recvonly", [SDP_DIR_INACTIVE] = "inactive",
	};

	for (unsigned i = SDP_DIR_SENDRECV; i < ARRAY_LEN(names); i++) {
		if (slice_eq(name, slice_cstr(names[i])))
			return (enum sdp_direction)i;
	}
	return SDP_DIR_NONE;
}

/* Attributes pinhole uses; the others are kept as bytes only. The first
 * direction attribute of a level wins. */
static int parse_attr(struct sdp_parser *ps, const struct sdp_line *l)
{
	const char *colon = memchr(l->value.p, ':', l->value.len);
	uint8_t *dir = ps->m ? &ps->m->direction : &ps->s->direction;
	enum sdp_direction d;

	if (colon) {
		if (ps->m && slice_eq(slice_between(l->value.p, colon), SLICE_LIT("rtcp")))
			return parse_rtcp(ps, l, slice_between(colon + 1, slice_end(l->value)));
		return 0;
	}
	d = direction_from(l->value);
	if (d != SDP_DIR_NONE && *dir == SDP_DIR_NONE)
		*dir = (uint8_t)d;
	return 0;
}

static int parse_line(struct sdp_parser *ps, const struct sdp_line *l)
{
	switch (l->type) {
	case 'v':
		return sdp_defect(ps->reason, "v= line not first", -EINVAL);
	case 'o':
		return parse_origin(ps, l);
	case 'c':
		return parse_conn(ps, l);
	case 'm':
		return parse_media(ps, l);
	case 'a':
		return parse_attr(ps, l);
	default:
		return 0;
	}
}

int sdp_parse(slice body, struct sdp_session *out, const char **reason)
{
	struct sdp_parser ps = { .s = out, .reason = reason };
	const char *p = body.p, *end = body.p + body.len;
	struct sdp_line l;
	int rc;

	memset(out, 0, sizeof(*out));
	if (body.len == 0)
		return sdp_defect(reason, "empty SDP body", -EINVAL);
	rc = sdp_next_line(&p, end, &l, reason);
	if (rc < 0)
		return rc;
	if (rc == 0 || l.type != 'v' || !slice_eq(l.value, SLICE_LIT("0")))
		return sdp_defect(reason, "SDP does not start with v=0", -EINVAL);
	while (p < end) {
		rc = sdp_next_line(&p, end, &l, reason);
		if (rc < 0)
			return rc;
		if (rc == 0)
			break;
		rc = parse_line(&ps, &l);
		if (rc < 0)
			return rc;
	}
	if (!ps.have_origin)
		return sdp_defect(reason, "missing o= line", -EINVAL);
	if (ps.m)
		ps.m->block = slice_between(ps.m->block.p, end);
	return 0;
}

const struct sdp_conn *sdp_media_conn(const struct sdp_session *s, unsigned i)
{
	if (i < s->nmedia && s->media[i].conn.present)
		return &s->media[i].conn;
	return s->conn.present ? &s->conn : NULL;
}

enum sdp_direction sdp_media_direction(const struct sdp_session *s, unsigned i)
{
	if (i < s->nmedia && s->media[i].direction != SDP_DIR_NONE)
		return (enum sdp_direction)s->media[i].direction;
	if (s->direction != SDP_DIR_NONE)
		return (enum sdp_direction)s->direction;
	return SDP_DIR_SENDRECV;
}
