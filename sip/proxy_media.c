/*
 * proxy_media.c — the proxy's side of the media relay: SDP offers and
 * answers of forwarded messages point at the relay (relay_update per m=
 * line, then sdp_rewrite.c); BYE and failed initial INVITEs (a CANCEL via
 * its 487) delete the sessions. The party is the From tag's in a request,
 * the To tag's in a response, so re-INVITEs work from either side. An
 * answer is relayed only when its branch's offer was relayed here (our
 * marker on the copy sent, none on the request received): never twice.
 * SIP workers; the response side runs under the transaction's stripe lock
 * and takes only relay bucket locks.
 */
#include "proxy_media.h"
#include "../relay/relay.h"

#include <errno.h>

_Static_assert((int)SDP_PARTY_NO_RECV == (int)RELAY_F_NO_RECV &&
	       (int)SDP_PARTY_NO_SEND == (int)RELAY_F_NO_SEND,
	       "SDP party flags are relay flags");

#define MSG_CAP (SIP_MAX_MSG + 4096)

static char body_buf[SIP_MAX_MSG];
static char msg_buf[MSG_CAP];
static struct sip_msg scratch;     /* a built or stored message, parsed again */
static struct sdp_session sdp;

static bool relay_on(const struct pinhole_conf *conf)
{
	return conf->relay.mode != CONF_RELAY_NEVER;
}

/* A body of type application/sdp (a multipart body is left alone). */
static bool is_sdp(const struct sip_msg *m)
{
	static const char type[] = "application/sdp";
	const struct sip_hdr *h = sip_msg_hdr(m, SIP_H_CONTENT_TYPE);
	slice v;

	if (m->body.len == 0 || !h)
		return false;
	v = h->value;
	if (v.len < sizeof(type) - 1 ||
	    !slice_caseeq(slice_make(v.p, sizeof(type) - 1), SLICE_LIT(type)))
		return false;
	return v.len == sizeof(type) - 1 || v.p[sizeof(type) - 1] == ';' ||
	       v.p[sizeof(type) - 1] == ' ' || v.p[sizeof(type) - 1] == '\t';
}

/* Where parties reach the relay: advertise, else relay.address. */
static slice relay_sdp_addr(const struct pinhole_conf *conf, bool *v6)
{
	const char *a = conf->advertise[0] ? conf->advertise : conf->relay.address;

	*v6 = strchr(a, ':') != NULL;
	return slice_cstr(a);
}

/* Every live stream of m's SDP to the relay for the party of tag, and the
 * body rewritten into body_buf. 0, or relay_update's error, -EINVAL for
 * an SDP that does not parse, -E2BIG when the result does not fit. */
static int rewrite_body(const struct pinhole_conf *conf, const struct sip_msg *m,
			const struct sockaddr *from, slice tag, slice other, uint32_t flags,
			slice *body)
{
	struct sdp_relay r = { .port = { 0 } };
	struct relay_addr local;
	const char *reason;
	struct sbuf b;

	if (sdp_parse(m->body, &sdp, &reason) < 0)
		return -EINVAL;
	for (unsigned i = 0; i < sdp.nmedia; i++) {
		struct relay_req rq = { .call_id = m->call_id, .tag = tag, .other_tag = other,
					.media = i, .flags = flags };

		relay_addr_from_sa(from, &rq.from);
		struct sdp_party p;
		int rc;

		sdp_media_party(&sdp, i, &p);
		if (p.port == 0)
			continue;
		rq.flags |= p.flags;
		rq.addr = (struct relay_addr){ .family = p.family, .port = p.port };
		memcpy(rq.addr.addr, p.addr, sizeof(rq.addr.addr));
		rc = relay_update(&rq, &local);
		if (rc < 0)
			return rc;
		r.port[i] = local.port;
	}
	r.addr = relay_sdp_addr(conf, &r.ipv6);
	sbuf_init(&b, body_buf, sizeof(body_buf));
	if (sdp_relay_rewrite(m->body, &sdp, &r, &b) < 0)
		return -E2BIG;
	*body = slice_make(body_buf, b.len);
	return 0;
}

/* The message in out[0..*len) with body instead of its own and the
 * Content-Length to match. 0, -EINVAL, -E2BIG. */
static int replace_body(char *out, size_t cap, size_t *len, slice body)
{
	static struct sip_builder b;
	struct sip_parse_status st;
	size_t n;

	if (sip_msg_parse(out, *len, 0, &scratch, &st) < 0)
		return -EINVAL;
	sip_build_init(&b, &scratch);
	sip_build_set_body(&b, body);
	if (sip_build_finish(&b, msg_buf, sizeof(msg_buf), &n) < 0 || n > cap)
		return -E2BIG;
	memcpy(out, msg_buf, n);
	*len = n;
	return 0;
}

/* ---- requests -------------------------------------------------------------- */

/* Looks at msg once per request: its SDP (an offer, or an ACK's answer)
 * to the relay, the new body kept in pm. */
static int prepare(struct proxy_media *pm, const struct pinhole_conf *conf,
		   const struct sip_msg *msg, const struct sockaddr *from)
{
	int rc;

	pm->state = -1;
	if ((msg->method_id != SIP_M_INVITE && msg->method_id != SIP_M_UPDATE &&
	     msg->method_id != SIP_M_ACK) || !is_sdp(msg) || sdp_has_relay_marker(msg->body))
		return 0;
	pm->offer = msg->method_id != SIP_M_ACK;
	rc = rewrite_body(conf, msg, from, msg->from.tag, msg->to.tag,
			  pm->offer ? RELAY_F_CREATE : 0, &pm->body);
	if (rc == -ENOSPC || rc == -ENOMEM)
		return rc;
	if (rc < 0) {
		LOG_DBG("media of %.*s left as it is: %s", SLICE_FMT(msg->call_id), strerror(-rc));
		return 0;
	}
	pm->state = 1;
	return 0;
}

int proxy_media_request(struct proxy_media *pm, const struct pinhole_conf *conf,
			const struct sip_msg *msg, const struct sockaddr *from, bool nat, char *out,
			size_t cap, size_t *len)
{
	int rc;

	if (!relay_on(conf) || (conf->relay.mode == CONF_RELAY_NAT && !nat))
		return 0;
	if (pm->state == 0) {
		rc = prepare(pm, conf, msg, from);
		if (rc < 0)
			return rc;
	}
	if (pm->state < 0)
		return 0;
	rc = replace_body(out, cap, len, pm->body);
	if (rc < 0)
		LOG_DBG("relayed SDP of %.*s not applied: %s", SLICE_FMT(msg->call_id),
			strerror(-rc));
	return 0;
}

const char *proxy_media_reason(int err)
{
	return err == -ENOSPC ? "Media Relay Ports Exhausted" : "Media Relay Out Of Memory";
}

void proxy_media_end(const struct pinhole_conf *conf, const struct sip_msg *msg)
{
	if (relay_on(conf) && msg->method_id == SIP_M_BYE)
		relay_delete(msg->call_id, msg->from.tag, msg->to.tag);
}

void proxy_media_abort(const struct proxy_media *pm, const struct pinhole_conf *conf,
		       const struct sip_msg *msg)
{
	if (pm->offer && msg->method_id == SIP_M_INVITE && msg->to.tag.len == 0)
		relay_delete(msg->call_id, msg->from.tag, SLICE_NULL);
}

/* ---- responses --------------------------------------------------------------- */

/* nat=yes on the first Record-Route value (ours, on an initial request). */
static bool record_route_nat(const struct sip_msg *m)
{
	struct sip_nameaddr rr[1];
	const char *reason;
	unsigned n = 0;
	slice v;

	sip_msg_routes(m, SIP_H_RECORD_ROUTE, rr, 1, &n, &reason);
	return n == 1 && sip_uri_param(&rr[0].uri, SLICE_LIT("nat"), &v) &&
	       slice_caseeq(v, SLICE_LIT("yes"));
}

/* The request t received carried the marker: its offer was relayed
 * before it reached us. */
static bool received_marked(const struct tm_slot *t)
{
	return tm_parse_stored(t->req, t->req_len, &scratch) == 0 &&
	       sdp_has_relay_marker(scratch.body);
}

/* RELAY_F_* for the SDP of resp, or -1 when it is not relayed here. */
static int response_flags(const struct pinhole_conf *conf, const struct tm_slot *t,
			  const struct tm_branch *b)
{
	if (tm_parse_stored(b->req, b->req_len, &scratch) < 0)
		return -1;
	if (scratch.body.len) {     /* an answer */
		if (!sdp_has_relay_marker(scratch.body) || received_marked(t))
			return -1;
		return 0;
	}
	if (conf->relay.mode == CONF_RELAY_ALWAYS || (b->flags & TM_BF_NAT) ||
	    record_route_nat(&scratch))
		return RELAY_F_CREATE;   /* an offer in a 2xx or reliable 1xx */
	return -1;
}

void proxy_media_response_locked(const struct pinhole_conf *conf, const struct tm_slot *t,
				 const struct tm_branch *b, const struct sip_msg *resp,
				 const struct sockaddr *src, char *out, size_t cap, size_t *len)
{
	slice body;
	int flags, rc;

	if (!relay_on(conf) || resp->status <= 100 || resp->status >= 300 ||
	    (t->method != SIP_M_INVITE && t->method != SIP_M_UPDATE) || !is_sdp(resp) ||
	    sdp_has_relay_marker(resp->body))
		return;
	flags = response_flags(conf, t, b);
	if (flags < 0)
		return;
	rc = rewrite_body(conf, resp, src, resp->to.tag, resp->from.tag, (uint32_t)flags, &body);
	if (rc == 0)
		rc = replace_body(out, cap, len, body);
	if (rc < 0 && rc != -ENOENT)
		LOG_DBG("media of the %u to %.*s left as it is: %s", resp->status,
			SLICE_FMT(resp->call_id), strerror(-rc));
}

void proxy_media_failed_locked(const struct pinhole_conf *conf, const struct tm_slot *t)
{
	if (!relay_on(conf) || (t->method != SIP_M_INVITE && t->method != SIP_M_UPDATE) ||
	    tm_parse_stored(t->req, t->req_len, &scratch) < 0)
		return;
	if (!scratch.to.tag.len && t->method == SIP_M_INVITE)
		relay_delete(scratch.call_id, scratch.from.tag, SLICE_NULL);
	else if (scratch.to.tag.len && is_sdp(&scratch))
		relay_revert(scratch.call_id, scratch.from.tag);
}
