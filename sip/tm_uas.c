/*
 * tm_uas.c — the server side of a proxy transaction (RFC 3261 §17.2,
 * RFC 6026): creating it, absorbing retransmissions, ACK and CANCEL
 * matching, and every response that goes upstream.
 *
 * The request is stored once, its top Via already carrying received and
 * rport, so a response built or forwarded later (by any worker or by the
 * timer) reads the way RFC 3581 wants and goes to the address computed at
 * creation. A final non-2xx response is stored for retransmission (Timer
 * G for INVITE over UDP, on request retransmissions for the rest); 2xx to
 * INVITE are passed through and never stored (the UAS retransmits them).
 * SIP workers call in; the timer process runs tm_uas_timers_locked.
 */
#include "tm_int.h"

#include <errno.h>
#include <stdio.h>

#define STORED_CAP (SIP_MAX_MSG + 1024)

static struct sip_msg stored_msg;    /* parse of a stored request, under a lock */

static void count_class(unsigned code)
{
	static const enum stat_id by_class[] = { STAT_TM_1XX, STAT_TM_2XX, STAT_TM_3XX,
						 STAT_TM_4XX, STAT_TM_5XX, STAT_TM_6XX };

	if (code >= 100 && code < 700)
		stat_add(by_class[code / 100 - 1], 1);
}

/* The chain of key holding msg's transaction: slot + 1, or 0. */
static uint32_t find_locked(const struct sip_msg *msg, uint64_t key, bool rfc2543)
{
	for (uint32_t n = tm_hash_first_locked(key); n; n = tm_hash_next_locked(n - 1)) {
		struct tm_slot *t = tm_slot_at(n - 1);

		if (tm_parse_stored(t->req, t->req_len, &stored_msg) == 0 &&
		    tm_request_matches(&stored_msg, msg, rfc2543))
			return n;
	}
	return 0;
}

static void resend_locked(struct tm_slot *t)
{
	if (t->resp && (t->uas == TM_UAS_PROCEEDING || t->uas == TM_UAS_COMPLETED))
		tm_send(&t->up, shm_ptr(t->resp), t->resp_len);
}

/* The request with its top Via as responses will carry it. */
static int stored_copy(const struct sip_msg *msg, const struct sip_source *src,
		       char *out, size_t *len)
{
	static struct sip_builder b;
	char via[1024];
	size_t vlen;

	if (msg->nvia == 0)
		return -EINVAL;
	vlen = sip_reply_top_via(msg, src->addr, src->nat != 0, via, sizeof(via));
	if (vlen == 0)
		return -EINVAL;
	sip_build_init(&b, msg);
	sip_build_replace(&b, msg->via[0].raw, slice_make(via, vlen));
	return sip_build_finish(&b, out, STORED_CAP, len);
}

static uint32_t guard_ms(const struct pinhole_conf *conf)
{
	return (conf->tm.fr_inv + conf->tm.fr) * 1000u + 128 * tm_t1(conf) + 10000u;
}

static void fill_new(const struct pinhole_conf *conf, struct tm_slot *t,
		     const struct sip_msg *msg, const struct sip_source *src,
		     int64_t now)
{
	struct sockaddr_storage dst;

	t->method = msg->method_id;
	t->uas = TM_UAS_TRYING;
	t->guard_at = now + guard_ms(conf);
	sip_reply_dest(msg, src->addr, src->nat != 0, &dst);
	tm_addr_from_sockaddr((struct sockaddr *)&dst, src->socket, &t->up);
}

static int open_locked(const struct pinhole_conf *conf, const struct sip_msg *msg,
		       const struct sip_source *src, uint64_t key, bool rfc2543,
		       shm_off req, uint32_t req_len, struct tm_ref *ref)
{
	int64_t now = tm_now_ms();
	uint32_t n = find_locked(msg, key, rfc2543), idx;
	struct tm_slot *t;

	if (n) {
		STAT_INC(TM_RCV_RETRANSMISSIONS);
		resend_locked(tm_slot_at(n - 1));
		return TM_OPEN_RETRANS;
	}
	if (tm_slot_alloc_locked(tm_stripe_for_key(key), &idx) < 0)
		return -ENOSPC;
	t = tm_slot_at(idx);
	t->key = key;
	t->req = req;
	t->req_len = req_len;
	t->flags = rfc2543 ? TM_F_RFC2543 : 0;
	fill_new(conf, t, msg, src, now);
	tm_hash_insert_locked(idx);
	STAT_INC(TM_TOTAL);
	if (t->method == SIP_M_INVITE)
		tm_reply_locked(conf, t, 100, NULL, NULL, now);
	tm_settle_locked(idx, now);
	*ref = (struct tm_ref){ .slot = idx, .gen = t->gen };
	return TM_OPEN_NEW;
}

int tm_uas_open(const struct pinhole_conf *conf, const struct sip_msg *msg,
		const struct sip_source *src, uint32_t loop, struct tm_ref *ref)
{
	static char buf[STORED_CAP];
	bool rfc2543;
	uint64_t key = tm_request_key(msg, &rfc2543);
	uint32_t s = tm_stripe_for_key(key);
	size_t len;
	shm_off req;
	int rc;

	if (stored_copy(msg, src, buf, &len) < 0)
		return -EINVAL;
	req = tm_store(buf, len);
	if (!req)
		return -ENOMEM;
	tm_stripe_lock(s);
	rc = open_locked(conf, msg, src, key, rfc2543, req, (uint32_t)len, ref);
	if (rc == TM_OPEN_NEW)
		tm_slot_at(ref->slot)->loop = loop;
	tm_stripe_unlock(s);
	if (rc != TM_OPEN_NEW)
		shm_free(req);
	return rc;
}

bool tm_uas_retransmission(const struct sip_msg *msg)
{
	bool rfc2543;
	uint64_t key = tm_request_key(msg, &rfc2543);
	uint32_t s = tm_stripe_for_key(key), n;

	if (!tm_table())
		return false;
	tm_stripe_lock(s);
	n = find_locked(msg, key, rfc2543);
	if (n) {
		STAT_INC(TM_RCV_RETRANSMISSIONS);
		resend_locked(tm_slot_at(n - 1));
	}
	tm_stripe_unlock(s);
	return n != 0;
}

/* §17.2.1: the ACK for our non-2xx final confirms it (Timer I). An ACK
 * matching a transaction that passed a 2xx is end to end: not ours. */
bool tm_uas_ack(const struct pinhole_conf *conf, const struct sip_msg *msg)
{
	bool rfc2543, absorbed = false;
	uint64_t key = tm_request_key(msg, &rfc2543);
	uint32_t s = tm_stripe_for_key(key), n;
	int64_t now = tm_now_ms();

	if (!tm_table())
		return false;
	tm_stripe_lock(s);
	n = find_locked(msg, key, rfc2543);
	if (n) {
		struct tm_slot *t = tm_slot_at(n - 1);

		absorbed = t->uas != TM_UAS_ACCEPTED && t->uas != TM_UAS_TERMINATED;
		if (t->uas == TM_UAS_COMPLETED) {
			t->uas = TM_UAS_CONFIRMED;
			t->g_at = 0;
			t->end_at = now + TM_T4_MS;
			tm_settle_locked(n - 1, now);
		}
	}
	tm_stripe_unlock(s);
	return absorbed;
}

int tm_uas_cancel(const struct pinhole_conf *conf, const struct sip_msg *msg)
{
	bool rfc2543;
	uint64_t key = tm_request_key(msg, &rfc2543);
	uint32_t s = tm_stripe_for_key(key), n;
	int64_t now = tm_now_ms();

	if (!tm_table())
		return -ENOENT;
	tm_stripe_lock(s);
	n = find_locked(msg, key, rfc2543);
	if (n && !(tm_slot_at(n - 1)->flags & TM_F_FINAL)) {
		struct tm_slot *t = tm_slot_at(n - 1);

		t->flags |= TM_F_CANCELED;
		tm_uac_cancel_all_locked(conf, t, now);
		tm_decide_locked(conf, t, now);
		tm_settle_locked(n - 1, now);
	}
	tm_stripe_unlock(s);
	return n ? 0 : -ENOENT;
}

/* ---- responses upstream ---------------------------------------------- */

static void store_resp(struct tm_slot *t, const char *buf, size_t len)
{
	shm_free(t->resp);
	t->resp = tm_store(buf, len);
	t->resp_len = t->resp ? (uint32_t)len : 0;
	if (!t->resp)
		STAT_INC(TM_ALLOC_FAILURES);
}

/* false when the state machine says this response is not sent. */
static bool uas_advance(const struct pinhole_conf *conf, struct tm_slot *t,
			unsigned code, int64_t now)
{
	uint32_t t1 = tm_t1(conf);

	if (code < 200)
		return !(t->flags & TM_F_FINAL);
	if (t->method == SIP_M_INVITE && code < 300) {
		if (!(t->flags & TM_F_FINAL)) {
			t->uas = TM_UAS_ACCEPTED;
			t->g_at = 0;
			t->end_at = now + 64 * (int64_t)t1;
		}
		return true;
	}
	if (t->flags & TM_F_FINAL)
		return false;
	t->uas = TM_UAS_COMPLETED;
	t->end_at = now + 64 * (int64_t)t1;
	if (t->method == SIP_M_INVITE) {   /* Timer G: unreliable only (§17.2.1) */
		t->g_ms = t1;
		t->g_at = tm_addr_reliable(&t->up) ? 0 : now + t1;
	}
	return true;
}

void tm_uas_send_locked(const struct pinhole_conf *conf, struct tm_slot *t,
			const char *buf, size_t len, unsigned code, int64_t now)
{
	bool invite_2xx = t->method == SIP_M_INVITE && code >= 200 && code < 300;

	if (!uas_advance(conf, t, code, now))
		return;
	if (code < 200)
		t->uas = TM_UAS_PROCEEDING;
	if (code >= 200)
		t->flags |= TM_F_FINAL;
	if (!invite_2xx)
		store_resp(t, buf, len);
	t->resp_code = (uint16_t)code;
	count_class(code);
	tm_send(&t->up, buf, len);
}

int tm_reply_locked(const struct pinhole_conf *conf, struct tm_slot *t, unsigned code,
		    const char *reason, const char *extra, int64_t now)
{
	static char out[SIP_MAX_MSG];
	char tag[24];
	size_t len, tlen;
	int rc;

	rc = tm_parse_stored(t->req, t->req_len, &stored_msg);
	if (rc < 0)
		return rc;
	tlen = sip_reply_to_tag(&stored_msg, "pt", tm_table()->boot, tag, sizeof(tag));
	rc = sip_reply_build(&stored_msg, code, reason ? reason : sip_reason_phrase(code), SLICE_NULL,
			     slice_make(tag, tlen), extra, out, sizeof(out), &len);
	if (rc < 0)
		return rc;
	STAT_INC(TM_RPL_GENERATED);
	tm_uas_send_locked(conf, t, out, len, code, now);
	return 0;
}

int tm_reply(const struct pinhole_conf *conf, struct tm_ref ref, unsigned code,
	     const char *reason, const char *extra)
{
	struct tm_slot *t = tm_ref_lock(ref);
	int64_t now = tm_now_ms();
	int rc;

	if (!t)
		return -ESTALE;
	rc = tm_reply_locked(conf, t, code, reason, extra, now);
	tm_settle_locked(ref.slot, now);
	tm_ref_unlock(ref);
	return rc;
}

void tm_uas_timers_locked(const struct pinhole_conf *conf, struct tm_slot *t, int64_t now)
{
	if (t->g_at && t->g_at <= now && t->uas == TM_UAS_COMPLETED) {
		uint32_t t2 = tm_t2(conf);

		STAT_INC(TM_RETRANSMISSIONS);
		if (t->resp)
			tm_send(&t->up, shm_ptr(t->resp), t->resp_len);
		t->g_ms = t->g_ms * 2 < t2 ? t->g_ms * 2 : t2;
		t->g_at = now + t->g_ms;
	}
	if (t->end_at && t->end_at <= now) {
		t->uas = TM_UAS_TERMINATED;
		t->end_at = 0;
		t->g_at = 0;
	}
}
