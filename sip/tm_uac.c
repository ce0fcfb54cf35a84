/*
 * tm_uac.c — the client branches of a proxy transaction (RFC 3261 §17.1)
 * and the response context of §16.7: provisional and 2xx responses go
 * upstream at once, failures are kept until every branch has answered,
 * then the next serial (q) group starts or the best final goes upstream.
 *
 * Branch requests arrive built (sip/proxy*.c); this file only sends,
 * retransmits and cancels them, ACKs non-2xx finals hop by hop
 * (§17.1.1.3), and sends CANCEL on a branch only once it has answered
 * provisionally (§9.1). Runs under the stripe lock of the transaction:
 * responses in the SIP workers, timers in the timer process.
 */
#include "tm_int.h"
#include "proxy_media.h"

#include <errno.h>

#define OUT_CAP (SIP_MAX_MSG + 4096)

static struct sip_msg branch_msg;    /* parse of a stored branch request */
static char out_buf[OUT_CAP];

static bool pending(const struct tm_branch *b)
{
	return b->state == TM_BR_CALLING || b->state == TM_BR_PROCEEDING;
}

static bool is_invite(const struct tm_slot *t)
{
	return t->method == SIP_M_INVITE;
}

static uint32_t guard_ms(const struct pinhole_conf *conf)
{
	return (conf->tm.fr_inv + conf->tm.fr) * 1000u + 128 * tm_t1(conf) + 10000u;
}

/* ---- sending ----------------------------------------------------------- */

static bool start_group_locked(const struct pinhole_conf *conf, struct tm_slot *t,
			       int64_t now)
{
	struct tm_branch *b = tm_branches(t);
	unsigned group = 256;
	uint32_t t1 = tm_t1(conf);

	for (unsigned i = 0; i < t->nbranch; i++)
		if (b[i].state == TM_BR_WAITING && b[i].group < group)
			group = b[i].group;
	if (group == 256)
		return false;
	for (unsigned i = 0; i < t->nbranch; i++) {
		if (b[i].state != TM_BR_WAITING || b[i].group != group)
			continue;
		b[i].state = TM_BR_CALLING;
		b[i].retrans_ms = t1;
		b[i].retrans_at = tm_addr_reliable(&b[i].dst) ? 0 : now + t1;  /* §17.1.1.2 */
		b[i].timeout_at = now + (int64_t)conf->tm.fr * 1000;
		STAT_INC(CORE_FWD_REQUESTS);
		tm_send(&b[i].dst, shm_ptr(b[i].req), b[i].req_len);
	}
	if (t->guard_at < now + guard_ms(conf))
		t->guard_at = now + guard_ms(conf);
	return true;
}

static void free_prepared(struct tm_branch *b, unsigned n, shm_off arr)
{
	for (unsigned i = 0; i < n; i++)
		shm_free(b[i].req);
	shm_free(arr);
}

int tm_uac_start(const struct pinhole_conf *conf, struct tm_ref ref,
		 const struct tm_target *targets, unsigned n)
{
	static struct tm_branch b[TM_MAX_BRANCHES];
	shm_off arr = n && n <= TM_MAX_BRANCHES ? shm_alloc(n * sizeof(*b)) : 0;
	struct tm_slot *t;
	int64_t now;

	if (!arr)
		return n ? -ENOMEM : -EINVAL;
	memset(b, 0, sizeof(b));
	for (unsigned i = 0; i < n; i++) {
		b[i].req = tm_store(targets[i].req, targets[i].req_len);
		b[i].req_len = (uint32_t)targets[i].req_len;
		b[i].dst = targets[i].dst;
		b[i].group = targets[i].group;
		b[i].flags = targets[i].nat ? TM_BF_NAT : 0;
		if (!b[i].req) {
			free_prepared(b, n, arr);
			return -ENOMEM;
		}
	}
	t = tm_ref_lock(ref);
	if (!t) {
		free_prepared(b, n, arr);
		return -ESTALE;
	}
	if ((t->flags & TM_F_FINAL) || t->nbranch) {
		tm_ref_unlock(ref);
		free_prepared(b, n, arr);
		return -ECANCELED;
	}
	now = tm_now_ms();
	memcpy(shm_ptr(arr), b, n * sizeof(*b));
	t->branches = arr;
	t->nbranch = (uint8_t)n;
	start_group_locked(conf, t, now);
	tm_settle_locked(ref.slot, now);
	tm_ref_unlock(ref);
	return 0;
}

static void send_cancel_locked(const struct pinhole_conf *conf, struct tm_branch *b,
			       int64_t now)
{
	size_t len;
	uint32_t t1 = tm_t1(conf);

	if (b->flags & TM_BF_CANCEL_SENT)
		return;
	if (tm_parse_stored(b->req, b->req_len, &branch_msg) < 0 ||
	    proxy_build_cancel(&branch_msg, out_buf, sizeof(out_buf), &len) < 0)
		return;
	b->cancel = tm_store(out_buf, len);
	b->cancel_len = b->cancel ? (uint32_t)len : 0;
	b->flags |= TM_BF_CANCEL_SENT;
	b->flags &= (uint8_t)~TM_BF_CANCEL_WANTED;
	if (b->cancel && !tm_addr_reliable(&b->dst)) {
		b->cancel_ms = t1;
		b->cancel_at = now + t1;
	}
	if (!b->timeout_at || b->timeout_at > now + 64 * (int64_t)t1)
		b->timeout_at = now + 64 * (int64_t)t1;
	tm_send(&b->dst, out_buf, len);
}

void tm_uac_cancel_all_locked(const struct pinhole_conf *conf, struct tm_slot *t,
			      int64_t now)
{
	struct tm_branch *b = tm_branches(t);

	for (unsigned i = 0; i < t->nbranch; i++) {
		if (b[i].state == TM_BR_WAITING)
			b[i].state = TM_BR_TERMINATED;
		else if (!is_invite(t))
			continue;
		else if (b[i].state == TM_BR_CALLING)
			b[i].flags |= TM_BF_CANCEL_WANTED;
		else if (b[i].state == TM_BR_PROCEEDING)
			send_cancel_locked(conf, &b[i], now);
	}
}

static void send_ack_locked(struct tm_branch *b, const struct sip_msg *resp)
{
	size_t len;

	if (tm_parse_stored(b->req, b->req_len, &branch_msg) == 0 &&
	    proxy_build_ack(&branch_msg, resp, out_buf, sizeof(out_buf), &len) == 0)
		tm_send(&b->dst, out_buf, len);
}

/* ---- the response context (§16.7) ------------------------------------- */

/* 6xx beats everything, then the lowest class; the first of a class stays. */
static bool better(unsigned code, unsigned best)
{
	if (best == 0)
		return true;
	if (best >= 600)
		return false;
	return code >= 600 || code / 100 < best / 100;
}

static void keep_local(struct tm_slot *t, unsigned code)
{
	if (!better(code, t->best_code))
		return;
	shm_free(t->best);
	t->best = 0;
	t->best_len = 0;
	t->best_code = (uint16_t)code;
}

static void keep_response(struct tm_slot *t, unsigned idx, const struct sip_msg *resp,
			  const struct sockaddr *src)
{
	struct tm_branch *b = &tm_branches(t)[idx];
	size_t len;

	if (!better(resp->status, t->best_code) ||
	    proxy_edit_response(resp, src, b->flags & TM_BF_NAT, out_buf, sizeof(out_buf),
				&len) < 0)
		return;
	shm_free(t->best);
	t->best = tm_store(out_buf, len);
	t->best_len = t->best ? (uint32_t)len : 0;
	t->best_code = (uint16_t)resp->status;
	t->best_branch = (uint8_t)idx;
	if (!t->best)
		STAT_INC(TM_ALLOC_FAILURES);
}

static void forward_up(const struct pinhole_conf *conf, struct tm_slot *t,
		       const struct tm_branch *b, const struct sip_msg *resp,
		       const struct sockaddr *src, int64_t now)
{
	size_t len;

	if (proxy_edit_response(resp, src, b->flags & TM_BF_NAT, out_buf, sizeof(out_buf),
				&len) < 0)
		return;
	proxy_media_response_locked(conf, t, b, resp, src, out_buf, sizeof(out_buf), &len);
	STAT_INC(TM_RPL_RELAYED);
	STAT_INC(CORE_FWD_REPLIES);
	tm_uas_send_locked(conf, t, out_buf, len, resp->status, now);
}

static void send_best_locked(const struct pinhole_conf *conf, struct tm_slot *t, int64_t now)
{
	unsigned code = t->best_code;

	proxy_media_failed_locked(conf, t);
	if ((t->flags & TM_F_CANCELED) && (code == 0 || (code == 408 && !t->best)))
		code = 487;
	else if (code == 0)
		code = 408;
	if (code == 503)
		code = 500;    /* §16.7 step 6: a 503 is not passed on */
	if (t->best && code == t->best_code) {
		STAT_INC(TM_RPL_RELAYED);
		STAT_INC(CORE_FWD_REPLIES);
		tm_uas_send_locked(conf, t, shm_ptr(t->best), t->best_len, code, now);
	} else {
		tm_reply_locked(conf, t, code, NULL, NULL, now);
	}
}

void tm_decide_locked(const struct pinhole_conf *conf, struct tm_slot *t, int64_t now)
{
	const struct tm_branch *b = tm_branches(t);

	if (t->flags & TM_F_FINAL)
		return;
	if (t->nbranch == 0) {
		if (t->flags & TM_F_CANCELED)
			tm_reply_locked(conf, t, 487, NULL, NULL, now);
		return;
	}
	for (unsigned i = 0; i < t->nbranch; i++)
		if (pending(&b[i]))
			return;
	if (!(t->flags & TM_F_CANCELED) && t->best_code < 600 &&
	    start_group_locked(conf, t, now))
		return;
	send_best_locked(conf, t, now);
}

/* ---- responses ---------------------------------------------------------- */

static void on_provisional(const struct pinhole_conf *conf, struct tm_slot *t,
			   struct tm_branch *b, const struct sip_msg *resp,
			   const struct sockaddr *src, int64_t now)
{
	bool first = b->state == TM_BR_CALLING;

	if (!pending(b))
		return;
	b->state = TM_BR_PROCEEDING;
	b->code = resp->status;
	if (is_invite(t)) {
		b->retrans_at = 0;
		if (first || resp->status > 100)
			b->timeout_at = now + (int64_t)conf->tm.fr_inv * 1000;   /* Timer C */
	} else if (b->retrans_at) {
		b->retrans_ms = tm_t2(conf);
		b->retrans_at = now + b->retrans_ms;
	}
	if (b->flags & TM_BF_CANCEL_WANTED)
		send_cancel_locked(conf, b, now);
	if (resp->status > 100)
		forward_up(conf, t, b, resp, src, now);
}

static void on_invite_2xx(const struct pinhole_conf *conf, struct tm_slot *t,
			  struct tm_branch *b, const struct sip_msg *resp,
			  const struct sockaddr *src, int64_t now)
{
	bool first = b->state != TM_BR_ACCEPTED;

	if (b->state == TM_BR_WAITING)
		return;
	if (first) {
		b->state = TM_BR_ACCEPTED;
		b->code = resp->status;
		b->retrans_at = 0;
		b->cancel_at = 0;
		b->timeout_at = now + 64 * (int64_t)tm_t1(conf);   /* Timer M */
	}
	forward_up(conf, t, b, resp, src, now);   /* every 2xx, retransmissions too */
	if (first)
		tm_uac_cancel_all_locked(conf, t, now);
}

static void on_final(const struct pinhole_conf *conf, struct tm_slot *t, unsigned idx,
		     const struct sip_msg *resp, const struct sockaddr *src, int64_t now)
{
	struct tm_branch *b = &tm_branches(t)[idx];
	uint32_t t1 = tm_t1(conf);

	if (is_invite(t) && (b->state == TM_BR_COMPLETED || b->state == TM_BR_TERMINATED))
		send_ack_locked(b, resp);   /* a retransmission, or after a local timeout */
	if (!pending(b))
		return;
	b->state = TM_BR_COMPLETED;
	b->code = resp->status;
	b->retrans_at = 0;
	if (is_invite(t)) {
		b->cancel_at = 0;
		b->timeout_at = now + (64 * (int64_t)t1 > 32000 ? 64 * (int64_t)t1 : 32000);
		send_ack_locked(b, resp);
	} else {
		b->timeout_at = now + TM_T4_MS;   /* Timer K */
	}
	if (resp->status < 300) {
		forward_up(conf, t, b, resp, src, now);   /* non-INVITE 2xx */
		tm_uac_cancel_all_locked(conf, t, now);
		return;
	}
	keep_response(t, idx, resp, src);
	if (resp->status >= 600)
		tm_uac_cancel_all_locked(conf, t, now);
	tm_decide_locked(conf, t, now);
}

static void on_response_locked(const struct pinhole_conf *conf, struct tm_slot *t,
			       unsigned idx, const struct sip_msg *resp,
			       const struct sockaddr *src, int64_t now)
{
	struct tm_branch *b = &tm_branches(t)[idx];

	if (resp->cseq.method_id == SIP_M_CANCEL) {
		if (b->flags & TM_BF_CANCEL_SENT) {
			b->flags |= TM_BF_CANCEL_DONE;
			b->cancel_at = 0;
		}
		return;
	}
	if (resp->cseq.method_id != t->method || b->state == TM_BR_WAITING)
		return;
	if (resp->status < 200)
		on_provisional(conf, t, b, resp, src, now);
	else if (resp->status < 300 && is_invite(t))
		on_invite_2xx(conf, t, b, resp, src, now);
	else
		on_final(conf, t, idx, resp, src, now);
}

static void unmatched(void)
{
	STAT_INC(TM_UNMATCHED_REPLIES);
	STAT_INC(CORE_DROP_REPLIES);
}

void tm_uac_response(const struct pinhole_conf *conf, const struct sip_msg *msg,
		     const struct sockaddr *src)
{
	struct tm_table *tt = tm_table();
	struct tm_branch_id id;
	struct tm_ref ref;
	struct tm_slot *t;

	STAT_INC(TM_RPL_RECEIVED);
	if (!tt || msg->nvia == 0 || tm_branch_parse(msg->via[0].branch, &id) < 0 ||
	    id.boot != tt->boot || id.slot >= tt->nslots) {
		unmatched();
		return;
	}
	ref = (struct tm_ref){ .slot = id.slot, .gen = id.gen };
	t = tm_ref_lock(ref);
	if (!t)  {
		unmatched();
		return;
	}
	if (id.branch < t->nbranch) {
		int64_t now = tm_now_ms();

		on_response_locked(conf, t, id.branch, msg, src, now);
		tm_settle_locked(ref.slot, now);
	} else {
		unmatched();
	}
	tm_ref_unlock(ref);
}

/* ---- timers --------------------------------------------------------------- */

static void retransmit(const struct pinhole_conf *conf, const struct tm_slot *t,
		       struct tm_branch *b, int64_t now)
{
	uint32_t t2 = tm_t2(conf);

	STAT_INC(TM_RETRANSMISSIONS);
	tm_send(&b->dst, shm_ptr(b->req), b->req_len);
	if (is_invite(t))
		b->retrans_ms *= 2;                               /* Timer A */
	else
		b->retrans_ms = b->retrans_ms * 2 < t2 ? b->retrans_ms * 2 : t2;  /* E */
	b->retrans_at = now + b->retrans_ms;
}

static void retransmit_cancel(const struct pinhole_conf *conf, struct tm_branch *b,
			      int64_t now)
{
	uint32_t t2 = tm_t2(conf);

	STAT_INC(TM_RETRANSMISSIONS);
	tm_send(&b->dst, shm_ptr(b->cancel), b->cancel_len);
	b->cancel_ms = b->cancel_ms * 2 < t2 ? b->cancel_ms * 2 : t2;
	b->cancel_at = now + b->cancel_ms;
}

/* B/F without any response, C after a provisional, D/K/M at the end. */
static bool branch_timeout(const struct pinhole_conf *conf, struct tm_slot *t,
			   struct tm_branch *b, int64_t now)
{
	bool answered = b->state == TM_BR_PROCEEDING;

	b->timeout_at = 0;
	b->retrans_at = 0;
	if (!pending(b)) {
		b->state = TM_BR_TERMINATED;
		b->cancel_at = 0;
		return false;
	}
	STAT_INC(TM_TIMEOUTS);
	b->code = 408;
	b->flags |= TM_BF_LOCAL;
	keep_local(t, 408);
	if (is_invite(t) && answered && !(b->flags & TM_BF_CANCEL_SENT)) {
		send_cancel_locked(conf, b, now);   /* Timer C: cancel, wait for the 487 */
		b->state = TM_BR_COMPLETED;
		b->timeout_at = now + 64 * (int64_t)tm_t1(conf);
		return true;
	}
	b->state = TM_BR_TERMINATED;
	b->cancel_at = 0;
	return true;
}

void tm_uac_timers_locked(const struct pinhole_conf *conf, struct tm_slot *t, int64_t now)
{
	struct tm_branch *b = tm_branches(t);
	bool decide = false;

	for (unsigned i = 0; i < t->nbranch; i++) {
		if (b[i].retrans_at && b[i].retrans_at <= now && pending(&b[i]))
			retransmit(conf, t, &b[i], now);
		if (b[i].cancel_at && b[i].cancel_at <= now && b[i].cancel &&
		    !(b[i].flags & TM_BF_CANCEL_DONE))
			retransmit_cancel(conf, &b[i], now);
		if (b[i].timeout_at && b[i].timeout_at <= now)
			decide |= branch_timeout(conf, t, &b[i], now);
	}
	if (decide)
		tm_decide_locked(conf, t, now);
}
