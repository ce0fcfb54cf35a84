/*
 * proxy_media.h — the proxy's side of the media relay (sip/proxy_media.c),
 * for the proxy (sip/proxy.c) and the transaction layer (sip/tm_uac.c):
 * SDP offers and answers of the messages it forwards go to the relay,
 * and the sessions end with the call. Functions ending in _locked run
 * under the transaction's stripe lock; relay calls take only relay locks.
 */
#ifndef PINHOLE_PROXY_MEDIA_H
#define PINHOLE_PROXY_MEDIA_H

#include "tm_int.h"

/* A request's body as rewritten once for all its branches. */
struct proxy_media {
	int8_t state;              /* 0: not looked at, 1: rewritten, -1: left as is */
	bool offer;
	slice body;
};

static inline void proxy_media_init(struct proxy_media *pm)
{
	*pm = (struct proxy_media){ 0 };
}

/* A forwarded copy of msg (received from from), built in out[0..*len):
 * when relay.mode is "always", or "nat" and nat (either side NATed) is
 * true, an SDP offer (INVITE, UPDATE) or answer (ACK) without the relay
 * marker gets the relay's addresses (relay_update with the From tag's
 * party, whose signalling host is from's) and
 * Content-Length is fixed. 0 (rewritten or left alone), or the error
 * that fails the request: -ENOSPC (no free relay ports), -ENOMEM. */
int proxy_media_request(struct proxy_media *pm, const struct pinhole_conf *conf,
			const struct sip_msg *msg, const struct sockaddr *from, bool nat, char *out,
			size_t cap, size_t *len);
/* The reason phrase of the 503 for an error of proxy_media_request. */
const char *proxy_media_reason(int err);
/* A BYE being forwarded: the dialog's relay sessions are deleted. (A
 * CANCEL ends them through the final failure it leads to.) */
void proxy_media_end(const struct pinhole_conf *conf, const struct sip_msg *msg);
/* A request whose offer went to the relay and that is not forwarded
 * after all: an initial INVITE's new sessions are deleted again. */
void proxy_media_abort(const struct proxy_media *pm, const struct pinhole_conf *conf,
		       const struct sip_msg *msg);

/* A 1xx/2xx response (received from src) to an INVITE or UPDATE from
 * branch b of t, edited in
 * out[0..*len) for upstream: an answer gets the relay when the offer sent
 * on b was relayed here; an offer (the request had no SDP) when the
 * dialog is relayed (relay.mode "always", b NATed, or nat=yes in our
 * Record-Route). Left as it is on any error. */
void proxy_media_response_locked(const struct pinhole_conf *conf, const struct tm_slot *t,
				 const struct tm_branch *b, const struct sip_msg *resp,
				 const struct sockaddr *src, char *out, size_t cap, size_t *len);
/* A final failure going upstream for t with no branch left: the sessions
 * of an initial INVITE are deleted; an in-dialog offer (re-INVITE,
 * UPDATE) that was rejected is reverted (relay_revert). */
void proxy_media_failed_locked(const struct pinhole_conf *conf, const struct tm_slot *t);

#endif
