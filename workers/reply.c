/*
 * reply.c — stateless replies ("sl"): build a response to a request and
 * send it where RFC 3261 §18.2.2 and RFC 3581 say.
 *
 * The top Via of the response carries received= when the source differs
 * from the sent-by host, and rport=<source port> when the UA asked for it
 * or NAT detection forced it; then the response goes to the source address
 * and port (sip_reply_top_via, sip_reply_dest, shared with the transaction
 * layer); over TCP/TLS it goes back on the request's connection (§18.2.2).
 * Called by the SIP workers; no locks, no allocation.
 */
#include "pipeline.h"
#include "../shm/shm.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>

static void count_reply(unsigned code)
{
	STAT_INC(SL_SENT_REPLIES);
	if (code < 200)
		STAT_INC(SL_1XX);
	else if (code < 300)
		STAT_INC(SL_2XX);
	else if (code >= 400 && code < 500)
		STAT_INC(SL_4XX);
	else if (code >= 500 && code < 600)
		STAT_INC(SL_5XX);
	else if (code >= 600)
		STAT_INC(SL_6XX);
}

/* Over UDP to where §18.2.2 says; over a stream back on its connection. */
static int send_reply(struct sip_rx *rx, const struct sip_msg *msg, bool force_rport,
		      const char *out, size_t len)
{
	struct sockaddr_storage dst;

	if (rx->proto != CONF_PROTO_UDP)
		return stream_send(rx->socket, (const struct sockaddr *)&rx->src, rx->conn_id,
				   out, len);
	sip_reply_dest(msg, (const struct sockaddr *)&rx->src, force_rport, &dst);
	if (sendto(rx->fd, out, len, MSG_DONTWAIT, (struct sockaddr *)&dst,
		   dst.ss_family == AF_INET6 ? sizeof(struct sockaddr_in6)
					     : sizeof(struct sockaddr_in)) < 0) {
		LOG_DBG("sendto: %s", strerror(errno));
		return -errno;
	}
	return 0;
}

int sl_reply(struct sip_rx *rx, const struct sip_msg *msg, bool force_rport,
	     unsigned code, const char *reason, const char *extra)
{
	char out[SIP_MAX_MSG], via[1024], tag[24];
	size_t len = 0, vlen = 0, tlen;
	int rc;

	if (!reason)
		reason = sip_reason_phrase(code);
	if (msg->nvia)
		vlen = sip_reply_top_via(msg, (const struct sockaddr *)&rx->src, force_rport,
					 via, sizeof(via));
	tlen = sip_reply_to_tag(msg, "ph", 0, tag, sizeof(tag));
	rc = sip_reply_build(msg, code, reason, slice_make(via, vlen),
			     slice_make(tag, tlen), extra, out, sizeof(out), &len);
	if (rc < 0) {
		STAT_INC(SL_SEND_ERRORS);
		LOG_WARN("cannot build %u reply: %s", code, strerror(-rc));
		return rc;
	}
	rc = send_reply(rx, msg, force_rport, out, len);
	if (rc < 0) {
		STAT_INC(SL_SEND_ERRORS);
		return rc;
	}
	count_reply(code);
	return 0;
}
