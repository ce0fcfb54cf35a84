/*
 * msg.c — sip_msg_parse: frames one SIP message (RFC 3261 §7) into slices
 * of the caller's buffer and parses the headers every request needs.
 *
 * Order of work: leading CRLFs (§7.5) and the start line; the header lines
 * (folding, compact and case-insensitive names, Content-Length as soon as
 * it is seen because it frames the body); the body (§18.3: a datagram
 * without Content-Length carries its body to the end, a stream must say);
 * then Via, From, To, Call-ID, CSeq, Max-Forwards and the Request-URI.
 * A well-formed message of another SIP version is parsed completely before
 * SIP_PERR_BAD_VERSION is returned, so a 505 can be built from it.
 * Bare LF line ends are accepted. Nothing is allocated and the ~20 KB
 * struct sip_msg is never cleared as a whole: only what is read is set.
 * Errors: -EINVAL malformed, -EPROTONOSUPPORT version, -E2BIG over a
 * limit, -EAGAIN incomplete stream data. Pure; any process.
 */
#include "sip.h"
#include "scan.h"

#include <errno.h>

struct parser {
	struct sip_msg *msg;
	struct sip_parse_status *st;
	const char *end;       /* end of the caller's data */
	const char *scan_end;  /* end of what framing may look at */
	unsigned flags;
	unsigned parsed;       /* 1 << id of From, To, CSeq once parsed */
	bool bad_version;      /* well formed, but not SIP/2.0 */
};

static int fail(struct parser *ps, enum sip_parse_error e, const char *reason)
{
	ps->st->error = e;
	ps->st->reason = reason;
	switch (e) {
	case SIP_PERR_BAD_VERSION:
		return -EPROTONOSUPPORT;
	case SIP_PERR_TOO_LARGE:
		return -E2BIG;
	case SIP_PERR_INCOMPLETE:
		return -EAGAIN;
	default:
		return -EINVAL;
	}
}

/* The data ended inside the framing: a stream waits for more bytes unless
 * the message is already over the size limit; a datagram is malformed. */
static int truncated(struct parser *ps, const char *reason)
{
	if (!(ps->flags & SIP_PARSE_STREAM))
		return fail(ps, SIP_PERR_BAD_MESSAGE, reason);
	if (ps->scan_end - ps->msg->buf >= SIP_MAX_MSG)
		return fail(ps, SIP_PERR_TOO_LARGE, "Message too large");
	return fail(ps, SIP_PERR_INCOMPLETE, "Incomplete message");
}

static void msg_init(struct sip_msg *msg, const char *start)
{
	msg->buf = start;
	msg->len = 0;
	msg->is_request = false;
	msg->start_line = msg->method = msg->ruri_raw = SLICE_NULL;
	msg->version = msg->reason = SLICE_NULL;
	msg->method_id = SIP_M_OTHER;
	msg->status = 0;
	msg->nhdrs = 0;
	memset(msg->first, 0xff, sizeof(msg->first));
	msg->headers_end = msg->body = msg->call_id = SLICE_NULL;
	msg->nvia = 0;
	msg->max_forwards = -1;
	msg->content_length = -1;
}

/* ---- start line (RFC 3261 §7.1, §7.2) --------------------------------- */

/* "SIP/" 1*DIGIT "." 1*DIGIT, "SIP" in any case (§7.1). Remembers a
 * version other than 2.0. */
static bool parse_version(struct parser *ps, slice v)
{
	const char *p = v.p + 4, *end = slice_end(v), *d;

	if (v.len < 7 || !scan_caseeq4(v.p, "sip/"))
		return false;
	for (d = p; p < end && scan_is_digit(*p); p++)
		;
	if (p == d || p >= end || *p++ != '.')
		return false;
	for (d = p; p < end && scan_is_digit(*p); p++)
		;
	if (p == d || p != end)
		return false;
	if (v.len != 7 || memcmp(v.p + 4, "2.0", 3) != 0)
		ps->bad_version = true;
	return true;
}

/* Method SP Request-URI SP SIP-Version, single spaces only: RFC 4475
 * §3.1.2.9 (lwsstart) and §3.1.2.10 (trws) are rejected. */
static int parse_request_line(struct parser *ps, slice line)
{
	struct sip_msg *msg = ps->msg;
	const char *p = line.p, *end = slice_end(line), *sp;

	msg->is_request = true;
	p = scan_token(p, end);
	msg->method = slice_between(line.p, p);
	if (msg->method.len == 0 || p >= end || *p++ != ' ')
		return fail(ps, SIP_PERR_BAD_MESSAGE, "Malformed Request-Line");
	sp = memchr(p, ' ', (size_t)(end - p));
	if (!sp || sp == p)
		return fail(ps, SIP_PERR_BAD_MESSAGE, "Malformed Request-Line");
	msg->ruri_raw = slice_between(p, sp);
	msg->version = slice_between(sp + 1, end);
	if (!parse_version(ps, msg->version))
		return fail(ps, SIP_PERR_BAD_MESSAGE, "Malformed Request-Line");
	msg->method_id = (uint8_t)sip_method_from(msg->method);
	return 0;
}

/* SIP-Version SP 3DIGIT SP Reason-Phrase; the reason may be empty
 * (§3.1.1.13) and UTF-8 (§3.1.1.12). A missing SP before an empty reason
 * is tolerated. */
static int parse_status_line(struct parser *ps, slice line)
{
	struct sip_msg *msg = ps->msg;
	const char *p = line.p, *end = slice_end(line);
	const char *sp = memchr(p, ' ', line.len);
	unsigned code = 0;

	if (!sp || !parse_version(ps, slice_between(p, sp)))
		return fail(ps, SIP_PERR_BAD_MESSAGE, "Malformed Status-Line");
	msg->version = slice_between(p, sp);
	for (p = sp + 1; p < end && scan_is_digit(*p) && p - sp <= 3; p++)
		code = code * 10 + (unsigned)(*p - '0');
	if (p - sp != 4 || (p < end && *p != ' ') || code < 100 || code > 699)
		return fail(ps, SIP_PERR_BAD_MESSAGE, "Bad status code");
	msg->status = (uint16_t)code;
	msg->reason = p < end ? slice_between(p + 1, end) : slice_make(end, 0);
	return 0;
}

static int parse_start_line(struct parser *ps, const char **pp)
{
	const char *p = *pp;
	const char *nl = memchr(p, '\n', (size_t)(ps->scan_end - p));
	slice line;
	int rc;

	if (!nl)
		return truncated(ps, "Truncated start line");
	line = slice_between(p, nl > p && nl[-1] == '\r' ? nl - 1 : nl);
	ps->msg->start_line = line;
	if (line.len >= 4 && scan_caseeq4(line.p, "sip/"))
		rc = parse_status_line(ps, line);
	else
		rc = parse_request_line(ps, line);
	if (rc == 0)
		ps->st->have_start_line = true;
	*pp = nl + 1;
	return rc;
}

/* ---- header lines (RFC 3261 §7.3) ------------------------------------- */

/* The '\n' ending the header line at p, folded continuation lines
 * included; NULL when the data ends first (the line could still go on). */
static const char *line_end(const char *p, const char *end)
{
	for (;;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));

		if (!nl || nl + 1 >= end)
			return NULL;
		if (!scan_is_wsp(nl[1]))
			return nl;
		p = nl + 2;
	}
}

/* Content-Length frames the body, so it is read with the header lines.
 * Repeated values must agree (RFC 4475 §3.3.9 mcl01); a negative one
 * (§3.1.2.3 ncl) is malformed. */
static int parse_content_length(struct parser *ps, const struct sip_hdr *h)
{
	uint32_t v;
	int rc = slice_to_u32(h->value, UINT32_MAX, &v);

	if (rc == -EINVAL)
		return fail(ps, SIP_PERR_BAD_MESSAGE, "Bad Content-Length");
	if (rc < 0 || v > SIP_MAX_MSG)
		return fail(ps, SIP_PERR_TOO_LARGE, "Content-Length too large");
	if (ps->msg->content_length >= 0 && (uint32_t)ps->msg->content_length != v)
		return fail(ps, SIP_PERR_BAD_MESSAGE,
			    "Conflicting Content-Length values");
	ps->msg->content_length = (int32_t)v;
	return 0;
}

/* The header value between the ':' and the line end without leading and
 * trailing LWS (folding included). */
static slice trim_value(const char *p, const char *end)
{
	while (p < end && ch_is((unsigned char)*p, CH_SPACE))
		p++;
	while (end > p && ch_is((unsigned char)end[-1], CH_SPACE))
		end--;
	return slice_between(p, end);
}

/* name *(SP/HTAB) ":" value, the value trimmed of surrounding LWS. */
static int frame_header_line(struct parser *ps, const char **pp)
{
	struct sip_msg *msg = ps->msg;
	const char *p = *pp, *nl = line_end(p, ps->scan_end), *name_end, *colon;
	struct sip_hdr *h;
	slice name;

	if (!nl)
		return truncated(ps, "Missing empty line after headers");
	if (msg->nhdrs >= SIP_MAX_HEADERS)
		return fail(ps, SIP_PERR_TOO_LARGE, "Too many header lines");
	name_end = scan_token(p, nl);
	for (colon = name_end; colon < nl && scan_is_wsp(*colon); colon++)
		;
	if (name_end == p || colon >= nl || *colon != ':')
		return fail(ps, SIP_PERR_BAD_MESSAGE, "Malformed header line");
	name = slice_between(p, name_end);
	h = &msg->hdrs[msg->nhdrs];
	h->id = (uint8_t)sip_hdr_lookup(name); /* before h->name is stored:
						  no reload of a fresh store */
	h->name = name;
	h->value = trim_value(colon + 1, nl);
	h->line = slice_between(p, nl + 1);
	if (msg->first[h->id] < 0)
		msg->first[h->id] = (int16_t)msg->nhdrs;
	msg->nhdrs++;
	*pp = nl + 1;
	if (h->id == SIP_H_CONTENT_LENGTH)
		return parse_content_length(ps, h);
	return 0;
}

/* Header lines up to and including the empty line. */
static int frame_headers(struct parser *ps, const char **pp)
{
	const char *p = *pp, *end = ps->scan_end;
	int rc;

	for (;;) {
		if (p < end && (*p == '\n' ||
				(*p == '\r' && p + 1 < end && p[1] == '\n'))) {
			ps->msg->headers_end = slice_make(p, *p == '\r' ? 2 : 1);
			*pp = slice_end(ps->msg->headers_end);
			return 0;
		}
		if (p + 1 >= end)
			return truncated(ps, "Missing empty line after headers");
		rc = frame_header_line(ps, &p);
		if (rc < 0)
			return rc;
	}
}

/* ---- body (RFC 3261 §18.3, §20.14) ------------------------------------ */

/* Octets after Content-Length are not part of the message (RFC 4475
 * §3.1.1.8 dblreq); fewer than Content-Length is malformed on a datagram
 * (§3.1.2.2 clerr) and means "wait" on a stream. */
static int frame_body(struct parser *ps, const char *body)
{
	struct sip_msg *msg = ps->msg;
	size_t avail = (size_t)(ps->end - body), head = (size_t)(body - msg->buf);
	size_t cl;

	if (msg->content_length < 0) {
		if (ps->flags & SIP_PARSE_STREAM)
			return fail(ps, SIP_PERR_BAD_MESSAGE,
				    "Missing Content-Length header");
		cl = avail;
	} else {
		cl = (size_t)msg->content_length;
	}
	if (head + cl > SIP_MAX_MSG)
		return fail(ps, SIP_PERR_TOO_LARGE, "Message too large");
	if (cl > avail) {
		if (ps->flags & SIP_PARSE_STREAM)
			return fail(ps, SIP_PERR_INCOMPLETE, "Incomplete body");
		return fail(ps, SIP_PERR_BAD_MESSAGE,
			    "Content-Length larger than message");
	}
	msg->body = slice_make(body, cl);
	msg->len = (uint32_t)(head + cl);
	return 0;
}

/* ---- the headers parsed for every message ----------------------------- */

/* callid = word [ "@" word ] (RFC 3261 §25.1). */
static bool is_call_id(slice s)
{
	const char *p = s.p, *end = slice_end(s), *at = ch_span(p, end, CH_WORD);

	if (at == end)
		return s.len > 0;
	if (at == p || *at != '@' || at + 1 == end)
		return false;
	return ch_span(at + 1, end, CH_WORD) == end;
}

static int parse_via(struct parser *ps, const struct sip_hdr *h)
{
	const char *reason;
	unsigned n = ps->msg->nvia;
	int rc = sip_via_parse(h->value, ps->msg->via, SIP_MAX_VIA, &n, &reason);

	ps->msg->nvia = (uint8_t)n;
	if (rc == -E2BIG)
		return fail(ps, SIP_PERR_TOO_LARGE, "Too many Via values");
	return rc < 0 ? fail(ps, SIP_PERR_BAD_MESSAGE, reason) : 0;
}

static int parse_from_to(struct parser *ps, const struct sip_hdr *h,
			 bool repeat)
{
	bool from = h->id == SIP_H_FROM;
	const char *reason;

	if (repeat)
		return fail(ps, SIP_PERR_BAD_MESSAGE, from ?
			    "Multiple From headers" : "Multiple To headers");
	if (sip_nameaddr_parse(h->value, from ? &ps->msg->from : &ps->msg->to,
			       &reason) < 0)
		return fail(ps, SIP_PERR_BAD_MESSAGE, from ?
			    "Malformed From header" : "Malformed To header");
	ps->parsed |= 1u << h->id;
	return 0;
}

static int parse_call_id(struct parser *ps, const struct sip_hdr *h,
			 bool repeat)
{
	if (repeat)
		return fail(ps, SIP_PERR_BAD_MESSAGE, "Multiple Call-ID headers");
	if (!is_call_id(h->value))
		return fail(ps, SIP_PERR_BAD_MESSAGE, "Malformed Call-ID header");
	ps->msg->call_id = h->value;
	return 0;
}

static int parse_cseq(struct parser *ps, const struct sip_hdr *h, bool repeat)
{
	const char *reason;

	if (repeat)
		return fail(ps, SIP_PERR_BAD_MESSAGE, "Multiple CSeq headers");
	if (sip_cseq_parse(h->value, &ps->msg->cseq, &reason) < 0)
		return fail(ps, SIP_PERR_BAD_MESSAGE, reason);
	ps->parsed |= 1u << SIP_H_CSEQ;
	return 0;
}

/* 1*DIGIT, 0..255 (RFC 3261 §20.22; leading zeros are fine, RFC 4475
 * §3.1.1.1 has "0068"). */
static int parse_max_forwards(struct parser *ps, const struct sip_hdr *h,
			      bool repeat)
{
	uint32_t v;

	if (repeat)
		return fail(ps, SIP_PERR_BAD_MESSAGE,
			    "Multiple Max-Forwards headers");
	if (slice_to_u32(h->value, 255, &v) < 0)
		return fail(ps, SIP_PERR_BAD_MESSAGE, "Bad Max-Forwards");
	ps->msg->max_forwards = (int16_t)v;
	return 0;
}

static int parse_known_headers(struct parser *ps)
{
	struct sip_msg *msg = ps->msg;
	int rc = 0;

	for (unsigned i = 0; i < msg->nhdrs && rc == 0; i++) {
		const struct sip_hdr *h = &msg->hdrs[i];
		bool repeat = msg->first[h->id] != (int16_t)i;

		switch (h->id) {
		case SIP_H_VIA:
			rc = parse_via(ps, h);
			break;
		case SIP_H_FROM:
		case SIP_H_TO:
			rc = parse_from_to(ps, h, repeat);
			break;
		case SIP_H_CALL_ID:
			rc = parse_call_id(ps, h, repeat);
			break;
		case SIP_H_CSEQ:
			rc = parse_cseq(ps, h, repeat);
			break;
		case SIP_H_MAX_FORWARDS:
			rc = parse_max_forwards(ps, h, repeat);
			break;
		}
	}
	return rc;
}

/* Via, From, To, Call-ID and CSeq are mandatory in every request and
 * response (RFC 3261 §8.1.1, §20 table 2; RFC 4475 §3.3.1 insuf).
 * Max-Forwards may be absent (RFC 2543 peers, §3.4.1 inv2543). */
static int check_mandatory(struct parser *ps)
{
	static const struct {
		uint8_t id;
		const char *reason;
	} need[] = {
		{ SIP_H_VIA, "Missing Via header" },
		{ SIP_H_FROM, "Missing From header" },
		{ SIP_H_TO, "Missing To header" },
		{ SIP_H_CALL_ID, "Missing Call-ID header" },
		{ SIP_H_CSEQ, "Missing CSeq header" },
	};

	for (unsigned i = 0; i < ARRAY_LEN(need); i++)
		if (ps->msg->first[need[i].id] < 0)
			return fail(ps, SIP_PERR_BAD_MESSAGE, need[i].reason);
	return 0;
}

/* A Request-URI is never inside <> (RFC 4475 §3.1.2.7 ltgtruri), and a
 * sip/sips one carries no headers component (§3.1.2.11 escruri, RFC 3261
 * §19.1.5 "not allowed in the Request-URI"). */
static int parse_request_uri(struct parser *ps)
{
	struct sip_msg *msg = ps->msg;
	const char *reason;

	if (!msg->is_request) {
		scan_zero(&msg->ruri, sizeof(msg->ruri));
		return 0;
	}
	if (msg->ruri_raw.p[0] == '<')
		return fail(ps, SIP_PERR_BAD_MESSAGE,
			    "Request-URI in angle brackets");
	if (sip_uri_parse(msg->ruri_raw, &msg->ruri, &reason) < 0)
		return fail(ps, SIP_PERR_BAD_MESSAGE, "Malformed Request-URI");
	if ((msg->ruri.scheme_id == SIP_SCHEME_SIP ||
	     msg->ruri.scheme_id == SIP_SCHEME_SIPS) && msg->ruri.headers.len)
		return fail(ps, SIP_PERR_BAD_MESSAGE, "Request-URI with headers");
	return 0;
}

/* ---- entry point ------------------------------------------------------- */

/* After a failure From, To and CSeq hold either a parse or zeros, never
 * stale bytes (a 400 may be built from what was parsed). Done here rather
 * than up front to keep the common path free of it. */
static void clear_unparsed(struct parser *ps)
{
	if (!(ps->parsed & 1u << SIP_H_FROM))
		ps->msg->from = (struct sip_nameaddr){ .q = -1 };
	if (!(ps->parsed & 1u << SIP_H_TO))
		ps->msg->to = (struct sip_nameaddr){ .q = -1 };
	if (!(ps->parsed & 1u << SIP_H_CSEQ))
		ps->msg->cseq = (struct sip_cseq){ 0 };
}

static const char *skip_leading_crlf(const char *p, const char *end)
{
	for (;;) {
		if (p < end && *p == '\n')
			p++;
		else if (end - p >= 2 && p[0] == '\r' && p[1] == '\n')
			p += 2;
		else
			return p;
	}
}

/* The framing and parsing steps, in order; the first failure stops. */
static int parse_steps(struct parser *ps, const char *p)
{
	int rc;

	if (ps->end - p > SIP_MAX_MSG) {
		if (!(ps->flags & SIP_PARSE_STREAM))
			return fail(ps, SIP_PERR_TOO_LARGE, "Message too large");
		ps->scan_end = p + SIP_MAX_MSG;
	}
	if (p == ps->end && !(ps->flags & SIP_PARSE_STREAM))
		return fail(ps, SIP_PERR_BAD_MESSAGE, "Empty message");
	if ((rc = parse_start_line(ps, &p)) < 0 ||
	    (rc = frame_headers(ps, &p)) < 0 ||
	    (rc = frame_body(ps, p)) < 0 ||
	    (rc = parse_known_headers(ps)) < 0 ||
	    (rc = check_mandatory(ps)) < 0 ||
	    (rc = parse_request_uri(ps)) < 0)
		return rc;
	if (ps->bad_version)
		return fail(ps, SIP_PERR_BAD_VERSION, "Unsupported SIP version");
	return 0;
}

int sip_msg_parse(const char *buf, size_t len, unsigned flags,
		  struct sip_msg *msg, struct sip_parse_status *st)
{
	struct parser ps = { .msg = msg, .st = st, .end = buf + len,
			     .scan_end = buf + len, .flags = flags };
	const char *p = skip_leading_crlf(buf, buf + len);
	int rc;

	*st = (struct sip_parse_status){ .error = SIP_PERR_NONE };
	msg_init(msg, p);
	rc = parse_steps(&ps, p);
	if (rc < 0)
		clear_unparsed(&ps);
	return rc;
}
