/*
 * registrar.c — REGISTER processing (RFC 3261 §10.3, RFC 3327 Path,
 * RFC 3581/nathelper-style NAT bindings).
 *
 * Runs in the SIP workers. The whole update of one AOR happens under its
 * location bucket lock: Call-ID/CSeq ordering checks, every Contact of the
 * request applied all-or-nothing, and (write-through) the AOR snapshot
 * committed to Berkeley DB before the lock is released and the 200 OK is
 * sent. The result is a status, a reason and extra header lines (Contact
 * list, Min-Expires, challenges); the caller sends the reply.
 */
#include "sip.h"
#include "../conf/conf.h"
#include "../db/db.h"
#include "../shm/shm.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <netinet/in.h>
#include <stdio.h>
#include <time.h>

#define REG_MAX_CONTACTS 64
#define REG_MAX_CONTACT_URI 512
#define REG_PACK_MAX 65536

struct reg_ctx {
	const struct pinhole_conf *conf;
	const struct sip_msg *msg;
	const struct sip_source *src;
	struct reg_reply *out;
	char *extra;
	size_t cap;
	int64_t now;
	char aor[LOC_MAX_AOR + 1];
	const struct sip_nameaddr *contacts; /* the request's, parsed by the caller */
	unsigned ncontacts;
	bool star;
	char path[1024];
	size_t path_len;
	uint32_t branch_hash;
};

static void set_reply(struct reg_ctx *rc, unsigned code, const char *reason)
{
	rc->out->code = code;
	rc->out->reason = reason;
}

static void extra_printf(struct reg_ctx *rc, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void extra_printf(struct reg_ctx *rc, const char *fmt, ...)
{
	va_list ap;
	size_t used = rc->out->extra_len;
	int n;

	if (used >= rc->cap)
		return;
	va_start(ap, fmt);
	n = vsnprintf(rc->extra + used, rc->cap - used, fmt, ap);
	va_end(ap);
	if (n > 0 && (size_t)n < rc->cap - used)
		rc->out->extra_len += (size_t)n;
	else
		rc->extra[used] = '\0'; /* drop a line that does not fit */
}

int sip_aor_key(const struct sip_uri *uri, char *buf, size_t cap)
{
	size_t n = 0;

	if (uri->scheme_id != SIP_SCHEME_SIP && uri->scheme_id != SIP_SCHEME_SIPS)
		return -EINVAL;
	if (uri->user.len + 1 + uri->host.len + 1 > cap || uri->user.len == 0)
		return -EINVAL;
	memcpy(buf, uri->user.p, uri->user.len);
	n = uri->user.len;
	buf[n++] = '@';
	for (uint32_t i = 0; i < uri->host.len; i++)
		buf[n++] = (char)((uri->host.p[i] >= 'A' && uri->host.p[i] <= 'Z')
				  ? uri->host.p[i] + 32 : uri->host.p[i]);
	buf[n] = '\0';
	return (int)n;
}

static uint32_t hash32(slice s)
{
	uint32_t h = 2166136261u;

	for (uint32_t i = 0; i < s.len; i++)
		h = (h ^ (unsigned char)s.p[i]) * 16777619u;
	return h ? h : 1;
}

/* ---- steps of §10.3 --------------------------------------------------- */

/* Step 5: the To header names the AOR; it must be a SIP/SIPS URI of a
 * domain this registrar serves. */
static bool check_aor(struct reg_ctx *rc)
{
	const struct sip_uri *to = &rc->msg->to.uri;

	if (to->scheme_id != SIP_SCHEME_SIP && to->scheme_id != SIP_SCHEME_SIPS) {
		set_reply(rc, 400, "To must be a SIP or SIPS URI");
		return false;
	}
	if (!conf_is_local_domain(rc->conf, to->host)) {
		set_reply(rc, 403, "Domain not served here");
		return false;
	}
	if (sip_aor_key(to, rc->aor, sizeof(rc->aor)) < 0) {
		set_reply(rc, 400, "Bad address-of-record in To");
		return false;
	}
	return true;
}

static int collect_unsupported(slice tag, void *arg)
{
	char *buf = arg;
	size_t n = strlen(buf);

	if (slice_caseeq_cstr(tag, "path"))
		return 0;
	snprintf(buf + n, 256 - n, "%s%.*s", n ? ", " : "", SLICE_FMT(tag));
	return 0;
}

/* Step 2: Require may only name extensions pinhole supports (path). */
static bool check_require(struct reg_ctx *rc)
{
	char tags[256] = "";

	sip_msg_option_tags(rc->msg, SIP_H_REQUIRE, collect_unsupported, tags);
	if (!tags[0])
		return true;
	set_reply(rc, 420, NULL);
	extra_printf(rc, "Unsupported: %s\r\n", tags);
	return false;
}

/* The algorithms of auth.algorithms, in challenge order. */
static void challenge(struct reg_ctx *rc, bool stale)
{
	int n;

	STAT_INC(AUTH_CHALLENGES);
	set_reply(rc, 401, NULL);
	n = sip_auth_challenge_conf(rc->conf, false, stale, rc->src->addr, rc->now,
				    rc->extra + rc->out->extra_len, rc->cap - rc->out->extra_len);
	if (n > 0)
		rc->out->extra_len += (size_t)n;
}

/* Step 3 and 4: digest authentication, and the authenticated user must be
 * the AOR's user (RFC 3261 §10.3 step 4). */
static bool check_auth(struct reg_ctx *rc)
{
	const struct sip_uri *to = &rc->msg->to.uri;
	slice user = SLICE_NULL;
	enum sip_auth_result r;

	if (!rc->conf->auth.reg)
		return true;
	r = sip_auth_check(rc->msg, SIP_H_AUTHORIZATION, slice_cstr(rc->conf->auth.realm),
			   to->host, rc->src->addr, rc->now, rc->conf->auth.nonce_ttl,
			   pdb_auth_lookup, (void *)rc->conf->auth.realm, &user);
	switch (r) {
	case SIP_AUTH_OK:
		if (slice_eq(user, to->user))
			return true;
		STAT_INC(AUTH_FAILURES);
		set_reply(rc, 403, "Authentication user does not match To");
		return false;
	case SIP_AUTH_MALFORMED:
		STAT_INC(AUTH_FAILURES);
		set_reply(rc, 400, "Malformed Authorization header");
		return false;
	case SIP_AUTH_STALE:
		challenge(rc, true);
		return false;
	case SIP_AUTH_INVALID:
	case SIP_AUTH_UNKNOWN_USER:
		STAT_INC(AUTH_FAILURES);
		challenge(rc, false);
		return false;
	default:
		challenge(rc, false);
		return false;
	}
}

/* Contact list: at most REG_MAX_CONTACTS values, "*" only alone and with
 * Expires 0 (§10.2.2); each Contact a SIP/SIPS URI of bounded size. */
static bool check_contacts(struct reg_ctx *rc, const struct sip_contacts *c)
{
	uint32_t expires;

	if (c->n > REG_MAX_CONTACTS) {
		set_reply(rc, 400, "Too many name-addr values");
		return false;
	}
	if (c->error < 0) {
		set_reply(rc, 400, c->reason ? c->reason : "Malformed Contact");
		return false;
	}
	rc->contacts = c->v;
	rc->ncontacts = c->n;
	rc->star = c->star;
	if (rc->star) {
		if (rc->ncontacts > 0 || sip_msg_expires(rc->msg, &expires) < 0 || expires != 0) {
			set_reply(rc, 400, "Contact * needs Expires: 0 and no other Contact");
			return false;
		}
		return true;
	}
	for (unsigned i = 0; i < rc->ncontacts; i++) {
		const struct sip_uri *u = &rc->contacts[i].uri;

		if (u->scheme_id != SIP_SCHEME_SIP && u->scheme_id != SIP_SCHEME_SIPS) {
			set_reply(rc, 400, "Contact must be a SIP or SIPS URI");
			return false;
		}
		if (rc->contacts[i].uri_raw.len > REG_MAX_CONTACT_URI) {
			set_reply(rc, 400, "Contact URI too long");
			return false;
		}
	}
	return true;
}

/* The expires of one Contact: its parameter, else the Expires header, else
 * the default; capped at max_expires. 0 means remove. */
static uint32_t contact_expires(struct reg_ctx *rc, const struct sip_nameaddr *c)
{
	uint32_t e;

	if (c->has_expires)
		e = c->expires;
	else if (sip_msg_expires(rc->msg, &e) < 0)
		e = rc->conf->registrar.default_expires;
	if (e > rc->conf->registrar.max_expires)
		e = rc->conf->registrar.max_expires;
	return e;
}

/* Step 7: any non-zero expires below min_expires rejects the request with
 * 423 and Min-Expires. */
static bool check_min_expires(struct reg_ctx *rc)
{
	for (unsigned i = 0; i < rc->ncontacts; i++) {
		uint32_t e = contact_expires(rc, &rc->contacts[i]);

		if (e != 0 && e < rc->conf->registrar.min_expires) {
			set_reply(rc, 423, NULL);
			extra_printf(rc, "Min-Expires: %u\r\n", rc->conf->registrar.min_expires);
			return false;
		}
	}
	return true;
}

/* Path (RFC 3327): every Path value, in order, joined by ",". */
static bool collect_path(struct reg_ctx *rc)
{
	const struct sip_hdr *h;

	rc->path_len = 0;
	for (h = sip_msg_hdr(rc->msg, SIP_H_PATH); h; h = sip_msg_hdr_next(rc->msg, h)) {
		if (rc->path_len + h->value.len + 1 >= sizeof(rc->path)) {
			set_reply(rc, 400, "Path too long");
			return false;
		}
		if (rc->path_len)
			rc->path[rc->path_len++] = ',';
		memcpy(rc->path + rc->path_len, h->value.p, h->value.len);
		rc->path_len += h->value.len;
	}
	return true;
}

/* ---- applying the update under the AOR lock ---------------------------- */

static void fill_received(const struct sip_source *src, struct loc_addr *a)
{
	netaddr_split(src->addr, &a->family, &a->port, a->addr);
	a->proto = src->proto;
}

static void binding_from(struct reg_ctx *rc, const struct sip_nameaddr *c,
			 uint32_t expires, struct loc_binding *b)
{
	const struct sip_hdr *ua = sip_msg_hdr(rc->msg, SIP_H_USER_AGENT);
	slice v = SLICE_NULL;

	memset(b, 0, sizeof(*b));
	b->contact = c->uri_raw;
	b->path = slice_make(rc->path, rc->path_len);
	b->call_id = rc->msg->call_id;
	b->user_agent = ua ? ua->value : SLICE_NULL;
	if (sip_param_find(c->params, SLICE_LIT("+sip.instance"), &v))
		b->instance = v;
	if (sip_param_find(c->params, SLICE_LIT("reg-id"), &v))
		slice_to_u32(v, UINT32_MAX, &b->reg_id);
	b->expires = rc->now + expires;
	b->last_modified = rc->now;
	b->cseq = rc->msg->cseq.num;
	b->q = c->q;
	b->socket = rc->src->socket;
	b->conn_id = rc->src->conn_id;
	b->branch_hash = rc->branch_hash;
	fill_received(rc->src, &b->received);
	b->nat_tests = (uint8_t)rc->src->nat;
	if (rc->src->nat) {
		b->flags |= LOC_F_NAT | LOC_F_KEEPALIVE;
	} else if (!rc->conf->nat.keepalive.nated_only) {
		b->flags |= LOC_F_KEEPALIVE;
	}
}

/* §10.3 step 6: a binding with the same Call-ID may only be changed by a
 * higher CSeq. The same CSeq from the same transaction (a retransmission:
 * same top Via branch) is answered again without change. 1 = apply,
 * 0 = retransmission, -1 = out of order. */
static int order_check(struct reg_ctx *rc, const struct loc_binding *old)
{
	if (!slice_eq(old->call_id, rc->msg->call_id))
		return 1;
	if (rc->msg->cseq.num > old->cseq)
		return 1;
	if (rc->msg->cseq.num == old->cseq && old->branch_hash == rc->branch_hash)
		return 0;
	return -1;
}

/* Checks every contact against the stored bindings before changing
 * anything, so a request is applied whole or not at all. */
static int check_order_locked(struct reg_ctx *rc, struct loc_handle *h, bool *retrans)
{
	struct loc_binding old;

	*retrans = false;
	if (rc->star) {
		for (unsigned i = 0; i < loc_count_locked(h); i++) {
			loc_get_locked(h, i, &old);
			if (order_check(rc, &old) < 0)
				return -1;
		}
		return 0;
	}
	for (unsigned i = 0; i < rc->ncontacts; i++) {
		int idx = loc_find_locked(h, rc->contacts[i].uri_raw);
		int r;

		if (idx < 0)
			continue;
		loc_get_locked(h, (unsigned)idx, &old);
		r = order_check(rc, &old);
		if (r < 0)
			return -1;
		if (r == 0)
			*retrans = true;
	}
	return 0;
}

static unsigned count_after(struct reg_ctx *rc, struct loc_handle *h)
{
	unsigned n = loc_count_locked(h);

	for (unsigned i = 0; i < rc->ncontacts; i++) {
		bool exists = loc_find_locked(h, rc->contacts[i].uri_raw) >= 0;
		bool removes = contact_expires(rc, &rc->contacts[i]) == 0;

		if (exists && removes)
			n--;
		else if (!exists && !removes)
			n++;
	}
	return n;
}

static int apply_locked(struct reg_ctx *rc, struct loc_handle *h)
{
	struct loc_binding b;

	if (rc->star) {
		loc_del_all_locked(h);
		return 0;
	}
	for (unsigned i = 0; i < rc->ncontacts; i++) {
		const struct sip_nameaddr *c = &rc->contacts[i];
		uint32_t e = contact_expires(rc, c);
		int idx = loc_find_locked(h, c->uri_raw), r;

		if (e == 0) {
			if (idx >= 0)
				loc_del_locked(h, (unsigned)idx);
			continue;
		}
		binding_from(rc, c, e, &b);
		r = loc_put_locked(h, &b);
		if (r < 0)
			return r;
	}
	return 0;
}

int registrar_persist_locked(const struct pinhole_conf *conf, struct loc_handle *h)
{
	static char buf[REG_PACK_MAX];
	ssize_t n;

	if (conf->db.location == CONF_LOC_MEMORY)
		return 0;
	if (conf->db.location == CONF_LOC_WRITE_BACK) {
		loc_set_dirty_locked(h, true);
		return 0;
	}
	if (loc_count_locked(h) == 0)
		return pdb_location_del(h->key);
	n = loc_pack_locked(h, buf, sizeof(buf));
	if (n < 0)
		return (int)n;
	return pdb_location_put(h->key, buf, (size_t)n);
}

/* One Contact line of the 200 OK, appended whole or not at all. */
static void contact_line(struct reg_ctx *rc, const struct loc_binding *b)
{
	char line[LOC_MAX_CONTACT + LOC_MAX_INSTANCE + 160], ip[INET6_ADDRSTRLEN];
	struct sbuf s;

	sbuf_init(&s, line, sizeof(line));
	sbuf_adds(&s, "Contact: <");
	sbuf_add(&s, b->contact);
	sbuf_adds(&s, ">;expires=");
	sbuf_add_uint(&s, (uint64_t)(b->expires - rc->now));
	if (b->q >= 0) {
		char frac[4] = { '.', (char)('0' + b->q % 1000 / 100),
				 (char)('0' + b->q % 100 / 10), (char)('0' + b->q % 10) };

		sbuf_adds(&s, ";q=");
		sbuf_add_uint(&s, (uint64_t)(b->q / 1000));
		sbuf_add(&s, slice_make(frac, sizeof(frac)));
	}
	if (b->instance.len) {
		sbuf_adds(&s, ";+sip.instance=");
		sbuf_add(&s, b->instance);
	}
	if (b->reg_id) {
		sbuf_adds(&s, ";reg-id=");
		sbuf_add_uint(&s, b->reg_id);
	}
	if ((b->flags & LOC_F_NAT) && b->received.family == AF_INET) {
		sbuf_adds(&s, ";received=\"sip:");
		for (int i = 0; i < 4; i++) {
			sbuf_add_uint(&s, b->received.addr[i]);
			sbuf_adds(&s, i < 3 ? "." : ":");
		}
		sbuf_add_uint(&s, b->received.port);
		sbuf_adds(&s, "\"");
	} else if ((b->flags & LOC_F_NAT) && b->received.family == AF_INET6 &&
		   inet_ntop(AF_INET6, b->received.addr, ip, sizeof(ip))) {
		sbuf_adds(&s, ";received=\"sip:[");
		sbuf_adds(&s, ip);
		sbuf_adds(&s, "]:");
		sbuf_add_uint(&s, b->received.port);
		sbuf_adds(&s, "\"");
	}
	sbuf_adds(&s, "\r\n");
	if (!s.full && s.len < rc->cap - rc->out->extra_len) {
		memcpy(rc->extra + rc->out->extra_len, line, s.len);
		rc->out->extra_len += s.len;
		rc->extra[rc->out->extra_len] = '\0';
	}
}

/* The 200 OK lists every current binding with its remaining expires, and
 * received for NATed ones (RFC 3261 §10.3 step 8). */
static void list_bindings_locked(struct reg_ctx *rc, struct loc_handle *h)
{
	struct loc_binding b;

	for (unsigned i = 0; i < loc_count_locked(h); i++) {
		loc_get_locked(h, i, &b);
		if (b.expires > rc->now)
			contact_line(rc, &b);
	}
}

static void echo_path(struct reg_ctx *rc)
{
	const struct sip_hdr *h;
	bool supported = false;

	if (rc->path_len == 0)
		return;
	for (h = sip_msg_hdr(rc->msg, SIP_H_SUPPORTED); h && !supported;
	     h = sip_msg_hdr_next(rc->msg, h))
		supported = memmem(h->value.p, h->value.len, "path", 4) != NULL;
	if (supported)
		extra_printf(rc, "Path: %.*s\r\n", (int)rc->path_len, rc->path);
}

static void update(struct reg_ctx *rc)
{
	struct loc_handle h;
	bool retrans = false;
	int r;

	loc_lock(slice_cstr(rc->aor), &h);
	if (check_order_locked(rc, &h, &retrans) < 0) {
		set_reply(rc, 400, "CSeq out of order for this Call-ID");
		goto out;
	}
	if (!retrans && count_after(rc, &h) > rc->conf->registrar.max_contacts) {
		set_reply(rc, rc->conf->registrar.max_contacts_reply,
			  "Too many registered contacts");
		goto out;
	}
	if (!retrans && (rc->ncontacts || rc->star)) {
		r = apply_locked(rc, &h);
		if (r == 0)
			r = registrar_persist_locked(rc->conf, &h);
		if (r < 0) {
			LOG_ERR("registrar: cannot store %s: %s", rc->aor, strerror(-r));
			set_reply(rc, r == -ENOMEM ? 503 : 500,
				  r == -ENOMEM ? "Location table full" : "Cannot store binding");
			goto out;
		}
	}
	set_reply(rc, 200, NULL);
	list_bindings_locked(rc, &h);
out:
	loc_unlock(&h);
}

/* A retransmission of a REGISTER already applied (same Call-ID, CSeq and
 * branch as a stored binding) is answered with the current bindings
 * before authentication: its credentials' nonce-count was used already,
 * and nothing changes. Without authentication update() answers it the
 * same way under its one lock, so this look-up is skipped. */
static bool answer_retransmission(struct reg_ctx *rc)
{
	struct loc_handle h;
	bool retrans = false;

	if (!rc->conf->auth.reg)
		return false;
	loc_lock(slice_cstr(rc->aor), &h);
	if (h.aor && check_order_locked(rc, &h, &retrans) == 0 && retrans) {
		set_reply(rc, 200, NULL);
		list_bindings_locked(rc, &h);
	}
	loc_unlock(&h);
	return retrans && rc->out->code == 200;
}

void registrar_handle(const struct pinhole_conf *conf, const struct sip_msg *msg,
		      const struct sip_contacts *contacts, const struct sip_source *src,
		      char *extra, size_t cap, struct reg_reply *out)
{
	static struct reg_ctx rc;

	/* field by field: aor and path are written before they are read, and
	 * clearing their 1.3 KB per REGISTER is wasted */
	rc.conf = conf;
	rc.msg = msg;
	rc.src = src;
	rc.out = out;
	rc.extra = extra;
	rc.cap = cap;
	rc.now = time(NULL);
	rc.contacts = NULL;
	rc.ncontacts = 0;
	rc.star = false;
	rc.path_len = 0;
	rc.aor[0] = '\0';
	*out = (struct reg_reply){ .code = 500 };
	if (cap)
		extra[0] = '\0';
	rc.branch_hash = msg->nvia ? hash32(msg->via[0].branch) : 0;
	if (check_require(&rc) && check_aor(&rc) && check_contacts(&rc, contacts) &&
	    !answer_retransmission(&rc) && check_auth(&rc) && check_min_expires(&rc) &&
	    collect_path(&rc))
		update(&rc);
	if (out->code == 200) {
		STAT_INC(REGISTRAR_ACCEPTED);
		echo_path(&rc);
	} else if (out->code != 401) {
		STAT_INC(REGISTRAR_REJECTED);
	}
}
