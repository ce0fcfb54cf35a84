/*
 * sdp_rewrite.c — an SDP body pointed at the media relay: what each m= line
 * says about its party (address, port, hold and direction), and the body
 * rewritten so the other party sends to the relay (o=, c=, m= ports,
 * a=rtcp, and the a=nortpproxy:yes marker against double relaying).
 *
 * The SIP workers call it while proxying offers and answers (sip/proxy_media.c).
 * The rewrite is a list of byte-range edits on the parsed body, copied into
 * the caller's append buffer: no allocation, no lock, no logging.
 */
#include "sip.h"

#include <arpa/inet.h>
#include <errno.h>

/* o=, session c= and the marker; per stream the m= port, its c=, the
 * a=rtcp port and the a=rtcp address. */
#define MAX_EDITS (3 + 4 * SDP_MAX_MEDIA)

enum edit_kind {
	ED_ADDR,        /* "IP4 a.b.c.d" / "IP6 x::y" over addrtype..address */
	ED_PORT,        /* the relay's RTP port of a stream */
	ED_RTCP_PORT,   /* that port + 1 */
	ED_MARKER,      /* SDP_RELAY_MARKER and a line end, inserted */
	ED_MARKER_LAST, /* a line end and SDP_RELAY_MARKER, after the last line */
};

struct edit {
	const char *at;
	uint32_t del;
	uint8_t kind;
	uint8_t media;
};

struct edits {
	struct edit e[MAX_EDITS];
	unsigned n;
};

static void edit_add(struct edits *ed, const char *at, const char *end, enum edit_kind kind,
		     unsigned media)
{
	if (ed->n < MAX_EDITS)
		ed->e[ed->n++] = (struct edit){ .at = at, .del = (uint32_t)(end - at),
						.kind = (uint8_t)kind, .media = (uint8_t)media };
}

/* Whether a c= address is a hold address (all zero). */
static bool is_null_addr(slice addrtype, slice addr)
{
	unsigned char bin[16] = { 0 };
	char text[64];
	int af = slice_eq(addrtype, SLICE_LIT("IP6")) ? AF_INET6 : AF_INET;

	if (addr.len == 0 || addr.len >= sizeof(text))
		return false;
	slice_copy_cstr(addr, text, sizeof(text));
	if (inet_pton(af, text, bin) != 1)
		return false;
	for (unsigned i = 0; i < sizeof(bin); i++)
		if (bin[i])
			return false;
	return true;
}

/* The start of the field before the one at p, within a line starting at
 * line (fields are separated by runs of SP). */
static const char *field_before(const char *p, const char *line)
{
	while (p > line && p[-1] == ' ')
		p--;
	while (p > line && p[-1] != ' ')
		p--;
	return p;
}

void sdp_media_party(const struct sdp_session *s, unsigned i, struct sdp_party *out)
{
	const struct sdp_conn *c = sdp_media_conn(s, i);
	char text[64];

	*out = (struct sdp_party){ .port = i < s->nmedia ? s->media[i].port : 0 };
	if (c && c->address.len < sizeof(text)) {
		int af = slice_eq(c->addrtype, SLICE_LIT("IP6")) ? AF_INET6 : AF_INET;

		slice_copy_cstr(c->address, text, sizeof(text));
		if (inet_pton(af, text, out->addr) == 1)
			out->family = (uint8_t)af;
		if (is_null_addr(c->addrtype, c->address))
			out->flags |= SDP_PARTY_NO_RECV;
	}
	switch (sdp_media_direction(s, i)) {
	case SDP_DIR_SENDONLY:
		out->flags |= SDP_PARTY_NO_RECV;
		break;
	case SDP_DIR_RECVONLY:
		out->flags |= SDP_PARTY_NO_SEND;
		break;
	case SDP_DIR_INACTIVE:
		out->flags |= SDP_PARTY_NO_RECV | SDP_PARTY_NO_SEND;
		break;
	default:
		break;
	}
}

bool sdp_has_relay_marker(slice body)
{
	static const char name[] = "a=nortpproxy:";
	const char *p = body.p, *end = slice_end(body);

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));

		if ((size_t)(end - p) >= sizeof(name) - 1 && memcmp(p, name, sizeof(name) - 1) == 0)
			return true;
		p = nl ? nl + 1 : end;
	}
	return false;
}

/* ---- collecting the edits ------------------------------------------------- */

static void conn_edit(struct edits *ed, const struct sdp_conn *c, unsigned media)
{
	if (c->present && !is_null_addr(c->addrtype, c->address))
		edit_add(ed, c->addrtype.p, slice_end(c->address), ED_ADDR, media);
}

/* a=rtcp:<port> [IN <addrtype> <address>]: the address always goes to
 * the relay (a 0.0.0.0 here, as ICE agents write it, is no hold). */
static void rtcp_edits(struct edits *ed, const struct sdp_media *m, unsigned media)
{
	const char *p = m->rtcp_line.p + sizeof("a=rtcp:") - 1, *end = slice_end(m->rtcp_line);
	const char *digits;

	while (p < end && *p == ' ')
		p++;
	for (digits = p; p < end && *p >= '0' && *p <= '9'; p++)
		;
	edit_add(ed, digits, p, ED_RTCP_PORT, media);
	if (m->rtcp_addr.len)
		edit_add(ed, field_before(m->rtcp_addr.p, m->rtcp_line.p), slice_end(m->rtcp_addr),
			 ED_ADDR, media);
}

static void media_edits(struct edits *ed, const struct sdp_media *m, unsigned media)
{
	const char *end = m->port_s.p, *line_end = slice_end(m->line);

	while (end < line_end && *end != ' ')
		end++;    /* with a "/n" port count */
	edit_add(ed, m->port_s.p, end, ED_PORT, media);
	conn_edit(ed, &m->conn, media);
	if (m->rtcp_line.len)
		rtcp_edits(ed, m, media);
}

/* After the last line that is not blank (where the parser stopped). */
static const char *last_line_end(slice body)
{
	const char *p = slice_end(body);

	while (p > body.p && (p[-1] == '\r' || p[-1] == '\n'))
		p--;
	return p;
}

static void collect(slice body, const struct sdp_session *s, const struct sdp_relay *r,
		    struct edits *ed)
{
	const char *origin_type = field_before(s->origin_addr.p, s->origin_line.p);

	ed->n = 0;
	edit_add(ed, origin_type, slice_end(s->origin_addr), ED_ADDR, 0);
	conn_edit(ed, &s->conn, 0);
	for (unsigned i = 0; i < s->nmedia; i++)
		if (r->port[i] && s->media[i].port)
			media_edits(ed, &s->media[i], i);
	if (s->nmedia) {
		edit_add(ed, s->media[0].line.p, s->media[0].line.p, ED_MARKER, 0);
	} else {
		const char *at = last_line_end(body);

		edit_add(ed, at, at, ED_MARKER_LAST, 0);
	}
	for (unsigned i = 1; i < ed->n; i++) {
		struct edit x = ed->e[i];
		unsigned j = i;

		for (; j > 0 && ed->e[j - 1].at > x.at; j--)
			ed->e[j] = ed->e[j - 1];
		ed->e[j] = x;
	}
}

/* ---- writing ---------------------------------------------------------------- */

static const char *line_end_of(slice body)
{
	const char *nl = memchr(body.p, '\n', body.len);

	return nl && nl > body.p && nl[-1] == '\r' ? "\r\n" : "\n";
}

static void put_edit(struct sbuf *out, const struct edit *e, const struct sdp_relay *r,
		     const char *eol)
{
	switch (e->kind) {
	case ED_ADDR:
		sbuf_adds(out, r->ipv6 ? "IP6 " : "IP4 ");
		sbuf_add(out, r->addr);
		break;
	case ED_PORT:
		sbuf_add_uint(out, r->port[e->media]);
		break;
	case ED_RTCP_PORT:
		sbuf_add_uint(out, r->port[e->media] + 1u);
		break;
	case ED_MARKER:
		sbuf_adds(out, SDP_RELAY_MARKER);
		sbuf_adds(out, eol);
		break;
	default:
		sbuf_adds(out, eol);
		sbuf_adds(out, SDP_RELAY_MARKER);
		break;
	}
}

int sdp_relay_rewrite(slice body, const struct sdp_session *s, const struct sdp_relay *r,
		      struct sbuf *out)
{
	struct edits ed;
	const char *cur = body.p, *eol = line_end_of(body);

	collect(body, s, r, &ed);
	for (unsigned i = 0; i < ed.n; i++) {
		sbuf_add(out, slice_between(cur, ed.e[i].at));
		put_edit(out, &ed.e[i], r, eol);
		cur = ed.e[i].at + ed.e[i].del;
	}
	sbuf_add(out, slice_between(cur, slice_end(body)));
	return out->full ? -ENOSPC : 0;
}
