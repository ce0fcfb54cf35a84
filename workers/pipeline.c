/*
 * pipeline.c — what every SIP worker does with one received message.
 *
 * The order follows RFC 3261 §16.3 (request validation) and the default
 * Kamailio script: parse and sanity checks (400/505), NAT detection with
 * forced rport (RFC 3581), URI scheme (416), Max-Forwards (483),
 * Proxy-Require (420), then either local processing (OPTIONS 200, unknown
 * methods 501), the registrar for REGISTER, or the stateful proxy
 * (sip/proxy.c) for everything addressed to a user or another host; what
 * the proxy leaves unanswered is answered here statelessly. A request's
 * Contact list is parsed once, first, into a struct sip_contacts on the
 * stack that NAT detection, sip_msg_check and the registrar read.
 * Responses go to the transaction layer, which drops and counts those
 * matching nothing.
 */
#include "pipeline.h"
#include "../shm/shm.h"
#include "../timer/timer.h"

#include <stdio.h>

/* Methods pinhole answers itself or routes; grows with the registrar and
 * proxy. */
#define ALLOW_HDR "Allow: REGISTER, OPTIONS, ACK\r\n"
#define SUPPORTED_HDR "Supported: path\r\n"
#define ACCEPT_HDR "Accept: application/sdp\r\n"
#define SERVER_HDR "Server: pinhole/" PINHOLE_VERSION "\r\n"

struct req_ctx {
	struct sip_rx *rx;
	struct sip_msg *msg;
	const struct sip_contacts *contacts;
	bool force_rport;
	unsigned nat;      /* NAT tests that fired */
	bool to_self;      /* Request-URI names this server, not a user */
};

static int reply(struct req_ctx *rc, unsigned code, const char *reason, const char *extra)
{
	if (code >= 300)
		STAT_INC(CORE_ERR_REQUESTS);
	return sl_reply(rc->rx, rc->msg, rc->force_rport, code, reason, extra);
}

/* A message that failed to parse: requests get 400/505 when the start line
 * is a request line (best effort with whatever headers were indexed), sent
 * back to the source since the Via cannot be trusted; responses and input
 * that does not even start with a method token are dropped. */
static void handle_parse_error(struct sip_rx *rx, struct sip_msg *msg,
			       const struct sip_parse_status *st)
{
	STAT_INC(CORE_BAD_MSG_HDR);
	if (!msg->is_request || msg->method.len == 0) {
		STAT_INC(CORE_DROP_REPLIES);
		LOG_DBG("dropped malformed message: %s", st->reason ? st->reason : "?");
		return;
	}
	STAT_INC(CORE_RCV_REQUESTS);
	STAT_INC(CORE_ERR_REQUESTS);
	if (st->error == SIP_PERR_BAD_VERSION)
		sl_reply(rx, msg, true, 505, NULL, NULL);
	else
		sl_reply(rx, msg, true, 400, st->reason ? st->reason : "Bad Request", NULL);
}

/* Whether the Request-URI addresses this server itself: no user part, a
 * host that is one of ours and no port or one of ours. */
static bool uri_is_self(const struct pinhole_conf *conf, const struct sip_uri *uri)
{
	return uri->user.len == 0 && proxy_uri_is_local(conf, uri);
}

static int collect_tag(slice tag, void *arg)
{
	char *buf = arg;
	size_t n = strlen(buf);

	snprintf(buf + n, 512 - n, "%s%.*s", n ? ", " : "", SLICE_FMT(tag));
	return 0;
}

/* 420 with Unsupported listing every tag of hdr (pinhole supports no
 * extension that a Require or Proxy-Require could name yet). */
static bool reject_option_tags(struct req_ctx *rc, enum sip_hdr_id hdr)
{
	char tags[512] = "", extra[600];

	if (!sip_msg_hdr(rc->msg, hdr))
		return false;
	sip_msg_option_tags(rc->msg, hdr, collect_tag, tags);
	if (tags[0] == '\0')
		return false;
	snprintf(extra, sizeof(extra), "Unsupported: %s\r\n", tags);
	reply(rc, 420, NULL, extra);
	return true;
}

/* REGISTER for a domain of ours: the registrar answers. */
static void handle_register(struct req_ctx *rc)
{
	static char extra[SIP_MAX_MSG / 2];
	struct sip_rx *rx = rc->rx;
	struct sip_source src = { .addr = (const struct sockaddr *)&rx->src,
				  .proto = rx->proto, .socket = rx->socket,
				  .conn_id = rx->conn_id, .nat = rc->nat };
	struct reg_reply rr;

	if (!conf_is_local_domain(rx->conf, rc->msg->ruri.host)) {
		reply(rc, 501, "Not Implemented (no forwarding yet)", NULL);
		return;
	}
	registrar_handle(rx->conf, rc->msg, rc->contacts, &src, extra, sizeof(extra), &rr);
	reply(rc, rr.code, rr.reason, extra);
}

/* Requests addressed to the server (RFC 3261 §8.2 UAS behaviour). */
static void handle_local(struct req_ctx *rc)
{
	switch (rc->msg->method_id) {
	case SIP_M_ACK:
		STAT_INC(CORE_DROP_REQUESTS);
		return;
	case SIP_M_OPTIONS:
		if (reject_option_tags(rc, SIP_H_REQUIRE))
			return;
		reply(rc, 200, NULL, ALLOW_HDR SUPPORTED_HDR ACCEPT_HDR SERVER_HDR);
		return;
	case SIP_M_OTHER:
		STAT_INC(CORE_UNSUPPORTED_METHODS);
		reply(rc, 501, NULL, ALLOW_HDR);
		return;
	case SIP_M_REGISTER:
		handle_register(rc);
		return;
	default:
		reply(rc, 405, NULL, ALLOW_HDR);
		return;
	}
}

/* Requests for a user or another host: REGISTER goes to the registrar,
 * everything else to the proxy, which answers statefully or leaves a
 * stateless answer to send. */
static void handle_user(struct req_ctx *rc)
{
	static char extra[SIP_MAX_MSG / 2];
	struct sip_rx *rx = rc->rx;
	struct sip_source src = { .addr = (const struct sockaddr *)&rx->src,
				  .proto = rx->proto, .socket = rx->socket,
				  .conn_id = rx->conn_id, .nat = rc->nat };
	struct proxy_reply pr;

	if (rc->msg->method_id == SIP_M_REGISTER) {
		handle_register(rc);
		return;
	}
	proxy_request(rx->conf, rc->msg, &src, extra, sizeof(extra), &pr);
	if (pr.code)
		reply(rc, pr.code, pr.reason, pr.extra_len ? extra : NULL);
}

/* CSeq method must match the request method (RFC 3261 §8.1.1.5); an
 * unknown method gets 501 rather than 400 (RFC 4475 §3.1.2.18). */
static bool reject_cseq_mismatch(struct req_ctx *rc)
{
	const struct sip_msg *msg = rc->msg;

	if (slice_eq(msg->method, msg->cseq.method))
		return false;
	if (msg->method_id == SIP_M_OTHER) {
		STAT_INC(CORE_UNSUPPORTED_METHODS);
		reply(rc, 501, NULL, ALLOW_HDR);
	} else {
		reply(rc, 400, "CSeq method does not match request method", NULL);
	}
	return true;
}

static void handle_request(struct sip_rx *rx, struct sip_msg *msg)
{
	struct sip_contacts contacts; /* filled by the parse, never cleared */
	struct req_ctx rc = { .rx = rx, .msg = msg, .contacts = &contacts };
	struct sip_parse_status st = { 0 };
	unsigned nat;

	STAT_INC(CORE_RCV_REQUESTS);
	sip_contacts_parse(msg, &contacts);
	nat = sip_nat_detect(msg, &contacts, (const struct sockaddr *)&rx->src,
			     rx->conf->nat.detect);
	rc.nat = nat;
	rc.force_rport = nat != 0;
	if (reject_cseq_mismatch(&rc))
		return;
	if (sip_msg_check(msg, &contacts, &st) < 0) {
		STAT_INC(CORE_BAD_MSG_HDR);
		reply(&rc, 400, st.reason ? st.reason : "Bad Request", NULL);
		return;
	}
	if (msg->ruri.scheme_id != SIP_SCHEME_SIP && msg->ruri.scheme_id != SIP_SCHEME_SIPS) {
		STAT_INC(CORE_BAD_URI);
		reply(&rc, 416, NULL, NULL);
		return;
	}
	rc.to_self = uri_is_self(rx->conf, &msg->ruri) && !proxy_strict_routed(rx->conf, msg);
	if (!rc.to_self && msg->max_forwards == 0) {
		if (msg->method_id == SIP_M_ACK)
			STAT_INC(CORE_DROP_REQUESTS);
		else
			reply(&rc, 483, NULL, NULL);
		return;
	}
	if (reject_option_tags(&rc, SIP_H_PROXY_REQUIRE))
		return;
	if (rc.to_self)
		handle_local(&rc);
	else
		handle_user(&rc);
}

/* A response that is not a keepalive answer: the transaction layer. */
static void handle_response(struct sip_rx *rx, const struct sip_msg *msg)
{
	struct sip_source src = { .addr = (const struct sockaddr *)&rx->src,
				  .proto = rx->proto, .socket = rx->socket,
				  .conn_id = rx->conn_id };

	proxy_response(rx->conf, msg, &src);
}

void pipeline_handle(struct sip_rx *rx)
{
	struct sip_msg msg;
	struct sip_parse_status st = { 0 };
	unsigned flags = rx->proto == CONF_PROTO_UDP ? 0 : SIP_PARSE_STREAM;

	if (sip_msg_parse(rx->buf, rx->len, flags, &msg, &st) < 0) {
		handle_parse_error(rx, &msg, &st);
		return;
	}
	if (!msg.is_request) {
		STAT_INC(CORE_RCV_REPLIES);
		if (keepalive_reply_in(&msg, rx))
			return;
		handle_response(rx, &msg);
		return;
	}
	handle_request(rx, &msg);
}
