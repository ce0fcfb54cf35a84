/*
 * proxy_edit.c — the messages the proxy sends: forwarded requests and
 * responses as byte-range edits of what was received (RFC 3261 §16.6,
 * §16.7 step 9), and the CANCEL (§9.1) and non-2xx ACK (§17.1.1.3) it
 * builds from a request it sent.
 *
 * Untouched bytes are never re-serialised (sip_build_*). Texts inserted
 * by an edit live in a struct on the caller's stack until the builder
 * finishes. Pure functions: any process, no lock.
 */
#include "proxy_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>

/* ---- small output helper for messages built from scratch ---------------- */

struct outb {
	char *p;
	size_t len, cap;
	bool full;
};

static void put(struct outb *o, const char *s, size_t n)
{
	if (n > o->cap - o->len) {
		o->full = true;
		return;
	}
	memcpy(o->p + o->len, s, n);
	o->len += n;
}

static void put_slice(struct outb *o, slice s)
{
	put(o, s.p, s.len);
}

static void put_cstr(struct outb *o, const char *s)
{
	put(o, s, strlen(s));
}

/* A header line without its line end. */
static slice line_body(slice line)
{
	while (line.len && (line.p[line.len - 1] == '\n' || line.p[line.len - 1] == '\r'))
		line.len--;
	return line;
}

static void put_line(struct outb *o, const struct sip_hdr *h)
{
	if (!h)
		return;
	put_slice(o, line_body(h->line));
	put(o, "\r\n", 2);
}

static void put_all(struct outb *o, const struct sip_msg *m, enum sip_hdr_id id)
{
	for (const struct sip_hdr *h = sip_msg_hdr(m, id); h; h = sip_msg_hdr_next(m, h))
		put_line(o, h);
}

static int finish(struct outb *o, size_t *len)
{
	if (o->full)
		return -ENOSPC;
	*len = o->len;
	return 0;
}

/* Request line, the single top Via and the Route set of req. */
static void head_of(struct outb *o, const struct sip_msg *req, const char *method)
{
	put_cstr(o, method);
	put(o, " ", 1);
	put_slice(o, req->ruri_raw);
	put_cstr(o, " SIP/2.0\r\nVia: ");
	put_slice(o, req->via[0].raw);
	put(o, "\r\n", 2);
	put_all(o, req, SIP_H_ROUTE);
	put_cstr(o, "Max-Forwards: 70\r\n");
	put_line(o, sip_msg_hdr(req, SIP_H_FROM));
}

static void tail_of(struct outb *o, const struct sip_msg *req, const char *method)
{
	char cseq[48];

	put_line(o, sip_msg_hdr(req, SIP_H_CALL_ID));
	snprintf(cseq, sizeof(cseq), "CSeq: %u %s\r\n", req->cseq.num, method);
	put_cstr(o, cseq);
	put_cstr(o, "Content-Length: 0\r\n\r\n");
}

int proxy_build_cancel(const struct sip_msg *req, char *out, size_t cap, size_t *len)
{
	struct outb o = { .p = out, .cap = cap };

	if (req->nvia == 0)
		return -EINVAL;
	head_of(&o, req, "CANCEL");
	put_line(&o, sip_msg_hdr(req, SIP_H_TO));
	tail_of(&o, req, "CANCEL");
	return finish(&o, len);
}

int proxy_build_ack(const struct sip_msg *req, const struct sip_msg *resp, char *out,
		    size_t cap, size_t *len)
{
	struct outb o = { .p = out, .cap = cap };

	if (req->nvia == 0)
		return -EINVAL;
	head_of(&o, req, "ACK");
	put_line(&o, sip_msg_hdr(resp, SIP_H_TO));
	tail_of(&o, req, "ACK");
	return finish(&o, len);
}

/* ---- edits shared by requests and responses ------------------------------ */

/* The bytes of uri's host (brackets included) and port. */
static slice hostport_range(const struct sip_uri *uri)
{
	const char *start = uri->host.p, *end = slice_end(uri->host);
	const char *limit = slice_end(uri->raw);

	if (uri->host_type == SIP_HOST_IPV6 && start > uri->raw.p && start[-1] == '[') {
		start--;
		if (end < limit && *end == ']')
			end++;
	}
	if (end < limit && *end == ':')
		for (end++; end < limit && *end >= '0' && *end <= '9'; end++)
			;
	return slice_between(start, end);
}

/* "host:port", an IPv6 address in brackets; 0 when it does not fit. */
static size_t hostport_text(const char *host, bool v6, uint16_t port, char *out, size_t cap)
{
	struct sbuf b;

	sbuf_init(&b, out, cap);
	sbuf_adds(&b, v6 ? "[" : "");
	sbuf_adds(&b, host);
	sbuf_adds(&b, v6 ? "]:" : ":");
	sbuf_add_uint(&b, port);
	return b.full || b.len >= cap ? 0 : b.len;
}

static size_t sockaddr_hostport(const struct sockaddr *sa, char *out, size_t cap)
{
	char ip[INET6_ADDRSTRLEN];
	uint16_t port;

	if (sip_sockaddr_text(sa, ip, sizeof(ip), &port) < 0)
		return 0;
	return hostport_text(ip, sa->sa_family == AF_INET6, port, out, cap);
}

/* fix_nated_contact: the first Contact's host:port becomes the source.
 * A UA reached over TCP or TLS ("tcp"/"tls" in transport) gets
 * ;transport= too when its URI has none (and is in angle brackets), so
 * requests in the dialog come back over a stream, to its connection. */
static void fix_contact(struct sip_builder *b, const struct sip_msg *m,
			const struct sockaddr *src, const char *transport, char *buf, size_t cap)
{
	const struct sip_hdr *h = sip_msg_hdr(m, SIP_H_CONTACT);
	struct sip_nameaddr c[1];
	const char *reason;
	unsigned n = 0;
	struct sbuf t;
	size_t len;

	if (!h || (h->value.len == 1 && h->value.p[0] == '*'))
		return;
	sip_nameaddr_list_parse(h->value, c, 1, &n, &reason);
	if (n == 0 || c[0].uri.host.len == 0)
		return;
	len = sockaddr_hostport(src, buf, cap);
	if (!len)
		return;
	if (transport && c[0].uri.transport.len == 0 && c[0].uri.raw.p > h->value.p &&
	    c[0].uri.raw.p[-1] == '<') {
		sbuf_init(&t, buf + len, cap - len);
		sbuf_adds(&t, ";transport=");
		sbuf_adds(&t, transport);
		if (t.full || len + t.len >= cap)
			return;
		len += t.len;
	}
	sip_build_replace(b, hostport_range(&c[0].uri), slice_make(buf, len));
}

/* "tcp"/"tls" for a Via transport token of a stream, NULL for UDP. */
static const char *stream_name(slice via_transport)
{
	if (slice_caseeq_cstr(via_transport, "TCP"))
		return "tcp";
	if (slice_caseeq_cstr(via_transport, "TLS"))
		return "tls";
	return NULL;
}

/* ---- responses ------------------------------------------------------------ */

int proxy_edit_response(const struct sip_msg *resp, const struct sockaddr *src, bool nat,
			char *out, size_t cap, size_t *len)
{
	static struct sip_builder b;
	const struct sip_hdr *h = sip_msg_hdr(resp, SIP_H_VIA);
	char contact[96];

	if (!h || resp->nvia == 0)
		return -EINVAL;
	sip_build_init(&b, resp);
	if (resp->nvia > 1 && resp->via[1].raw.p > h->value.p &&
	    slice_end(resp->via[1].raw) <= slice_end(h->value))
		sip_build_delete(&b, slice_between(resp->via[0].raw.p, resp->via[1].raw.p));
	else
		sip_build_remove_header(&b, h);
	if (nat)   /* our Via, on top, names the callee's transport */
		fix_contact(&b, resp, src, stream_name(resp->via[0].transport), contact,
			    sizeof(contact));
	return sip_build_finish(&b, out, cap, len);
}

/* ---- requests --------------------------------------------------------------- */

static const char *const via_transport[] = { "UDP", "TCP", "TLS" };

size_t proxy_hostport(const struct pinhole_conf *conf, unsigned socket, char *out, size_t cap)
{
	const char *addr = conf->advertise[0] ? conf->advertise : conf->listen[socket].address;

	return hostport_text(addr, strchr(addr, ':') != NULL, conf->listen[socket].port, out, cap);
}

/* Texts the edits of one forwarded request point into. */
struct req_texts {
	char via[600];
	char top_via[1024];
	char mf[8];
	char rr[2 * 192];
	char contact[96];
	char route_add[SIP_MAX_MSG / 8];
	char route_end[1100];
};

/* Removes the values of r selected by mask: a line losing all of them
 * goes whole; otherwise each run of removed values goes with the comma
 * that joined it to a kept one. */
static void remove_routes(struct sip_builder *b, const struct sip_msg *m,
			  const struct proxy_routes *r, uint64_t mask)
{
	for (unsigned i = 0; i < r->n;) {
		unsigned first = i, last;
		bool all = true;

		while (i < r->n && r->line[i] == r->line[first])
			all &= (mask >> i++) & 1;
		last = i - 1;
		if (all) {
			sip_build_remove_header(b, &m->hdrs[r->line[first]]);
			continue;
		}
		for (unsigned k = first; k <= last; k++) {
			unsigned end = k;

			if (!((mask >> k) & 1))
				continue;
			while (end < last && ((mask >> (end + 1)) & 1))
				end++;
			if (end < last)
				sip_build_delete(b, slice_between(r->v[k].raw.p, r->v[end + 1].raw.p));
			else
				sip_build_delete(b, slice_between(slice_end(r->v[k - 1].raw),
								  slice_end(r->v[end].raw)));
			k = end;
		}
	}
}

static void edit_via(struct sip_builder *b, const struct proxy_fwd *f,
		     const struct proxy_branch *pb, struct req_texts *tx)
{
	const struct sip_msg *m = f->msg;
	char hp[80];
	struct sbuf via;
	size_t n;

	proxy_hostport(f->conf, pb->socket, hp, sizeof(hp));
	sbuf_init(&via, tx->via, sizeof(tx->via));
	sbuf_adds(&via, "Via: SIP/2.0/");
	sbuf_adds(&via, via_transport[f->conf->listen[pb->socket].proto]);
	sbuf_adds(&via, " ");
	sbuf_adds(&via, hp);
	sbuf_adds(&via, ";branch=");
	sbuf_add(&via, pb->branch);
	sbuf_adds(&via, "\r\n");
	if (!via.full)
		sip_build_insert(b, sip_msg_hdr(m, SIP_H_VIA)->line.p, slice_make(tx->via, via.len));
	n = sip_reply_top_via(m, f->src->addr, f->src->nat != 0, tx->top_via, sizeof(tx->top_via));
	if (n)
		sip_build_replace(b, m->via[0].raw, slice_make(tx->top_via, n));
}

static void edit_max_forwards(struct sip_builder *b, const struct sip_msg *m,
			      struct req_texts *tx)
{
	const struct sip_hdr *h = sip_msg_hdr(m, SIP_H_MAX_FORWARDS);
	struct sbuf mf;

	if (!h) {
		sip_build_add_header(b, SIP_H_OTHER, SLICE_LIT("Max-Forwards: 70"));
		return;
	}
	sbuf_init(&mf, tx->mf, sizeof(tx->mf));
	sbuf_add_uint(&mf, m->max_forwards > 0 ? (uint64_t)(m->max_forwards - 1) : 0);
	sip_build_replace(b, h->value, slice_make(tx->mf, mf.len));
}

static void edit_routes(struct sip_builder *b, const struct proxy_fwd *f,
			const struct proxy_branch *pb, struct req_texts *tx)
{
	const struct sip_msg *m = f->msg;
	const struct proxy_routes *r = f->routes;
	int n;

	remove_routes(b, m, r, f->plan->remove);
	if (pb->path.len) {
		n = snprintf(tx->route_add, sizeof(tx->route_add), "Route: %.*s", SLICE_FMT(pb->path));
		if (n > 0 && (size_t)n < sizeof(tx->route_add))
			sip_build_add_header(b, SIP_H_ROUTE, slice_make(tx->route_add, (size_t)n));
	}
	if (f->plan->append.len && r->n) {
		n = snprintf(tx->route_end, sizeof(tx->route_end), "Route: <%.*s>\r\n",
			     SLICE_FMT(f->plan->append));
		if (n > 0 && (size_t)n < sizeof(tx->route_end))
			sip_build_insert(b, slice_end(m->hdrs[r->line[r->n - 1]].line),
					 slice_make(tx->route_end, (size_t)n));
	}
}

/* One Record-Route line naming listen entry i: its address and port,
 * ";transport=tcp" or ";transport=tls" for a stream socket (a sips: URI
 * carries no transport=tls, deprecated by RFC 5630), ";r2=on" when the proxy
 * records two values, then ";lr" and ";nat=yes" for a NATed dialog. */
static void rr_line(struct sbuf *rr, const struct pinhole_conf *conf, unsigned i, bool sips,
		    bool r2, bool nat)
{
	uint8_t proto = conf->listen[i].proto;
	char hp[80];

	proxy_hostport(conf, i, hp, sizeof(hp));
	sbuf_adds(rr, sips ? "Record-Route: <sips:" : "Record-Route: <sip:");
	sbuf_adds(rr, hp);
	if (proto == CONF_PROTO_TCP)
		sbuf_adds(rr, ";transport=tcp");
	else if (proto == CONF_PROTO_TLS && !sips)
		sbuf_adds(rr, ";transport=tls");
	if (r2)
		sbuf_adds(rr, ";r2=on");
	sbuf_adds(rr, nat ? ";lr;nat=yes>\r\n" : ";lr>\r\n");
}

/* §16.6 step 4: a sips Request-URI or next hop needs a sips Record-Route. */
static bool wants_sips(const struct proxy_fwd *f)
{
	const struct proxy_route_plan *pl = f->plan;

	return f->msg->ruri.scheme_id == SIP_SCHEME_SIPS ||
	       (pl->next >= 0 && f->routes->v[pl->next].uri.scheme_id == SIP_SCHEME_SIPS);
}

/* Record-Route on top of the existing ones, or after the Vias. A request
 * that leaves by another listen entry than it came in on (a transport
 * switch, or another address) gets two values, as Kamailio's rr module
 * with enable_double_rr: first the outgoing side, then the incoming one,
 * both with r2=on, so each party's Route names the socket facing it. */
static void edit_record_route(struct sip_builder *b, const struct proxy_fwd *f,
			      const struct proxy_branch *pb, struct req_texts *tx)
{
	const struct sip_msg *m = f->msg;
	const struct sip_hdr *top = sip_msg_hdr(m, SIP_H_RECORD_ROUTE);
	bool nat = f->src->nat || pb->nat, sips = wants_sips(f);
	bool r2 = pb->socket != f->src->socket;
	const char *at = top ? top->line.p : NULL;
	struct sbuf rr;

	sbuf_init(&rr, tx->rr, sizeof(tx->rr));
	if (r2)
		rr_line(&rr, f->conf, pb->socket, sips, true, nat);
	rr_line(&rr, f->conf, f->src->socket, sips, r2, nat);
	if (rr.full)
		return;
	for (unsigned i = 0; !top && i < m->nhdrs; i++)
		if (m->hdrs[i].id == SIP_H_VIA)
			at = slice_end(m->hdrs[i].line);
	sip_build_insert(b, at, slice_make(tx->rr, rr.len));
}

/* Proxy-Authorization lines for our realm were for us (consumed). */
static void drop_credentials(struct sip_builder *b, const struct proxy_fwd *f)
{
	const struct sip_msg *m = f->msg;
	struct sip_credentials c;
	const char *reason;

	for (const struct sip_hdr *h = sip_msg_hdr(m, SIP_H_PROXY_AUTHORIZATION); h;
	     h = sip_msg_hdr_next(m, h))
		if (sip_credentials_parse(h->value, &c, &reason) == 0 &&
		    slice_eq(c.realm, slice_cstr(f->conf->auth.realm)))
			sip_build_remove_header(b, h);
}

int proxy_build_request(const struct proxy_fwd *f, const struct proxy_branch *pb,
			char *out, size_t cap, size_t *len)
{
	static struct sip_builder b;
	static struct req_texts tx;
	const struct sip_msg *m = f->msg;
	slice ruri = pb->ruri.len ? pb->ruri : f->plan->ruri;

	if (m->nvia == 0 || !sip_msg_hdr(m, SIP_H_VIA))
		return -EINVAL;
	sip_build_init(&b, m);
	if (ruri.len)
		sip_build_replace(&b, m->ruri_raw, ruri);
	edit_via(&b, f, pb, &tx);
	edit_max_forwards(&b, m, &tx);
	edit_routes(&b, f, pb, &tx);
	if (f->record_route)
		edit_record_route(&b, f, pb, &tx);
	if (f->fix_contact)
		fix_contact(&b, m, f->src->addr,
			    stream_name(slice_cstr(via_transport[f->src->proto])), tx.contact,
			    sizeof(tx.contact));
	if (f->drop_credentials)
		drop_credentials(&b, f);
	return sip_build_finish(&b, out, cap, len);
}
