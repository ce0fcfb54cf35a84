/*
 * proxy.c — the stateful proxy (RFC 3261 §16) for requests the SIP
 * workers do not answer themselves.
 *
 * Order: Route processing (loose routing, strict-router compatibility),
 * a sips request that did not arrive over TLS refused (480), ACK and
 * CANCEL matched against transactions, the INVITE's server transaction
 * opened at once (100 Trying, §16.2), retransmissions absorbed, loop
 * detection (482), proxy authentication of local callers (407), then the
 * targets: the next Route, a location lookup for a local Request-URI (404
 * unknown subscriber, 480 not registered; bindings of the highest q
 * first, serial groups after; only TLS ones for sips), or a relay to the
 * Request-URI's host. Each target gets its own copy (proxy_edit.c) in
 * one client branch, its SDP pointed at the media relay when a side is
 * NATed (proxy_media.c). Runs in the SIP workers; it holds the location lock
 * only to copy bindings out, and a stripe lock only inside tm_*.
 */
#include "proxy_int.h"
#include "proxy_media.h"
#include "../db/db.h"
#include "../workers/workers.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <time.h>

#define BRANCH_CAP (SIP_MAX_MSG + 4096)

struct binding_copy {
	slice contact, path;
	struct loc_addr received;
	uint32_t conn_id;
	int16_t q;
	uint8_t socket, flags;
};

struct proxy_ctx {
	const struct pinhole_conf *conf;
	const struct sip_msg *msg;
	const struct sip_source *src;
	struct proxy_reply *out;
	char *extra;
	size_t cap;
	bool silent;               /* ACK: never answered */
	bool have_ref;
	bool authenticated;
	struct tm_ref ref;
	uint32_t loop;
	struct proxy_routes routes;
	struct proxy_route_plan plan;
	struct tm_target tgt[TM_MAX_BRANCHES];
	struct proxy_branch pb[TM_MAX_BRANCHES];
	unsigned n;
};

static struct proxy_ctx pc_static;

/* ---- answers ------------------------------------------------------------- */

static void reply(struct proxy_ctx *pc, unsigned code, const char *reason, const char *extra)
{
	if (pc->silent)
		return;
	if (pc->have_ref) {
		if (code >= 300)
			STAT_INC(CORE_ERR_REQUESTS);
		tm_reply(pc->conf, pc->ref, code, reason, extra);
		return;
	}
	pc->out->code = code;
	pc->out->reason = reason;
	pc->out->extra_len = extra && extra == pc->extra ? strlen(extra) : 0;
}

static bool open_transaction(struct proxy_ctx *pc)
{
	int rc = tm_uas_open(pc->conf, pc->msg, pc->src, pc->loop, &pc->ref);

	if (rc == TM_OPEN_NEW) {
		pc->have_ref = true;
		return true;
	}
	if (rc == TM_OPEN_RETRANS) {
		STAT_INC(CORE_DROP_REQUESTS);
	} else if (rc == -ENOSPC) {
		STAT_INC(TM_TABLE_FULL);
		reply(pc, 503, "Transaction Table Full", NULL);
	} else {
		STAT_INC(TM_ALLOC_FAILURES);
		reply(pc, rc == -ENOMEM ? 503 : 500, NULL, NULL);
	}
	return false;
}

/* ---- loops (§16.3 step 4) -------------------------------------------------- */

/* What identifies the request at this hop: Request-URI, tags, Call-ID,
 * CSeq number and the Route set left after ours. A request that comes
 * back with all of these unchanged looped; one that changed spirals. */
static uint32_t loop_hash(const struct proxy_ctx *pc)
{
	const struct sip_msg *m = pc->msg;
	uint32_t h = 2166136261u;
	slice parts[3 + PROXY_MAX_ROUTES] = { m->ruri_raw, m->from.tag, m->to.tag };
	unsigned np = 3;

	for (unsigned i = pc->plan.pop; i < pc->routes.n; i++)
		parts[np++] = pc->routes.v[i].raw;
	for (unsigned i = 0; i < np; i++) {
		for (uint32_t j = 0; j < parts[i].len; j++)
			h = (h ^ (unsigned char)parts[i].p[j]) * 16777619u;
		h = (h ^ 0xff) * 16777619u;
	}
	for (uint32_t j = 0; j < m->call_id.len; j++)
		h = (h ^ (unsigned char)m->call_id.p[j]) * 16777619u;
	return h ^ m->cseq.num;
}

static bool looped(const struct proxy_ctx *pc)
{
	const struct sip_msg *m = pc->msg;
	struct tm_branch_id id;

	for (unsigned i = 0; i < m->nvia; i++)
		if (tm_branch_parse(m->via[i].branch, &id) == 0 && id.boot == tm_table()->boot &&
		    id.loop == pc->loop)
			return true;
	return false;
}

/* ---- proxy authentication of local callers --------------------------------- */

static void challenge(struct proxy_ctx *pc, bool stale)
{
	int n;

	STAT_INC(AUTH_CHALLENGES);
	n = sip_auth_challenge_conf(pc->conf, true, stale, pc->src->addr, time(NULL), pc->extra,
				    pc->cap);
	reply(pc, 407, NULL, n > 0 ? pc->extra : NULL);
}

/* auth.invite: initial requests from a user of ours carry credentials for
 * our realm, and the authenticated user is the From user. */
static bool authorized(struct proxy_ctx *pc)
{
	const struct sip_msg *m = pc->msg;
	const struct pinhole_conf *conf = pc->conf;
	slice user = SLICE_NULL;

	if (!conf->auth.invite || m->to.tag.len || m->method_id == SIP_M_PRACK ||
	    !conf_is_local_domain(conf, m->from.uri.host))
		return true;
	switch (sip_auth_check(m, SIP_H_PROXY_AUTHORIZATION, slice_cstr(conf->auth.realm),
			       m->from.uri.host, pc->src->addr, time(NULL),
			       conf->auth.nonce_ttl, pdb_auth_lookup, NULL, &user)) {
	case SIP_AUTH_OK:
		if (slice_eq(user, m->from.uri.user)) {
			pc->authenticated = true;
			return true;
		}
		STAT_INC(AUTH_FAILURES);
		reply(pc, 403, "Authentication User Does Not Match From", NULL);
		return false;
	case SIP_AUTH_MALFORMED:
		STAT_INC(AUTH_FAILURES);
		reply(pc, 400, "Malformed Proxy-Authorization header", NULL);
		return false;
	case SIP_AUTH_STALE:
		challenge(pc, true);
		return false;
	case SIP_AUTH_INVALID:
	case SIP_AUTH_UNKNOWN_USER:
		STAT_INC(AUTH_FAILURES);
		challenge(pc, false);
		return false;
	default:
		challenge(pc, false);
		return false;
	}
}

/* ---- targets -------------------------------------------------------------- */

static void add_target(struct proxy_ctx *pc, slice ruri, slice path,
		       const struct tm_addr *dst, uint8_t group, bool nat)
{
	unsigned i = pc->n++;

	pc->pb[i] = (struct proxy_branch){ .ruri = ruri, .path = path, .socket = dst->socket,
					   .nat = nat };
	pc->tgt[i] = (struct tm_target){ .dst = *dst, .group = group, .nat = nat };
}

static int next_hop_target(struct proxy_ctx *pc, const struct sip_uri *uri)
{
	struct tm_addr dst;

	if (proxy_resolve(pc->conf, uri, pc->src->socket, &dst) < 0) {
		reply(pc, 503, "Unresolvable Destination", NULL);
		return -1;
	}
	if (!proxy_dst_secure(pc->conf, proxy_is_sips(pc->msg, &pc->routes, &pc->plan), &dst)) {
		reply(pc, 480, "SIPS Requires TLS", NULL);
		return -1;
	}
	add_target(pc, SLICE_NULL, SLICE_NULL, &dst, 0, pc->plan.nat);
	return 0;
}

/* Live bindings copied out of shm under the AOR's lock. */
static unsigned copy_bindings(const char *key, struct binding_copy *out, char *pool)
{
	struct loc_handle h;
	struct loc_binding b;
	int64_t now = time(NULL);
	unsigned n = 0;

	loc_lock(slice_cstr(key), &h);
	for (unsigned i = 0; i < loc_count_locked(&h) && n < LOC_MAX_BINDINGS; i++) {
		if (loc_get_locked(&h, i, &b) < 0 || b.expires <= now)
			continue;
		memcpy(pool, b.contact.p, b.contact.len);
		out[n].contact = slice_make(pool, b.contact.len);
		pool += b.contact.len;
		memcpy(pool, b.path.p, b.path.len);
		out[n].path = slice_make(pool, b.path.len);
		pool += b.path.len;
		out[n].received = b.received;
		out[n].conn_id = b.conn_id;
		out[n].q = b.q < 0 ? 1000 : b.q;
		out[n].socket = b.socket;
		out[n].flags = b.flags;
		n++;
	}
	loc_unlock(&h);
	return n;
}

/* Highest q first; equal q keep their registration order. */
static void sort_by_q(struct binding_copy *b, unsigned n)
{
	for (unsigned i = 1; i < n; i++) {
		struct binding_copy x = b[i];
		unsigned j = i;

		for (; j > 0 && b[j - 1].q < x.q; j--)
			b[j] = b[j - 1];
		b[j] = x;
	}
}

/* A NATed binding is reached at the address its REGISTER came from, from
 * the socket it came in on; others at their Path or Contact. */
static int binding_dst(const struct pinhole_conf *conf, const struct binding_copy *b,
		       struct tm_addr *dst)
{
	struct sip_nameaddr first[1];
	struct sip_uri uri;
	const char *reason;
	unsigned n = 0;
	int sock;

	if ((b->flags & LOC_F_NAT) && b->received.family) {
		if (b->received.proto != CONF_PROTO_UDP) {
			/* its own TCP/TLS connection or nothing (workers.h) */
			if (!stream_conn_alive(b->conn_id))
				return -EHOSTUNREACH;
			tm_addr_from_loc(&b->received, b->socket, dst);
			return 0;
		}
		sock = proxy_socket_for(conf, b->received.family, b->socket);
		if (sock < 0)
			return -EHOSTUNREACH;
		tm_addr_from_loc(&b->received, (uint8_t)sock, dst);
		return 0;
	}
	if (b->path.len) {
		if (sip_nameaddr_list_parse(b->path, first, 1, &n, &reason) < 0 && n == 0)
			return -EINVAL;
		return proxy_resolve(conf, &first[0].uri, b->socket, dst);
	}
	if (sip_uri_parse(b->contact, &uri, &reason) < 0)
		return -EINVAL;
	return proxy_resolve(conf, &uri, b->socket, dst);
}

static bool subscriber_unknown(const struct pinhole_conf *conf, const struct sip_uri *u)
{
	struct pdb_subscriber s;

	if (!conf->auth.reg && !conf->auth.invite)
		return false;
	return pdb_subscriber_get(u->user, u->host, &s) == -ENOENT;
}

static int location_targets(struct proxy_ctx *pc, const struct sip_uri *u)
{
	static struct binding_copy b[LOC_MAX_BINDINGS];
	static char pool[LOC_MAX_BINDINGS * (LOC_MAX_CONTACT + LOC_MAX_PATH)];
	char key[LOC_MAX_AOR + 1];
	unsigned n, group = 0;
	struct tm_addr dst;
	bool sips = proxy_is_sips(pc->msg, &pc->routes, &pc->plan);

	if (sip_aor_key(u, key, sizeof(key)) < 0 || subscriber_unknown(pc->conf, u)) {
		reply(pc, 404, NULL, NULL);
		return -1;
	}
	n = copy_bindings(key, b, pool);
	sort_by_q(b, n);
	for (unsigned i = 0; i < n && pc->n < TM_MAX_BRANCHES; i++) {
		if (i > 0 && b[i].q != b[i - 1].q)
			group++;
		if (binding_dst(pc->conf, &b[i], &dst) == 0 && proxy_dst_secure(pc->conf, sips, &dst))
			add_target(pc, b[i].contact, b[i].path, &dst, (uint8_t)group,
				   (b[i].flags & LOC_F_NAT) || pc->plan.nat);
		if (pc->silent && pc->n)
			break;
	}
	if (pc->n == 0) {
		reply(pc, 480, NULL, NULL);
		return -1;
	}
	return 0;
}

/* Not an open relay: a request leaves for another host only when it
 * comes from a user of ours, or belongs to a dialog we record-routed. */
static bool may_relay(const struct proxy_ctx *pc)
{
	const struct sip_msg *m = pc->msg;

	return conf_is_local_domain(pc->conf, m->from.uri.host) ||
	       (pc->plan.pop > 0 && m->to.tag.len > 0);
}

static int find_targets(struct proxy_ctx *pc)
{
	const struct sip_msg *m = pc->msg;
	const struct sip_uri *u = pc->plan.ruri_from >= 0
				  ? &pc->routes.v[pc->plan.ruri_from].uri : &m->ruri;
	bool local = pc->plan.next < 0 && proxy_uri_is_local(pc->conf, u);

	if (local && u->user.len)
		return location_targets(pc, u);
	if (local) {
		reply(pc, 404, "Not Here", NULL);
		return -1;
	}
	if (!may_relay(pc)) {
		reply(pc, 403, "Relaying Denied", NULL);
		return -1;
	}
	if (pc->plan.next >= 0)
		return next_hop_target(pc, &pc->routes.v[pc->plan.next].uri);
	return next_hop_target(pc, u);
}

/* ---- forwarding ------------------------------------------------------------ */

static bool creates_dialog(const struct sip_msg *m)
{
	return m->to.tag.len == 0 &&
	       (m->method_id == SIP_M_INVITE || m->method_id == SIP_M_SUBSCRIBE ||
		m->method_id == SIP_M_REFER);
}

static void fwd_init(const struct proxy_ctx *pc, struct proxy_fwd *f)
{
	*f = (struct proxy_fwd){ .conf = pc->conf, .msg = pc->msg, .src = pc->src,
				 .routes = &pc->routes, .plan = &pc->plan,
				 .record_route = creates_dialog(pc->msg),
				 .fix_contact = pc->src->nat != 0,
				 .drop_credentials = pc->authenticated };
}

/* Branch i's SDP to the media relay (sip/proxy_media.c); a 503 when the
 * relay has no room. */
static bool media(struct proxy_ctx *pc, struct proxy_media *pm, unsigned i, char *buf)
{
	int rc = proxy_media_request(pm, pc->conf, pc->msg, pc->src->addr,
				     pc->src->nat || pc->pb[i].nat, buf, BRANCH_CAP,
				     &pc->tgt[i].req_len);

	if (rc < 0)
		reply(pc, 503, proxy_media_reason(rc), NULL);
	return rc == 0;
}

static void forward(struct proxy_ctx *pc)
{
	static char bufs[TM_MAX_BRANCHES][BRANCH_CAP];
	char branch[TM_MAX_BRANCHES][64];
	struct proxy_media pm;
	struct proxy_fwd f;
	int rc;

	fwd_init(pc, &f);
	proxy_media_init(&pm);
	proxy_media_end(pc->conf, pc->msg);
	for (unsigned i = 0; i < pc->n; i++) {
		struct tm_branch_id id = { .boot = tm_table()->boot, .slot = pc->ref.slot,
					   .gen = pc->ref.gen, .branch = (uint8_t)i,
					   .loop = pc->loop };

		pc->pb[i].branch = slice_make(branch[i], tm_branch_format(&id, branch[i], 64));
		rc = proxy_build_request(&f, &pc->pb[i], bufs[i], BRANCH_CAP, &pc->tgt[i].req_len);
		if (rc < 0)
			reply(pc, rc == -ENOSPC ? 513 : 500, NULL, NULL);
		if (rc < 0 || !media(pc, &pm, i, bufs[i])) {
			proxy_media_abort(&pm, pc->conf, pc->msg);
			return;
		}
		pc->tgt[i].req = bufs[i];
	}
	rc = tm_uac_start(pc->conf, pc->ref, pc->tgt, pc->n);
	if (rc < 0)
		proxy_media_abort(&pm, pc->conf, pc->msg);
	if (rc == -ENOMEM) {
		STAT_INC(TM_ALLOC_FAILURES);
		reply(pc, 503, NULL, NULL);
	}
}

/* ACK for a 2xx (or one that matches nothing): end to end, stateless
 * (§16.11), with a branch derived from the received one. */
static void forward_ack(struct proxy_ctx *pc)
{
	static char buf[BRANCH_CAP];
	char branch[48];
	struct proxy_media pm;
	struct proxy_fwd f;
	size_t len;
	bool rfc2543;

	if (tm_uas_ack(pc->conf, pc->msg) || find_targets(pc) < 0 || pc->n == 0) {
		STAT_INC(CORE_DROP_REQUESTS);
		return;
	}
	snprintf(branch, sizeof(branch), TM_SL_BRANCH_PREFIX "%016llx",
		 (unsigned long long)tm_request_key(pc->msg, &rfc2543));
	pc->pb[0].branch = slice_cstr(branch);
	fwd_init(pc, &f);
	proxy_media_init(&pm);
	if (proxy_build_request(&f, &pc->pb[0], buf, sizeof(buf), &len) < 0 ||
	    proxy_media_request(&pm, pc->conf, pc->msg, pc->src->addr, true, buf, sizeof(buf),
				&len) < 0 ||
	    tm_send(&pc->tgt[0].dst, buf, len) < 0) {
		STAT_INC(CORE_DROP_REQUESTS);
		return;
	}
	STAT_INC(CORE_FWD_REQUESTS);
}

/* §16.10: 200 to a CANCEL that matches an INVITE (whose branches are then
 * cancelled), 481 otherwise. */
static void cancel(struct proxy_ctx *pc)
{
	pc->out->code = tm_uas_cancel(pc->conf, pc->msg) == 0 ? 200 : 481;
}

static void ctx_init(struct proxy_ctx *pc, const struct pinhole_conf *conf,
		     const struct sip_msg *msg, const struct sip_source *src, char *extra,
		     size_t cap, struct proxy_reply *out)
{
	pc->conf = conf;
	pc->msg = msg;
	pc->src = src;
	pc->out = out;
	pc->extra = extra;
	pc->cap = cap;
	pc->silent = msg->method_id == SIP_M_ACK;
	pc->have_ref = false;
	pc->authenticated = false;
	pc->n = 0;
	*out = (struct proxy_reply){ 0 };
	if (cap)
		extra[0] = '\0';
}

void proxy_request(const struct pinhole_conf *conf, const struct sip_msg *msg,
		   const struct sip_source *src, char *extra, size_t cap,
		   struct proxy_reply *out)
{
	struct proxy_ctx *pc = &pc_static;
	const char *reason = NULL;

	ctx_init(pc, conf, msg, src, extra, cap, out);
	if (!tm_table()) {
		reply(pc, 500, "No Transaction Table", NULL);
		return;
	}
	if (proxy_routes_parse(msg, &pc->routes, &reason) < 0) {
		reply(pc, 400, reason ? reason : "Malformed Route", NULL);
		return;
	}
	proxy_route_plan(conf, msg, &pc->routes, &pc->plan);
	if ((reason = proxy_sips_refused(msg, src, &pc->routes, &pc->plan)) != NULL) {
		reply(pc, 480, reason, NULL);
		return;
	}
	pc->loop = loop_hash(pc);
	if (msg->method_id == SIP_M_ACK) {
		forward_ack(pc);
		return;
	}
	if (msg->method_id == SIP_M_CANCEL) {
		cancel(pc);
		return;
	}
	if (msg->method_id == SIP_M_INVITE) {
		if (!open_transaction(pc))
			return;
	} else if (tm_uas_retransmission(msg)) {
		STAT_INC(CORE_DROP_REQUESTS);
		return;
	}
	if (looped(pc)) {
		reply(pc, 482, NULL, NULL);
		return;
	}
	if (!authorized(pc) || find_targets(pc) < 0)
		return;
	if (pc->have_ref || open_transaction(pc))
		forward(pc);
}

void proxy_response(const struct pinhole_conf *conf, const struct sip_msg *msg,
		    const struct sip_source *src)
{
	tm_uac_response(conf, msg, src->addr);
}
