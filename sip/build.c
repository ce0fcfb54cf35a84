/*
 * build.c — outgoing messages: a received message plus byte-range edits
 * (sip_build_*), and responses built from scratch (sip_reply_build).
 *
 * Untouched bytes are copied as they are, never re-serialised: finish sorts
 * the edits by offset and writes memcpy runs. Inserted texts are referenced,
 * not copied (only insertf formats into the builder's arena), so they and the
 * builder must stay in place until sip_build_finish. Nothing here allocates,
 * locks or logs: any process may call it.
 */
#include "sip.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

/* Edits finish adds itself: the body and the Content-Length values. */
#define BUILD_EXTRA_EDITS 8

struct build_plan {
	struct sip_edit e[SIP_BUILD_MAX_EDITS + BUILD_EXTRA_EDITS];
	unsigned n;
	char cl[40];      /* the new Content-Length value or header line */
};

/* Output that remembers it ran out of room instead of writing past cap. */
struct out_buf {
	char *p;
	size_t len, cap;
	bool full;
};

static void out_put(struct out_buf *o, const char *s, size_t n)
{
	if (n == 0)
		return;
	if (n > o->cap - o->len) {
		o->full = true;
		return;
	}
	memcpy(o->p + o->len, s, n);
	o->len += n;
}

static void out_slice(struct out_buf *o, slice s)
{
	out_put(o, s.p, s.len);
}

static void out_cstr(struct out_buf *o, const char *s)
{
	out_put(o, s, strlen(s));
}

/* Offset of p in msg->buf; false when p is outside buf[0..len]. */
static bool msg_offset(const struct sip_msg *msg, const char *p, uint32_t *off)
{
	uintptr_t base = (uintptr_t)msg->buf, q = (uintptr_t)p;

	if (!p || !msg->buf || q < base || q - base > msg->len)
		return false;
	*off = (uint32_t)(q - base);
	return true;
}

static void build_fail(struct sip_builder *b, int err)
{
	if (!b->error)
		b->error = err;
}

static void build_edit(struct sip_builder *b, const char *at, uint32_t del, slice ins)
{
	uint32_t off;

	if (b->error)
		return;
	if (!msg_offset(b->msg, at, &off) || del > b->msg->len - off) {
		build_fail(b, -EINVAL);
		return;
	}
	if (b->nedits == SIP_BUILD_MAX_EDITS) {
		build_fail(b, -E2BIG);
		return;
	}
	b->edits[b->nedits++] = (struct sip_edit){ .off = off, .del = del, .ins = ins };
}

void sip_build_init(struct sip_builder *b, const struct sip_msg *msg)
{
	b->msg = msg;
	b->nedits = 0;
	b->new_body = SLICE_NULL;
	b->has_new_body = false;
	b->arena_used = 0;
	b->error = 0;
}

void sip_build_insert(struct sip_builder *b, const char *at, slice text)
{
	build_edit(b, at, 0, text);
}

void sip_build_replace(struct sip_builder *b, slice range, slice text)
{
	build_edit(b, range.p, range.len, text);
}

void sip_build_delete(struct sip_builder *b, slice range)
{
	build_edit(b, range.p, range.len, SLICE_NULL);
}

void sip_build_insertf(struct sip_builder *b, const char *at, const char *fmt, ...)
{
	char *dst = b->arena + b->arena_used;
	size_t room = SIP_BUILD_ARENA - b->arena_used;
	va_list ap;
	int n;

	if (b->error)
		return;
	va_start(ap, fmt);
	n = vsnprintf(dst, room, fmt, ap);
	va_end(ap);
	if (n < 0) {
		build_fail(b, -EINVAL);
		return;
	}
	if ((size_t)n >= room) {
		build_fail(b, -ENOSPC);
		return;
	}
	b->arena_used += (size_t)n;
	build_edit(b, at, 0, slice_make(dst, (size_t)n));
}

void sip_build_add_header(struct sip_builder *b, enum sip_hdr_id before, slice text)
{
	const struct sip_msg *msg = b->msg;
	const char *at = msg->headers_end.p;

	if (before > SIP_H_OTHER && before < SIP_H_COUNT && msg->first[before] >= 0)
		at = msg->hdrs[msg->first[before]].line.p;
	build_edit(b, at, 0, text);
	build_edit(b, at, 0, SLICE_LIT("\r\n"));
}

/* A NULL h (sip_msg_hdr found nothing) is the caller's mistake: -EINVAL. */
void sip_build_remove_header(struct sip_builder *b, const struct sip_hdr *h)
{
	if (!h) {
		build_fail(b, -EINVAL);
		return;
	}
	build_edit(b, h->line.p, h->line.len, SLICE_NULL);
}

void sip_build_set_body(struct sip_builder *b, slice body)
{
	if (b->error)
		return;
	b->new_body = body;
	b->has_new_body = true;
}

static int plan_add(struct build_plan *pl, const struct sip_msg *msg,
		    const char *at, uint32_t del, slice ins)
{
	uint32_t off;

	if (!msg_offset(msg, at, &off) || del > msg->len - off)
		return -EINVAL;
	if (pl->n == ARRAY_LEN(pl->e))
		return -E2BIG;
	pl->e[pl->n++] = (struct sip_edit){ .off = off, .del = del, .ins = ins };
	return 0;
}

/* A new body rewrites every Content-Length value; a message without any
 * gets one (stream transports need it, RFC 3261 §18.3). */
static int plan_body(const struct sip_builder *b, struct build_plan *pl)
{
	const struct sip_msg *msg = b->msg;
	uint32_t body_len = b->has_new_body ? b->new_body.len : msg->body.len;
	bool have_cl = false;
	int rc = 0, n;

	if (!msg->headers_end.p)
		return -EINVAL;
	if (b->has_new_body)
		rc = plan_add(pl, msg, slice_end(msg->headers_end), msg->body.len,
			      b->new_body);
	n = snprintf(pl->cl, sizeof(pl->cl), "%u", body_len);
	for (unsigned i = 0; i < msg->nhdrs && rc == 0; i++) {
		const struct sip_hdr *h = &msg->hdrs[i];

		if (h->id != SIP_H_CONTENT_LENGTH)
			continue;
		have_cl = true;
		if (b->has_new_body)
			rc = plan_add(pl, msg, h->value.p, h->value.len,
				      slice_make(pl->cl, (size_t)n));
	}
	if (rc == 0 && !have_cl) {
		n = snprintf(pl->cl, sizeof(pl->cl), "Content-Length: %u\r\n", body_len);
		rc = plan_add(pl, msg, msg->headers_end.p, 0, slice_make(pl->cl, (size_t)n));
	}
	return rc;
}

/* Stable insertion sort by offset: inserts at one offset keep call order. */
static void plan_sort(struct build_plan *pl)
{
	for (unsigned i = 1; i < pl->n; i++) {
		struct sip_edit e = pl->e[i];
		unsigned j = i;

		for (; j > 0 && pl->e[j - 1].off > e.off; j--)
			pl->e[j] = pl->e[j - 1];
		pl->e[j] = e;
	}
}

/* Copies msg->buf[0..len) applying the sorted edits. An edit that starts
 * inside a removed range is an overlap; an insert at the very start of a
 * removed range recorded after the removal lands after its replacement. */
static int plan_write(const struct sip_msg *msg, const struct build_plan *pl,
		      struct out_buf *o)
{
	uint32_t pos = 0, cut = 0;

	for (unsigned i = 0; i < pl->n; i++) {
		const struct sip_edit *e = &pl->e[i];

		if (e->off < pos) {
			if (e->del || e->off != cut)
				return -EINVAL;
		} else {
			out_put(o, msg->buf + pos, e->off - pos);
			pos = e->off;
		}
		out_slice(o, e->ins);
		if (e->del) {
			cut = e->off;
			pos = e->off + e->del;
		}
	}
	out_put(o, msg->buf + pos, msg->len - pos);
	return o->full ? -ENOSPC : 0;
}

int sip_build_finish(struct sip_builder *b, char *out, size_t cap, size_t *len)
{
	struct out_buf o = { .p = out, .cap = cap };
	struct build_plan pl;
	int rc;

	if (b->error)
		return b->error;
	memcpy(pl.e, b->edits, b->nedits * sizeof(b->edits[0]));
	pl.n = b->nedits;
	rc = plan_body(b, &pl);
	if (rc < 0)
		return rc;
	plan_sort(&pl);
	rc = plan_write(b->msg, &pl, &o);
	if (rc < 0)
		return rc;
	*len = o.len;
	return 0;
}

/* ---- responses from scratch ------------------------------------------- */

/* A header line without its final CRLF (or bare LF). */
static slice line_body(slice line)
{
	if (line.len && line.p[line.len - 1] == '\n')
		line.len--;
	if (line.len && line.p[line.len - 1] == '\r')
		line.len--;
	return line;
}

static bool slice_within(slice inner, slice outer)
{
	return inner.p >= outer.p && slice_end(inner) <= slice_end(outer);
}

/* Every Via line in order; the bytes of the top via-parm become top_via. */
static void reply_vias(const struct sip_msg *req, slice top_via, struct out_buf *o)
{
	bool swap = top_via.len && req->nvia;  /* only one line holds via[0] */

	for (unsigned i = 0; i < req->nhdrs; i++) {
		slice l = line_body(req->hdrs[i].line), raw = req->via[0].raw;

		if (req->hdrs[i].id != SIP_H_VIA)
			continue;
		if (swap && slice_within(raw, l)) {
			out_put(o, l.p, (size_t)(raw.p - l.p));
			out_slice(o, top_via);
			out_put(o, slice_end(raw), (size_t)(slice_end(l) - slice_end(raw)));
		} else {
			out_slice(o, l);
		}
		out_put(o, "\r\n", 2);
	}
}

static const struct sip_hdr *first_hdr(const struct sip_msg *req, enum sip_hdr_id id)
{
	return req->first[id] >= 0 ? &req->hdrs[req->first[id]] : NULL;
}

static void reply_copy(const struct sip_msg *req, enum sip_hdr_id id, struct out_buf *o)
{
	const struct sip_hdr *h = first_hdr(req, id);

	if (!h)
		return;
	out_slice(o, line_body(h->line));
	out_put(o, "\r\n", 2);
}

/* To as in the request, with ";tag=" after its value when it had none. */
static void reply_to(const struct sip_msg *req, unsigned code, slice to_tag,
		     struct out_buf *o)
{
	const struct sip_hdr *h = first_hdr(req, SIP_H_TO);
	slice l;

	if (!h)
		return;
	l = line_body(h->line);
	if (code > 100 && to_tag.len && req->to.tag.len == 0 &&
	    slice_within(h->value, l)) {
		out_put(o, l.p, (size_t)(slice_end(h->value) - l.p));
		out_cstr(o, ";tag=");
		out_slice(o, to_tag);
		out_put(o, slice_end(h->value), (size_t)(slice_end(l) - slice_end(h->value)));
	} else {
		out_slice(o, l);
	}
	out_put(o, "\r\n", 2);
}

const char *sip_reason_phrase(unsigned code)
{
	switch (code) {
	case 100: return "Trying";
	case 180: return "Ringing";
	case 183: return "Session Progress";
	case 200: return "OK";
	case 400: return "Bad Request";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 407: return "Proxy Authentication Required";
	case 408: return "Request Timeout";
	case 416: return "Unsupported URI Scheme";
	case 420: return "Bad Extension";
	case 480: return "Temporarily Unavailable";
	case 481: return "Call/Transaction Does Not Exist";
	case 482: return "Loop Detected";
	case 483: return "Too Many Hops";
	case 487: return "Request Terminated";
	case 500: return "Server Internal Error";
	case 501: return "Not Implemented";
	case 503: return "Service Unavailable";
	case 505: return "Version Not Supported";
	case 513: return "Message Too Large";
	default: return code < 300 ? "OK" : "Error";
	}
}

int sip_reply_build(const struct sip_msg *req, unsigned code, const char *reason,
		    slice top_via, slice to_tag, const char *extra, char *out,
		    size_t cap, size_t *len)
{
	struct out_buf o = { .p = out, .cap = cap };
	char status[24];
	int n;

	if (code < 100 || code > 699)
		return -EINVAL;
	reason = reason ? reason : "";
	n = snprintf(status, sizeof(status), "SIP/2.0 %u ", code);
	out_put(&o, status, (size_t)n);
	out_put(&o, reason, strcspn(reason, "\r\n"));
	out_put(&o, "\r\n", 2);
	reply_vias(req, top_via, &o);
	reply_copy(req, SIP_H_FROM, &o);
	reply_to(req, code, to_tag, &o);
	reply_copy(req, SIP_H_CALL_ID, &o);
	reply_copy(req, SIP_H_CSEQ, &o);
	if (extra)
		out_cstr(&o, extra);
	out_cstr(&o, "Content-Length: 0\r\n\r\n");
	if (o.full)
		return -ENOSPC;
	*len = o.len;
	return 0;
}
