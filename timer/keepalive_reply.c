/*
 * keepalive_reply.c — answers to the timer's keepalive OPTIONS, as the SIP
 * workers receive them: recognised by their branch, believed only when
 * they come from the address the binding was pinged at, then recorded on
 * the binding (last keepalive time, round trip) under its bucket lock.
 *
 * It lives beside the pinger (timer/) rather than in workers/ because the
 * branch layout is written and read in one folder (keepalive_msg.c), so
 * the two ends cannot drift; a worker only calls keepalive_reply_in. A
 * forged, stale or misdirected answer is counted (nat.bad_pongs) and
 * dropped: it never changes a binding and never goes anywhere.
 */
#include "timer.h"
#include "keepalive_int.h"
#include "../sip/sip.h"

#include <errno.h>
#include <time.h>

enum ka_match { KA_NO_BINDING = 0, KA_WRONG_SOURCE, KA_MATCHED };

struct ka_lookup {
	const struct ka_id *id;
	const struct sockaddr_storage *src;
	int64_t now_ms;           /* CLOCK_REALTIME */
	uint32_t rtt_us;
	enum ka_match result;
};

/* loc_walk callback over the ping's bucket, under its lock. */
static int match(struct loc_handle *h, void *arg)
{
	struct ka_lookup *kl = arg;
	struct sockaddr_storage dst;
	struct loc_binding b;

	if (ka_hash(h->key) != kl->id->aor_hash)
		return 0;
	for (unsigned i = 0; i < loc_count_locked(h); i++) {
		if (loc_get_locked(h, i, &b) < 0 || ka_hash(b.contact) != kl->id->contact_hash)
			continue;
		if (ka_target(&b, &dst) < 0 || !ka_sockaddr_same(&dst, kl->src)) {
			kl->result = KA_WRONG_SOURCE;
			return 1;
		}
		loc_update_keepalive_locked(h, i, kl->now_ms, kl->rtt_us);
		kl->result = KA_MATCHED;
		return 1;
	}
	return 0;
}

static int64_t realtime_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Whether the answer identified by id, from src, updated its binding. */
static enum ka_match record_pong(const struct ka_id *id, const struct sockaddr_storage *src)
{
	int64_t rtt = ka_now_us() - id->sent_us;
	struct ka_lookup kl = { .id = id, .src = src, .now_ms = realtime_ms(),
				.rtt_us = (uint32_t)rtt, .result = KA_NO_BINDING };
	uint32_t cursor = id->bucket;

	if (rtt < 0 || rtt > KA_MAX_RTT_US || id->bucket >= loc_bucket_total())
		return KA_NO_BINDING;
	loc_walk(&cursor, 1, match, &kl);
	return kl.result;
}

bool keepalive_reply_in(const struct sip_msg *msg, const struct sip_rx *rx)
{
	struct ka_id id;
	int rc;

	if (msg->is_request || msg->nvia == 0)
		return false;
	rc = ka_branch_parse(msg->via[0].branch, &id);
	if (rc == -ENOENT)
		return false;
	if (rc < 0 || msg->cseq.method_id != SIP_M_OPTIONS) {
		STAT_INC(NAT_BAD_PONGS);
		return true;
	}
	if (msg->status < 200)
		return true;
	switch (record_pong(&id, &rx->src)) {
	case KA_MATCHED:
		STAT_INC(NAT_PONGS);
		break;
	case KA_WRONG_SOURCE:
		STAT_INC(NAT_BAD_PONGS);
		LOG_DBG("keepalive answer from an address its binding was not pinged at");
		break;
	default:
		STAT_INC(NAT_BAD_PONGS);
		break;
	}
	return true;
}
